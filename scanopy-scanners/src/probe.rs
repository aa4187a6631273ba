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

/// Reads what the peer sends: waits up to `first` for the first bytes, then keeps reading while
/// more arrives within `idle`, up to `max` bytes or the end of the stream.
pub(crate) async fn read_some<S: tokio::io::AsyncRead + Unpin>(
    s: &mut S,
    first: Duration,
    idle: Duration,
    max: usize,
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let mut wait = first;
    while out.len() < max {
        match timeout(wait, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => {
                let take = n.min(max - out.len());
                out.extend_from_slice(&buf[..take]);
                wait = idle;
            }
        }
    }
    out
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
