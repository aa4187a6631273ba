//! TCP connection primitives shared by the scanners: connect with a timeout and classify the
//! outcome; read what a service sends within limits.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};

/// How a connection attempt ended.
#[derive(Debug)]
pub(crate) enum Connect {
    /// Accepted, after this long.
    Open(TcpStream, Duration),
    /// Refused (a reset): the host is up, nothing listens. After this long.
    Refused(Duration),
    /// The host said it cannot be reached (ICMP unreachable): nothing to learn.
    Unreachable,
    /// No answer within the timeout.
    Silent,
}

/// Connects to `addr` within `limit`. Running out of file descriptors is retried briefly
/// rather than reported as a closed port.
pub(crate) async fn connect(addr: SocketAddr, limit: Duration) -> Connect {
    for _ in 0..20 {
        let start = Instant::now();
        match timeout(limit, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => return Connect::Open(s, start.elapsed()),
            Ok(Err(e)) if e.kind() == ErrorKind::ConnectionRefused => {
                return Connect::Refused(start.elapsed());
            }
            Ok(Err(e))
                if matches!(
                    e.raw_os_error().map(nix::errno::Errno::from_raw),
                    Some(nix::errno::Errno::EMFILE | nix::errno::Errno::ENFILE)
                ) =>
            {
                // EMFILE / ENFILE: wait for descriptors to come back.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            // Host or network unreachable, and anything else the kernel refuses: no
            // answer to learn from.
            Ok(Err(_)) => return Connect::Unreachable,
            Err(_) => return Connect::Silent,
        }
    }
    Connect::Silent
}

/// Connects to `addr`, giving up once the attempt is older than `limit()`, which is read again
/// every 20 ms: when round-trip times learned meanwhile shorten the timeout, attempts already
/// under way benefit too.
pub(crate) async fn connect_adaptive(addr: SocketAddr, limit: impl Fn() -> Duration) -> Connect {
    let start = Instant::now();
    let attempt = connect(addr, limit().max(Duration::from_millis(1)));
    tokio::pin!(attempt);
    loop {
        tokio::select! {
            r = &mut attempt => return r,
            _ = tokio::time::sleep(Duration::from_millis(20)) => {
                if start.elapsed() >= limit() {
                    return Connect::Silent;
                }
            }
        }
    }
}

/// Why [`read_some`] stopped reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadEnd {
    /// Nothing (more) arrived within the wait: the peer said what it had to say.
    Quiet,
    /// The peer closed the stream, or it failed.
    Closed,
    /// The byte cap was reached.
    Cap,
    /// The overall deadline passed while the peer was still sending (a trickle).
    Deadline,
}

/// What [`read_some`] read, and why it stopped.
#[derive(Debug)]
pub(crate) struct Received {
    pub(crate) bytes: Vec<u8>,
    pub(crate) end: ReadEnd,
}

/// Reads what the peer sends: waits up to `first` for the first bytes, then keeps reading while
/// more arrives within `idle`, up to `max` bytes, the end of the stream, or `total` after the
/// start, whichever comes first. The overall deadline bounds a peer that trickles a byte now
/// and then, however short its pauses.
pub(crate) async fn read_some<S: tokio::io::AsyncRead + Unpin>(
    s: &mut S,
    first: Duration,
    idle: Duration,
    max: usize,
    total: Duration,
) -> Received {
    let deadline = Instant::now() + total;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let mut wait = first;
    loop {
        if out.len() >= max {
            return Received {
                bytes: out,
                end: ReadEnd::Cap,
            };
        }
        let now = Instant::now();
        if now >= deadline {
            return Received {
                bytes: out,
                end: ReadEnd::Deadline,
            };
        }
        let until = (now + wait).min(deadline);
        let end = match tokio::time::timeout_at(until, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => ReadEnd::Closed,
            Err(_) if until == deadline && !out.is_empty() => ReadEnd::Deadline,
            Err(_) => ReadEnd::Quiet,
            Ok(Ok(n)) => {
                let take = n.min(max - out.len());
                out.extend_from_slice(&buf[..take]);
                wait = idle;
                continue;
            }
        };
        return Received { bytes: out, end };
    }
}

/// A banner for people: printable ASCII, whitespace folded, at most `max` characters.
pub(crate) fn printable(bytes: &[u8], max: usize) -> String {
    let s: String = bytes
        .iter()
        .map(|b| {
            if b.is_ascii_graphic() || *b == b' ' {
                *b as char
            } else {
                ' '
            }
        })
        .collect();
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(max)
        .collect()
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;

    use super::*;

    #[tokio::test]
    async fn a_trickle_is_cut_at_the_overall_deadline() {
        // One byte every 50 ms forever: shorter pauses than the idle wait, so only the overall
        // deadline ends the read.
        let (mut client, mut server) = tokio::io::duplex(64);
        tokio::spawn(async move {
            while server.write_all(b"a").await.is_ok() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        let start = Instant::now();
        let got = read_some(
            &mut client,
            Duration::from_millis(500),
            Duration::from_millis(200),
            16 * 1024,
            Duration::from_millis(600),
        )
        .await;
        let took = start.elapsed();
        assert_eq!(got.end, ReadEnd::Deadline);
        assert!(
            !got.bytes.is_empty() && got.bytes.len() < 50,
            "{}",
            got.bytes.len()
        );
        assert!(took < Duration::from_secs(2), "took {took:?}");
    }

    #[tokio::test]
    async fn a_flood_is_cut_at_the_byte_cap() {
        let (mut client, mut server) = tokio::io::duplex(8192);
        tokio::spawn(async move {
            let chunk = [b'x'; 4096];
            while server.write_all(&chunk).await.is_ok() {}
        });
        let got = read_some(
            &mut client,
            Duration::from_millis(500),
            Duration::from_millis(200),
            10_000,
            Duration::from_secs(5),
        )
        .await;
        assert_eq!((got.end, got.bytes.len()), (ReadEnd::Cap, 10_000));
    }

    #[tokio::test]
    async fn a_banner_then_silence_is_quiet() {
        let (mut client, mut server) = tokio::io::duplex(64);
        server.write_all(b"SSH-2.0-x\r\n").await.unwrap();
        let got = read_some(
            &mut client,
            Duration::from_millis(500),
            Duration::from_millis(50),
            1024,
            Duration::from_secs(5),
        )
        .await;
        assert_eq!(
            (got.end, &got.bytes[..]),
            (ReadEnd::Quiet, &b"SSH-2.0-x\r\n"[..])
        );
        drop(server);
    }
}
