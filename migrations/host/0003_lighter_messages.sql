-- Every page a commit touches is written to the WAL, so a message should touch few.
-- Two of the pages each new message wrote are dropped here:
-- * the dedupe key's unique index held every message, NULL keys included; a partial
--   unique index over the keys that exist keeps the same promise (a key names one
--   message);
-- * AUTOINCREMENT updated sqlite_sequence with every message. Without it a new id is
--   MAX(id) + 1, and the newest message is never deleted (prune keeps the last 10,000
--   settled ones, by id), so no id is used twice and ids keep growing: they are
--   versions in index updates. If ids above MAX(id) were used before (their rows
--   deleted by hand), a discarded placeholder keeps the highest of them taken.
-- SQLite changes both only by rebuilding the table (as in 0002).
CREATE TEMP TABLE carried_seq AS SELECT seq FROM sqlite_sequence WHERE name = 'queue_messages';

CREATE TABLE queue_messages_next (
  id INTEGER PRIMARY KEY,  -- MAX(id) + 1: see above
  queue TEXT NOT NULL,
  body_json TEXT NOT NULL,
  dedupe_key TEXT,  -- unique when set: queue_messages_dedupe
  status TEXT NOT NULL CHECK (status IN ('pending', 'completed', 'failed', 'rejected', 'discarded')),
  enqueued_at INTEGER NOT NULL,
  completed_at INTEGER,
  result_json TEXT,
  error_json TEXT
);
INSERT INTO queue_messages_next(id, queue, body_json, dedupe_key, status, enqueued_at, completed_at, result_json, error_json)
  SELECT id, queue, body_json, dedupe_key, status, enqueued_at, completed_at, result_json, error_json FROM queue_messages;
INSERT INTO queue_messages_next(id, queue, body_json, status, enqueued_at, completed_at)
  SELECT seq, 'host.id_reserved', '{}', 'discarded', 0, 0 FROM carried_seq
  WHERE seq > (SELECT COALESCE(MAX(id), 0) FROM queue_messages);
DROP TABLE queue_messages;
ALTER TABLE queue_messages_next RENAME TO queue_messages;
CREATE INDEX queue_messages_pending ON queue_messages(id) WHERE status = 'pending';
CREATE UNIQUE INDEX queue_messages_dedupe ON queue_messages(dedupe_key) WHERE dedupe_key IS NOT NULL;

-- The history the same way: a step's row no longer reads and writes sqlite_sequence
-- (prune keeps the newest row too; history ids only page the inspector).
CREATE TABLE workflow_history_next (
  id INTEGER PRIMARY KEY,  -- MAX(id) + 1
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
DROP TABLE carried_seq;
