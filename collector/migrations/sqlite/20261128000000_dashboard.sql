-- The dashboard: a portal's changes, and each portal and agent's days in order
-- (the stage carried into a range from the day before it).
CREATE INDEX events_by_portal ON events (portal_id, id);
CREATE INDEX daily_by_portal ON daily (portal_id, agent, day);
