//! Sign-in limits: who the client is, how many failed sign-ins it may have, and how much
//! password-hashing work may run at once.
//!
//! - **The client** is the TCP peer. `X-Forwarded-For` is read only when the peer is one of the
//!   proxies the admin listed (`--trusted-proxy`); then the client is the right-most address of
//!   the header that is not itself a trusted proxy. IPv6 clients are grouped by /64 (one host
//!   usually holds a whole /64), IPv4-mapped IPv6 addresses count as IPv4.
//! - **Refused (429)**: an address with [`PER_ADDRESS`] failures in the last [`WINDOW`], or a
//!   user name with [`PER_USER_ADDRESS`] failures from one address. Only that address is
//!   refused: the same user from another address still signs in.
//! - **Slowed, never refused**: a user name with more than [`USER_FREE`] failures (from any
//!   address) in the window: each sign-in for it waits [`USER_STEP`] per failure past that, at
//!   most [`USER_MAX_DELAY`], before its password is checked.
//! - **Bounded work**: password checks (argon2, about 19 MiB each) run under a semaphore sized
//!   to the machine's parallelism; at most [`WAITERS_PER_PERMIT`] requests per permit wait for
//!   it, each at most the configured wait; past either the sign-in is answered 503 at once.
//! - **Bounded memory**: each table holds at most [`MAX_KEYS`] keys and each key at most a few
//!   timestamps; a full table drops expired keys, then the one idle longest.
//!
//! An attempt counts as a failure from the moment it is let through (so parallel attempts
//! cannot slip past the limit); a right password, or a check that never ran, takes it back.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use ipnet::IpNet;
use tokio::sync::Semaphore;

/// The window failures are counted in.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Failures from one address (IPv6: one /64) in the window before it is refused.
pub const PER_ADDRESS: usize = 20;
/// Failures for one user name from one address in the window before that pair is refused.
pub const PER_USER_ADDRESS: usize = 10;
/// Failures for one user name (any address) in the window before its sign-ins slow down.
pub const USER_FREE: usize = 10;
/// The added wait per failure past [`USER_FREE`].
pub const USER_STEP: Duration = Duration::from_millis(100);
/// The longest added wait.
pub const USER_MAX_DELAY: Duration = Duration::from_secs(1);
/// Keys each table holds at most.
pub const MAX_KEYS: usize = 10_000;
/// Requests that may wait for each permit of the password-check semaphore.
pub const WAITERS_PER_PERMIT: usize = 32;
/// The longest a sign-in waits for a password-check permit, by default.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(5);

/// What an admin sets about sign-in.
#[derive(Debug, Clone)]
pub struct SignInConfig {
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Password checks at once (default: the machine's available parallelism).
    pub permits: usize,
    /// The longest a sign-in waits for a permit.
    pub wait: Duration,
}

impl Default for SignInConfig {
    fn default() -> Self {
        SignInConfig {
            trusted_proxies: Vec::new(),
            permits: std::thread::available_parallelism().map_or(2, |n| n.get()),
            wait: DEFAULT_WAIT,
        }
    }
}

/// Whether an attempt may go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Refused (429): retry after this long.
    Refuse(Duration),
    /// Let through, after waiting this long (zero: at once). Counted as a failure until
    /// [`SignIn::take_back`].
    Go(Duration),
}

/// No permit to check a password came in time (503).
#[derive(Debug, Clone, Copy)]
pub struct Busy;

/// Failure times by key, bounded in keys and in times per key.
#[derive(Debug)]
struct Table {
    map: HashMap<String, VecDeque<Instant>>,
    per_key: usize,
}

impl Table {
    fn new(per_key: usize) -> Self {
        Table {
            map: HashMap::new(),
            per_key,
        }
    }

    /// Failures of `key` in the window, and when the oldest of them leaves it.
    fn recent(&mut self, key: &str, now: Instant) -> (usize, Duration) {
        let Some(v) = self.map.get_mut(key) else {
            return (0, Duration::ZERO);
        };
        while v.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) {
            v.pop_front();
        }
        let left = v.front().map_or(Duration::ZERO, |t| {
            WINDOW.saturating_sub(now.duration_since(*t))
        });
        let n = v.len();
        if n == 0 {
            self.map.remove(key);
        }
        (n, left)
    }

    fn record(&mut self, key: &str, now: Instant) {
        if !self.map.contains_key(key) && self.map.len() >= MAX_KEYS {
            self.map
                .retain(|_, v| v.back().is_some_and(|t| now.duration_since(*t) < WINDOW));
            let keep = MAX_KEYS - MAX_KEYS / 10;
            if self.map.len() > keep {
                // Still nearly full of live keys (a flood from many addresses or names): the
                // tenth idle longest goes, so that this runs once per thousand new keys.
                let mut by_age: Vec<(Instant, String)> = self
                    .map
                    .iter()
                    .filter_map(|(k, v)| Some((*v.back()?, k.clone())))
                    .collect();
                let drop = by_age.len().saturating_sub(keep);
                if drop > 0 {
                    by_age.select_nth_unstable(drop - 1);
                    for (_, k) in &by_age[..drop] {
                        self.map.remove(k);
                    }
                }
            }
        }
        let v = self.map.entry(key.to_owned()).or_default();
        if v.len() >= self.per_key {
            v.pop_front();
        }
        v.push_back(now);
    }

    fn take_back(&mut self, key: &str) {
        if let Some(v) = self.map.get_mut(key) {
            v.pop_back();
            if v.is_empty() {
                self.map.remove(key);
            }
        }
    }

    fn clear(&mut self, key: &str) {
        self.map.remove(key);
    }

    fn len(&self) -> usize {
        self.map.len()
    }
}

#[derive(Debug)]
struct Tables {
    address: Table,
    user_address: Table,
    user: Table,
}

/// The sign-in limiter and the password-check semaphore (see the module docs).
#[derive(Debug)]
pub struct SignIn {
    trusted: Vec<IpNet>,
    tables: Mutex<Tables>,
    gate: Semaphore,
    waiting: AtomicUsize,
    max_waiting: usize,
    wait: Duration,
}

impl Default for SignIn {
    fn default() -> Self {
        SignIn::new(SignInConfig::default())
    }
}

impl SignIn {
    /// A limiter with these settings.
    pub fn new(config: SignInConfig) -> Self {
        let permits = config.permits.max(1);
        SignIn {
            trusted: config.trusted_proxies,
            tables: Mutex::new(Tables {
                address: Table::new(PER_ADDRESS),
                user_address: Table::new(PER_USER_ADDRESS),
                user: Table::new(USER_FREE + 10),
            }),
            gate: Semaphore::new(permits),
            waiting: AtomicUsize::new(0),
            max_waiting: permits.saturating_mul(WAITERS_PER_PERMIT),
            wait: config.wait,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The client's address: the peer's, or, when the peer is a trusted proxy, the right-most
    /// address of `X-Forwarded-For` that is not a trusted proxy. `None` without a socket
    /// (tests calling the router directly).
    pub fn client(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = peer.map(|p| p.to_canonical())?;
        if !self.is_trusted(peer) {
            return Some(peer);
        }
        // Header values in order, entries right to left: the nearest hop first.
        let values: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let mut client = peer;
        for entry in values.iter().rev().flat_map(|v| v.rsplit(',')).take(64) {
            let Some(ip) = parse_forwarded(entry) else {
                // Garbage: the last hop we can name is the client.
                return Some(client);
            };
            client = ip;
            if !self.is_trusted(ip) {
                return Some(ip);
            }
        }
        Some(client)
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|n| n.contains(&ip))
    }

    /// Checks an attempt of `user` from the address key `address` (see [`address_key`]), and
    /// counts it as a failure if let through.
    pub fn begin(&self, address: &str, user: &str) -> Verdict {
        let now = Instant::now();
        let ua = user_address_key(user, address);
        let mut t = self.lock();
        let (a, a_left) = t.address.recent(address, now);
        let (p, p_left) = t.user_address.recent(&ua, now);
        if a >= PER_ADDRESS || p >= PER_USER_ADDRESS {
            let mut left = Duration::ZERO;
            if a >= PER_ADDRESS {
                left = left.max(a_left);
            }
            if p >= PER_USER_ADDRESS {
                left = left.max(p_left);
            }
            return Verdict::Refuse(left);
        }
        let (u, _) = t.user.recent(user, now);
        t.address.record(address, now);
        t.user_address.record(&ua, now);
        t.user.record(user, now);
        Verdict::Go(user_delay(u))
    }

    /// Takes back an attempt that was not a failure (the right password, or a check that did
    /// not run). A right password also forgets the user's failures from that address.
    pub fn take_back(&self, address: &str, user: &str, signed_in: bool) {
        let ua = user_address_key(user, address);
        let mut t = self.lock();
        t.address.take_back(address);
        t.user.take_back(user);
        if signed_in {
            t.user_address.clear(&ua);
        } else {
            t.user_address.take_back(&ua);
        }
    }

    /// Runs a password check under the semaphore; [`Busy`] when too many wait already or no
    /// permit comes within the wait.
    pub async fn check<F: std::future::Future>(&self, f: F) -> Result<F::Output, Busy> {
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(Busy);
        }
        let permit = tokio::time::timeout(self.wait, self.gate.acquire()).await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        let Ok(Ok(_permit)) = permit else {
            return Err(Busy);
        };
        Ok(f.await)
    }

    /// Holds a password-check permit (tests: a machine busy checking passwords).
    pub async fn hold_permit(&self) -> tokio::sync::SemaphorePermit<'_> {
        self.gate
            .acquire()
            .await
            .expect("the semaphore is never closed")
    }

    /// Keys held by each table (address, user and address, user): bounded by [`MAX_KEYS`].
    pub fn sizes(&self) -> (usize, usize, usize) {
        let t = self.lock();
        (t.address.len(), t.user_address.len(), t.user.len())
    }
}

/// The added wait for a user with `failures` recent failures.
pub fn user_delay(failures: usize) -> Duration {
    let over = failures.saturating_sub(USER_FREE) as u32;
    (USER_STEP * over).min(USER_MAX_DELAY)
}

fn user_address_key(user: &str, address: &str) -> String {
    format!("{user}\u{0}{address}")
}

/// The rate-limit key of a client address: IPv4 as is, IPv6 by its /64, `unknown` without one.
pub fn address_key(ip: Option<IpAddr>) -> String {
    match ip.map(|i| i.to_canonical()) {
        None => "unknown".into(),
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => {
            let s = v6.segments();
            let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
            format!("{net}/64")
        }
    }
}

/// One `X-Forwarded-For` entry: an address, possibly with a port or in brackets.
fn parse_forwarded(entry: &str) -> Option<IpAddr> {
    let e = entry.trim();
    if let Ok(ip) = e.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Ok(sa) = e.parse::<std::net::SocketAddr>() {
        return Some(sa.ip().to_canonical());
    }
    e.strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .and_then(|r| r.parse::<IpAddr>().ok())
        .map(|ip| ip.to_canonical())
}

/// Parses a `--trusted-proxy` value: a CIDR (`10.0.0.0/8`) or one address.
pub fn parse_proxy(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    if let Ok(n) = s.parse::<IpNet>() {
        return Ok(n.trunc());
    }
    s.parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| format!("{s:?} is not an address or a CIDR (e.g. 10.0.0.0/8, ::1)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_read_only_from_trusted_proxies() {
        let s = SignIn::new(SignInConfig {
            trusted_proxies: vec![
                parse_proxy("10.0.0.0/8").unwrap(),
                parse_proxy("::1").unwrap(),
            ],
            ..Default::default()
        });
        let h = headers(&["198.51.100.7, 10.1.1.1"]);
        assert_eq!(s.client(Some(ip("192.0.2.1")), &h), Some(ip("192.0.2.1")));
        assert_eq!(s.client(Some(ip("10.2.2.2")), &h), Some(ip("198.51.100.7")));
        // The left-most entries are whatever the client wrote: the right-most untrusted wins.
        let h = headers(&["1.1.1.1, 203.0.113.9", "10.3.3.3"]);
        assert_eq!(s.client(Some(ip("10.2.2.2")), &h), Some(ip("203.0.113.9")));
        // Mapped IPv4 peers, ports, brackets.
        let h = headers(&["[2001:db8::5]:443"]);
        assert_eq!(
            s.client(Some(ip("::ffff:10.0.0.1")), &h),
            Some(ip("2001:db8::5"))
        );
        let h = headers(&["198.51.100.7:1234"]);
        assert_eq!(s.client(Some(ip("::1")), &h), Some(ip("198.51.100.7")));
        // Garbage or nothing: the trusted proxy itself.
        assert_eq!(
            s.client(Some(ip("::1")), &headers(&["nonsense"])),
            Some(ip("::1"))
        );
        assert_eq!(s.client(Some(ip("::1")), &headers(&[])), Some(ip("::1")));
        assert_eq!(s.client(None, &headers(&["198.51.100.7"])), None);
    }

    #[test]
    fn ipv6_clients_are_grouped_by_64() {
        assert_eq!(
            address_key(Some(ip("2001:db8:1:2:3:4:5:6"))),
            address_key(Some(ip("2001:db8:1:2:ffff::1")))
        );
        assert_ne!(
            address_key(Some(ip("2001:db8:1:2::1"))),
            address_key(Some(ip("2001:db8:1:3::1")))
        );
        assert_eq!(address_key(Some(ip("::ffff:192.0.2.1"))), "192.0.2.1");
        assert_eq!(address_key(None), "unknown");
    }

    #[test]
    fn a_users_failures_only_slow_and_the_slowdown_is_bounded() {
        let s = SignIn::default();
        for i in 0..200 {
            let v = s.begin(&format!("192.0.2.{}", i % 200), "admin");
            let Verdict::Go(d) = v else {
                panic!("attempt {i} refused: {v:?}")
            };
            assert!(d <= USER_MAX_DELAY);
        }
        assert_eq!(
            s.begin("198.51.100.1", "admin"),
            Verdict::Go(USER_MAX_DELAY)
        );
        assert_eq!(user_delay(USER_FREE), Duration::ZERO);
        assert_eq!(user_delay(USER_FREE + 3), USER_STEP * 3);
    }

    #[test]
    fn a_flood_of_addresses_and_names_keeps_the_tables_bounded() {
        let s = SignIn::default();
        for i in 0..(MAX_KEYS as u32 + 2_000) {
            let a = address_key(Some(IpAddr::from(i.to_be_bytes())));
            let _ = s.begin(&a, &format!("user{i}"));
        }
        let (a, ua, u) = s.sizes();
        assert!(
            a <= MAX_KEYS && ua <= MAX_KEYS && u <= MAX_KEYS,
            "{a} {ua} {u}"
        );
        // The newest keys are still limited.
        let last = address_key(Some(IpAddr::from((MAX_KEYS as u32 + 1_999).to_be_bytes())));
        for k in 0..PER_ADDRESS - 1 {
            assert!(matches!(s.begin(&last, &format!("x{k}")), Verdict::Go(_)));
        }
        assert!(matches!(s.begin(&last, "y"), Verdict::Refuse(_)));
    }

    #[tokio::test]
    async fn password_checks_wait_a_bounded_time_for_a_permit() {
        let s = SignIn::new(SignInConfig {
            permits: 1,
            wait: Duration::from_millis(100),
            ..Default::default()
        });
        assert_eq!(s.check(async { 7 }).await.ok(), Some(7));
        let held = s.hold_permit().await;
        let t = Instant::now();
        assert!(s.check(async { 7 }).await.is_err());
        assert!(t.elapsed() < Duration::from_secs(2));
        drop(held);
        assert_eq!(s.check(async { 7 }).await.ok(), Some(7));
    }
}
