-- scanopy store, schema 7 (sqlite): a device's link layer as its agent told it (ports, LLDP/CDP
-- neighbours, the bridge's forwarding table, VLANs), the newest snapshot per device.
-- A table of its own: a switch's forwarding table can be large, and device lists never read it.

-- l2: JSON, scanopy_core::L2. seen_at: when the snapshot was taken (an older one never
-- replaces a newer).
CREATE TABLE device_l2 (
    device_id  TEXT PRIMARY KEY REFERENCES devices(id),
    l2         TEXT NOT NULL,
    seen_at    TEXT NOT NULL
);
