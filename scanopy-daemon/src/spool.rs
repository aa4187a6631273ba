//! The spool: what a job found, on disk until the server has it.
//!
//! Every results batch and every end of job is first written here, then sent in order by the
//! sender ([`crate::agent`]) and deleted only once the server acknowledged it. One file per
//! entry, `{seq:020}.json` in the spool folder, `seq` increasing; each is written to a
//! `.tmp` file, fsync'd, renamed into place, and the folder fsync'd, so an entry is either
//! whole or absent: a torn `.tmp` left by a crash is removed at the next start. The spool
//! survives restarts: [`Spool::open`] picks up what is left, oldest first. The folder is
//! 0700 and every entry 0600 (tightened at open when found looser).
//!
//! It is bounded: a results batch that would take it past its limit is refused with
//! [`SpoolError::Full`] (the running job then stops as failed, loudly); the end of a job is
//! always accepted (it is small, and without it the server would wait for the lease).

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use scanopy_core::protocol::{FinishRequest, ResultsBatch};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use uuid::Uuid;

/// One thing to deliver to the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Entry {
    /// A batch of observations of a job.
    Results {
        /// The job.
        job: Uuid,
        /// The batch.
        batch: ResultsBatch,
    },
    /// The end of a job.
    Finish {
        /// The job.
        job: Uuid,
        /// How it ended.
        finish: FinishRequest,
    },
}

impl Entry {
    /// The job it belongs to.
    pub fn job(&self) -> Uuid {
        match self {
            Entry::Results { job, .. } | Entry::Finish { job, .. } => *job,
        }
    }
}

/// Why an entry was not spooled.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// The spool holds as much as it may.
    #[error(
        "the spool is full: {entries} entries, {bytes} bytes waiting for the server (limit {max_bytes} bytes)"
    )]
    Full {
        /// Entries waiting.
        entries: usize,
        /// Their size.
        bytes: u64,
        /// The limit.
        max_bytes: u64,
    },
    /// The disk said no.
    #[error("failed to write the spool in {path}: {source}")]
    Io {
        /// The folder.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
}

/// The on-disk queue of entries (see the module docs).
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    state: Mutex<State>,
    notify: Notify,
}

#[derive(Debug, Default)]
struct State {
    /// seq -> size in bytes.
    entries: BTreeMap<u64, u64>,
    bytes: u64,
    next_seq: u64,
}

fn entry_name(seq: u64) -> String {
    format!("{seq:020}.json")
}

impl Spool {
    /// Opens (creating it if needed) the spool in `dir`, holding at most `max_bytes`. Removes
    /// torn temporary files; keeps every whole entry for sending.
    pub fn open(dir: impl Into<PathBuf>, max_bytes: u64) -> std::io::Result<Spool> {
        let dir = dir.into();
        // 0700, and its entries 0600: they hold the inventory on its way to the server.
        crate::files::private_dir(&dir)?;
        let mut state = State::default();
        for e in fs::read_dir(&dir)? {
            let e = e?;
            let name = e.file_name();
            let name = name.to_string_lossy();
            if e.file_type()?.is_file() {
                crate::files::tighten(&e.path(), crate::files::FILE_MODE)?;
            }
            if name.ends_with(".tmp") {
                tracing::warn!(file = %name, "removing a spool entry torn by a crash (it was never acknowledged as written)");
                let _ = fs::remove_file(e.path());
                continue;
            }
            let Some(seq) = name
                .strip_suffix(".json")
                .and_then(|s| s.parse::<u64>().ok())
            else {
                continue;
            };
            let size = e.metadata()?.len();
            state.entries.insert(seq, size);
            state.bytes += size;
        }
        state.next_seq = state.entries.keys().next_back().map_or(1, |s| s + 1);
        Ok(Spool {
            dir,
            max_bytes,
            state: Mutex::new(state),
            notify: Notify::new(),
        })
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Entries waiting.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes waiting.
    pub fn bytes(&self) -> u64 {
        self.lock().bytes
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends an entry durably (written, fsync'd, renamed, folder fsync'd) and returns its
    /// sequence number. A results batch past the limit is refused; an end of job never is.
    /// Blocking: from async code use [`Spool::append_async`].
    pub fn append(&self, entry: &Entry) -> Result<u64, SpoolError> {
        let io = |source| SpoolError::Io {
            path: self.dir.clone(),
            source,
        };
        let bytes = serde_json::to_vec(entry).map_err(|e| io(std::io::Error::other(e)))?;
        let len = bytes.len() as u64;
        // The lock is held while writing so that sequence numbers reach the disk in order.
        let mut st = self.lock();
        if matches!(entry, Entry::Results { .. }) && st.bytes + len > self.max_bytes {
            return Err(SpoolError::Full {
                entries: st.entries.len(),
                bytes: st.bytes,
                max_bytes: self.max_bytes,
            });
        }
        let seq = st.next_seq;
        let tmp = self.dir.join(format!("{seq:020}.tmp"));
        let dst = self.dir.join(entry_name(seq));
        let write = || -> std::io::Result<()> {
            let mut f = crate::files::create_private(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            fs::rename(&tmp, &dst)?;
            fs::File::open(&self.dir)?.sync_all()
        };
        if let Err(e) = write() {
            let _ = fs::remove_file(&tmp);
            return Err(io(e));
        }
        st.next_seq += 1;
        st.entries.insert(seq, len);
        st.bytes += len;
        drop(st);
        self.notify.notify_one();
        Ok(seq)
    }

    /// [`Spool::append`] on Tokio's blocking pool, so the fsync does not stall a scan.
    pub async fn append_async(
        self: &std::sync::Arc<Self>,
        entry: Entry,
    ) -> Result<u64, SpoolError> {
        let me = std::sync::Arc::clone(self);
        match tokio::task::spawn_blocking(move || me.append(&entry)).await {
            Ok(r) => r,
            Err(e) => Err(SpoolError::Io {
                path: self.dir.clone(),
                source: std::io::Error::other(e),
            }),
        }
    }

    /// The oldest entry, if any. An entry that cannot be read back (damaged on disk) is moved
    /// aside as `damaged-{seq}.json`, with an error in the log, and the next one is returned.
    pub fn oldest(&self) -> Option<(u64, Entry)> {
        loop {
            let seq = *self.lock().entries.keys().next()?;
            let path = self.dir.join(entry_name(seq));
            match fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice::<Entry>(&b).map_err(|e| e.to_string()))
            {
                Ok(e) => return Some((seq, e)),
                Err(e) => {
                    tracing::error!(seq, "spool entry cannot be read ({e}); moving it aside");
                    self.set_aside(seq, "damaged");
                }
            }
        }
    }

    /// The newest entry, if any and readable.
    pub fn newest(&self) -> Option<Entry> {
        let seq = *self.lock().entries.keys().next_back()?;
        let bytes = fs::read(self.dir.join(entry_name(seq))).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Removes an entry the server acknowledged.
    pub fn remove(&self, seq: u64) {
        let mut st = self.lock();
        if let Some(size) = st.entries.remove(&seq) {
            st.bytes -= size;
            let _ = fs::remove_file(self.dir.join(entry_name(seq)));
        }
    }

    /// Moves an entry out of the queue without deleting it (`{prefix}-{seq}.json` stays in
    /// the folder for a person to look at).
    pub fn set_aside(&self, seq: u64, prefix: &str) {
        let mut st = self.lock();
        if let Some(size) = st.entries.remove(&seq) {
            st.bytes -= size;
            let _ = fs::rename(
                self.dir.join(entry_name(seq)),
                self.dir.join(format!("{prefix}-{seq:020}.json")),
            );
        }
    }

    /// Waits until something is appended (returns at once if something was appended since
    /// the last wait).
    pub async fn appended(&self) {
        self.notify.notified().await;
    }
}

#[cfg(test)]
mod tests;
