-- scanopy store, schema 1 (PostgreSQL).
CREATE TABLE networks (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    subnets     TEXT NOT NULL,          -- JSON array of CIDR strings
    created_at  TEXT NOT NULL
);

CREATE TABLE scan_runs (
    id           TEXT PRIMARY KEY,
    network_id   TEXT NOT NULL REFERENCES networks(id),
    daemon_id    TEXT,
    config       TEXT NOT NULL,         -- the ScanConfig, as JSON
    targets      TEXT NOT NULL,         -- JSON array of CIDR strings the run covered
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    status       TEXT NOT NULL,
    devices_seen BIGINT NOT NULL DEFAULT 0
);

-- Batches already applied: applying one again changes nothing.
CREATE TABLE batches (
    id           TEXT PRIMARY KEY,
    scan_run_id  TEXT NOT NULL REFERENCES scan_runs(id),
    applied_at   TEXT NOT NULL
);

CREATE TABLE devices (
    id                   TEXT PRIMARY KEY,
    network_id           TEXT NOT NULL REFERENCES networks(id),
    hostname             TEXT,
    vendor               TEXT,
    device_type          TEXT NOT NULL,
    device_type_evidence TEXT,
    first_seen           TEXT NOT NULL,
    last_seen            TEXT NOT NULL,
    sources              TEXT NOT NULL,  -- JSON array
    randomized_mac       BIGINT NOT NULL DEFAULT 0,
    parent_id            TEXT,
    container_id         TEXT,
    container            TEXT,           -- JSON
    -- What users set; scans never write these.
    user_name            TEXT,
    notes                TEXT,
    tags                 TEXT NOT NULL DEFAULT '[]',
    -- History.
    missed_scans         BIGINT NOT NULL DEFAULT 0,
    offline              BIGINT NOT NULL DEFAULT 0,
    deleted_at           TEXT
);
CREATE INDEX devices_network ON devices(network_id, id);
CREATE INDEX devices_container ON devices(network_id, container_id);

CREATE TABLE interfaces (
    device_id   TEXT NOT NULL REFERENCES devices(id),
    network_id  TEXT NOT NULL,
    ip          TEXT NOT NULL,
    mac         TEXT NOT NULL DEFAULT '',   -- '' when unknown
    subnet      TEXT,
    first_seen  TEXT NOT NULL,
    last_seen   TEXT NOT NULL,
    PRIMARY KEY (device_id, ip, mac)
);
CREATE INDEX interfaces_mac ON interfaces(network_id, mac);
CREATE INDEX interfaces_ip ON interfaces(network_id, ip);

CREATE TABLE services (
    device_id   TEXT NOT NULL REFERENCES devices(id),
    ip          TEXT NOT NULL,
    port        BIGINT NOT NULL,
    transport   TEXT NOT NULL,
    state       TEXT NOT NULL,
    name        TEXT NOT NULL,
    product     TEXT,
    version     TEXT,
    extra       TEXT NOT NULL,           -- JSON object
    confidence  TEXT NOT NULL,
    evidence    TEXT NOT NULL,
    first_seen  TEXT NOT NULL,
    last_seen   TEXT NOT NULL,
    PRIMARY KEY (device_id, ip, transport, port)
);
CREATE INDEX services_name ON services(name, device_id);

CREATE TABLE events (
    seq         BIGSERIAL PRIMARY KEY,
    network_id  TEXT NOT NULL,
    kind        TEXT NOT NULL,
    device_id   TEXT,
    scan_run_id TEXT,
    detail      TEXT NOT NULL,           -- JSON
    at          TEXT NOT NULL
);
