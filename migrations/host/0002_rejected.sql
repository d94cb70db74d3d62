-- A message its handler refused (bad input: not found, a conflict, invalid) is
-- `rejected`, apart from the `failed` ones (the handler broke or could not persist):
-- only those are worth a retry. SQLite changes a CHECK only by rebuilding the table;
-- the AUTOINCREMENT counter is carried over so that no message id is used twice.
CREATE TEMP TABLE carried_seq AS SELECT name, seq FROM sqlite_sequence WHERE name IN ('queue_messages', 'workflow_history');

CREATE TABLE queue_messages_next (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  queue TEXT NOT NULL,
  body_json TEXT NOT NULL,
  dedupe_key TEXT UNIQUE,
  status TEXT NOT NULL CHECK (status IN ('pending', 'completed', 'failed', 'rejected', 'discarded')),
  enqueued_at INTEGER NOT NULL,
  completed_at INTEGER,
  result_json TEXT,
  error_json TEXT
);
INSERT INTO queue_messages_next(id, queue, body_json, dedupe_key, status, enqueued_at, completed_at, result_json, error_json)
  SELECT id, queue, body_json, dedupe_key, status, enqueued_at, completed_at, result_json, error_json FROM queue_messages;
DROP TABLE queue_messages;
ALTER TABLE queue_messages_next RENAME TO queue_messages;
CREATE INDEX queue_messages_pending ON queue_messages(id) WHERE status = 'pending';

CREATE TABLE workflow_history_next (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  message_id INTEGER NOT NULL,
  queue TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  ended_at INTEGER NOT NULL,
  duration_us INTEGER NOT NULL,
  outcome TEXT NOT NULL CHECK (outcome IN ('completed', 'failed', 'rejected')),
  error_json TEXT
);
INSERT INTO workflow_history_next(id, message_id, queue, started_at, ended_at, duration_us, outcome, error_json)
  SELECT id, message_id, queue, started_at, ended_at, duration_us, outcome, error_json FROM workflow_history;
DROP TABLE workflow_history;
ALTER TABLE workflow_history_next RENAME TO workflow_history;

DELETE FROM sqlite_sequence WHERE name IN ('queue_messages', 'workflow_history');
INSERT INTO sqlite_sequence(name, seq) SELECT name, seq FROM carried_seq;
DROP TABLE carried_seq;
