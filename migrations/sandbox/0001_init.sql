-- One sandbox: a task's isolated work dir, the processes run in it and the agent
-- sessions working in it (docs/sandboxes.md). Secrets are kept by name only; their
-- values stay sealed in the organization actor.
CREATE TABLE sandbox (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  org_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('provisioning', 'ready', 'stopped', 'destroying', 'destroyed', 'error')),
  error TEXT,
  provider TEXT NOT NULL,
  network TEXT NOT NULL CHECK (network IN ('none', 'host')),
  repo_url TEXT,
  base_branch TEXT,
  branch TEXT,
  git_credential_name TEXT,         -- the org secret whose value git gets for https
  agent_env_names_json TEXT NOT NULL,   -- org secrets given to agents as environment, by name
  author_name TEXT NOT NULL,
  author_email TEXT NOT NULL,
  attempt INTEGER NOT NULL DEFAULT 0,  -- provisioning attempts
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  ready_at INTEGER
);

CREATE TABLE provision_steps (
  id INTEGER PRIMARY KEY,
  attempt INTEGER NOT NULL,
  step TEXT NOT NULL,
  at INTEGER NOT NULL
);

CREATE TABLE processes (
  id INTEGER PRIMARY KEY,
  argv_json TEXT NOT NULL,
  cwd TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('running', 'exited')),
  exit_code INTEGER,
  ended_by TEXT,           -- exit, wall_clock, idle, stopped, error, interrupted
  output_bytes INTEGER,
  truncated INTEGER NOT NULL DEFAULT 0,
  error TEXT,
  started_by TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  ended_at INTEGER
);

CREATE TABLE sessions (
  session_id TEXT PRIMARY KEY,
  agent TEXT NOT NULL,
  attached_at INTEGER NOT NULL,
  detached_at INTEGER
);
