-- The org secrets the session's sandbox gives its agent beyond the agent's own (the
-- sandbox's agent_env names), noted when the session is created, so that redacting a
-- prompt costs the edge one read of the session. The agent's own credentials and
-- settings are named from its definition when the prompt comes (as the runner names them
-- every turn), so that a Hearth upgrade adding one redacts it from older sessions too.
-- NULL for sessions from before: session.secret_names then answers null and the edge
-- names them from the sandbox.
ALTER TABLE session ADD COLUMN agent_env_json TEXT;
