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

/// Which of several credentials an agent answers: one GET of `oids` per candidate (version,
/// community), all sent at once and waited for together, so that wrong communities (which an
/// agent ignores in silence) cost one wait, not one each. The lowest-numbered candidate that
/// answers wins (the order the operator gave); the answers of the others are ignored. One
/// probe permit covers each round.
pub async fn first_answering(
    ctx: &ScanContext,
    ip: IpAddr,
    port: u16,
    candidates: &[(Version, Vec<u8>)],
    oids: &[Oid],
    limits: Limits,
) -> Result<Option<(usize, Vec<(Oid, Value)>)>, Failure> {
    if candidates.is_empty() {
        return Ok(None);
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
    let msgs: Vec<Vec<u8>> = candidates
        .iter()
        .enumerate()
        .map(|(i, (v, c))| pdu::encode(*v, c, Request::Get, base + i as i32, oids))
        .collect();
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
            if best.as_ref().is_some_and(|(b, _)| *b == 0) {
                break;
            }
        }
        if best.is_some() {
            return Ok(best);
        }
    }
    Ok(None)
}

/// A community session with one agent.
pub struct Session<'a> {
    ctx: &'a ScanContext,
    sock: UdpSocket,
    version: Version,
    community: Vec<u8>,
    limits: Limits,
    deadline: Instant,
    next_id: i32,
    bytes_in: usize,
    buf: Vec<u8>,
    /// Requests sent (retries included).
    pub requests: u64,
}

impl<'a> Session<'a> {
    /// A session with the agent at `ip:port`.
    pub async fn open(
        ctx: &'a ScanContext,
        ip: IpAddr,
        port: u16,
        version: Version,
        community: &[u8],
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
            version,
            community: community.to_vec(),
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
        self.version
    }

    /// Sends one request and waits for its answer, retrying a lost one.
    pub async fn exchange(&mut self, req: Request, oids: &[Oid]) -> Result<Response, Failure> {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1) & 0x7fff_ffff;
        let msg = pdu::encode(self.version, &self.community, req, id, oids);
        for _ in 0..self.limits.tries.max(1) {
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
                        if let Ok(r) = pdu::decode(&self.buf[..n], self.version, &self.community) {
                            if r.request_id == i64::from(id) {
                                return Ok(r);
                            }
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
        if self.version == Version::V1 && r.error_status == status::NO_SUCH_NAME {
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
            let req = match self.version {
                Version::V1 => Request::GetNext,
                Version::V2c => Request::GetBulk(0, reps),
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
                status::NO_SUCH_NAME if self.version == Version::V1 => {
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
