-- Notifications of a task's pull request (merged, closed, reviewed, checks failing,
-- someone else's push: type 'pull_request'), which the first table's CHECK refused.
-- SQLite cannot change a CHECK in place: the table is made again with the rows kept.
CREATE TABLE notifications_new (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  org_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  session_id TEXT,
  type TEXT NOT NULL CHECK (type IN ('needs_permission', 'finished', 'failed', 'pull_request')),
  message TEXT NOT NULL,
  read INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
);
INSERT INTO notifications_new(id, org_id, task_id, session_id, type, message, read, created_at)
  SELECT id, org_id, task_id, session_id, type, message, read, created_at FROM notifications;
DROP TABLE notifications;
ALTER TABLE notifications_new RENAME TO notifications;
