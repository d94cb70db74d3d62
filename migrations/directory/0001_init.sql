-- The directory: the server-wide index that answers "who is this?" without waking
-- anyone. Every row here is a copy of something a user or organization actor owns,
-- kept current by their outboxes (and by the edge, which waits for it).

CREATE TABLE users (
  user_id TEXT PRIMARY KEY,
  username TEXT NOT NULL UNIQUE COLLATE NOCASE,
  is_admin INTEGER NOT NULL DEFAULT 0,
  disabled INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  version INTEGER NOT NULL DEFAULT 0
);

-- Sign-in sessions and API tokens, by the hash of their secret (never the secret).
CREATE TABLE credentials (
  token_hash TEXT PRIMARY KEY,
  credential_id TEXT NOT NULL UNIQUE,
  user_id TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('session', 'token')),
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  revoked_at INTEGER
);
CREATE INDEX credentials_user ON credentials(user_id);

CREATE TABLE orgs (
  org_id TEXT PRIMARY KEY,
  slug TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  created_at INTEGER NOT NULL
);

-- role NULL: removed (kept so that an older, late update cannot bring it back).
CREATE TABLE memberships (
  org_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  role TEXT CHECK (role IN ('owner', 'admin', 'member')),
  version INTEGER NOT NULL,
  PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_user ON memberships(user_id) WHERE role IS NOT NULL;
