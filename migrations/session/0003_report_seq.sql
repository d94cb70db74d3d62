-- Every report the session sends its task is numbered, so that the task can ignore one
-- older than what it has applied.
ALTER TABLE session ADD COLUMN reports INTEGER NOT NULL DEFAULT 0;
