//! The TCP port scanner: a connect scan of each host's ports with service identification.
//!
//! For each port: take a probe permit (the scan's shared rate and concurrency limits), connect,
//! and tell open (accepted), closed (refused) and filtered (no answer) apart. The connect
//! timeout starts at the configured one and adapts to the round-trip times the host shows.
//! An open port is identified: first by what it sends unasked (a banner: SSH, FTP, SMTP…),
//! then by the catalogue's probes for that port, then the fallback (an HTTP request). Each open
//! port is reported as soon as it is identified.
//!
//! Only open ports become services. A host that refuses every port is reported alive
//! (`tcp-refused`): a refusal proves a host is there as surely as an open port.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use scanopy_core::{
    Fact, PortFact, PortState, ScanContext, ScanError, Scanner, ScannerKind, Scope, Transport,
};
use tokio::io::AsyncWriteExt;

use crate::catalogue::{Catalogue, http_facts};
use crate::ports::tcp_ports;
use crate::probe::{Connect, connect, connect_adaptive, printable, read_some};

/// Settings of the [`TcpScanner`].
#[derive(Debug, Clone)]
pub struct TcpSettings {
    /// How long to wait for a service to speak first before probing it.
    pub banner_wait: Duration,
    /// How long to wait for the answer to a probe.
    pub probe_wait: Duration,
    /// The most bytes of probes sent to one host.
    pub max_bytes_per_host: usize,
    /// The most bytes read from one port.
    pub max_read: usize,
    /// Probes tried on one port at most.
    pub max_probes_per_port: usize,
}

impl Default for TcpSettings {
    fn default() -> Self {
        TcpSettings {
            banner_wait: Duration::from_millis(700),
            probe_wait: Duration::from_millis(1500),
            max_bytes_per_host: 64 * 1024,
            max_read: 16 * 1024,
            max_probes_per_port: 2,
        }
    }
}

/// The TCP connect port scanner with service identification.
#[derive(Debug, Clone, Default)]
pub struct TcpScanner {
    catalogue: Arc<Catalogue>,
    settings: TcpSettings,
}

impl TcpScanner {
    /// A scanner with this catalogue and these settings.
    pub fn new(catalogue: Catalogue, settings: TcpSettings) -> Self {
        TcpScanner {
            catalogue: Arc::new(catalogue),
            settings,
        }
    }
}

/// The shortest connect timeout, however fast the host answered.
const MIN_TIMEOUT: Duration = Duration::from_millis(100);

/// Ports of one host in flight at once (the scan's shared concurrency limit applies too):
/// enough to finish a silent host's thousand ports in a few timeouts, few enough not to
/// overwhelm a small device.
const HOST_WINDOW: usize = 256;

/// Per-host state: the adaptive timeout and the byte budget.
struct HostState {
    ip: IpAddr,
    /// Smoothed RTT in microseconds, 0 until the first answer.
    srtt_us: AtomicU64,
    initial: Duration,
    bytes_left: AtomicUsize,
}

impl HostState {
    fn timeout(&self) -> Duration {
        let srtt = self.srtt_us.load(Ordering::Relaxed);
        if srtt == 0 {
            return self.initial;
        }
        // Four times the smoothed RTT plus a margin, never above the configured timeout.
        let t = Duration::from_micros(srtt.saturating_mul(4)) + Duration::from_millis(50);
        t.clamp(MIN_TIMEOUT, self.initial.max(MIN_TIMEOUT))
    }

    fn record_rtt(&self, rtt: Duration) {
        let sample = u64::try_from(rtt.as_micros()).unwrap_or(u64::MAX).max(1);
        let _ = self
            .srtt_us
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                Some(if old == 0 {
                    sample
                } else {
                    (old * 7 + sample) / 8
                })
            });
    }

    fn spend(&self, n: usize) -> bool {
        self.bytes_left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(n)
            })
            .is_ok()
    }
}

enum Outcome {
    Open,
    Closed,
    Other,
}

#[async_trait]
impl Scanner for TcpScanner {
    fn name(&self) -> &str {
        "tcp"
    }

    fn kind(&self) -> ScannerKind {
        ScannerKind::PerHost
    }

    async fn run(&self, ctx: &ScanContext, scope: Scope<'_>) -> Result<(), ScanError> {
        let Scope::Host(ip) = scope else {
            return Err(ScanError::Config(
                "the tcp scanner examines one host at a time".into(),
            ));
        };
        // Start from the round-trip time discovery measured, when there is one.
        let hint = ctx
            .rtt_hint(ip)
            .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1));
        let host = HostState {
            ip,
            srtt_us: AtomicU64::new(hint.unwrap_or(0)),
            initial: Duration::from_millis(ctx.config().timeout_ms.max(50)),
            bytes_left: AtomicUsize::new(self.settings.max_bytes_per_host),
        };
        let ports = tcp_ports(ctx.config());
        let mut open = 0usize;
        let mut closed = 0usize;
        let mut running = FuturesUnordered::new();
        let mut next = ports.into_iter();
        // Keep a bounded number of this host's ports in flight; the shared budget bounds the
        // whole scan.
        let window = ctx.config().concurrency.clamp(1, HOST_WINDOW);
        loop {
            while running.len() < window {
                let Some(port) = next.next() else { break };
                running.push(self.port(ctx, &host, port));
            }
            let next_done = tokio::select! {
                biased;
                _ = ctx.cancelled() => break,
                o = running.next() => o,
            };
            let Some(outcome) = next_done else { break };
            match outcome {
                Outcome::Open => open += 1,
                Outcome::Closed => closed += 1,
                Outcome::Other => {}
            }
            if ctx.is_cancelled() {
                break;
            }
        }
        if open == 0 && closed > 0 {
            ctx.observe(
                ip,
                Fact::Alive {
                    method: "tcp-refused".into(),
                    rtt_us: srtt(&host),
                },
            )
            .await;
        }
        Ok(())
    }
}

fn srtt(h: &HostState) -> Option<u64> {
    Some(h.srtt_us.load(Ordering::Relaxed)).filter(|v| *v > 0)
}

impl TcpScanner {
    async fn port(&self, ctx: &ScanContext, host: &HostState, port: u16) -> Outcome {
        let Some(permit) = ctx.probe().await else {
            return Outcome::Other;
        };
        let addr = SocketAddr::new(host.ip, port);
        let result = connect_adaptive(addr, || host.timeout()).await;
        ctx.progress().add_ports_probed(1);
        match result {
            Connect::Open(stream, rtt) => {
                host.record_rtt(rtt);
                let fact = self.identify(ctx, host, port, stream).await;
                drop(permit);
                ctx.observe(host.ip, Fact::Port(fact)).await;
                Outcome::Open
            }
            Connect::Refused(rtt) => {
                host.record_rtt(rtt);
                Outcome::Closed
            }
            Connect::Unreachable | Connect::Silent => Outcome::Other,
        }
    }

    async fn identify(
        &self,
        ctx: &ScanContext,
        host: &HostState,
        port: u16,
        mut stream: tokio::net::TcpStream,
    ) -> PortFact {
        let s = &self.settings;
        let mut fact = PortFact::state(port, Transport::Tcp, PortState::Open);
        // 1. Let it speak first.
        let banner = read_some(
            &mut stream,
            s.banner_wait,
            Duration::from_millis(100),
            s.max_read,
        )
        .await;
        if !banner.is_empty() {
            fact.extra.insert("banner".into(), printable(&banner, 160));
            if let Some(id) = self.catalogue.identify("banner", &banner) {
                apply(&mut fact, id);
                return fact;
            }
        }
        // 2. Ask it, with the probes for this port, then the fallback.
        let mut reuse = if banner.is_empty() {
            Some(stream)
        } else {
            None
        };
        let host_text = host.ip.to_string();
        for probe in self
            .catalogue
            .probes_for(port)
            .into_iter()
            .take(s.max_probes_per_port)
        {
            let payload = probe.payload(&host_text);
            if !host.spend(payload.len()) {
                fact.extra.insert(
                    "note".into(),
                    "probe byte budget for this host spent".into(),
                );
                break;
            }
            let mut stream = match reuse.take() {
                Some(st) => st,
                None => {
                    let Some(_p) = ctx.probe().await else { break };
                    match connect(SocketAddr::new(host.ip, port), host.timeout()).await {
                        Connect::Open(st, _) => st,
                        _ => break,
                    }
                }
            };
            if stream.write_all(&payload).await.is_err() {
                continue;
            }
            let response = read_some(
                &mut stream,
                s.probe_wait,
                Duration::from_millis(200),
                s.max_read,
            )
            .await;
            if probe.id == "http-get" && response.starts_with(b"HTTP/") {
                fact.extra.extend(http_facts(&response));
            }
            if let Some(id) = self.catalogue.identify(&probe.id, &response) {
                apply(&mut fact, id);
                return fact;
            }
        }
        fact.evidence = "no rule matched".into();
        fact
    }
}

fn apply(fact: &mut PortFact, id: crate::catalogue::Identification) {
    fact.name = Some(id.service);
    fact.product = id.product;
    fact.version = id.version;
    fact.confidence = id.confidence;
    fact.evidence = id.rule;
}
