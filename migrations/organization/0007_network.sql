-- The organization's egress allowlist: host patterns ("registry.npmjs.org",
-- "*.githubusercontent.com") its sandboxes with network `proxy` may reach through
-- Hearth's egress proxy, beside the model API hosts every org may (sandbox/egress.h).
CREATE TABLE network_allow (
  pattern TEXT PRIMARY KEY,
  added_by TEXT NOT NULL,
  added_at INTEGER NOT NULL
);
