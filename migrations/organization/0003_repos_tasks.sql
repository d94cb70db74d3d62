-- Repositories connected to the organization, and the index of its tasks: a summary of
-- each, pushed by the task actors (versioned: an older summary never overwrites a
-- newer one), read by every listing so that none wakes a task.
CREATE TABLE repos (
  repo_id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  url TEXT NOT NULL,
  default_branch TEXT NOT NULL,
  credential TEXT,              -- the org secret git uses for https, by name
  added_by TEXT NOT NULL,
  created_at INTEGER NOT NULL
);

CREATE TABLE tasks (
  task_id TEXT PRIMARY KEY,
  repo_id TEXT NOT NULL,
  title TEXT NOT NULL,
  branch TEXT NOT NULL,
  base_branch TEXT NOT NULL,
  status TEXT NOT NULL,
  owner_id TEXT NOT NULL,
  owner_name TEXT NOT NULL,
  agent TEXT NOT NULL,
  attention TEXT,
  summary_json TEXT NOT NULL,
  version INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
-- A branch belongs to one live task of a repository (a killed task lets it go).
CREATE UNIQUE INDEX tasks_live_branch ON tasks(repo_id, branch) WHERE status != 'killed';
CREATE INDEX tasks_by_update ON tasks(updated_at DESC, task_id DESC);
CREATE INDEX tasks_by_repo ON tasks(repo_id, updated_at DESC);
CREATE INDEX tasks_by_owner ON tasks(owner_id, updated_at DESC);
