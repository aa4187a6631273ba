-- scanopy store, schema 9 (sqlite): alert rules (which events, where, through which channel, how
-- often), each event's claim by one server (as webhook_claims), and what each rule sent.
CREATE TABLE alert_rules (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    events         TEXT NOT NULL,          -- JSON array of event kinds
    network_id     TEXT,                   -- NULL: every network
    channel        TEXT NOT NULL,          -- JSON: {"kind": "email"|"ntfy"|"webhook", ...}
    throttle_secs  BIGINT NOT NULL DEFAULT 0,
    quiet          TEXT,                   -- JSON {"from": "22:00", "to": "07:00"} or NULL
    enabled        INTEGER NOT NULL DEFAULT 1,
    created_at     TEXT NOT NULL
);
CREATE TABLE alert_claims (
    rule_id     TEXT NOT NULL,
    event_seq   BIGINT NOT NULL,
    claimed_by  TEXT NOT NULL,
    claimed_at  TEXT NOT NULL,
    PRIMARY KEY (rule_id, event_seq)
);
CREATE INDEX alert_claims_claimed_at ON alert_claims(claimed_at);
CREATE TABLE alert_deliveries (
    id          TEXT PRIMARY KEY,
    rule_id     TEXT NOT NULL,
    event_seq   BIGINT NOT NULL,           -- 0 for a test
    status      TEXT NOT NULL,             -- delivered | failed | throttled | quiet
    attempts    INTEGER NOT NULL,
    error       TEXT,
    at          TEXT NOT NULL
);
CREATE INDEX alert_deliveries_rule ON alert_deliveries(rule_id, at);
