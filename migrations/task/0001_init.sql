-- One task: its repository and branch, who owns it, where provisioning stands, its
-- sessions (the session actors own their transcripts), the people concerned, the git
-- flows it ran and the latest diff against its base (docs/tasks.md).
CREATE TABLE task (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  org_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  repo_id TEXT NOT NULL,
  repo_url TEXT NOT NULL,
  base_branch TEXT NOT NULL,
  branch TEXT NOT NULL,
  title TEXT NOT NULL,
  prompt TEXT NOT NULL,
  agent TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('provisioning', 'running', 'idle', 'conflict', 'error', 'archived', 'killed')),
  phase TEXT,                 -- what provisioning does now
  error TEXT,                 -- why it is in error
  error_step TEXT,            -- the step that failed
  sandbox_state TEXT NOT NULL DEFAULT 'provisioning',
  provider TEXT NOT NULL,
  network TEXT NOT NULL,
  git_credential TEXT,        -- the org secret git uses for https, by name
  permission_timeout_ms INTEGER NOT NULL,
  owner_id TEXT NOT NULL,
  owner_name TEXT NOT NULL,
  created_by TEXT NOT NULL,
  conflict_json TEXT,         -- files the last sync stopped on
  attention TEXT,             -- the latest thing that wants a person: finished, failed, needs_permission
  indexed_json TEXT,          -- the summary last sent to the organization's index
  version INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  archived_at INTEGER,
  killed_at INTEGER
);

CREATE TABLE sessions (
  session_id TEXT PRIMARY KEY,
  title TEXT NOT NULL,
  agent TEXT NOT NULL,
  status TEXT NOT NULL,       -- as the session reports it: idle, running, cancelling, interrupted, closed
  turn INTEGER NOT NULL DEFAULT 0,
  last_turn_status TEXT,
  pending_permissions INTEGER NOT NULL DEFAULT 0,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

-- The people a task's events are for: its owner and whoever prompted it.
CREATE TABLE participants (
  user_id TEXT PRIMARY KEY,
  username TEXT NOT NULL,
  since INTEGER NOT NULL
);

CREATE TABLE ops (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
  args_json TEXT NOT NULL,
  result_json TEXT,
  error TEXT,
  by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  ended_at INTEGER
);

CREATE TABLE diff_files (
  path TEXT PRIMARY KEY,
  status TEXT NOT NULL,       -- A, M, D (git's letters)
  added INTEGER,              -- null for binary files
  removed INTEGER,
  patch TEXT,
  patch_truncated INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE diff_meta (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  op_id INTEGER NOT NULL,     -- the op whose diff this is (an older op's never replaces it)
  base_commit TEXT,
  head_commit TEXT,
  refreshed_at INTEGER
);
