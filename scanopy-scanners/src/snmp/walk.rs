//! Talking to one agent: requests with a deadline and retries, walks with GETBULK (GETNEXT in
//! v1) that end whatever the agent does.
//!
//! Every exchange takes one probe permit from the scan's budget and gives it back before the
//! next; the session as a whole has a time budget and a byte budget, so an agent that trickles
//! answers, loops, or sends tables without end costs at most that.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use scanopy_core::ScanContext;
use tokio::net::UdpSocket;

use super::ber::{Oid, Value};
use super::pdu::{self, Request, Response, Version, status};
use super::usm::{self, Engine, LocalKeys, report};

/// What one agent may cost.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// How long to wait for each answer.
    pub timeout: Duration,
    /// Tries per request (a lost datagram is retried).
    pub tries: u8,
    /// The whole session's time, from opening.
    pub budget: Duration,
    /// Bytes read from the agent, in all.
    pub max_bytes: usize,
    /// Rows one walk keeps at most.
    pub max_rows: usize,
    /// GETBULK's max-repetitions (halved when the agent says the answer is too big).
    pub max_repetitions: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_secs(1),
            tries: 2,
            budget: Duration::from_secs(30),
            max_bytes: 32 << 20,
            // A little over the 65,536 entries a device's lists keep.
            max_rows: 70_000,
            max_repetitions: 40,
        }
    }
}

/// Why an exchange got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Nothing came back within the tries (or the host refused the port).
    Silent,
    /// The session's time or byte budget is spent.
    Budget,
    /// The scan was cancelled.
    Cancelled,
    /// An SNMPv3 agent refused the user with a Report: which usmStats counter it named.
    Refused(Option<u32>),
}

/// How a walk ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The subtree was read to its end.
    Complete,
    /// The agent answered with an identifier not after the previous one (a loop, or a table
    /// out of order): the walk stops there, keeping what it had.
    OutOfOrder(Oid),
    /// The agent stopped answering half-way.
    Failed(Failure),
    /// The row limit was reached.
    RowLimit,
    /// The agent answered with an error status.
    Error(i64),
}

/// A walk's rows, in the agent's order, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Walk {
    /// Identifier and value of each row under the root (exceptions left out).
    pub rows: Vec<(Oid, Value)>,
    /// Why it stopped.
    pub end: End,
}

/// What the first round of requests to an agent found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Round {
    /// The first community candidate that answered, and the rows of its GET (empty when v1
    /// refused the GET as a whole).
    pub community: Option<(usize, Vec<(Oid, Value)>)>,
    /// The agent's SNMPv3 engine, when discovery was asked for and it answered.
    pub engine: Option<Engine>,
}

/// Which of several credentials an agent answers: one GET of `oids` per candidate (version,
/// community), and an SNMPv3 discovery request when `discover`, all sent at once and waited
/// for together, so that wrong communities (which an agent ignores in silence) cost one wait,
/// not one each. The lowest-numbered candidate that answers wins (the order the operator
/// gave); the answers of the others are ignored. One probe permit covers each round.
pub async fn first_answering(
    ctx: &ScanContext,
    ip: IpAddr,
    port: u16,
    candidates: &[(Version, Vec<u8>)],
    oids: &[Oid],
    discover: bool,
    limits: Limits,
) -> Result<Round, Failure> {
    if candidates.is_empty() && !discover {
        return Ok(Round::default());
    }
    let local: SocketAddr = if ip.is_ipv4() {
        "0.0.0.0:0".parse().expect("literal")
    } else {
        "[::]:0".parse().expect("literal")
    };
    let Ok(sock) = UdpSocket::bind(local).await else {
        return Err(Failure::Silent);
    };
    if sock.connect((ip, port)).await.is_err() {
        return Err(Failure::Silent);
    }
    let base = ((std::process::id() as i32 & 0x3fff) << 16) | 0x8000;
    let mut msgs: Vec<Vec<u8>> = candidates
        .iter()
        .enumerate()
        .map(|(i, (v, c))| pdu::encode(*v, c, Request::Get, base + i as i32, oids))
        .collect();
    let discovery_id = base | 0x4000;
    if discover {
        msgs.push(usm::discovery(discovery_id, discovery_id));
    }
    let mut engine: Option<Engine> = None;
    let mut buf = vec![0u8; 65_536];
    let mut bytes_in = 0usize;
    let started = Instant::now();
    for _ in 0..limits.tries.max(1) {
        if ctx.is_cancelled() {
            return Err(Failure::Cancelled);
        }
        let Some(_permit) = ctx.probe().await else {
            return Err(Failure::Cancelled);
        };
        for m in &msgs {
            if sock.send(m).await.is_err() {
                return Err(Failure::Silent);
            }
        }
        let left = limits.budget.saturating_sub(started.elapsed());
        let until = tokio::time::Instant::now() + limits.timeout.min(left);
        let mut best: Option<(usize, Vec<(Oid, Value)>)> = None;
        loop {
            let got = tokio::select! {
                r = tokio::time::timeout_at(until, sock.recv(&mut buf)) => r,
                _ = ctx.cancelled() => return Err(Failure::Cancelled),
            };
            let n = match got {
                Err(_) => break,
                Ok(Err(_)) => return Err(Failure::Silent),
                Ok(Ok(n)) => n,
            };
            bytes_in += n;
            if bytes_in > limits.max_bytes {
                return Err(Failure::Budget);
            }
            if usm::is_v3(&buf[..n]) {
                if let Ok(r) = usm::decode(&buf[..n], discovery_id, &LocalKeys::none()) {
                    if r.pdu_tag == pdu::REPORT && !r.engine.id.is_empty() {
                        engine = Some(r.engine);
                    }
                }
            }
            let done = |best: &Option<(usize, Vec<(Oid, Value)>)>, engine: &Option<Engine>| {
                (candidates.is_empty() || best.as_ref().is_some_and(|(b, _)| *b == 0))
                    && (!discover || engine.is_some())
            };
            if done(&best, &engine) {
                break;
            }
            let answered = candidates.iter().enumerate().find_map(|(i, (v, c))| {
                let r = pdu::decode(&buf[..n], *v, c).ok()?;
                (r.request_id == i64::from(base + i as i32)).then_some((i, r))
            });
            let Some((i, r)) = answered else { continue };
            let rows: Vec<(Oid, Value)> = if r.error_status == 0 {
                r.bindings
                    .into_iter()
                    .filter(|(_, v)| !v.is_exception())
                    .collect()
            } else {
                Vec::new()
            };
            // v1 refuses a whole GET for one unknown object: that still proves the community.
            let ok = r.error_status == 0 || r.error_status == status::NO_SUCH_NAME;
            if ok && best.as_ref().is_none_or(|(b, _)| i < *b) {
                best = Some((i, rows));
            }
            if done(&best, &engine) {
                break;
            }
        }
        if best.is_some() || engine.is_some() {
            return Ok(Round {
                community: best,
                engine,
            });
        }
    }
    Ok(Round::default())
}

/// How a session's messages are secured.
enum Security {
    /// v1 or v2c with a community.
    Community {
        version: Version,
        community: Vec<u8>,
    },
    /// SNMPv3 with a user.
    Usm(Box<UsmState>),
}

struct UsmState {
    user: Vec<u8>,
    keys: LocalKeys,
    engine: Engine,
    /// When `engine.time` was read (the agent's clock runs on from there).
    synced: Instant,
    salt: u64,
}

/// What an answer is to the request waited for.
enum Reading {
    /// Not an answer to it (late, someone else's, forged or malformed): skipped.
    Skip,
    /// The answer.
    Answer(Response),
    /// The agent's clock moved: resend with its time.
    Resync,
    /// Refused with a Report.
    Refused(Option<u32>),
}

/// A session with one agent, with a community or an SNMPv3 user.
pub struct Session<'a> {
    ctx: &'a ScanContext,
    sock: UdpSocket,
    security: Security,
    limits: Limits,
    deadline: Instant,
    next_id: i32,
    bytes_in: usize,
    buf: Vec<u8>,
    /// Requests sent (retries included).
    pub requests: u64,
}

impl<'a> Session<'a> {
    /// A community session with the agent at `ip:port`.
    pub async fn open(
        ctx: &'a ScanContext,
        ip: IpAddr,
        port: u16,
        version: Version,
        community: &[u8],
        limits: Limits,
    ) -> std::io::Result<Session<'a>> {
        let security = Security::Community {
            version,
            community: community.to_vec(),
        };
        Session::open_with(ctx, ip, port, security, limits).await
    }

    /// An SNMPv3 session as `user` with its keys localised to the agent's `engine` (from
    /// [`first_answering`]'s discovery).
    pub async fn open_usm(
        ctx: &'a ScanContext,
        ip: IpAddr,
        port: u16,
        user: &str,
        keys: LocalKeys,
        engine: Engine,
        limits: Limits,
    ) -> std::io::Result<Session<'a>> {
        let salt = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ (u64::from(std::process::id()) << 40);
        let security = Security::Usm(Box::new(UsmState {
            user: user.as_bytes().to_vec(),
            keys,
            engine,
            synced: Instant::now(),
            salt,
        }));
        Session::open_with(ctx, ip, port, security, limits).await
    }

    async fn open_with(
        ctx: &'a ScanContext,
        ip: IpAddr,
        port: u16,
        security: Security,
        limits: Limits,
    ) -> std::io::Result<Session<'a>> {
        let local: SocketAddr = if ip.is_ipv4() {
            "0.0.0.0:0".parse().expect("literal")
        } else {
            "[::]:0".parse().expect("literal")
        };
        let sock = UdpSocket::bind(local).await?;
        sock.connect((ip, port)).await?;
        Ok(Session {
            ctx,
            sock,
            security,
            limits,
            deadline: Instant::now() + limits.budget,
            next_id: (std::process::id() as i32 & 0x3fff) << 16 | 1,
            bytes_in: 0,
            buf: vec![0u8; 65_536],
            requests: 0,
        })
    }

    /// The protocol version in use.
    pub fn version(&self) -> Version {
        match &self.security {
            Security::Community { version, .. } => *version,
            Security::Usm(_) => Version::V3,
        }
    }

    /// The message of one try of a request (an SNMPv3 one with a fresh salt and the agent's
    /// clock as it stands).
    fn message(&mut self, req: Request, id: i32, oids: &[Oid]) -> Vec<u8> {
        match &mut self.security {
            Security::Community { version, community } => {
                pdu::encode(*version, community, req, id, oids)
            }
            Security::Usm(u) => {
                let (t, a, b) = pdu::request_parts(req);
                let p = pdu::encode_pdu(t, id, a, b, oids);
                u.salt = u.salt.wrapping_add(1);
                let elapsed = u32::try_from(u.synced.elapsed().as_secs()).unwrap_or(u32::MAX);
                let engine = Engine {
                    id: u.engine.id.clone(),
                    boots: u.engine.boots,
                    time: u.engine.time.saturating_add(elapsed),
                };
                usm::encode(
                    usm::Outgoing {
                        msg_id: id,
                        user: &u.user,
                        engine: &engine,
                        keys: &u.keys,
                        salt: u.salt,
                    },
                    &p,
                )
            }
        }
    }

    /// What a datagram is to request `id`.
    fn read(&mut self, n: usize, id: i32) -> Reading {
        let b = &self.buf[..n];
        match &mut self.security {
            Security::Community { version, community } => match pdu::decode(b, *version, community)
            {
                Ok(r) if r.request_id == i64::from(id) => Reading::Answer(r),
                _ => Reading::Skip,
            },
            Security::Usm(u) => match usm::decode(b, id, &u.keys) {
                Ok(r) if r.pdu_tag == pdu::RESPONSE => {
                    if r.response.request_id == i64::from(id) {
                        Reading::Answer(r.response)
                    } else {
                        Reading::Skip
                    }
                }
                Ok(r) => {
                    let counter = r
                        .response
                        .bindings
                        .first()
                        .and_then(|(o, _)| report::which(o));
                    if counter == Some(report::NOT_IN_TIME_WINDOW) && r.engine.id == u.engine.id {
                        u.engine = r.engine;
                        u.synced = Instant::now();
                        Reading::Resync
                    } else {
                        Reading::Refused(counter)
                    }
                }
                Err(_) => Reading::Skip,
            },
        }
    }

    /// Sends one request and waits for its answer, retrying a lost one.
    pub async fn exchange(&mut self, req: Request, oids: &[Oid]) -> Result<Response, Failure> {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1) & 0x7fff_ffff;
        let mut resynced = false;
        let mut tries = 0u8;
        while tries < self.limits.tries.max(1) {
            tries += 1;
            if self.ctx.is_cancelled() {
                return Err(Failure::Cancelled);
            }
            let left = self.deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.bytes_in >= self.limits.max_bytes {
                return Err(Failure::Budget);
            }
            // One permit for this try, given back before the next one is asked for.
            let Some(_permit) = self.ctx.probe().await else {
                return Err(Failure::Cancelled);
            };
            self.requests += 1;
            let msg = self.message(req, id, oids);
            if self.sock.send(&msg).await.is_err() {
                return Err(Failure::Silent);
            }
            let wait = self.limits.timeout.min(left);
            let until = tokio::time::Instant::now() + wait;
            // Answers to earlier requests (late retries) are skipped, a bounded number of times.
            for _ in 0..16 {
                let got = tokio::select! {
                    r = tokio::time::timeout_at(until, self.sock.recv(&mut self.buf)) => r,
                    _ = self.ctx.cancelled() => return Err(Failure::Cancelled),
                };
                match got {
                    Err(_) => break,
                    // Port unreachable: no agent there, no point in trying again.
                    Ok(Err(_)) => return Err(Failure::Silent),
                    Ok(Ok(n)) => {
                        self.bytes_in += n;
                        match self.read(n, id) {
                            Reading::Answer(r) => return Ok(r),
                            Reading::Refused(c) => return Err(Failure::Refused(c)),
                            // Once per request: resent at once, not counted as a try.
                            Reading::Resync if !resynced => {
                                resynced = true;
                                tries -= 1;
                                break;
                            }
                            Reading::Resync | Reading::Skip => {}
                        }
                        if self.bytes_in >= self.limits.max_bytes {
                            return Err(Failure::Budget);
                        }
                    }
                }
            }
        }
        Err(Failure::Silent)
    }

    /// Reads scalars with one GET; exceptions and v1's `noSuchName` come back as absent.
    pub async fn get(&mut self, oids: &[Oid]) -> Result<Vec<(Oid, Value)>, Failure> {
        let r = self.exchange(Request::Get, oids).await?;
        if self.version() == Version::V1 && r.error_status == status::NO_SUCH_NAME {
            // v1 fails the whole GET for one missing object: ask one at a time.
            let mut out = Vec::new();
            for oid in oids {
                let r = self
                    .exchange(Request::Get, std::slice::from_ref(oid))
                    .await?;
                if r.error_status == 0 {
                    out.extend(r.bindings.into_iter().filter(|(_, v)| !v.is_exception()));
                }
            }
            return Ok(out);
        }
        Ok(r.bindings
            .into_iter()
            .filter(|(_, v)| !v.is_exception())
            .collect())
    }

    /// Reads the subtree under `root`.
    pub async fn walk(&mut self, root: &Oid) -> Walk {
        let mut rows = Vec::new();
        let mut cur = root.clone();
        let mut reps = self.limits.max_repetitions.max(1);
        loop {
            let req = match self.version() {
                Version::V1 => Request::GetNext,
                Version::V2c | Version::V3 => Request::GetBulk(0, reps),
            };
            let r = match self.exchange(req, std::slice::from_ref(&cur)).await {
                Ok(r) => r,
                Err(f) => {
                    return Walk {
                        rows,
                        end: End::Failed(f),
                    };
                }
            };
            match r.error_status {
                0 => {}
                status::TOO_BIG if reps > 1 => {
                    reps /= 2;
                    continue;
                }
                status::NO_SUCH_NAME if self.version() == Version::V1 => {
                    return Walk {
                        rows,
                        end: End::Complete,
                    };
                }
                e => {
                    return Walk {
                        rows,
                        end: End::Error(e),
                    };
                }
            }
            if r.bindings.is_empty() {
                return Walk {
                    rows,
                    end: End::Complete,
                };
            }
            for (oid, v) in r.bindings {
                if !oid.starts_with(root) || v == Value::EndOfMibView {
                    return Walk {
                        rows,
                        end: End::Complete,
                    };
                }
                if oid <= cur {
                    return Walk {
                        rows,
                        end: End::OutOfOrder(oid),
                    };
                }
                cur = oid.clone();
                if !v.is_exception() {
                    rows.push((oid, v));
                }
                if rows.len() >= self.limits.max_rows {
                    return Walk {
                        rows,
                        end: End::RowLimit,
                    };
                }
            }
        }
    }
}
