-- A stop's tear-down (killing what runs, removing the control group) runs off the loop;
-- a start asked for meanwhile happens once it is done, so that the tear-down cannot
-- take down what the start brought up.
ALTER TABLE sandbox ADD COLUMN tearing_down INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sandbox ADD COLUMN start_after_teardown INTEGER NOT NULL DEFAULT 0;
