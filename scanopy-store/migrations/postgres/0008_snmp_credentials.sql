-- scanopy store, schema 8 (postgres): SNMP credentials of a network, which the server hands to the
-- daemons of that network for their scans. The secret (community, or a v3 user's passwords) is
-- sealed by the server (AES-256-GCM with a key kept in its data directory, bound to the row's
-- id and network): this database never holds it in clear. The other columns say what it is.
CREATE TABLE snmp_credentials (
    id                TEXT PRIMARY KEY,
    network_id        TEXT NOT NULL REFERENCES networks(id),
    label             TEXT NOT NULL,
    kind              TEXT NOT NULL,
    user_name         TEXT,
    auth_protocol     TEXT,
    privacy_protocol  TEXT,
    sealed            TEXT NOT NULL,
    created_at        TEXT NOT NULL
);
CREATE INDEX snmp_credentials_network ON snmp_credentials (network_id, created_at);
