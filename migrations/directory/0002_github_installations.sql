-- Which Hearth organization each GitHub App installation is linked to: one to one (an
-- installation links one organization, an organization one installation). The edge
-- routes a webhook delivery by its installation id with one read of this table.
CREATE TABLE github_installations (
  installation_id INTEGER PRIMARY KEY,
  org_id TEXT NOT NULL UNIQUE,
  linked_at INTEGER NOT NULL
);
