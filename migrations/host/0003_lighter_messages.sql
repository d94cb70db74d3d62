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

DELETE FROM sqlite_sequence WHERE name = 'queue_messages';
DROP TABLE carried_seq;
