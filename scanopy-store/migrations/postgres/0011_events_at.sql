-- scanopy store, schema 11 (postgres): events read by time ("what changed between these dates").
CREATE INDEX events_at ON events(at, seq);
