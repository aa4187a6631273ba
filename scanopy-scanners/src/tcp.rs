//! The TCP port scanner: a connect scan of each host's ports with service identification.
//!
//! For each port: take a probe permit (the scan's shared rate and concurrency limits), connect,
//! and tell open (accepted), closed (refused) and filtered (no answer) apart. The connect
//! timeout starts at the configured one and adapts to the round-trip times the host shows.
//! An open port is identified: first by what it sends unasked (a banner: SSH, FTP, SMTP…),
//! then by the catalogue's probes for that port, then the fallback (an HTTP request). Each open
//! port is reported as soon as it is identified.
//!
//! A probe permit covers each connect only; identification opens further connections under
//! fresh permits, so no task waits for a permit while holding one (with `--concurrency 1` as
//! well). Every read has an overall deadline and a byte cap, and identifying one port has a
//! total budget ([`TcpSettings::identify_budget`]); what it gave up on is a scan warning.
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
    Confidence, Fact, PortFact, PortState, ScanContext, ScanError, Scanner, ScannerKind, Scope,
    Transport,
};
use tokio::io::AsyncWriteExt;

use crate::catalogue::{Catalogue, http_facts};
use crate::ports::{printer_ports_to_sweep, tcp_ports};
use crate::probe::{Connect, ReadEnd, Received, connect, connect_adaptive, printable, read_some};
use crate::recognise::Seen;
use crate::tls::{Handshake, TLS_PORTS, common_name, handshake, looks_like_tls};

/// Settings of the [`TcpScanner`].
#[derive(Debug, Clone)]
pub struct TcpSettings {
    /// How long to wait for a service to speak first before probing it.
    pub banner_wait: Duration,
    /// How long to wait for the greeting of a service that always speaks first
    /// ([`GREETS_FIRST`]: SMTP, FTP, SSH, POP, IMAP, …) before probing it. Such servers greet
    /// late when they look the client's name up first, and some (Exim) hang up on a client that
    /// speaks before the greeting: probing them early gives a different answer each run.
    pub greeting_wait: Duration,
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
    /// The most time identifying one open port may take (banner, probes and TLS together);
    /// past it the port is reported open with "identification timed out" and a warning.
    pub identify_budget: Duration,
    /// Sweep IPv4 hosts with SYN segments (needs raw sockets; falls back to connecting when
    /// they are not allowed). Open ports are still connected to for identification.
    pub syn: bool,
}

impl Default for TcpSettings {
    fn default() -> Self {
        TcpSettings {
            banner_wait: Duration::from_millis(700),
            greeting_wait: Duration::from_secs(4),
            probe_wait: Duration::from_millis(1500),
            max_bytes_per_host: 64 * 1024,
            max_read: 16 * 1024,
            max_probes_per_port: 2,
            identify_budget: Duration::from_secs(10),
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

/// Ports whose services always speak first: FTP, SSH, telnet, SMTP and submission, POP3,
/// IMAP, NNTP, MySQL, VNC, IRC. On these the scanner waits [`TcpSettings::greeting_wait`] for
/// the greeting before it sends anything.
pub const GREETS_FIRST: &[u16] = &[21, 22, 23, 25, 110, 119, 143, 587, 3306, 5900, 6667];

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
        // Printer ports are swept (a SYN carries no data) but never connected to.
        let printers = printer_ports_to_sweep(ctx.config());
        let all: Vec<u16> = ports.iter().chain(&printers).copied().collect();
        let mut swept = crate::syn::sweep(ctx, v4, &all, wait).await.ok()?;
        if let Some(s) = swept.slowest {
            host.record_rtt(s);
        }
        if let Some(h) = swept
            .ttl
            .and_then(|t| scanopy_core::os::ttl_hint(t, "tcp syn-ack"))
        {
            ctx.observe(host.ip, Fact::Os(h)).await;
        }
        let (printer_open, open): (Vec<u16>, Vec<u16>) =
            swept.open.iter().partition(|p| printers.contains(p));
        swept.open = open;
        for port in printer_open {
            let mut f = PortFact::state(port, Transport::Tcp, PortState::Open);
            f.name = Some("jetdirect".into());
            f.confidence = Confidence::Low;
            f.evidence = "open to a SYN; printer ports are never sent data \
                          (--probe-printer-ports to identify)"
                .into();
            ctx.observe(host.ip, Fact::Port(f)).await;
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

/// What identifying one port found so far, and what it gave up on (for the scan's warnings).
struct Attempt {
    fact: PortFact,
    gave_up: Vec<String>,
    /// What the port sent, for recog once identification is over.
    seen: Seen,
}

impl Attempt {
    fn note_read(&mut self, what: &str, r: &Received, total: Duration) {
        if r.end == ReadEnd::Deadline {
            self.gave_up.push(format!(
                "{what}: still sending after {} ms, stopped reading",
                total.as_millis()
            ));
        }
    }
}

/// How long a read may go on after its first wait: a service that has something to say sends
/// it at once, so a second more is plenty for a whole banner or response.
const READ_SLACK: Duration = Duration::from_secs(1);

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
        // The permit covers the connect only: identification asks for a fresh one for each
        // connection it opens, and no task waits for a permit while holding one.
        drop(permit);
        ctx.progress().add_ports_probed(1);
        match result {
            Connect::Open(stream, rtt) => {
                host.record_rtt(rtt);
                let fact = if self.settings.identify {
                    self.identify_within_budget(ctx, host, port, stream).await
                } else {
                    let mut f = PortFact::state(port, Transport::Tcp, PortState::Open);
                    f.evidence = "identification off".into();
                    f
                };
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

    /// Identifies an open port within the per-port budget (banner, probes and TLS together).
    /// Past the budget the port is reported open with what was learned so far, its evidence
    /// saying identification timed out; whatever it gave up on is a warning of the scan.
    async fn identify_within_budget(
        &self,
        ctx: &ScanContext,
        host: &HostState,
        port: u16,
        stream: tokio::net::TcpStream,
    ) -> PortFact {
        let budget = self.settings.identify_budget;
        let mut a = Attempt {
            fact: PortFact::state(port, Transport::Tcp, PortState::Open),
            gave_up: Vec::new(),
            seen: Seen::default(),
        };
        let in_time = tokio::time::timeout(budget, self.identify(ctx, host, port, stream, &mut a))
            .await
            .is_ok();
        if !in_time {
            a.gave_up.push(format!(
                "identification took longer than its budget of {} ms",
                budget.as_millis()
            ));
            // Keep what was read (a banner, certificate facts), not a half-made identification.
            let extra = std::mem::take(&mut a.fact.extra);
            a.fact = PortFact::state(port, Transport::Tcp, PortState::Open);
            a.fact.extra = extra;
            a.fact.evidence = "identification timed out".into();
        }
        if !a.gave_up.is_empty() {
            ctx.warn(format!(
                "{} port {port}/tcp: gave up: {}",
                host.ip,
                a.gave_up.join("; ")
            ));
            a.fact.extra.insert(
                "note".into(),
                a.gave_up.join("; ").chars().take(300).collect(),
            );
        }
        crate::recognise::enrich(&mut a.fact, &a.seen);
        a.fact
    }

    async fn identify(
        &self,
        ctx: &ScanContext,
        host: &HostState,
        port: u16,
        mut stream: tokio::net::TcpStream,
        a: &mut Attempt,
    ) {
        let s = &self.settings;
        // 1. Let it speak first.
        let wait = if GREETS_FIRST.contains(&port) {
            s.greeting_wait.max(s.banner_wait)
        } else {
            host.banner_wait(s.banner_wait)
        };
        let banner = read_some(
            &mut stream,
            wait,
            Duration::from_millis(100),
            s.max_read,
            wait + READ_SLACK,
        )
        .await;
        a.note_read("banner", &banner, wait + READ_SLACK);
        let banner = banner.bytes;
        if !banner.is_empty() {
            a.seen.banner(&banner);
            a.fact
                .extra
                .insert("banner".into(), printable(&banner, 160));
            if let Some(id) = self.catalogue.identify("banner", &banner) {
                apply(&mut a.fact, id);
                return;
            }
        }
        let mut reuse = if banner.is_empty() {
            Some(stream)
        } else {
            None
        };
        // 2. On a TLS port, a silent service is asked with a TLS handshake first.
        if TLS_PORTS.contains(&port) && self.over_tls(ctx, host, port, reuse.take(), a).await {
            return;
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
                a.fact.extra.insert(
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
            let total = s.probe_wait + READ_SLACK;
            let response = read_some(
                &mut stream,
                s.probe_wait,
                Duration::from_millis(200),
                s.max_read,
                total,
            )
            .await;
            a.note_read(&format!("probe {}", probe.id), &response, total);
            let response = response.bytes;
            if probe.id == "http-get" && response.starts_with(b"HTTP/") {
                a.fact.extra.extend(http_facts(&response));
                a.seen.http(&response);
            }
            if let Some(id) = self.catalogue.identify(&probe.id, &response) {
                if !(id.service == "http" && looks_like_tls(&response)) {
                    apply(&mut a.fact, id);
                    return;
                }
            }
            // A greeting that came late, after the probe was sent.
            if let Some(id) = self.catalogue.identify("banner", &response) {
                a.seen.banner(&response);
                a.fact
                    .extra
                    .insert("banner".into(), printable(&response, 160));
                apply(&mut a.fact, id);
                return;
            }
            // A TLS service met in plain text: ask again, over TLS.
            if looks_like_tls(&response) && !TLS_PORTS.contains(&port) {
                if self.over_tls(ctx, host, port, None, a).await {
                    return;
                }
                break;
            }
        }
        a.fact.evidence = "no rule matched".into();
    }

    /// A new connection to the port, under a permit of its own held for the connect only.
    /// Called only by a task that holds no permit.
    async fn reconnect(
        &self,
        ctx: &ScanContext,
        host: &HostState,
        port: u16,
    ) -> Option<tokio::net::TcpStream> {
        let permit = ctx.probe().await?;
        let r = connect(SocketAddr::new(host.ip, port), host.timeout()).await;
        drop(permit);
        match r {
            Connect::Open(st, _) => Some(st),
            _ => None,
        }
    }

    /// Handshakes (on `stream`, or a new connection), records the certificate's facts, then
    /// identifies what speaks inside: an HTTP request first, else a banner. `true` when the
    /// handshake worked (`a.fact` is complete), `false` when the port does not speak TLS.
    async fn over_tls(
        &self,
        ctx: &ScanContext,
        host: &HostState,
        port: u16,
        stream: Option<tokio::net::TcpStream>,
        a: &mut Attempt,
    ) -> bool {
        let s = &self.settings;
        let tcp = match stream {
            Some(st) => st,
            None => match self.reconnect(ctx, host, port).await {
                Some(st) => st,
                None => return false,
            },
        };
        if !host.spend(512) {
            return false;
        }
        let (mut tls, facts) = match handshake(tcp, host.ip, s.probe_wait).await {
            Handshake::Done(tls, facts) => (tls, facts),
            Handshake::Failed => return false,
            Handshake::TimedOut => {
                a.gave_up.push(format!(
                    "the TLS handshake did not finish within {} ms",
                    s.probe_wait.as_millis()
                ));
                return false;
            }
        };
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
        a.fact.extra.extend(facts);
        let mut done = a.fact.clone();
        // Mail and directory services speak first inside TLS; HTTP waits to be asked.
        let first = Duration::from_millis(300);
        let banner = read_some(
            &mut tls,
            first,
            Duration::from_millis(100),
            s.max_read,
            first + READ_SLACK,
        )
        .await;
        a.note_read("banner over TLS", &banner, first + READ_SLACK);
        let banner = banner.bytes;
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
                a.fact = done;
                return true;
            }
            let total = s.probe_wait + READ_SLACK;
            let r = read_some(
                &mut tls,
                s.probe_wait,
                Duration::from_millis(200),
                s.max_read,
                total,
            )
            .await;
            a.note_read("http-get over TLS", &r, total);
            ("http-get", r.bytes)
        } else {
            done.extra.insert("banner".into(), printable(&banner, 160));
            a.seen.banner(&banner);
            ("banner", banner)
        };
        if on == "http-get" && response.starts_with(b"HTTP/") {
            done.extra.extend(http_facts(&response));
            a.seen.http(&response);
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
        a.fact = done;
        true
    }
}

pub(crate) fn apply(fact: &mut PortFact, id: crate::catalogue::Identification) {
    fact.name = Some(id.service);
    fact.product = id.product;
    fact.version = id.version;
    fact.confidence = id.confidence;
    fact.evidence = id.rule;
}
