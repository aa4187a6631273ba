//! TCP discovery: finds hosts among the targets without raw sockets, and beyond the local
//! segment. Each address gets connection attempts to a few commonly open ports, in turn, until
//! one answers: an accepted or a refused connection both prove the host is up. After the sweep,
//! the kernel's neighbour table is read: every on-link address the sweep touched was resolved by
//! ARP, so hosts that drop all TCP still show up there, with their MAC.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use scanopy_core::{Fact, MacAddr, ScanContext, ScanError, Scanner, ScannerKind, Scope};

use crate::probe::{Connect, connect};

/// Ports tried in turn on each address: the most commonly open, across systems.
pub const PING_PORTS: [u16; 8] = [80, 443, 22, 445, 3389, 8080, 139, 53];

/// The TCP discovery scanner.
#[derive(Debug, Clone)]
pub struct TcpPing {
    /// Ports tried on each address, in order.
    pub ports: Vec<u16>,
    /// Read the kernel's neighbour table after the sweep.
    pub neighbour_table: bool,
}

impl Default for TcpPing {
    fn default() -> Self {
        TcpPing {
            ports: PING_PORTS.to_vec(),
            neighbour_table: true,
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
        let limit = Duration::from_millis(ctx.config().timeout_ms.max(50));
        let hosts = ctx.config().hosts_in_flight.max(1);
        futures::stream::iter(targets.iter())
            .take_while(|_| futures::future::ready(!ctx.is_cancelled()))
            .for_each_concurrent(hosts, |ip| self.ping(ctx, ip, limit))
            .await;
        if self.neighbour_table && !ctx.is_cancelled() {
            for (ip, mac) in read_neighbours() {
                if targets.contains(ip) {
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
    async fn ping(&self, ctx: &ScanContext, ip: IpAddr, limit: Duration) {
        for port in &self.ports {
            if !ctx.config().port_allowed(*port) {
                continue;
            }
            let Some(_permit) = ctx.probe().await else {
                return;
            };
            let (method, rtt) = match connect(SocketAddr::new(ip, *port), limit).await {
                Connect::Open(_, rtt) => ("tcp-open", rtt),
                Connect::Refused(rtt) => ("tcp-refused", rtt),
                Connect::Unreachable => return,
                Connect::Silent => continue,
            };
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
