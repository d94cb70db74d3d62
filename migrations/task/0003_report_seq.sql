-- The number of the latest report applied for each session (migrations/session/0003):
-- an older one arriving late is ignored.
ALTER TABLE sessions ADD COLUMN report_seq INTEGER NOT NULL DEFAULT 0;
