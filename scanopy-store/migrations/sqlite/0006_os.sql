-- scanopy store, schema 6 (sqlite): a device's operating system, as the evidence points.

-- JSON: {family, name?, version?, confidence, evidence[]} (scanopy_core::Os); NULL: unknown.
ALTER TABLE devices ADD COLUMN os TEXT;
