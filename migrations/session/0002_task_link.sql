-- Sessions a task created report their status, turn ends and permission requests to it.
ALTER TABLE session ADD COLUMN task_linked INTEGER NOT NULL DEFAULT 0;
