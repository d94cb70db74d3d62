-- The inbox: the tasks that concern this person, ordered by the latest event that
-- matters to them; unread state per task and session; drafts; notifications.
CREATE TABLE feed (
  org_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  repo_id TEXT NOT NULL,
  title TEXT NOT NULL,
  status TEXT NOT NULL,
  reason TEXT NOT NULL,        -- why it moved up: finished, failed, needs_permission, "ana pushed", ...
  bumped_at INTEGER NOT NULL,
  unread INTEGER NOT NULL DEFAULT 1,
  PRIMARY KEY (org_id, task_id)
);
CREATE INDEX feed_by_bump ON feed(bumped_at DESC);

CREATE TABLE unread_sessions (
  org_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  session_id TEXT NOT NULL,
  since INTEGER NOT NULL,
  PRIMARY KEY (org_id, task_id, session_id)
);

CREATE TABLE drafts (
  org_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  session_id TEXT NOT NULL,
  text TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (org_id, task_id, session_id)
);

CREATE TABLE notifications (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  org_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  session_id TEXT,
  type TEXT NOT NULL CHECK (type IN ('needs_permission', 'finished', 'failed')),
  message TEXT NOT NULL,
  read INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
);
