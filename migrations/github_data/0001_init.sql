-- An organization's GitHub data (actors/github_data): the installation linked to it, the
-- repositories, members and open pull requests GitHub shows it, the heads of branches
-- pushed to, and the deliveries received. Rows a sync writes carry its generation; the
-- sync sweeps rows of older generations when it ends, so a failed sync leaves the
-- previous data as it was.

CREATE TABLE github_meta (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  org_id TEXT NOT NULL,
  installation_id INTEGER,              -- NULL: no installation linked
  account_login TEXT,
  account_type TEXT,                    -- Organization or User
  status TEXT NOT NULL DEFAULT 'unlinked' CHECK (status IN ('unlinked', 'connected', 'suspended', 'removed')),
  linked_by TEXT,
  linked_at INTEGER,
  sync_generation INTEGER NOT NULL DEFAULT 0,
  sync_phase TEXT,                      -- discovering_repositories, repositories, members, pull_requests, done, failed
  sync_processed INTEGER NOT NULL DEFAULT 0,
  sync_total INTEGER,
  sync_error TEXT,                      -- why the last sync failed (the data before it is kept)
  last_sync_at INTEGER,
  updated_at INTEGER NOT NULL
);

CREATE TABLE repositories (
  repo_id INTEGER PRIMARY KEY,          -- GitHub's id: stable across renames
  full_name TEXT NOT NULL,              -- owner/name
  clone_url TEXT NOT NULL,              -- '' until known (installation_repositories deliveries lack it)
  default_branch TEXT NOT NULL,         -- '' until known
  private INTEGER NOT NULL DEFAULT 0,
  archived INTEGER NOT NULL DEFAULT 0,
  sync_generation INTEGER NOT NULL DEFAULT 0,
  updated_at INTEGER NOT NULL
);

CREATE TABLE members (
  login TEXT PRIMARY KEY,
  role TEXT NOT NULL,                   -- admin or member
  sync_generation INTEGER NOT NULL DEFAULT 0,
  updated_at INTEGER NOT NULL
);

CREATE TABLE pull_requests (
  repo_id INTEGER NOT NULL,
  number INTEGER NOT NULL,
  repo_full_name TEXT NOT NULL,
  title TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('open', 'draft', 'closed', 'merged')),
  head_ref TEXT NOT NULL,
  head_sha TEXT NOT NULL DEFAULT '',
  base_ref TEXT NOT NULL,
  author TEXT NOT NULL,
  url TEXT NOT NULL,
  github_updated_at INTEGER NOT NULL DEFAULT 0,  -- as GitHub last changed it (ms)
  sync_generation INTEGER NOT NULL DEFAULT 0,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (repo_id, number)
);

CREATE TABLE branch_heads (
  repo_id INTEGER NOT NULL,
  ref TEXT NOT NULL,                    -- refs/heads/main
  sha TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (repo_id, ref)
);

-- Deliveries received, newest kept (payloads too, for redelivery); the durable dedupe
-- by delivery id is the queue's (a message's dedupe key), this is what people see.
CREATE TABLE deliveries (
  delivery_id TEXT PRIMARY KEY,
  event TEXT NOT NULL,
  action TEXT NOT NULL,
  installation_id INTEGER,
  outcome TEXT NOT NULL CHECK (outcome IN ('applied', 'ignored', 'rejected', 'unrouted')),
  summary TEXT NOT NULL,
  error TEXT,
  payload_json TEXT NOT NULL,
  received_at INTEGER NOT NULL
);
CREATE INDEX deliveries_by_time ON deliveries(received_at);
