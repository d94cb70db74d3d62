-- One agent session: its state, its transcript (every event, in order, never capped),
-- its turns and the permission requests people answer (docs/agents.md).
CREATE TABLE session (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  org_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  session_id TEXT NOT NULL,
  agent TEXT NOT NULL,
  title TEXT,
  status TEXT NOT NULL CHECK (status IN ('idle', 'running', 'cancelling', 'interrupted', 'closed')),
  turn INTEGER NOT NULL DEFAULT 0,          -- the latest turn
  agent_session_id TEXT,                    -- the agent's own id, for session/load
  agent_info_json TEXT,                     -- what the agent said of itself at initialize
  always_allow_json TEXT NOT NULL DEFAULT '[]',  -- tool kinds a person allowed for the whole session
  permission_timeout_ms INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  closed_at INTEGER
);

CREATE TABLE events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused
  turn INTEGER NOT NULL,
  kind TEXT NOT NULL,
  at INTEGER NOT NULL,
  data_json TEXT NOT NULL
);

CREATE TABLE turns (
  turn INTEGER PRIMARY KEY,
  prompt TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'cancelled', 'failed', 'interrupted')),
  stop_reason TEXT,
  error TEXT,
  started_by TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  ended_at INTEGER
);

CREATE TABLE permissions (
  id TEXT PRIMARY KEY,
  turn INTEGER NOT NULL,
  tool_call_json TEXT NOT NULL,
  options_json TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'allowed', 'rejected', 'timed_out', 'cancelled')),
  decision TEXT,
  option_id TEXT,
  answered_by TEXT,
  created_at INTEGER NOT NULL,
  deadline_at INTEGER NOT NULL,
  answered_at INTEGER
);
CREATE INDEX permissions_by_status ON permissions(status);
