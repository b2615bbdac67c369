-- Ingest reads a portal and agent's results in (time, id) order, to find
-- each new result's previous verdict: with the id in the index, that order
-- is read from it, never sorted (thousands of results at one time once
-- made ingest quadratic).
DROP INDEX results_by_portal;
CREATE INDEX results_by_portal ON results (portal_id, agent, observed_ms, id);
