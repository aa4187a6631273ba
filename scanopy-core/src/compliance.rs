//! The compliance suite every scanner passes, exported so that scanners written outside this
//! project can run it too.
//!
//! A scanner's author supplies a factory and a [`Fixture`]: a scope and configuration in which
//! the scanner finds something quickly and still has work left afterwards (a host that answers
//! at once beside addresses that stay silent). [`check`] then runs the scanner several times
//! and reports every rule it breaks:
//!
//! - **streams**: when it reports several observations, the first arrives while the scanner is
//!   still running, not in one batch at the end;
//! - **cancels promptly**: after cancellation it returns within [`CANCEL_LIMIT`];
//! - **no panic on bad input**: an empty target set and the wrong kind of scope end in `Ok` or
//!   `Err`, never a panic;
//! - **stays under the rate limit**: it takes a probe permit for what it sends (so the shared
//!   limiter paces it) and its observations never outrun the permits it took.
//!
//! # Example
//! ```no_run
//! # use scanopy_core::compliance::{check, Fixture};
//! # use scanopy_core::{ScanConfig, Scanner, TargetSet};
//! # async fn demo(make: fn() -> Box<dyn Scanner>) {
//! let fixture = Fixture::targets(TargetSet::from_addrs(["127.0.0.1".parse().unwrap()]));
//! let failures = check(make, &fixture).await;
//! assert!(failures.is_empty(), "{failures:#?}");
//! # }
//! ```

use std::net::IpAddr;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::ScanConfig;
use crate::scanner::{ScanContext, Scanner, ScannerKind, Scope};
use crate::targets::TargetSet;

/// How soon after cancellation a scanner must return.
pub const CANCEL_LIMIT: Duration = Duration::from_secs(2);

/// How long the suite waits for a scanner's first observation.
pub const FIRST_OBSERVATION_LIMIT: Duration = Duration::from_secs(20);

/// Where the suite runs a scanner.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// The targets (discovery scanners sweep them; per-host scanners get `host`).
    pub targets: TargetSet,
    /// The host handed to a per-host scanner.
    pub host: Option<IpAddr>,
    /// The scan configuration every check starts from (the rate-limit check overrides `rate`).
    pub config: ScanConfig,
    /// The rate used for the rate-limit check, in probes per second.
    pub rate: u32,
}

impl Fixture {
    /// A fixture for a discovery scanner.
    pub fn targets(targets: TargetSet) -> Self {
        Fixture {
            targets,
            host: None,
            config: ScanConfig::default(),
            rate: 50,
        }
    }

    /// A fixture for a per-host scanner.
    pub fn host(host: IpAddr) -> Self {
        Fixture {
            targets: TargetSet::from_addrs([host]),
            host: Some(host),
            config: ScanConfig::default(),
            rate: 50,
        }
    }

    /// The same fixture with this configuration.
    pub fn with_config(mut self, config: ScanConfig) -> Self {
        self.config = config;
        self
    }
}

fn scope_of(f: &Fixture, kind: ScannerKind) -> Option<Scope<'_>> {
    match kind {
        ScannerKind::Discovery => Some(Scope::Targets(&f.targets)),
        ScannerKind::PerHost => f.host.map(Scope::Host),
    }
}

/// Runs every rule; returns what failed, empty when the scanner complies. Must run inside a
/// Tokio runtime with time and I/O enabled (the scanner's own I/O).
pub async fn check<F>(make: F, fixture: &Fixture) -> Vec<String>
where
    F: Fn() -> Box<dyn Scanner>,
{
    let mut failures = Vec::new();
    let name = make().name().to_owned();
    let kind = make().kind();
    let Some(_) = scope_of(fixture, kind) else {
        return vec![format!(
            "{name}: the fixture has no host for a per-host scanner"
        )];
    };

    // streams, and stays under the rate limit.
    {
        let config = ScanConfig {
            rate: Some(fixture.rate),
            ..fixture.config.clone()
        };
        let cancel = CancellationToken::new();
        let (ctx, mut rx) =
            ScanContext::standalone(&name, config, fixture.targets.clone(), cancel.clone());
        let scanner = make();
        let f = fixture.clone();
        let progress_ctx = ctx.clone();
        let started = Instant::now();
        let task = tokio::spawn(async move {
            let scope = scope_of(&f, kind).expect("checked above");
            scanner.run(&ctx, scope).await
        });
        let mut batched = false;
        match tokio::time::timeout(FIRST_OBSERVATION_LIMIT, rx.recv()).await {
            Ok(Some(_)) => batched = task.is_finished(),
            Ok(None) => failures.push(format!(
                "{name}: streams: no observation at all in the fixture"
            )),
            Err(_) => failures.push(format!(
                "{name}: streams: no observation within {FIRST_OBSERVATION_LIMIT:?}"
            )),
        }
        let mut observations = 1u64;
        cancel.cancel();
        let joined = tokio::time::timeout(CANCEL_LIMIT * 2, task).await;
        while rx.try_recv().is_ok() {
            observations += 1;
        }
        let elapsed = started.elapsed();
        // One observation cannot be streamed; several must not all wait for the end.
        if batched && observations > 1 {
            failures.push(format!(
                "{name}: streams: all {observations} observations arrived only after the scanner returned"
            ));
        }
        match joined {
            Ok(Err(e)) if e.is_panic() => failures.push(format!("{name}: panicked: {e}")),
            Err(_) => failures.push(format!("{name}: did not return after cancellation")),
            _ => {}
        }
        let probes = progress_ctx.progress().snapshot().probes_sent;
        if probes == 0 {
            failures.push(format!(
                "{name}: rate limit: it reported {observations} observation(s) without taking a single probe permit"
            ));
        } else {
            let floor = Duration::from_secs_f64((probes - 1) as f64 / f64::from(fixture.rate));
            if elapsed + Duration::from_millis(5) < floor {
                failures.push(format!(
                    "{name}: rate limit: {probes} permits in {elapsed:?} at {} per second",
                    fixture.rate
                ));
            }
        }
    }

    // cancels promptly, mid-run.
    {
        let cancel = CancellationToken::new();
        let (ctx, mut rx) = ScanContext::standalone(
            &name,
            fixture.config.clone(),
            fixture.targets.clone(),
            cancel.clone(),
        );
        let scanner = make();
        let f = fixture.clone();
        let task = tokio::spawn(async move {
            let scope = scope_of(&f, kind).expect("checked above");
            scanner.run(&ctx, scope).await
        });
        // Cancel soon, mid-run: after the first observation or half a second, whichever is first.
        let _ = tokio::time::timeout(Duration::from_millis(500), rx.recv()).await;
        let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
        cancel.cancel();
        let at = Instant::now();
        match tokio::time::timeout(CANCEL_LIMIT, task).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => failures.push(format!(
                "{name}: cancellation: the scanner task failed: {e}"
            )),
            Err(_) => failures.push(format!(
                "{name}: cancels promptly: still running {:?} after cancellation",
                at.elapsed()
            )),
        }
        drain.abort();
    }

    // no panic on bad input.
    let empty = TargetSet::default();
    let wrong = Fixture {
        targets: empty.clone(),
        host: Some(IpAddr::from([127, 0, 0, 1])),
        ..fixture.clone()
    };
    for (label, scope_kind) in [
        ("an empty target set", ScannerKind::Discovery),
        (
            "the wrong kind of scope",
            if kind == ScannerKind::Discovery {
                ScannerKind::PerHost
            } else {
                ScannerKind::Discovery
            },
        ),
    ] {
        let (ctx, mut rx) = ScanContext::standalone(
            &name,
            fixture.config.clone(),
            empty.clone(),
            CancellationToken::new(),
        );
        let scanner = make();
        let w = wrong.clone();
        let task = tokio::spawn(async move {
            let scope = scope_of(&w, scope_kind).expect("the host is set");
            scanner.run(&ctx, scope).await
        });
        let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
        match tokio::time::timeout(Duration::from_secs(30), task).await {
            Ok(Err(e)) if e.is_panic() => failures.push(format!("{name}: panicked on {label}")),
            Err(_) => failures.push(format!("{name}: did not return on {label}")),
            _ => {}
        }
        drain.abort();
    }
    failures
}
