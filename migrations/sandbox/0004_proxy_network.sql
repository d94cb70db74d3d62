-- Network `proxy` (docs/sandboxes.md, Network): the check on `network` admits it. SQLite
-- changes a CHECK constraint by rebuilding the table (the same columns, in order).
CREATE TABLE sandbox_next (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  org_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('provisioning', 'ready', 'stopped', 'destroying', 'destroyed', 'error')),
  error TEXT,
  provider TEXT NOT NULL,
  network TEXT NOT NULL CHECK (network IN ('none', 'proxy', 'host')),
  repo_url TEXT,
  base_branch TEXT,
  branch TEXT,
  git_credential_name TEXT,
  agent_env_names_json TEXT NOT NULL,
  author_name TEXT NOT NULL,
  author_email TEXT NOT NULL,
  attempt INTEGER NOT NULL DEFAULT 0,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  ready_at INTEGER,
  task_linked INTEGER NOT NULL DEFAULT 0,
  tearing_down INTEGER NOT NULL DEFAULT 0,
  start_after_teardown INTEGER NOT NULL DEFAULT 0
);
INSERT INTO sandbox_next (id, org_id, task_id, state, error, provider, network, repo_url, base_branch, branch,
                          git_credential_name, agent_env_names_json, author_name, author_email, attempt, created_by,
                          created_at, updated_at, ready_at, task_linked, tearing_down, start_after_teardown)
  SELECT id, org_id, task_id, state, error, provider, network, repo_url, base_branch, branch, git_credential_name,
         agent_env_names_json, author_name, author_email, attempt, created_by, created_at, updated_at, ready_at,
         task_linked, tearing_down, start_after_teardown
  FROM sandbox;
DROP TABLE sandbox;
ALTER TABLE sandbox_next RENAME TO sandbox;
