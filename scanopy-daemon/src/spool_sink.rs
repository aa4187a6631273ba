//! The service's [`JobSink`]: a job's batches and its end go to the on-disk [`Spool`] (the
//! agent's sender delivers them), its progress straight to the server. The running job is kept
//! in `{data_dir}/job.json` while it runs, so a daemon killed in the middle of it runs it again
//! at its next start.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use scanopy_core::protocol::{
    FinishRequest, Job, JobAck, JobOutcome, ListenRequest, ProgressSnapshot, ResultsBatch,
};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::client::ServerClient;
use crate::service::{self, JobSink, SinkError};
use crate::spool::{Entry, Spool, SpoolError};

/// The sink of the service: results and ends go to the spool, progress straight to the
/// server. A job the server cancelled (seen in any ack) is told so at its next call.
#[derive(Debug)]
pub(crate) struct SpoolSink {
    /// Where results and ends wait until the server took them.
    pub(crate) spool: Arc<Spool>,
    /// The server progress is sent to (and the sender delivers the spool to).
    pub(crate) client: ServerClient,
    /// Jobs the server said were cancelled (in any ack): their next call is told `cancel`.
    cancelled: Arc<Mutex<HashSet<Uuid>>>,
    /// `{data_dir}/job.json`: the job running now (see [`SpoolSink::run`]).
    job_file: PathBuf,
    /// This daemon's own scan settings (its SNMP communities).
    pub(crate) opts: crate::setup::SetupOptions,
}

impl SpoolSink {
    /// A sink over `spool` and `client`, noting the running job in `job_file`.
    pub(crate) fn new(spool: Arc<Spool>, client: ServerClient, job_file: PathBuf) -> Self {
        SpoolSink {
            spool,
            client,
            cancelled: Arc::default(),
            job_file,
            opts: crate::setup::SetupOptions::default(),
        }
    }

    fn cancel_ack(&self, job: Uuid) -> JobAck {
        JobAck {
            applied: false,
            cancel: self
                .cancelled
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains(&job),
        }
    }
}

#[async_trait::async_trait]
impl JobSink for SpoolSink {
    async fn results(&self, job: Uuid, batch: ResultsBatch) -> Result<JobAck, SinkError> {
        match self.spool.append_async(Entry::Results { job, batch }).await {
            Ok(_) => Ok(self.cancel_ack(job)),
            Err(e @ SpoolError::Full { .. }) => {
                tracing::error!(
                    job = %job,
                    entries = self.spool.len(),
                    bytes = self.spool.bytes(),
                    "{e}; the server has not taken results for a while; stopping the job \
                     (nothing already spooled is dropped)"
                );
                Err(e.into())
            }
            Err(e) => {
                tracing::error!(job = %job, "{e}");
                Err(e.into())
            }
        }
    }

    async fn progress(&self, job: Uuid, progress: ProgressSnapshot) -> Result<JobAck, SinkError> {
        let ack = self.client.progress(job, &progress).await?;
        if ack.cancel {
            self.mark_cancelled(job);
        }
        Ok(JobAck {
            cancel: ack.cancel || self.cancel_ack(job).cancel,
            ..ack
        })
    }

    async fn finish(&self, job: Uuid, finish: FinishRequest) -> Result<JobAck, SinkError> {
        self.spool
            .append_async(Entry::Finish { job, finish })
            .await?;
        Ok(JobAck::default())
    }
}

#[async_trait::async_trait]
impl crate::passive::ListenSink for SpoolSink {
    async fn open_listen(&self, req: &ListenRequest) -> Result<Job, SinkError> {
        Ok(self.client.listen(req).await?)
    }
}

impl SpoolSink {
    /// Runs `job` to its end. While it runs, the job is kept in `{data_dir}/job.json`, removed
    /// once its end is in the spool: a daemon killed in the middle of a job (SIGKILL, a crash,
    /// power lost) runs it again at its next start ([`SpoolSink::interrupted`]). The server
    /// still has it leased to this daemon, so without that it would wait for the lease to
    /// expire (90 s) before anyone ran it again. A stop by signal still ends the job as
    /// cancelled, as before.
    pub(crate) async fn run(&self, job: &Job, cancel: CancellationToken) -> JobOutcome {
        if let Err(e) = write_job_file(&self.job_file, job) {
            tracing::warn!(job = %job.id, "failed to note the running job in {}: {e}", self.job_file.display());
        }
        let outcome = service::run_job_with(job, self, cancel, &self.opts).await;
        let _ = std::fs::remove_file(&self.job_file);
        outcome
    }

    /// The job a killed daemon left running, if any.
    pub(crate) fn interrupted(&self) -> Option<Job> {
        let bytes = std::fs::read(&self.job_file).ok()?;
        match serde_json::from_slice::<Job>(&bytes) {
            // Killed between spooling the end and forgetting the job: it had ended.
            Ok(job) if matches!(self.spool.newest(), Some(Entry::Finish { job: j, .. }) if j == job.id) =>
            {
                let _ = std::fs::remove_file(&self.job_file);
                None
            }
            Ok(job) => Some(job),
            Err(e) => {
                tracing::warn!("ignoring {}: {e}", self.job_file.display());
                let _ = std::fs::remove_file(&self.job_file);
                None
            }
        }
    }

    /// Notes that the server cancelled `job`: its next call is answered `cancel: true`.
    pub(crate) fn mark_cancelled(&self, job: Uuid) {
        self.cancelled
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(job);
    }
}

/// Writes `job` to `path` durably (a temporary file, fsync'd, renamed into place), without the
/// SNMP credentials it carries: the server's secrets are not kept on this disk (a job run again
/// after a crash reads agents with the daemon's own credentials only).
fn write_job_file(path: &std::path::Path, job: &Job) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("json.tmp");
    let mut f = crate::files::create_private(&tmp)?;
    let kept = Job {
        snmp: Default::default(),
        ..job.clone()
    };
    f.write_all(&serde_json::to_vec(&kept).map_err(std::io::Error::other)?)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_job_file_is_written_0600_whatever_the_umask_allows() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("job.json");
        let job = Job {
            id: Uuid::new_v4(),
            network: Uuid::nil(),
            config: Default::default(),
            lease_ms: 90_000,
            snmp: scanopy_core::protocol::JobSnmp {
                communities: vec!["a-network-secret".into()],
                users: Vec::new(),
            },
        };
        write_job_file(&path, &job).unwrap();
        assert_eq!(mode(&path), 0o600);
        let kept = std::fs::read_to_string(&path).unwrap();
        assert!(!kept.contains("a-network-secret"), "{kept}");
        // A left-over temporary file with a loose mode is not reused as is.
        std::fs::write(path.with_extension("json.tmp"), b"x").unwrap();
        std::fs::set_permissions(
            path.with_extension("json.tmp"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        write_job_file(&path, &job).unwrap();
        assert_eq!(mode(&path), 0o600);
    }
}
