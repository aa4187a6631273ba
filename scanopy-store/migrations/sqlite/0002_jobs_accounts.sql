-- scanopy store, schema 2 (sqlite): jobs for daemons, daemons, users and credentials, schedules,
-- webhooks.

-- A scan run is also a job: queued until a daemon claims it, with a lease the daemon renews.
ALTER TABLE scan_runs ADD COLUMN requested_daemon TEXT;
ALTER TABLE scan_runs ADD COLUMN created_at TEXT;
ALTER TABLE scan_runs ADD COLUMN lease_until TEXT;
ALTER TABLE scan_runs ADD COLUMN progress TEXT;
ALTER TABLE scan_runs ADD COLUMN error TEXT;
ALTER TABLE scan_runs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;
UPDATE scan_runs SET created_at = started_at;
CREATE INDEX scan_runs_queue ON scan_runs(network_id, status, created_at);
CREATE INDEX scan_runs_created ON scan_runs(created_at, id);

CREATE TABLE daemons (
    id            TEXT PRIMARY KEY,
    network_id    TEXT NOT NULL REFERENCES networks(id),
    key_id        TEXT UNIQUE,           -- the credential it registered with; NULL for the local daemon
    name          TEXT NOT NULL,
    mode          TEXT NOT NULL,         -- pull | push
    url           TEXT,                  -- where a push daemon listens
    capabilities  TEXT NOT NULL,         -- JSON
    local         INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL,
    last_seen     TEXT NOT NULL
);

CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    username       TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,        -- argon2id, PHC string
    role           TEXT NOT NULL,
    created_at     TEXT NOT NULL
);

-- Sessions, API tokens and daemon keys: only a SHA-256 of each secret is kept.
CREATE TABLE credentials (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,         -- session | api_token | daemon_key
    name          TEXT NOT NULL,
    hash          TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL,
    network_id    TEXT,
    user_id       TEXT,
    created_at    TEXT NOT NULL,
    last_used_at  TEXT,
    expires_at    TEXT,
    revoked_at    TEXT
);
CREATE INDEX credentials_kind ON credentials(kind, created_at);

CREATE TABLE schedules (
    id             TEXT PRIMARY KEY,
    network_id     TEXT NOT NULL REFERENCES networks(id),
    daemon_id      TEXT,
    every_minutes  INTEGER NOT NULL,
    config         TEXT NOT NULL,        -- the ScanConfig, as JSON
    targets        TEXT NOT NULL,        -- JSON array of CIDR strings
    next_run       TEXT NOT NULL,
    last_run       TEXT,
    created_at     TEXT NOT NULL
);
CREATE INDEX schedules_due ON schedules(next_run);

CREATE TABLE webhooks (
    id          TEXT PRIMARY KEY,
    url         TEXT NOT NULL,
    secret      TEXT NOT NULL,           -- the HMAC key: it signs, so it is kept, never shown again
    created_at  TEXT NOT NULL
);

CREATE TABLE webhook_deliveries (
    id          TEXT PRIMARY KEY,
    webhook_id  TEXT NOT NULL,
    event_seq   INTEGER NOT NULL,
    status      TEXT NOT NULL,           -- delivered | failed
    attempts    INTEGER NOT NULL,
    http_status INTEGER,
    error       TEXT,
    at          TEXT NOT NULL
);
CREATE INDEX webhook_deliveries_hook ON webhook_deliveries(webhook_id, at);
