-- scanopy store, schema 11 (sqlite): events read by time ("what changed between these dates").
CREATE INDEX events_at ON events(at, seq);
