-- The org secrets the task's agent is given (actors/sandbox/secrets.h agent_secret_names:
-- its credentials and settings; a task's sandbox has no extra agent_env), named once when
-- the task is created, so that redacting a prompt costs the edge one read of the task.
-- NULL for tasks from before: task.secret_names then names them from `agent`.
ALTER TABLE task ADD COLUMN secret_names_json TEXT;
