-- scanopy store, schema 15 (postgres): a rescan that sees every stored service of a device again
-- records it once on the device, not once per service: every service of the device stored
-- before run `services_seq` was seen again by it, at `services_seen` at the latest. A
-- service's own `last_run_seq`/`last_seen` are then older; its effective ones are the later
-- of the two.
ALTER TABLE devices ADD COLUMN services_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN services_seen TEXT;
