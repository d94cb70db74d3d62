-- GitHub identities linked to Hearth users (signing in with GitHub): one GitHub account
-- (by its id, which stays across renames) to one user, one per user. No token is kept.
CREATE TABLE github_identities (
  github_id INTEGER PRIMARY KEY,
  login TEXT NOT NULL,
  user_id TEXT NOT NULL UNIQUE,
  linked_at INTEGER NOT NULL
);
