//! Names: reverse DNS (PTR) for each host, through the resolvers of the system's
//! `resolv.conf`, with short timeouts and a cache shared by the whole scan. Never blocks the
//! scan: a resolver that does not answer costs one short timeout per host.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use scanopy_core::{Fact, ScanContext, ScanError, Scanner, ScannerKind, Scope};
use tokio::net::UdpSocket;

use crate::dns::{nameservers, parse_ptr_answer, ptr_query};

/// Settings of the [`NameScanner`].
#[derive(Debug, Clone)]
pub struct NameSettings {
    /// The resolver configuration to read (`/etc/resolv.conf`).
    pub resolv_conf: PathBuf,
    /// How long to wait for each resolver's answer.
    pub timeout: Duration,
}

impl Default for NameSettings {
    fn default() -> Self {
        NameSettings {
            resolv_conf: PathBuf::from("/etc/resolv.conf"),
            timeout: Duration::from_millis(800),
        }
    }
}

/// The reverse-DNS scanner.
#[derive(Debug, Clone, Default)]
pub struct NameScanner {
    settings: NameSettings,
    cache: Arc<Mutex<HashMap<IpAddr, Option<String>>>>,
    /// The resolvers, read from `resolv.conf` once per scanner.
    servers: Arc<tokio::sync::OnceCell<Vec<SocketAddr>>>,
}

impl NameScanner {
    /// A scanner with these settings.
    pub fn new(settings: NameSettings) -> Self {
        NameScanner {
            settings,
            cache: Arc::default(),
            servers: Arc::default(),
        }
    }

    /// Looks `ip` up, through the cache.
    pub async fn lookup(&self, ip: IpAddr) -> Option<String> {
        if let Some(hit) = self.cache.lock().ok().and_then(|c| c.get(&ip).cloned()) {
            return hit;
        }
        let servers = self
            .servers
            .get_or_init(|| async {
                let text = tokio::fs::read_to_string(&self.settings.resolv_conf)
                    .await
                    .unwrap_or_default();
                nameservers(&text)
            })
            .await;
        let mut found = None;
        for &server in servers {
            if let Some(name) = query(server, ip, self.settings.timeout).await {
                found = Some(name);
                break;
            }
        }
        if let Ok(mut c) = self.cache.lock() {
            c.insert(ip, found.clone());
        }
        found
    }
}

async fn query(server: SocketAddr, ip: IpAddr, timeout: Duration) -> Option<String> {
    let bind: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0".parse().ok()?
    } else {
        "[::]:0".parse().ok()?
    };
    let sock = UdpSocket::bind(bind).await.ok()?;
    sock.connect(server).await.ok()?;
    let id = u16::from_be_bytes([rand_byte(ip, 0), rand_byte(ip, 1)]);
    sock.send(&ptr_query(id, ip)).await.ok()?;
    let mut buf = [0u8; 1500];
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let n = tokio::time::timeout_at(deadline, sock.recv(&mut buf))
            .await
            .ok()?
            .ok()?;
        if let Some(name) = parse_ptr_answer(id, &buf[..n]) {
            return Some(name);
        }
        // A stray or failed answer: a negative answer to our id ends the wait.
        if n >= 2 && u16::from_be_bytes([buf[0], buf[1]]) == id {
            return None;
        }
    }
}

/// A transaction id that differs per address and per run, without a random-number crate.
fn rand_byte(ip: IpAddr, i: usize) -> u8 {
    use std::hash::{BuildHasher, Hash, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    ip.hash(&mut h);
    i.hash(&mut h);
    h.finish() as u8
}

#[async_trait]
impl Scanner for NameScanner {
    fn name(&self) -> &str {
        "names"
    }

    fn kind(&self) -> ScannerKind {
        ScannerKind::PerHost
    }

    async fn run(&self, ctx: &ScanContext, scope: Scope<'_>) -> Result<(), ScanError> {
        let Scope::Host(ip) = scope else {
            return Err(ScanError::Config(
                "names looks up one host at a time".into(),
            ));
        };
        let Some(_permit) = ctx.probe().await else {
            return Ok(());
        };
        let lookup = self.lookup(ip);
        let name = tokio::select! {
            n = lookup => n,
            _ = ctx.cancelled() => return Ok(()),
        };
        if let Some(name) = name {
            ctx.observe(
                ip,
                Fact::Hostname {
                    name,
                    source: "ptr".into(),
                },
            )
            .await;
        }
        Ok(())
    }
}
