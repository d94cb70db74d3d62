-- Sandboxes a task created report their state changes to that task.
ALTER TABLE sandbox ADD COLUMN task_linked INTEGER NOT NULL DEFAULT 0;
