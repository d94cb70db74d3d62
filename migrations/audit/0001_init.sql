-- One organization's audit log: append-only, each entry chained to the one before by
-- SHA-256 (docs/security.md). Nothing here is ever updated or deleted by Hearth.
CREATE TABLE entries (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  user_id TEXT,
  username TEXT NOT NULL,
  kind TEXT NOT NULL,
  target TEXT NOT NULL,
  task_id TEXT,
  repo_id TEXT,
  request_id TEXT,
  outcome TEXT NOT NULL,
  detail_json TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE INDEX entries_by_user ON entries(user_id, seq);
CREATE INDEX entries_by_task ON entries(task_id, seq);
CREATE INDEX entries_by_at ON entries(at);
