-- The prompts whose work no commit holds yet (their first lines), oldest first: the
-- next commit Hearth makes is described by them. `commits` counts the commits Hearth made.
ALTER TABLE task ADD COLUMN work_prompts_json TEXT NOT NULL DEFAULT '[]';
ALTER TABLE task ADD COLUMN commits INTEGER NOT NULL DEFAULT 0;
