-- Open pull requests of the organization's GitHub repositories that no task works on:
-- rows of the task list without a task actor ("lazy tasks"). The github-data actor sends
-- them (deliveries and syncs, stamped with its sync generation; a full sync sweeps the
-- older ones); a task created for a pull request's branch takes its place, and a pull
-- request that closes leaves. auto_archive_prs: a task whose pull request is merged or
-- closed is archived.
ALTER TABLE organization ADD COLUMN auto_archive_prs INTEGER NOT NULL DEFAULT 1;
CREATE TABLE pulls (
  pull_id TEXT PRIMARY KEY,          -- "pr_<GitHub repository id>_<number>", as listed
  github_repo_id INTEGER NOT NULL,
  number INTEGER NOT NULL,
  repo_id TEXT NOT NULL,             -- the organization's repository
  title TEXT NOT NULL,
  head_ref TEXT NOT NULL,
  base_ref TEXT NOT NULL,
  author TEXT NOT NULL,
  pull_json TEXT NOT NULL,           -- github_data::pull_json
  summary_json TEXT NOT NULL,        -- the row as the task list shows it
  generation INTEGER NOT NULL,       -- the github-data sync generation that saw it last
  updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX pulls_by_number ON pulls(github_repo_id, number);
CREATE INDEX pulls_by_branch ON pulls(repo_id, head_ref);
CREATE INDEX pulls_by_update ON pulls(updated_at DESC, pull_id DESC);
