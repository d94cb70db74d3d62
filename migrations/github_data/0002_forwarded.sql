-- Unrouted deliveries handed over to the organization that linked their installation
-- are kept on the unrouted store as 'forwarded'. (SQLite changes a CHECK by copying the
-- table.) The kept deliveries also dedupe past the queue's window: a delivery id kept
-- here is not applied again unless a server admin redelivers it.
CREATE TABLE deliveries_new (
  delivery_id TEXT PRIMARY KEY,
  event TEXT NOT NULL,
  action TEXT NOT NULL,
  installation_id INTEGER,
  outcome TEXT NOT NULL CHECK (outcome IN ('applied', 'ignored', 'rejected', 'unrouted', 'forwarded')),
  summary TEXT NOT NULL,
  error TEXT,
  payload_json TEXT NOT NULL,
  received_at INTEGER NOT NULL
);
INSERT INTO deliveries_new SELECT delivery_id, event, action, installation_id, outcome, summary, error, payload_json,
                                  received_at FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_new RENAME TO deliveries;
CREATE INDEX deliveries_by_time ON deliveries(received_at);
