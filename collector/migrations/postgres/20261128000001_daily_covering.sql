-- The index of stage changes is read from daily in portal, agent and day
-- order: with the stage in the index, without touching the table.
DROP INDEX daily_by_portal;
CREATE INDEX daily_by_portal ON daily (portal_id, agent, day, stage);
