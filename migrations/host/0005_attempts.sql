-- How many times a message started to run in a process that then died before its step
-- committed (a crash, kill -9, a handler that aborts). Counted only after an unclean
-- stop (see actors/host/workflow.cpp, kMaxCrashedRuns); past the limit the message is
-- parked as failed and the actor goes on.
ALTER TABLE queue_messages ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
