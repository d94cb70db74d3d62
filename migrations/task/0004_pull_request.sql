-- The task's pull request on GitHub (null until one is published or linked), as JSON:
-- {number, url, state: open|draft|closed|merged, draft, title, head_ref, base_ref,
-- head_sha, mergeable, review_state, checks, updated_at, ...}; and why the task was
-- archived when it was not a person's doing ("PR merged").
ALTER TABLE task ADD COLUMN pull_json TEXT;
ALTER TABLE task ADD COLUMN archive_reason TEXT;
-- The commit Hearth pushed last to the task's branch: a push to it by anyone else is
-- told apart by its head.
ALTER TABLE task ADD COLUMN pushed_head TEXT;
