//! A scanner written outside the core plugs into the pipeline as `Box<dyn Scanner>`: a real TCP
//! connect check against listeners on 127.0.0.1.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use async_trait::async_trait;
use scanopy_core::compliance::{Fixture, check};
use scanopy_core::{
    Fact, Inventory, Needs, Pipeline, PortFact, PortState, ScanConfig, ScanContext, ScanError,
    ScanEvent, Scanner, ScannerKind, Scope, TargetSpec, Transport,
};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// Connects to a fixed list of ports of each host it is handed.
struct Connect {
    ports: Vec<u16>,
}

#[async_trait]
impl Scanner for Connect {
    fn name(&self) -> &str {
        "connect"
    }

    fn kind(&self) -> ScannerKind {
        ScannerKind::PerHost
    }

    async fn run(&self, ctx: &ScanContext, scope: Scope<'_>) -> Result<(), ScanError> {
        let Scope::Host(ip) = scope else {
            return Ok(());
        };
        for port in &self.ports {
            let Some(_permit) = ctx.probe().await else {
                return Ok(());
            };
            let r = tokio::time::timeout(
                Duration::from_secs(2),
                TcpStream::connect(SocketAddr::new(ip, *port)),
            )
            .await;
            let state = match r {
                Ok(Ok(_)) => PortState::Open,
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    PortState::Closed
                }
                _ => PortState::Filtered,
            };
            ctx.progress().add_ports_probed(1);
            ctx.observe(
                ip,
                Fact::Port(PortFact::state(*port, Transport::Tcp, state)),
            )
            .await;
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_scanner_from_outside_the_core_runs_in_the_pipeline() {
    let open = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let open_port = open.local_addr().unwrap().port();
    let closed_port = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().port()
    };
    let scanner: Box<dyn Scanner> = Box::new(Connect {
        ports: vec![open_port, closed_port],
    });
    assert_eq!(scanner.needs(), Needs::default());

    let targets = TargetSpec::new(&["127.0.0.1"], &[] as &[&str])
        .unwrap()
        .build(&Default::default(), &[], false)
        .unwrap();
    let mut pipeline = Pipeline::new();
    pipeline.add(scanner);
    let (events, summary) = pipeline
        .start(ScanConfig::default(), targets, CancellationToken::new())
        .collect()
        .await;
    assert_eq!(summary.progress.ports_probed, 2);
    assert!(events.contains(&ScanEvent::HostDone(IpAddr::from([127, 0, 0, 1]))));

    let mut inv = Inventory::default();
    for e in &events {
        if let ScanEvent::Observation(o) = e {
            inv.apply(o);
        }
    }
    let devices = inv.devices();
    assert_eq!(devices.len(), 1);
    let states: Vec<(u16, PortState)> = devices[0]
        .services
        .iter()
        .map(|s| (s.port, s.state))
        .collect();
    let mut expected = vec![
        (open_port, PortState::Open),
        (closed_port, PortState::Closed),
    ];
    expected.sort();
    assert_eq!(states, expected);
    assert_eq!(devices[0].sources.iter().collect::<Vec<_>>(), ["connect"]);
}

#[tokio::test]
async fn the_custom_scanner_passes_the_compliance_suite() {
    let open = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let open_port = open.local_addr().unwrap().port();
    // The open port first, then a long run of ports (refused at once on loopback) that the
    // suite's rate limit makes slow enough to see streaming.
    let mut ports = vec![open_port];
    ports.extend(40000u16..40400);
    let make = move || -> Box<dyn Scanner> {
        Box::new(Connect {
            ports: ports.clone(),
        })
    };
    let failures = check(make, &Fixture::host(IpAddr::from([127, 0, 0, 1]))).await;
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Breaks every rule: reports everything at the end, ignores cancellation, takes no permit.
struct Rude;

#[async_trait]
impl Scanner for Rude {
    fn name(&self) -> &str {
        "rude"
    }
    fn kind(&self) -> ScannerKind {
        ScannerKind::PerHost
    }
    async fn run(&self, ctx: &ScanContext, scope: Scope<'_>) -> Result<(), ScanError> {
        let Scope::Host(ip) = scope else {
            panic!("bad scope")
        };
        tokio::time::sleep(Duration::from_millis(3000)).await;
        // Everything at once, at the end.
        for port in [1, 2, 3] {
            let fact = Fact::Port(PortFact::state(port, Transport::Tcp, PortState::Open));
            ctx.observe(ip, fact).await;
        }
        Ok(())
    }
}

#[tokio::test]
async fn the_suite_catches_a_scanner_that_breaks_the_rules() {
    let failures = check(
        || Box::new(Rude),
        &Fixture::host(IpAddr::from([127, 0, 0, 1])),
    )
    .await;
    let text = failures.join("\n");
    for rule in [
        "streams",
        "rate limit",
        "cancels promptly",
        "panicked on the wrong kind of scope",
    ] {
        assert!(text.contains(rule), "{rule} not caught: {text}");
    }
}
