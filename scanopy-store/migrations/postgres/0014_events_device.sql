-- scanopy store, schema 14 (postgres): a device's events read by device (its history, its presence),
-- not by scanning every event.
CREATE INDEX events_device ON events(device_id, at);
