use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::*;
use crate::model::{PortState, Transport};
use crate::observation::{Fact, PortFact};
use crate::scanner::{ScanError, Scope};
use crate::targets::TargetSpec;

fn targets(tokens: &[&str]) -> TargetSet {
    TargetSpec::new(tokens, &[] as &[&str])
        .unwrap()
        .build(&Default::default(), &[], false)
        .unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Finds the listed hosts; after the first, waits until a per-host scanner has started on it,
/// which can only happen if there is no phase barrier.
struct Finder {
    hosts: Vec<IpAddr>,
    started: Arc<Notify>,
}

#[async_trait]
impl Scanner for Finder {
    fn name(&self) -> &str {
        "finder"
    }
    fn kind(&self) -> ScannerKind {
        ScannerKind::Discovery
    }
    async fn run(&self, ctx: &ScanContext, _scope: Scope<'_>) -> Result<(), ScanError> {
        for (i, h) in self.hosts.iter().enumerate() {
            ctx.observe(
                *h,
                Fact::Alive {
                    method: "test".into(),
                    rtt_us: None,
                },
            )
            .await;
            if i == 0 {
                self.started.notified().await;
            }
        }
        // A reply from outside the targets: recorded, never examined.
        ctx.observe(
            ip("192.0.2.1"),
            Fact::Alive {
                method: "unsolicited".into(),
                rtt_us: None,
            },
        )
        .await;
        Ok(())
    }
}

/// Per host: reports one open port after taking a probe permit.
struct PortOne {
    started: Arc<Notify>,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: Arc<AtomicUsize>,
}

#[async_trait]
impl Scanner for PortOne {
    fn name(&self) -> &str {
        "port"
    }
    fn kind(&self) -> ScannerKind {
        ScannerKind::PerHost
    }
    async fn run(&self, ctx: &ScanContext, scope: Scope<'_>) -> Result<(), ScanError> {
        let Scope::Host(h) = scope else {
            return Err(ScanError::Other("wrong scope".into()));
        };
        self.started.notify_one();
        for port in [22u16, 80] {
            let Some(_p) = ctx.probe().await else {
                return Ok(());
            };
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_in_flight.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(5)).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            ctx.progress().add_ports_probed(1);
            ctx.observe(
                h,
                Fact::Port(PortFact::state(port, Transport::Tcp, PortState::Open)),
            )
            .await;
        }
        Ok(())
    }
}

fn port_one() -> (PortOne, Arc<Notify>, Arc<AtomicUsize>) {
    let started = Arc::new(Notify::new());
    let max = Arc::new(AtomicUsize::new(0));
    (
        PortOne {
            started: Arc::clone(&started),
            in_flight: Arc::new(AtomicUsize::new(0)),
            max_in_flight: Arc::clone(&max),
        },
        started,
        max,
    )
}

#[tokio::test]
async fn hosts_are_handed_on_as_found_and_done_after_their_observations() {
    let (port, started, _) = port_one();
    let hosts = vec![ip("10.0.0.1"), ip("10.0.0.2"), ip("10.0.0.3")];
    let p = Pipeline::new()
        .with(Box::new(Finder {
            hosts: hosts.clone(),
            started,
        }))
        .with(Box::new(port));
    let handle = p.start(
        ScanConfig::default(),
        targets(&["10.0.0.0/24"]),
        CancellationToken::new(),
    );
    let (events, summary) = tokio::time::timeout(Duration::from_secs(10), handle.collect())
        .await
        .expect("a phase barrier would deadlock here");
    assert!(summary.warnings.is_empty(), "{:?}", summary.warnings);
    assert_eq!(summary.progress.hosts_found, 3);
    assert_eq!(summary.progress.hosts_done, 3);
    assert_eq!(summary.progress.ports_probed, 6);
    assert_eq!(summary.progress.hosts_total, 254);
    for h in &hosts {
        let done = events
            .iter()
            .position(|e| *e == ScanEvent::HostDone(*h))
            .expect("host done");
        let ports = events
            .iter()
            .enumerate()
            .filter(|(_, e)| matches!(e, ScanEvent::Observation(o) if o.ip == *h && matches!(o.fact, Fact::Port(_))))
            .map(|(i, _)| i)
            .collect::<Vec<_>>();
        assert_eq!(ports.len(), 2);
        assert!(
            ports.iter().all(|i| *i < done),
            "HostDone after the host's observations"
        );
    }
    assert!(
        events
            .iter()
            .any(|e| matches!(e, ScanEvent::Observation(o) if o.ip == ip("192.0.2.1")))
    );
    assert!(
        !events.contains(&ScanEvent::HostFound(ip("192.0.2.1"))),
        "outside the targets"
    );
}

#[tokio::test]
async fn without_discovery_every_target_is_examined() {
    let (port, _, _) = port_one();
    let handle = Pipeline::new().with(Box::new(port)).start(
        ScanConfig::default(),
        targets(&["10.0.0.1-4"]),
        CancellationToken::new(),
    );
    let summary = handle.finish().await;
    assert_eq!(summary.progress.hosts_done, 4);
}

#[tokio::test]
async fn one_concurrency_limit_holds_across_hosts() {
    let (port, _, max) = port_one();
    let config = ScanConfig {
        concurrency: 3,
        ..ScanConfig::default()
    };
    let summary = Pipeline::new()
        .with(Box::new(port))
        .start(config, targets(&["10.0.0.1-40"]), CancellationToken::new())
        .finish()
        .await;
    assert_eq!(summary.progress.probes_sent, 80);
    let max = max.load(Ordering::SeqCst);
    assert!(max <= 3, "{max} probes in flight with a limit of 3");
    assert!(max >= 2, "hosts ran concurrently");
}

#[tokio::test(start_paused = true)]
async fn one_rate_limit_paces_the_whole_scan() {
    let (port, _, _) = port_one();
    let config = ScanConfig {
        rate: Some(10),
        ..ScanConfig::default()
    };
    let start = tokio::time::Instant::now();
    let summary = Pipeline::new()
        .with(Box::new(port))
        .start(config, targets(&["10.0.0.1-10"]), CancellationToken::new())
        .finish()
        .await;
    assert_eq!(summary.progress.probes_sent, 20);
    // 20 probes at 10 per second, evenly paced, on the paused (virtual) clock.
    let elapsed = start.elapsed();
    assert!(elapsed >= Duration::from_millis(1900), "{elapsed:?}");
}

/// Loops until cancelled, or forever if `stubborn`.
struct Forever {
    stubborn: bool,
}

#[async_trait]
impl Scanner for Forever {
    fn name(&self) -> &str {
        "forever"
    }
    fn kind(&self) -> ScannerKind {
        ScannerKind::Discovery
    }
    async fn run(&self, ctx: &ScanContext, _: Scope<'_>) -> Result<(), ScanError> {
        ctx.observe(
            ip("10.0.0.1"),
            Fact::Alive {
                method: "t".into(),
                rtt_us: None,
            },
        )
        .await;
        loop {
            if !self.stubborn && ctx.is_cancelled() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

#[tokio::test(start_paused = true)]
async fn cancellation_stops_the_scan_and_keeps_what_was_found() {
    for stubborn in [false, true] {
        let cancel = CancellationToken::new();
        let mut handle = Pipeline::new().with(Box::new(Forever { stubborn })).start(
            ScanConfig::default(),
            targets(&["10.0.0.0/24"]),
            cancel.clone(),
        );
        let first = handle.events.recv().await.unwrap();
        assert!(matches!(first, ScanEvent::Observation(_)));
        handle.cancel();
        let (_, summary) = handle.collect().await;
        assert!(summary.cancelled);
        assert_eq!(
            summary.warnings.iter().any(|w| w.contains("aborted")),
            stubborn,
            "{:?}",
            summary.warnings
        );
    }
}

struct Broken;

#[async_trait]
impl Scanner for Broken {
    fn name(&self) -> &str {
        "broken"
    }
    fn kind(&self) -> ScannerKind {
        ScannerKind::PerHost
    }
    async fn run(&self, _: &ScanContext, _: Scope<'_>) -> Result<(), ScanError> {
        Err(ScanError::Unavailable("no such socket".into()))
    }
}

#[tokio::test]
async fn a_failing_scanner_is_a_warning_and_the_others_go_on() {
    let (port, _, _) = port_one();
    let summary = Pipeline::new()
        .with(Box::new(Broken))
        .with(Box::new(port))
        .start(
            ScanConfig::default(),
            targets(&["10.0.0.1"]),
            CancellationToken::new(),
        )
        .finish()
        .await;
    assert_eq!(summary.progress.ports_probed, 2);
    assert_eq!(
        summary.warnings,
        ["scanner broken on 10.0.0.1: failed to start: no such socket"]
    );
}

/// Gives up on every port of its host, saying so each time.
struct GivesUp;

#[async_trait]
impl Scanner for GivesUp {
    fn name(&self) -> &str {
        "givesup"
    }
    fn kind(&self) -> ScannerKind {
        ScannerKind::PerHost
    }
    async fn run(&self, ctx: &ScanContext, scope: Scope<'_>) -> Result<(), ScanError> {
        let Scope::Host(ip) = scope else {
            return Ok(());
        };
        for port in 1..=50u16 {
            ctx.warn(format!("{ip} port {port}/tcp: gave up (test)"));
        }
        Ok(())
    }
}

#[tokio::test]
async fn scanners_warnings_reach_the_summary_and_events_bounded() {
    // 10 hosts × 50 warnings: 500 raised, MAX_WARNINGS kept, the rest counted.
    let (events, summary) = Pipeline::new()
        .with(Box::new(GivesUp))
        .start(
            ScanConfig::default(),
            targets(&["10.0.0.1-10"]),
            CancellationToken::new(),
        )
        .collect()
        .await;
    let from_events: Vec<&String> = events
        .iter()
        .filter_map(|e| match e {
            ScanEvent::Warning(w) => Some(w),
            _ => None,
        })
        .collect();
    assert_eq!(summary.warnings.len(), crate::MAX_WARNINGS + 1);
    assert_eq!(from_events.len(), summary.warnings.len());
    assert!(
        summary.warnings[0].starts_with("scanner givesup: 10.0.0."),
        "{:?}",
        summary.warnings[0]
    );
    assert!(summary.warnings[0].contains("/tcp: gave up"));
    let last = summary.warnings.last().unwrap();
    assert!(
        last.starts_with(&format!("{} more warning(s)", 500 - crate::MAX_WARNINGS)),
        "{last}"
    );
}

#[tokio::test]
async fn a_standalone_context_keeps_its_warnings() {
    let (ctx, _rx) = ScanContext::standalone(
        "t",
        ScanConfig::default(),
        targets(&["10.0.0.1"]),
        CancellationToken::new(),
    );
    ctx.warn("10.0.0.1 port 443/tcp: handshake timed out");
    assert_eq!(
        ctx.warnings(),
        ["scanner t: 10.0.0.1 port 443/tcp: handshake timed out"]
    );
}

/// Marks every target alive with a MAC of its own.
struct AllAlive;

#[async_trait::async_trait]
impl Scanner for AllAlive {
    fn name(&self) -> &str {
        "all-alive"
    }
    fn kind(&self) -> ScannerKind {
        ScannerKind::Discovery
    }
    async fn run(&self, ctx: &ScanContext, scope: Scope<'_>) -> Result<(), ScanError> {
        let Scope::Targets(t) = scope else {
            return Ok(());
        };
        for (i, a) in t.iter().enumerate() {
            let mac = format!("02:00:00:00:00:{:02x}", i + 1).parse().unwrap();
            ctx.observe(a, Fact::Mac { mac }).await;
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_scan_folds_into_an_inventory_with_plain_or_boxed_scanners() {
    let (inv, summary) = Pipeline::new()
        .with(AllAlive)
        .start(
            ScanConfig::default(),
            targets(&["10.0.0.1-3"]),
            CancellationToken::new(),
        )
        .inventory()
        .await;
    assert_eq!(inv.devices().len(), 3);
    assert_eq!(summary.progress.hosts_found, 3);
    let boxed: Box<dyn Scanner> = Box::new(AllAlive);
    let (inv, _) = Pipeline::new()
        .with(boxed)
        .start(
            ScanConfig::default(),
            targets(&["10.0.0.1-2"]),
            CancellationToken::new(),
        )
        .inventory()
        .await;
    assert_eq!(inv.devices().len(), 2);
}
