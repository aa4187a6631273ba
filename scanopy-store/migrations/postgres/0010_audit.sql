-- scanopy store, schema 10 (postgres): the audit trail: who did what, when, from where.
CREATE TABLE audit_log (
    id       TEXT PRIMARY KEY,
    at       TEXT NOT NULL,
    actor    TEXT NOT NULL,          -- a user name or an API token's name
    via      TEXT NOT NULL,          -- session | token
    address  TEXT,                   -- the client's address, when known
    action   TEXT NOT NULL,          -- sign_in, token_created, device_deleted, ...
    target   TEXT,                   -- what it acted on: an id, a name
    detail   TEXT NOT NULL           -- JSON object
);
CREATE INDEX audit_log_at ON audit_log(at, id);
