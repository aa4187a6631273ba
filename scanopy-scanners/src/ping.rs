//! TCP discovery: finds hosts among the targets without raw sockets, and beyond the local
//! segment. Each address gets connection attempts to a few commonly open ports, all at once,
//! and the first to answer counts: an accepted or a refused connection both prove the host is up. After the sweep,
//! the kernel's neighbour table is read: every on-link address the sweep touched was resolved by
//! ARP, so hosts that drop all TCP still show up there, with their MAC.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use scanopy_core::{Fact, MacAddr, ScanContext, ScanError, Scanner, ScannerKind, Scope};

use crate::probe::{Connect, connect_adaptive};

/// Ports tried in turn on each address: the most commonly open, across systems.
pub const PING_PORTS: [u16; 8] = [80, 443, 22, 445, 3389, 8080, 139, 53];

/// The TCP discovery scanner.
#[derive(Debug, Clone)]
pub struct TcpPing {
    /// Ports tried on each address, in order.
    pub ports: Vec<u16>,
    /// Read the kernel's neighbour table after the sweep.
    pub neighbour_table: bool,
    /// Subnets left to another discovery scanner (ARP sweeps attached subnets better).
    pub skip: Vec<ipnet::IpNet>,
}

impl Default for TcpPing {
    fn default() -> Self {
        TcpPing {
            ports: PING_PORTS.to_vec(),
            neighbour_table: true,
            skip: Vec::new(),
        }
    }
}

#[async_trait]
impl Scanner for TcpPing {
    fn name(&self) -> &str {
        "tcp-ping"
    }

    fn kind(&self) -> ScannerKind {
        ScannerKind::Discovery
    }

    async fn run(&self, ctx: &ScanContext, scope: Scope<'_>) -> Result<(), ScanError> {
        let Scope::Targets(targets) = scope else {
            return Err(ScanError::Config(
                "tcp-ping sweeps targets, not one host".into(),
            ));
        };
        let rtt = RttEstimate::new(Duration::from_millis(ctx.config().timeout_ms.max(50)));
        let hosts = ctx.config().hosts_in_flight.max(1);
        // Read once per sweep, not once per host found.
        let gateways = default_gateways();
        let sweep = futures::stream::iter(targets.iter())
            .take_while(|_| futures::future::ready(!ctx.is_cancelled()))
            .filter(|ip| futures::future::ready(!self.skip.iter().any(|n| n.contains(ip))))
            .for_each_concurrent(hosts, |ip| self.ping(ctx, ip, &rtt, &gateways));
        tokio::select! {
            _ = sweep => {}
            _ = ctx.cancelled() => return Ok(()),
        }
        if self.neighbour_table && !ctx.is_cancelled() {
            for (ip, mac) in read_neighbours() {
                if targets.contains(ip) && !self.skip.iter().any(|n| n.contains(&ip)) {
                    ctx.observe(ip, Fact::Mac { mac }).await;
                    ctx.observe(
                        ip,
                        Fact::Alive {
                            method: "neighbour-table".into(),
                            rtt_us: None,
                        },
                    )
                    .await;
                }
            }
        }
        Ok(())
    }
}

impl TcpPing {
    /// Tries the ping ports of one address at once and reports the first answer; one connect
    /// timeout bounds a silent address, however many ports are tried.
    async fn ping(
        &self,
        ctx: &ScanContext,
        ip: IpAddr,
        estimate: &RttEstimate,
        gateways: &[IpAddr],
    ) {
        let mut attempts: FuturesUnordered<_> = self
            .ports
            .iter()
            .filter(|p| ctx.config().port_allowed(**p))
            .map(|port| async move {
                let _permit = ctx.probe().await?;
                Some((
                    *port,
                    connect_adaptive(SocketAddr::new(ip, *port), || estimate.timeout()).await,
                ))
            })
            .collect();
        while let Some(r) = attempts.next().await {
            let Some((port, outcome)) = r else { return };
            let (method, rtt) = match outcome {
                Connect::Open(_, rtt) => ("tcp-open", rtt),
                Connect::Refused(rtt) => ("tcp-refused", rtt),
                Connect::Unreachable | Connect::Silent => continue,
            };
            estimate.record(rtt);
            // The kernel resolved an on-link address by ARP to connect: report its MAC first,
            // so the device has its identity before the per-host scanners start.
            if let Some((_, mac)) = read_neighbours().into_iter().find(|(n, _)| *n == ip) {
                ctx.observe(ip, Fact::Mac { mac }).await;
            }
            if gateways.contains(&ip) {
                ctx.observe(ip, Fact::Gateway).await;
            }
            let rtt_us = u64::try_from(rtt.as_micros()).ok();
            ctx.observe(
                ip,
                Fact::Alive {
                    method: format!("{method}:{port}"),
                    rtt_us,
                },
            )
            .await;
            return;
        }
    }
}

/// The sweep's connect timeout, learned from the hosts that answered: four times the slowest
/// answer seen so far plus a margin, between 150 ms and the configured timeout. Until a host
/// answers, the configured timeout holds.
#[derive(Debug)]
pub(crate) struct RttEstimate {
    initial: Duration,
    max_us: AtomicU64,
}

impl RttEstimate {
    pub(crate) fn new(initial: Duration) -> Self {
        RttEstimate {
            initial,
            max_us: AtomicU64::new(0),
        }
    }

    pub(crate) fn record(&self, rtt: Duration) {
        let us = u64::try_from(rtt.as_micros()).unwrap_or(u64::MAX).max(1);
        self.max_us.fetch_max(us, Ordering::Relaxed);
    }

    pub(crate) fn timeout(&self) -> Duration {
        match self.max_us.load(Ordering::Relaxed) {
            0 => self.initial,
            us => (Duration::from_micros(us.saturating_mul(4)) + Duration::from_millis(100)).clamp(
                Duration::from_millis(150),
                self.initial.max(Duration::from_millis(150)),
            ),
        }
    }
}

/// The complete entries of the kernel's IPv4 neighbour table (ARP cache) of the calling
/// thread's network namespace.
pub fn read_neighbours() -> Vec<(IpAddr, MacAddr)> {
    let text = std::fs::read_to_string("/proc/thread-self/net/arp")
        .or_else(|_| std::fs::read_to_string("/proc/net/arp"))
        .unwrap_or_default();
    parse_neighbours(&text)
}

/// Parses `/proc/net/arp`: `IP HW-type Flags HW-address Mask Device`, keeping complete
/// entries (flag 0x2) with a unicast MAC.
pub fn parse_neighbours(text: &str) -> Vec<(IpAddr, MacAddr)> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let ip: IpAddr = f.first()?.parse().ok()?;
            let flags = u32::from_str_radix(f.get(2)?.trim_start_matches("0x"), 16).ok()?;
            let mac: MacAddr = f.get(3)?.parse().ok()?;
            (flags & 0x2 != 0 && mac.is_unicast()).then_some((ip, mac))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_timeout_follows_the_slowest_answer() {
        let r = RttEstimate::new(Duration::from_secs(1));
        assert_eq!(r.timeout(), Duration::from_secs(1));
        r.record(Duration::from_micros(300));
        assert_eq!(r.timeout(), Duration::from_millis(150));
        r.record(Duration::from_millis(100));
        assert_eq!(r.timeout(), Duration::from_millis(500));
        r.record(Duration::from_secs(2));
        assert_eq!(r.timeout(), Duration::from_secs(1));
    }

    #[test]
    fn neighbour_table_keeps_complete_entries() {
        let text = "IP address       HW type     Flags       HW address            Mask     Device\n\
                    10.77.0.10       0x1         0x2         00:11:32:77:00:10     *        eth0\n\
                    10.77.0.99       0x1         0x0         00:00:00:00:00:00     *        eth0\n\
                    10.77.0.13       0x1         0x2         02:77:00:00:00:13     *        eth0\n";
        let n = parse_neighbours(text);
        assert_eq!(n.len(), 2);
        assert_eq!(n[0].1.to_string(), "00:11:32:77:00:10");
    }
}

/// The IPv4 default gateways of the calling thread's network namespace, from the kernel's
/// routing table.
pub fn default_gateways() -> Vec<IpAddr> {
    let text = std::fs::read_to_string("/proc/thread-self/net/route")
        .or_else(|_| std::fs::read_to_string("/proc/net/route"))
        .unwrap_or_default();
    parse_default_gateways(&text)
}

/// Parses `/proc/net/route`: rows whose destination and mask are 0 name a default gateway
/// (little-endian hex).
pub fn parse_default_gateways(text: &str) -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = text
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.get(1)? != &"00000000" || f.get(7)? != &"00000000" {
                return None;
            }
            let gw = u32::from_str_radix(f.get(2)?, 16).ok()?;
            (gw != 0).then(|| IpAddr::V4(std::net::Ipv4Addr::from(gw.swap_bytes())))
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod route_tests {
    use super::*;

    #[test]
    fn default_gateway_from_the_routing_table() {
        let text = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                    eth0\t00000000\t01004D0A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
                    eth0\t00004D0A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
        assert_eq!(
            parse_default_gateways(text),
            vec![IpAddr::from([10, 77, 0, 1])]
        );
    }
}
