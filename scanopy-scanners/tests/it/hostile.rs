//! Hostile services on loopback: a port scan must end, whatever a peer does, and say what it
//! gave up on. (The same hosts, and more, as real processes on the test LAN:
//! `scanopy-daemon/tests/it/hostile.rs`.)

use std::collections::BTreeMap;
use std::time::Duration;

use scanopy_core::{Fact, Pipeline, PortState, ScanConfig, ScanEvent, ScanSummary, TargetSpec};
use scanopy_scanners::TcpScanner;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The generous bound a scan of one hostile port must end within: not a timing assertion, a
/// stop for a hang (on the old code these scans never ended).
const BOUND: Duration = Duration::from_secs(60);

async fn scan_port(port: u16, concurrency: usize) -> (Vec<ScanEvent>, ScanSummary) {
    let spec = TargetSpec::new(&["127.0.0.1"], &[] as &[&str]).unwrap();
    let set = spec.build(&BTreeMap::new(), &[], false).unwrap();
    let config = ScanConfig {
        targets: spec,
        ports: port.to_string().parse().unwrap(),
        concurrency,
        ..ScanConfig::default()
    };
    let handle = Pipeline::new().with(Box::new(TcpScanner::default())).start(
        config,
        set,
        CancellationToken::new(),
    );
    tokio::time::timeout(BOUND, handle.collect())
        .await
        .unwrap_or_else(|_| panic!("the scan of port {port} did not end within {BOUND:?}"))
}

fn open_port(events: &[ScanEvent], port: u16) -> scanopy_core::PortFact {
    events
        .iter()
        .find_map(|e| match e {
            ScanEvent::Observation(o) => match &o.fact {
                Fact::Port(p) if p.port == port => Some(p.clone()),
                _ => None,
            },
            _ => None,
        })
        .unwrap_or_else(|| panic!("port {port} not reported: {events:#?}"))
}

#[tokio::test]
async fn a_service_that_greets_with_junk_then_stalls_ends_with_concurrency_one() {
    // Junk first (so identification reconnects to probe), then silence on every connection.
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut s, _)) = l.accept().await {
            let _ = s.write_all(b"\x01\x02junk\r\n").await;
            held.push(s);
        }
    });
    let (events, summary) = scan_port(port, 1).await;
    let p = open_port(&events, port);
    assert_eq!(p.state, PortState::Open);
    assert!(p.name.is_none(), "{p:?}");
    assert!(summary.warnings.is_empty() || summary.warnings[0].contains("127.0.0.1"));
}

#[tokio::test]
async fn a_service_that_trickles_a_byte_every_50_ms_ends_and_is_a_warning() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                while s.write_all(b"a").await.is_ok() {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            });
        }
    });
    for concurrency in [512, 1] {
        let (events, summary) = scan_port(port, concurrency).await;
        let p = open_port(&events, port);
        assert_eq!(p.state, PortState::Open);
        let w = summary
            .warnings
            .iter()
            .find(|w| w.contains(&format!("127.0.0.1 port {port}/tcp")))
            .unwrap_or_else(|| panic!("no warning names the port: {:?}", summary.warnings));
        assert!(w.contains("still sending"), "{w}");
        assert!(
            p.extra
                .get("note")
                .is_some_and(|n| n.contains("still sending")),
            "{p:?}"
        );
    }
}

#[tokio::test]
async fn a_service_that_floods_its_banner_is_read_to_the_cap() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let chunk = vec![b'A'; 64 * 1024];
                for _ in 0..64 {
                    if s.write_all(&chunk).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    let (events, _) = scan_port(port, 1).await;
    let p = open_port(&events, port);
    assert_eq!(p.state, PortState::Open);
    let banner = p.extra.get("banner").expect("the banner is kept");
    assert!(banner.len() <= 160, "{}", banner.len());
}

#[tokio::test]
async fn a_docker_engine_that_stalls_after_its_version_is_given_up_on() {
    use tokio::io::AsyncReadExt;
    // Answers the version negotiation, then never answers anything else.
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut s, _)) = l.accept().await {
            let mut req = vec![0u8; 4096];
            let n = s.read(&mut req).await.unwrap_or(0);
            if String::from_utf8_lossy(&req[..n]).contains("/version") {
                let body = r#"{"ApiVersion":"1.47","Version":"27.0.0"}"#;
                let _ = s
                    .write_all(
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                            body.len()
                        )
                        .as_bytes(),
                    )
                    .await;
            }
            held.push(s);
        }
    });
    let scanner = scanopy_scanners::DockerScanner::new(scanopy_scanners::DockerSettings {
        host: Some(format!("tcp://127.0.0.1:{port}")),
        host_ip: None,
    })
    .with_engine_budget(Duration::from_millis(1500));
    let spec = TargetSpec::new(&["127.0.0.1"], &[] as &[&str]).unwrap();
    let set = spec.build(&BTreeMap::new(), &[], false).unwrap();
    let config = ScanConfig {
        concurrency: 1,
        ..ScanConfig::default()
    };
    let summary = tokio::time::timeout(
        BOUND,
        Pipeline::new()
            .with(Box::new(scanner))
            .start(config, set, CancellationToken::new())
            .finish(),
    )
    .await
    .expect("the scan ends");
    assert!(
        summary
            .warnings
            .iter()
            .any(|w| w.contains("docker") && w.contains("did not answer within 1500 ms")),
        "{:?}",
        summary.warnings
    );
}
