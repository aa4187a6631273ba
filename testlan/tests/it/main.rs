//! The test LAN answers as its layout says. Needs root and `testlan/testlan.sh up`.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Duration;

use scanopy_testlan::{DROP, FAR, FAR_QUIET, HOSTS, QUIET, SSH, WEB, in_scanner_ns, require};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout;

async fn connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    timeout(Duration::from_secs(2), TcpStream::connect(addr))
        .await
        .map_err(|_| std::io::Error::new(ErrorKind::TimedOut, "timed out"))?
}

#[test]
fn testlan_hosts_answer_as_the_layout_says() {
    if !require("testlan_hosts_answer_as_the_layout_says") {
        return;
    }
    in_scanner_ns(|| async {
        for h in HOSTS {
            for p in h.open_tcp {
                let r = connect(SocketAddr::new(h.addr(), *p)).await;
                assert!(r.is_ok(), "{}:{p} should accept: {r:?}", h.name);
            }
        }
        // Real servers behind the ports.
        let mut web = connect(SocketAddr::new(WEB.addr(), 80)).await.unwrap();
        web.write_all(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
        let mut body = String::new();
        web.read_to_string(&mut body).await.unwrap();
        assert!(body.contains("Server: nginx"), "{body}");
        assert!(body.contains("<title>Scanopy test web</title>"), "{body}");

        let mut ssh = connect(SocketAddr::new(SSH.addr(), 22)).await.unwrap();
        let mut banner = [0u8; 64];
        let n = ssh.read(&mut banner).await.unwrap();
        assert!(
            banner[..n].starts_with(b"SSH-2.0-OpenSSH"),
            "{:?}",
            String::from_utf8_lossy(&banner[..n])
        );

        let mut far = connect(SocketAddr::new(FAR.addr(), 8080)).await.unwrap();
        far.write_all(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
        let mut body = String::new();
        far.read_to_string(&mut body).await.unwrap();
        assert!(
            body.contains("far away"),
            "routed through the router: {body}"
        );

        // A closed port is refused; a dropping host does not answer at all.
        let e = connect(SocketAddr::new(QUIET.addr(), 80))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e}");
        let e = connect(SocketAddr::new(DROP.addr(), 80)).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
        // Beyond the router, farquiet drops TCP too (that it is there at all, only ICMP shows:
        // the icmp scanner's test LAN tests, and `testlan.sh status`).
        let e = connect(SocketAddr::new(FAR_QUIET.addr(), 80))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");

        // DNS on the router answers a PTR query for web.
        let udp = UdpSocket::bind("10.77.0.2:0").await.unwrap();
        udp.connect("10.77.0.1:53").await.unwrap();
        let mut q = vec![0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in ["10", "0", "77", "10", "in-addr", "arpa"] {
            q.push(label.len() as u8);
            q.extend_from_slice(label.as_bytes());
        }
        q.extend_from_slice(&[0, 0, 12, 0, 1]);
        udp.send(&q).await.unwrap();
        let mut buf = [0u8; 512];
        let n = timeout(Duration::from_secs(2), udp.recv(&mut buf))
            .await
            .unwrap()
            .unwrap();
        let answer = String::from_utf8_lossy(&buf[..n]);
        assert!(
            answer.contains("web") && answer.contains("lab"),
            "{answer:?}"
        );
    });
}

#[test]
fn testlan_scanner_namespace_cannot_reach_loopback_of_the_machine() {
    if !require("testlan_scanner_namespace_cannot_reach_loopback_of_the_machine") {
        return;
    }
    // The scanner namespace has its own loopback: a port open on the machine's 127.0.0.1 is
    // not open here, which shows the test really runs inside the namespace.
    let outside = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = outside.local_addr().unwrap().port();
    let inside = in_scanner_ns(move || async move {
        connect(SocketAddr::from(([127, 0, 0, 1], port)))
            .await
            .map(|_| ())
    });
    assert!(
        inside.is_err(),
        "127.0.0.1:{port} reached from inside the namespace"
    );
}

#[test]
fn testlan_hostile_hosts_behave_as_the_layout_says() {
    if !require("testlan_hostile_hosts_behave_as_the_layout_says") {
        return;
    }
    use scanopy_testlan::{EVERY, FLOOD, HOSTILE, LIAR, MUTE, TRICKLE};
    in_scanner_ns(|| async {
        for h in HOSTILE {
            for p in h.open_tcp {
                let r = connect(SocketAddr::new(h.addr(), *p)).await;
                assert!(r.is_ok(), "{}:{p} should accept: {r:?}", h.name);
            }
        }
        // mute says nothing; trickle says a little, slowly; flood says a lot at once.
        let mut buf = vec![0u8; 1 << 20];
        let mut mute = connect(SocketAddr::new(MUTE.addr(), 443)).await.unwrap();
        assert!(
            timeout(Duration::from_millis(500), mute.read(&mut buf))
                .await
                .is_err()
        );
        let mut t = connect(SocketAddr::new(TRICKLE.addr(), 443)).await.unwrap();
        let mut got = 0;
        let _ = timeout(Duration::from_millis(500), async {
            while let Ok(n) = t.read(&mut buf).await {
                got += n;
            }
        })
        .await;
        assert!((2..=20).contains(&got), "trickled {got} bytes in 500 ms");
        let mut f = connect(SocketAddr::new(FLOOD.addr(), 80)).await.unwrap();
        let mut flooded = 0;
        while flooded < 1 << 20 {
            flooded += f.read(&mut buf).await.unwrap();
        }
        let mut e = connect(SocketAddr::new(EVERY.addr(), 31337)).await.unwrap();
        let n = e.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"\x1b["), "{:?}", &buf[..n]);
        // The late SMTP greeter: 554 to a client that speaks first, its greeting to one that waits.
        let mut early = connect(SocketAddr::new(MUTE.addr(), 25)).await.unwrap();
        early.write_all(b"EHLO scanner\r\n").await.unwrap();
        let n = timeout(Duration::from_secs(5), early.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(buf[..n].starts_with(b"554 "), "{:?}", &buf[..n]);
        let mut patient = connect(SocketAddr::new(MUTE.addr(), 25)).await.unwrap();
        let quiet = timeout(Duration::from_millis(1000), patient.read(&mut buf)).await;
        assert!(quiet.is_err(), "it greets only after 1.5 s");
        let n = timeout(Duration::from_secs(5), patient.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(
            buf[..n].starts_with(b"220 mail.lab.test ESMTP Postfix"),
            "{:?}",
            &buf[..n]
        );
        // The liar answers for an address it does not own: refused at once, not silence.
        let e = connect("10.77.2.100:1".parse().unwrap()).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e}");
        let _ = LIAR;
    });
}
