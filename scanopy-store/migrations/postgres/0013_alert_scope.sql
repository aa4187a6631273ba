-- scanopy store, schema 13 (postgres): alert rules scoped by subnet, tag or device, and sent as a
-- daily digest; what each record said (its title), for digests and for people.
ALTER TABLE alert_rules ADD COLUMN subnet TEXT;
ALTER TABLE alert_rules ADD COLUMN tag TEXT;
ALTER TABLE alert_rules ADD COLUMN device_id TEXT;
ALTER TABLE alert_rules ADD COLUMN digest TEXT;          -- 'HH:MM' (server local time) or NULL
ALTER TABLE alert_deliveries ADD COLUMN summary TEXT;
CREATE INDEX alert_deliveries_status ON alert_deliveries(rule_id, status, at);
