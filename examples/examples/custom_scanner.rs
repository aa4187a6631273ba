//! Run with `cargo run -p scanopy-examples --example custom_scanner`.
//!
//! Writes a scanner of its own (a TCP connect check that records each port's state and, for
//! HTTP, the page title) and runs it in the pipeline against a small HTTP server this example
//! starts on 127.0.0.1, then prints the merged device.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use async_trait::async_trait;
use scanopy_core::{
    Confidence, Fact, Inventory, Pipeline, PortFact, PortState, ScanConfig, ScanContext, ScanError,
    ScanEvent, Scanner, ScannerKind, Scope, TargetSet, Transport,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Connects to each port of a host; where HTTP answers, records the page title.
struct HttpTitle {
    ports: Vec<u16>,
}

#[async_trait]
impl Scanner for HttpTitle {
    fn name(&self) -> &str {
        "http-title"
    }

    fn kind(&self) -> ScannerKind {
        ScannerKind::PerHost
    }

    async fn run(&self, ctx: &ScanContext, scope: Scope<'_>) -> Result<(), ScanError> {
        let Scope::Host(ip) = scope else {
            return Ok(());
        };
        for &port in &self.ports {
            // One permit per probe: the scan's rate and concurrency limits hold.
            let Some(_permit) = ctx.probe().await else {
                return Ok(());
            };
            let fact = probe(ip, port).await;
            ctx.progress().add_ports_probed(1);
            ctx.observe(ip, Fact::Port(fact)).await;
        }
        Ok(())
    }
}

async fn probe(ip: IpAddr, port: u16) -> PortFact {
    let addr = SocketAddr::new(ip, port);
    let mut stream =
        match tokio::time::timeout(Duration::from_secs(1), TcpStream::connect(addr)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                return PortFact::state(port, Transport::Tcp, PortState::Closed);
            }
            _ => return PortFact::state(port, Transport::Tcp, PortState::Filtered),
        };
    let mut fact = PortFact::state(port, Transport::Tcp, PortState::Open);
    let request = format!("GET / HTTP/1.0\r\nHost: {ip}\r\n\r\n");
    let mut body = Vec::new();
    let read = async {
        stream.write_all(request.as_bytes()).await?;
        stream.take(64 * 1024).read_to_end(&mut body).await
    };
    if tokio::time::timeout(Duration::from_secs(2), read)
        .await
        .is_ok_and(|r| r.is_ok())
        && body.starts_with(b"HTTP/")
    {
        let text = String::from_utf8_lossy(&body);
        fact.name = Some("http".into());
        fact.confidence = Confidence::High;
        fact.evidence = "http-status-line".into();
        if let Some(title) = text
            .split("<title>")
            .nth(1)
            .and_then(|t| t.split("</title>").next())
        {
            fact.extra
                .insert("http.title".into(), title.trim().to_owned());
        }
    }
    fact
}

/// A tiny HTTP server for the example to find.
async fn serve(listener: TcpListener) {
    while let Ok((mut s, _)) = listener.accept().await {
        tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).await;
            let page = "<html><head><title>Example page</title></head></html>";
            let reply = format!(
                "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{page}",
                page.len()
            );
            let _ = s.write_all(reply.as_bytes()).await;
        });
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let http_port = listener.local_addr()?.port();
    tokio::spawn(serve(listener));
    let closed_port = TcpListener::bind("127.0.0.1:0").await?.local_addr()?.port();

    let targets = TargetSet::parse(&["127.0.0.1"])?;
    let pipeline = Pipeline::new().with(HttpTitle {
        ports: vec![http_port, closed_port],
    });
    let config = ScanConfig {
        rate: Some(100),
        ..ScanConfig::default()
    };
    let mut scan = pipeline.start(config, targets, Default::default());

    let mut inventory = Inventory::default();
    while let Some(event) = scan.events.recv().await {
        match event {
            ScanEvent::Observation(o) => inventory.apply(&o),
            ScanEvent::HostDone(ip) => println!("done with {ip}"),
            ScanEvent::Warning(w) => eprintln!("warning: {w}"),
            ScanEvent::HostFound(_) => {}
        }
    }
    let summary = scan.finish().await;
    for device in inventory.devices() {
        println!("{}", describe(&device));
    }
    println!("ports probed: {}", summary.progress.ports_probed);
    Ok(())
}

fn describe(d: &scanopy_core::Device) -> String {
    let mut lines = vec![format!("device {} ({})", d.label(), d.id)];
    for s in &d.services {
        let title = s
            .extra
            .get("http.title")
            .map(|t| format!(" title={t:?}"))
            .unwrap_or_default();
        lines.push(format!(
            "  {}/{} {:?} {}{title}",
            s.port, s.transport, s.state, s.name
        ));
    }
    lines.join("\n")
}
