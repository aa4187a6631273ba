-- scanopy store, schema 3 (sqlite): results are checked against the run that takes them.

-- Runs in the order they were claimed (or started): offline marking and gone services compare
-- these numbers, never the daemon's clock with the server's.
CREATE TABLE run_sequence (
    id    INTEGER PRIMARY KEY,
    last  BIGINT NOT NULL
);
INSERT INTO run_sequence (id, last) VALUES (1, 0);
ALTER TABLE scan_runs ADD COLUMN run_seq BIGINT;
-- What a run took: observations applied and dropped (outside its targets), and batches refused
-- from the daemon holding it (a run with one ends failed, never done).
ALTER TABLE scan_runs ADD COLUMN observations BIGINT NOT NULL DEFAULT 0;
ALTER TABLE scan_runs ADD COLUMN observations_dropped BIGINT NOT NULL DEFAULT 0;
ALTER TABLE scan_runs ADD COLUMN rejected_batches BIGINT NOT NULL DEFAULT 0;
-- The latest run (by run_seq) that saw each device and service.
ALTER TABLE devices ADD COLUMN last_run_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE services ADD COLUMN last_run_seq BIGINT NOT NULL DEFAULT 0;
-- The distinct devices a run in progress saw (its devices_seen); emptied when it ends.
CREATE TABLE scan_run_devices (
    scan_run_id  TEXT NOT NULL,
    device_id    TEXT NOT NULL,
    PRIMARY KEY (scan_run_id, device_id)
);
