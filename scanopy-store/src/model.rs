//! The types the store hands out.

use chrono::{DateTime, Utc};
use ipnet::IpNet;
use scanopy_core::{Device, ScanConfig};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A scan run's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Waiting for a daemon.
    Queued,
    /// Under way.
    Running,
    /// Finished.
    Done,
    /// Ended by an error.
    Failed,
    /// Stopped by a user.
    Cancelled,
}

impl RunStatus {
    /// The name stored and shown.
    pub fn as_str(&self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Done => "done",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            RunStatus::Queued,
            RunStatus::Running,
            RunStatus::Done,
            RunStatus::Failed,
            RunStatus::Cancelled,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

/// What starts a scan run.
#[derive(Debug, Clone)]
pub struct NewScanRun {
    /// The network scanned.
    pub network: Uuid,
    /// The daemon that runs it, if any.
    pub daemon: Option<Uuid>,
    /// The configuration, stored with the run.
    pub config: ScanConfig,
    /// The subnets the run covers (for offline marking).
    pub targets: Vec<IpNet>,
}

/// A scan run as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanRun {
    /// Its id.
    pub id: Uuid,
    /// The network.
    pub network: Uuid,
    /// The daemon.
    pub daemon: Option<Uuid>,
    /// The configuration.
    pub config: ScanConfig,
    /// The subnets covered.
    pub targets: Vec<IpNet>,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// Its state.
    pub status: RunStatus,
    /// Devices its batches touched.
    pub devices_seen: i64,
}

/// What a batch or the end of a run changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ChangeSet {
    /// Devices seen for the first time (or again after a deletion).
    pub devices_new: Vec<Uuid>,
    /// Devices whose name, vendor, type or interfaces changed.
    pub devices_changed: Vec<Uuid>,
    /// Devices now offline.
    pub devices_gone: Vec<Uuid>,
    /// New services: (device, port, transport).
    pub services_new: Vec<(Uuid, u16, String)>,
    /// Services whose state, name, product or version changed.
    pub services_changed: Vec<(Uuid, u16, String)>,
}

impl ChangeSet {
    /// Nothing changed.
    pub fn is_empty(&self) -> bool {
        self.devices_new.is_empty()
            && self.devices_changed.is_empty()
            && self.devices_gone.is_empty()
            && self.services_new.is_empty()
            && self.services_changed.is_empty()
    }
}

/// A device as stored: what scans saw, and what users set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredDevice {
    /// What scans saw.
    #[serde(flatten)]
    pub device: Device,
    /// Its network.
    pub network: Uuid,
    /// A name a user gave it.
    pub user_name: Option<String>,
    /// A user's notes.
    pub notes: Option<String>,
    /// A user's tags.
    pub tags: Vec<String>,
    /// Missed by the last scans of its subnet.
    pub offline: bool,
}

/// Which devices to list.
#[derive(Debug, Clone, Default)]
pub struct DeviceFilter {
    /// Only this network.
    pub network: Option<Uuid>,
    /// Only devices with an interface in this subnet.
    pub subnet: Option<IpNet>,
    /// Text in the name, host name, vendor, address or MAC.
    pub q: Option<String>,
    /// Only devices running this service name.
    pub service: Option<String>,
    /// Only devices seen since.
    pub seen_since: Option<DateTime<Utc>>,
}

/// A user's edit of a device: `Some` fields are set (`Some(None)` clears).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DeviceEdit {
    /// The user's name for it.
    pub name: Option<Option<String>>,
    /// Notes.
    pub notes: Option<Option<String>>,
    /// Tags.
    pub tags: Option<Vec<String>>,
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Something that happened, for consumers that resume from a sequence number.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Its sequence number (increasing).
    pub seq: i64,
    /// Its network.
    pub network: Uuid,
    /// `device_new`, `device_changed`, `device_gone`, `service_new`, `service_changed`,
    /// `scan_done`.
    pub kind: String,
    /// The device concerned.
    pub device: Option<Uuid>,
    /// The scan run concerned.
    pub scan_run: Option<Uuid>,
    /// Details.
    pub detail: serde_json::Value,
    /// When.
    pub at: DateTime<Utc>,
}
