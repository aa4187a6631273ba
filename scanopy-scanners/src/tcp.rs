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
use crate::tls::{TLS_PORTS, common_name, handshake, looks_like_tls};

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
    /// Identify open ports (banners, probes, TLS); off, the scan only tells open from closed.
    pub identify: bool,
    /// Sweep IPv4 hosts with SYN segments (needs raw sockets; falls back to connecting when
    /// they are not allowed). Open ports are still connected to for identification.
    pub syn: bool,
}

impl Default for TcpSettings {
    fn default() -> Self {
        TcpSettings {
            banner_wait: Duration::from_millis(700),
            probe_wait: Duration::from_millis(1500),
            max_bytes_per_host: 64 * 1024,
            max_read: 16 * 1024,
            max_probes_per_port: 2,
            identify: true,
            syn: false,
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

    /// How long to wait for a service to speak first: services that do, greet at once, so on a
    /// host that answers fast a short wait is enough (a late greeting is still recognised in
    /// the answer to the first probe). Never longer than `max`.
    fn banner_wait(&self, max: Duration) -> Duration {
        match self.srtt_us.load(Ordering::Relaxed) {
            0 => max,
            srtt => (Duration::from_micros(srtt.saturating_mul(8)) + Duration::from_millis(250))
                .min(max),
        }
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
        if let (true, IpAddr::V4(v4)) = (self.settings.syn, ip) {
            if let Some(done) = self.syn_then_identify(ctx, &host, v4, &ports).await {
                return done;
            }
        }
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

impl TcpScanner {
    /// The SYN sweep, then identification of the open ports. `None` when raw sockets cannot be
    /// used: the caller connects instead.
    async fn syn_then_identify(
        &self,
        ctx: &ScanContext,
        host: &HostState,
        v4: std::net::Ipv4Addr,
        ports: &[u16],
    ) -> Option<Result<(), ScanError>> {
        let wait = |slowest: Option<Duration>| match slowest {
            // Answers to a burst come back as fast as the slowest one measured; ports still
            // silent after this wait are asked a second time, with the wait re-measured.
            Some(s) => (s * 4 + Duration::from_millis(20))
                .clamp(Duration::from_millis(20), host.initial.max(MIN_TIMEOUT)),
            None => host.timeout(),
        };
        let swept = crate::syn::sweep(ctx, v4, ports, wait).await.ok()?;
        if let Some(s) = swept.slowest {
            host.record_rtt(s);
        }
        let mut running = FuturesUnordered::new();
        let mut next = swept.open.iter().copied();
        let window = ctx.config().concurrency.clamp(1, HOST_WINDOW);
        loop {
            while running.len() < window {
                let Some(port) = next.next() else { break };
                running.push(async move {
                    if self.settings.identify {
                        let _ = self.port(ctx, host, port).await;
                    } else {
                        let mut f = PortFact::state(port, Transport::Tcp, PortState::Open);
                        f.evidence = "identification off".into();
                        ctx.observe(host.ip, Fact::Port(f)).await;
                    }
                });
            }
            let done = tokio::select! {
                biased;
                _ = ctx.cancelled() => break,
                d = running.next() => d,
            };
            if done.is_none() {
                break;
            }
        }
        if swept.open.is_empty() && swept.closed > 0 {
            ctx.observe(
                host.ip,
                Fact::Alive {
                    method: "tcp-refused".into(),
                    rtt_us: srtt(host),
                },
            )
            .await;
        }
        Some(Ok(()))
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
        // Until the host has answered once, the timeout may still shrink while the attempt runs;
        // afterwards it is known, and one timer per attempt is enough.
        let result = if host.srtt_us.load(Ordering::Relaxed) == 0 {
            connect_adaptive(addr, || host.timeout()).await
        } else {
            connect(addr, host.timeout()).await
        };
        ctx.progress().add_ports_probed(1);
        match result {
            Connect::Open(stream, rtt) => {
                host.record_rtt(rtt);
                let fact = if self.settings.identify {
                    self.identify(ctx, host, port, stream).await
                } else {
                    let mut f = PortFact::state(port, Transport::Tcp, PortState::Open);
                    f.evidence = "identification off".into();
                    f
                };
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
            host.banner_wait(s.banner_wait),
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
        let mut reuse = if banner.is_empty() {
            Some(stream)
        } else {
            None
        };
        // 2. On a TLS port, a silent service is asked with a TLS handshake first.
        if TLS_PORTS.contains(&port) {
            if let Some(done) = self
                .over_tls(ctx, host, port, reuse.take(), &mut fact)
                .await
            {
                return done;
            }
        }
        // 3. Ask it, with the probes for this port, then the fallback.
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
                None => match self.reconnect(ctx, host, port).await {
                    Some(st) => st,
                    None => break,
                },
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
                if !(id.service == "http" && looks_like_tls(&response)) {
                    apply(&mut fact, id);
                    return fact;
                }
            }
            // A greeting that came late, after the probe was sent.
            if let Some(id) = self.catalogue.identify("banner", &response) {
                fact.extra
                    .insert("banner".into(), printable(&response, 160));
                apply(&mut fact, id);
                return fact;
            }
            // A TLS service met in plain text: ask again, over TLS.
            if looks_like_tls(&response) && !TLS_PORTS.contains(&port) {
                if let Some(done) = self.over_tls(ctx, host, port, None, &mut fact).await {
                    return done;
                }
                break;
            }
        }
        fact.evidence = "no rule matched".into();
        fact
    }

    async fn reconnect(
        &self,
        ctx: &ScanContext,
        host: &HostState,
        port: u16,
    ) -> Option<tokio::net::TcpStream> {
        let _p = ctx.probe().await?;
        match connect(SocketAddr::new(host.ip, port), host.timeout()).await {
            Connect::Open(st, _) => Some(st),
            _ => None,
        }
    }

    /// Handshakes (on `stream`, or a new connection), records the certificate's facts, then
    /// identifies what speaks inside: an HTTP request first, else a banner. `Some` when the
    /// handshake worked (the fact is complete), `None` when the port does not speak TLS.
    async fn over_tls(
        &self,
        ctx: &ScanContext,
        host: &HostState,
        port: u16,
        stream: Option<tokio::net::TcpStream>,
        fact: &mut PortFact,
    ) -> Option<PortFact> {
        let s = &self.settings;
        let tcp = match stream {
            Some(st) => st,
            None => self.reconnect(ctx, host, port).await?,
        };
        if !host.spend(512) {
            return None;
        }
        let (mut tls, facts) = handshake(tcp, host.ip, s.probe_wait).await?;
        if let Some(cn) = facts.get("tls.subject").and_then(|sub| common_name(sub)) {
            if cn.contains('.')
                && !cn.contains(' ')
                && !cn.starts_with('*')
                && cn.parse::<IpAddr>().is_err()
            {
                ctx.observe(
                    host.ip,
                    Fact::Hostname {
                        name: cn.to_owned(),
                        source: "tls".into(),
                    },
                )
                .await;
            }
        }
        fact.extra.extend(facts);
        let mut done = fact.clone();
        // Mail and directory services speak first inside TLS; HTTP waits to be asked.
        let banner = read_some(
            &mut tls,
            Duration::from_millis(300),
            Duration::from_millis(100),
            s.max_read,
        )
        .await;
        let (on, response) = if banner.is_empty() {
            let request = self
                .catalogue
                .probes_for(80)
                .into_iter()
                .find(|p| p.id == "http-get")
                .map(|p| p.payload(&host.ip.to_string()))
                .unwrap_or_default();
            if !host.spend(request.len()) || tls.write_all(&request).await.is_err() {
                done.evidence = "tls-handshake".into();
                return Some(done);
            }
            (
                "http-get",
                read_some(
                    &mut tls,
                    s.probe_wait,
                    Duration::from_millis(200),
                    s.max_read,
                )
                .await,
            )
        } else {
            done.extra.insert("banner".into(), printable(&banner, 160));
            ("banner", banner)
        };
        if on == "http-get" && response.starts_with(b"HTTP/") {
            done.extra.extend(http_facts(&response));
        }
        match self.catalogue.identify(on, &response) {
            Some(id) => {
                apply(&mut done, id);
                let secure = match done.name.as_deref() {
                    Some("http") => Some("https"),
                    Some("imap") => Some("imaps"),
                    Some("pop3") => Some("pop3s"),
                    Some("smtp") => Some("smtps"),
                    Some("ldap") => Some("ldaps"),
                    _ => None,
                };
                if let Some(n) = secure {
                    done.name = Some(n.into());
                }
            }
            None => done.evidence = "tls-handshake".into(),
        }
        Some(done)
    }
}

fn apply(fact: &mut PortFact, id: crate::catalogue::Identification) {
    fact.name = Some(id.service);
    fact.product = id.product;
    fact.version = id.version;
    fact.confidence = id.confidence;
    fact.evidence = id.rule;
}
