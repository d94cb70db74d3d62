-- Organizations this person was removed from: their tasks' events no longer reach the
-- feed (a removed member hears nothing more of the org). Being added again removes
-- the row.
CREATE TABLE left_orgs (
  org_id TEXT PRIMARY KEY,
  left_at INTEGER NOT NULL
);
