-- Org settings. conventional_titles: task titles derived from prompts start with a
-- Conventional Commits type ("feat: ..."); off, they keep the prompt's words.
ALTER TABLE organization ADD COLUMN conventional_titles INTEGER NOT NULL DEFAULT 0;
