use chrono::{TimeZone, Utc};
use uuid::Uuid;

use super::*;
use crate::merge::{Inventory, InventoryConfig};
use crate::model::{Container, ContainerNetwork, MacAddr, PortState, Transport};
use crate::observation::{Fact, Observation, PortFact};

fn o(ip: &str, at: i64, fact: Fact) -> Observation {
    Observation {
        ip: ip.parse().unwrap(),
        scanner: "test".into(),
        at: Utc.timestamp_opt(1_700_000_000 + at, 0).unwrap(),
        fact,
    }
}

fn mac(s: &str) -> Fact {
    Fact::Mac {
        mac: s.parse::<MacAddr>().unwrap(),
    }
}

fn container(id: &str, name: &str, net: &str, ip: &str) -> Fact {
    Fact::Container(Box::new(Container {
        id: id.into(),
        name: name.into(),
        image: "busybox".into(),
        state: "running".into(),
        health: None,
        compose_project: Some("lab".into()),
        compose_service: Some(name.into()),
        networks: vec![ContainerNetwork {
            name: net.into(),
            ip: Some(ip.parse().unwrap()),
        }],
        ports: vec![],
    }))
}

/// Two subnets joined by a router; a NAS, a printer, a Docker host with two containers, and a
/// host beyond the router known only by its address.
pub(super) fn lab() -> Vec<Device> {
    let mut inv = Inventory::new(InventoryConfig {
        network_id: Uuid::nil(),
        subnets: vec![
            "10.77.0.0/24".parse().unwrap(),
            "10.77.1.0/24".parse().unwrap(),
        ],
    });
    let obs = vec![
        o("10.77.0.1", 1, mac("02:77:00:00:00:01")),
        o("10.77.0.1", 1, Fact::Gateway),
        o("10.77.1.1", 1, mac("02:77:00:00:00:01")),
        o("10.77.0.10", 2, mac("00:11:32:aa:00:10")),
        o(
            "10.77.0.10",
            2,
            Fact::Hostname {
                name: "nas.lan".into(),
                source: "ptr".into(),
            },
        ),
        o(
            "10.77.0.10",
            2,
            Fact::DeviceType {
                device_type: DeviceType::Nas,
                evidence: "vendor".into(),
            },
        ),
        o("10.77.0.11", 2, mac("00:00:48:00:00:11")),
        o(
            "10.77.0.11",
            2,
            Fact::DeviceType {
                device_type: DeviceType::Printer,
                evidence: "ipp".into(),
            },
        ),
        o("10.77.0.20", 3, mac("02:77:00:00:00:20")),
        o(
            "10.77.0.20",
            3,
            Fact::Hostname {
                name: "docker \"box\"".into(),
                source: "ptr".into(),
            },
        ),
        o(
            "10.77.0.20",
            3,
            Fact::DeviceType {
                device_type: DeviceType::DockerHost,
                evidence: "docker".into(),
            },
        ),
        o(
            "10.77.0.20",
            3,
            container("c1", "web", "lab_default", "172.30.0.2"),
        ),
        o(
            "10.77.0.20",
            3,
            container("c2", "db", "lab_default", "172.30.0.3"),
        ),
        o(
            "10.77.1.10",
            4,
            Fact::Port(PortFact::state(8080, Transport::Tcp, PortState::Open)),
        ),
    ];
    inv.apply_all(&obs);
    inv.devices()
}

#[test]
fn exports_are_stable_snapshots() {
    let t = Topology::build(&lab());
    insta::assert_snapshot!("lab_dot", t.to_dot());
    insta::assert_snapshot!("lab_mermaid", t.to_mermaid());
    insta::assert_snapshot!("lab_svg", t.to_svg());
    insta::assert_snapshot!(
        "lab_json",
        serde_json::to_string_pretty(&t.to_json()).unwrap()
    );
}

/// The lab's layout, as `GET /topology?format=layout` serves it; the UI's node tests
/// (`scanopy-server/tests/ui/scene.test.mjs`) read this snapshot as their fixture.
#[test]
fn the_layout_is_a_stable_snapshot() {
    let t = Topology::build(&lab());
    insta::assert_snapshot!(
        "lab_layout",
        serde_json::to_string_pretty(&t.layout()).unwrap()
    );
}

#[test]
fn the_streamed_json_equals_the_json_value() {
    for devices in [lab(), Vec::new()] {
        let t = Topology::build(&devices);
        let mut out = Vec::new();
        t.write_json(&mut out).unwrap();
        let streamed: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(streamed, t.to_json());
    }
}

#[test]
fn exports_do_not_depend_on_device_order() {
    let mut devices = lab();
    let a = Topology::build(&devices);
    devices.reverse();
    let b = Topology::build(&devices);
    assert_eq!(a.to_dot(), b.to_dot());
    assert_eq!(a.to_mermaid(), b.to_mermaid());
    assert_eq!(a.to_json(), b.to_json());
    assert_eq!(a.to_svg(), b.to_svg());
}

#[test]
fn the_svg_escapes_names_from_the_network() {
    let mut devices = lab();
    devices[0].hostname = Some("<script>alert(1)</script>&\"".into());
    let svg = Topology::build(&devices).to_svg();
    assert!(!svg.contains("<script>"), "{svg}");
    assert!(svg.contains("&lt;script&gt;"));
}

#[test]
fn the_router_is_the_gateway_and_containers_hang_off_their_host() {
    let devices = lab();
    let t = Topology::build(&devices);
    let router = devices.iter().find(|d| d.ips().len() == 2).unwrap();
    assert_eq!(t.gateways(), vec![router.id]);
    let json = t.to_json();
    let links = json["links"].as_array().unwrap();
    let runs = links.iter().filter(|l| l["kind"] == "runs").count();
    assert_eq!(runs, 2);
    let nets = json["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "docker_network")
        .count();
    assert_eq!(nets, 1, "both containers share one Docker network");
}
