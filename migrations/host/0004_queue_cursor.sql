-- The loop finds pending messages from a cursor instead of an index, so that sending a
-- message writes one page (the message's) and not two (the message's and the index's).
-- Messages run in id order and a new message's id is MAX(id) + 1, so every message below
-- the first one still pending is settled: `next_id` is a lower bound on the ids that may
-- be pending. The loop reads from it (a range of the table, by rowid) and moves it past
-- what it ran, in the same commit; retrying a failed message moves it back down to that
-- message. Any value at or below the first pending id is correct, only slower.
DROP INDEX queue_messages_pending;

CREATE TABLE queue_cursor (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  next_id INTEGER NOT NULL  -- no message below it is pending
);
INSERT INTO queue_cursor(id, next_id)
  SELECT 1, COALESCE((SELECT MIN(id) FROM queue_messages WHERE status = 'pending'),
                     (SELECT COALESCE(MAX(id), 0) + 1 FROM queue_messages));
