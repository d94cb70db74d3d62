-- GitHub's id of each member (stable across renames): signing up with GitHub compares
-- it with the signing-in account's, so that a login someone gave up and another took
-- is not taken for the member. Filled by the next full sync.
ALTER TABLE members ADD COLUMN github_id INTEGER;
