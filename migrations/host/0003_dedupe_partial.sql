-- Most messages carry no dedupe key, and an inline UNIQUE indexes them all (NULLs
-- included): one more page written with every message. A partial unique index over
-- the keys that exist keeps the same promise (a key names one message) for less.
-- SQLite drops an inline UNIQUE only by rebuilding the table; the AUTOINCREMENT
-- counter is carried over so that no message id is used twice (as in 0002).
CREATE TEMP TABLE carried_seq AS SELECT name, seq FROM sqlite_sequence WHERE name = 'queue_messages';

CREATE TABLE queue_messages_next (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
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
DROP TABLE queue_messages;
ALTER TABLE queue_messages_next RENAME TO queue_messages;
CREATE INDEX queue_messages_pending ON queue_messages(id) WHERE status = 'pending';
CREATE UNIQUE INDEX queue_messages_dedupe ON queue_messages(dedupe_key) WHERE dedupe_key IS NOT NULL;

DELETE FROM sqlite_sequence WHERE name = 'queue_messages';
INSERT INTO sqlite_sequence(name, seq) SELECT name, seq FROM carried_seq;
DROP TABLE carried_seq;
