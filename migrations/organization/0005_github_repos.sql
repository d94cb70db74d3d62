-- Repositories that come from the organization's GitHub installation (the github-data
-- actor sends them): GitHub's repository id (stable across renames), its owner/name and
-- page, whether GitHub archived it, and when it left the installation while live tasks
-- still used it (kept, marked, until they end). Their credential is "github:<id>": an
-- installation token minted per git operation (docs/github.md).
ALTER TABLE repos ADD COLUMN github_id INTEGER;
ALTER TABLE repos ADD COLUMN github_full_name TEXT;
ALTER TABLE repos ADD COLUMN github_url TEXT;
ALTER TABLE repos ADD COLUMN archived INTEGER NOT NULL DEFAULT 0;
ALTER TABLE repos ADD COLUMN github_removed_at INTEGER;
CREATE UNIQUE INDEX repos_by_github_id ON repos(github_id) WHERE github_id IS NOT NULL;
