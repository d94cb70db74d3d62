-- The host's directory of actors: every address that was ever created, so that strict
-- `get` can tell an unknown actor from a hibernated one, and the inspector can list them.
CREATE TABLE actors (
  actor_id TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  key_json TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX actors_by_type ON actors(type, actor_id);
