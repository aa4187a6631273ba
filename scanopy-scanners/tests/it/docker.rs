//! The Docker scanner against a real engine (`testlan/docker.sh up`; skipped with a message
//! otherwise, failed when `SCANOPY_DOCKER=1`). Containers are made from the locally imported
//! image; nothing is sent to container addresses.

use std::process::Command;
use std::time::{Duration, Instant};

use scanopy_core::compliance::{Fixture, check};
use scanopy_core::{DeviceType, Inventory, Pipeline, ScanConfig, ScanEvent, TargetSet, Transport};
use scanopy_scanners::{DockerScanner, DockerSettings};
use scanopy_testlan::require_docker;
use tokio_util::sync::CancellationToken;

const IMAGE: &str = "scanopy-test/busybox:latest";

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("docker runs");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn cleanup() {
    let _ = Command::new("docker")
        .args(["rm", "-f", "scanopy-test-web", "scanopy-test-stopped"])
        .output();
    let _ = Command::new("docker")
        .args(["network", "rm", "scanopy-test-net"])
        .output();
}

#[test]
fn docker_containers_become_devices_run_by_their_host() {
    if !require_docker("docker_containers_become_devices_run_by_their_host") {
        return;
    }
    cleanup();
    docker(&[
        "network",
        "create",
        "--subnet",
        "172.30.77.0/24",
        "scanopy-test-net",
    ]);
    docker(&[
        "run",
        "-d",
        "--name",
        "scanopy-test-web",
        "--network",
        "scanopy-test-net",
        "-p",
        "127.0.0.1:18080:8080",
        "--label",
        "com.docker.compose.project=lab",
        "--label",
        "com.docker.compose.service=web",
        "--health-cmd",
        "true",
        "--health-interval",
        "1s",
        IMAGE,
        "httpd",
        "-f",
        "-p",
        "8080",
        "-h",
        "/www",
    ]);
    docker(&[
        "create",
        "--name",
        "scanopy-test-stopped",
        IMAGE,
        "sleep",
        "1000",
    ]);
    let start = Instant::now();
    while docker(&[
        "inspect",
        "-f",
        "{{.State.Health.Status}}",
        "scanopy-test-web",
    ]) != "healthy"
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the container never became healthy"
        );
        std::thread::sleep(Duration::from_millis(250));
    }

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (events, summary) = rt.block_on(async {
        Pipeline::new()
            .with(Box::new(DockerScanner::new(DockerSettings::default())))
            .start(
                ScanConfig::default(),
                TargetSet::default(),
                CancellationToken::new(),
            )
            .collect()
            .await
    });
    // The same engine, through the compliance suite (the containers are still there).
    let failures = rt.block_on(async {
        check(
            || Box::new(DockerScanner::default()),
            &Fixture::targets(TargetSet::default()),
        )
        .await
    });
    cleanup();
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(summary.warnings.is_empty(), "{:?}", summary.warnings);
    let mut inv = Inventory::default();
    for e in &events {
        if let ScanEvent::Observation(o) = e {
            inv.apply(o);
        }
    }
    let devices = inv.devices();
    let host = devices
        .iter()
        .find(|d| d.ips().contains(&"127.0.0.1".parse().unwrap()))
        .expect("the Docker host");
    assert_eq!(host.device_type, DeviceType::DockerHost);
    let published = host
        .services
        .iter()
        .find(|s| s.port == 18080)
        .expect("published port as a host service");
    assert_eq!(published.transport, Transport::Tcp);
    assert_eq!(
        published.extra.get("docker.container").map(String::as_str),
        Some("scanopy-test-web")
    );

    let web = devices
        .iter()
        .find(|d| {
            d.container
                .as_ref()
                .is_some_and(|c| c.name == "scanopy-test-web")
        })
        .expect("the running container");
    assert_eq!(web.device_type, DeviceType::Container);
    assert_eq!(web.parent, Some(host.id));
    let c = web.container.as_ref().unwrap();
    assert_eq!(c.image, IMAGE);
    assert_eq!(c.state, "running");
    assert_eq!(c.health.as_deref(), Some("healthy"));
    assert_eq!(c.compose_project.as_deref(), Some("lab"));
    assert_eq!(c.compose_service.as_deref(), Some("web"));
    assert_eq!(c.networks.len(), 1);
    assert_eq!(c.networks[0].name, "scanopy-test-net");
    assert!(
        c.networks[0]
            .ip
            .is_some_and(|ip| ip.to_string().starts_with("172.30.77."))
    );
    assert_eq!(c.ports[0].host_port, Some(18080));
    assert_eq!(c.ports[0].container_port, 8080);

    let stopped = devices
        .iter()
        .find(|d| {
            d.container
                .as_ref()
                .is_some_and(|c| c.name == "scanopy-test-stopped")
        })
        .expect("stopped containers too");
    assert_eq!(stopped.container.as_ref().unwrap().state, "created");
    assert_eq!(stopped.parent, Some(host.id));
}

#[test]
fn docker_missing_socket_is_a_warning_naming_it() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let summary = rt.block_on(async {
        let scanner = DockerScanner::new(DockerSettings {
            host: Some("unix:///nonexistent/docker.sock".into()),
            host_ip: None,
        });
        Pipeline::new()
            .with(Box::new(scanner))
            .start(
                ScanConfig::default(),
                TargetSet::default(),
                CancellationToken::new(),
            )
            .finish()
            .await
    });
    assert_eq!(summary.warnings.len(), 1, "{:?}", summary.warnings);
    assert!(
        summary.warnings[0].contains("/nonexistent/docker.sock"),
        "{:?}",
        summary.warnings
    );
}
