-- v6audit collector, first schema (PostgreSQL).
-- Integers are milliseconds since the epoch unless named otherwise.

CREATE TABLE agents (
    name           TEXT PRIMARY KEY,
    vantage        TEXT,
    token_hash     BYTEA NOT NULL UNIQUE,   -- SHA-256 of the token; the token is never stored
    created_ms     BIGINT NOT NULL,
    revoked_ms     BIGINT,
    last_report_ms BIGINT
);

CREATE TABLE reports (
    id           TEXT PRIMARY KEY,          -- the agent's UUID v7
    agent        TEXT NOT NULL,
    received_ms  BIGINT NOT NULL,
    generated_ms BIGINT NOT NULL,
    results      BIGINT NOT NULL,
    stored       BIGINT NOT NULL
);

-- Every result ever received, with the verdict of the collector's own pack.
CREATE TABLE results (
    id            TEXT PRIMARY KEY,         -- the agent's UUID v7: the same result is stored once
    report_id     TEXT NOT NULL,
    agent         TEXT NOT NULL,
    portal_id     TEXT NOT NULL,
    observed_ms   BIGINT NOT NULL,
    portal        TEXT NOT NULL,            -- JSON: the portal as the agent's inventory described it
    observation   TEXT NOT NULL,            -- JSON: the raw facts
    stage         BIGINT NOT NULL,
    stage_certain BOOLEAN NOT NULL,
    score         BIGINT NOT NULL,
    priority      BIGINT NOT NULL,
    findings      TEXT NOT NULL,            -- JSON: [{rule, status, severity, message, remediation}]
    pack          TEXT NOT NULL             -- the pack that judged it: "name/version"
);
CREATE INDEX results_by_portal ON results (portal_id, agent, observed_ms);

-- The newest result per portal and agent.
CREATE TABLE latest (
    portal_id     TEXT NOT NULL,
    agent         TEXT NOT NULL,
    result_id     TEXT NOT NULL,
    observed_ms   BIGINT NOT NULL,
    stage         BIGINT NOT NULL,
    stage_certain BOOLEAN NOT NULL,
    score         BIGINT NOT NULL,
    priority      BIGINT NOT NULL,
    PRIMARY KEY (portal_id, agent)
);

-- The last stage seen each day (in the collector's time zone) per portal and agent.
CREATE TABLE daily (
    day         BIGINT NOT NULL,           -- days since 1970-01-01
    portal_id   TEXT NOT NULL,
    agent       TEXT NOT NULL,
    observed_ms BIGINT NOT NULL,
    stage       BIGINT NOT NULL,
    PRIMARY KEY (day, portal_id, agent)
);

-- What changed: regressions and improvements, as they were judged on arrival.
CREATE TABLE events (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at_ms      BIGINT NOT NULL,
    portal_id  TEXT NOT NULL,
    agent      TEXT NOT NULL,
    kind       TEXT NOT NULL,
    from_stage BIGINT,
    to_stage   BIGINT NOT NULL,
    rule       TEXT,
    message    TEXT NOT NULL,
    result_id  TEXT NOT NULL
);
CREATE INDEX events_by_time ON events (at_ms);

-- Inventories uploaded by an administrator (files named in the configuration are read from disk).
CREATE TABLE inventories (
    name       TEXT PRIMARY KEY,
    text       TEXT NOT NULL,
    updated_ms BIGINT NOT NULL
);
