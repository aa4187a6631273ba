-- scanopy store, schema 5 (postgres): the server's own stall watchdog, and webhook claims that are pruned.

-- When the run's progress last changed (NULL: not since it started). A renewal whose progress
-- has stood still for the run's stall_timeout_ms plus one lease ends the run failed.
ALTER TABLE scan_runs ADD COLUMN advanced_at TEXT;
-- Claims older than a day are deleted now and then; the index keeps that cheap.
CREATE INDEX webhook_claims_claimed_at ON webhook_claims(claimed_at);
