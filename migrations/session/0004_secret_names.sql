-- The org secrets the session's agent is given (actors/sandbox/secrets.h
-- agent_secret_names: its sandbox's agent_env, then the agent's credentials and
-- settings), named once when the session is created, so that redacting a prompt costs
-- the edge one read of the session. NULL for sessions from before: session.secret_names
-- then answers null and the edge names them from the sandbox.
ALTER TABLE session ADD COLUMN secret_names_json TEXT;
