-- Tables the actor host keeps in every actor's database: who the actor is, its durable
-- queue, the history of its workflow steps, long external work in flight, and messages
-- it has committed to send to other actors (the outbox).

CREATE TABLE actor_meta (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  actor_id TEXT NOT NULL,
  type TEXT NOT NULL,
  key_json TEXT NOT NULL,
  input_json TEXT,
  created_at INTEGER NOT NULL
);

CREATE TABLE queue_messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  queue TEXT NOT NULL,
  body_json TEXT NOT NULL,
  dedupe_key TEXT UNIQUE,
  status TEXT NOT NULL CHECK (status IN ('pending', 'completed', 'failed', 'discarded')),
  enqueued_at INTEGER NOT NULL,
  completed_at INTEGER,
  result_json TEXT,
  error_json TEXT
);
CREATE INDEX queue_messages_pending ON queue_messages(id) WHERE status = 'pending';

CREATE TABLE workflow_history (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  message_id INTEGER NOT NULL,
  queue TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  ended_at INTEGER NOT NULL,
  duration_us INTEGER NOT NULL,
  outcome TEXT NOT NULL CHECK (outcome IN ('completed', 'failed')),
  error_json TEXT
);

CREATE TABLE io_jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  result_queue TEXT NOT NULL,
  context_json TEXT NOT NULL,
  message_id INTEGER NOT NULL,
  started_at INTEGER NOT NULL
);

CREATE TABLE outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  to_type TEXT NOT NULL,
  to_key_json TEXT NOT NULL,
  queue TEXT NOT NULL,
  body_json TEXT NOT NULL,
  dedupe_key TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_error TEXT
);
