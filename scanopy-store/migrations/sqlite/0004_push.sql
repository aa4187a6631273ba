-- scanopy store, schema 4 (sqlite): push URLs an admin approved, one local daemon per server
-- instance, webhook deliveries claimed once across servers.

-- `url` keeps what a push daemon announces; the server calls only `approved_url`, which only an
-- admin sets (a daemon announcing another URL changes nothing here: it shows as pending).
ALTER TABLE daemons ADD COLUMN approved_url TEXT;
-- The server instance a local daemon belongs to (an id kept in that server's data directory);
-- NULL for remote daemons.
ALTER TABLE daemons ADD COLUMN instance TEXT;
CREATE UNIQUE INDEX daemons_local_instance ON daemons(network_id, instance) WHERE instance IS NOT NULL;

-- One row per event and webhook, inserted by the server that delivers it: of several servers on
-- one database, only the one whose insert succeeds sends the event.
CREATE TABLE webhook_claims (
    webhook_id  TEXT NOT NULL,
    event_seq   INTEGER NOT NULL,
    claimed_by  TEXT NOT NULL,
    claimed_at  TEXT NOT NULL,
    PRIMARY KEY (webhook_id, event_seq)
);
