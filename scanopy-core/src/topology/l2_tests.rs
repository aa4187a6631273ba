use chrono::{TimeZone, Utc};
use proptest::prelude::*;

use super::*;
use crate::merge::{Inventory, InventoryConfig};
use crate::model::{L2, Learnt, Neighbour, NetPort};
use crate::observation::{Fact, Observation};

fn m(s: &str) -> MacAddr {
    s.parse().unwrap()
}

fn o(ip: &str, fact: Fact) -> Observation {
    Observation {
        ip: ip.parse().unwrap(),
        scanner: "test".into(),
        at: Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
        fact,
    }
}

fn port(index: u32, name: &str) -> NetPort {
    NetPort {
        index,
        name: name.into(),
        alias: None,
        mac: None,
        speed_mbps: None,
        admin_up: None,
        oper_up: None,
        kind: Some("ethernet".into()),
        vlan: None,
    }
}

fn lldp(port: &str, chassis: &str, name: &str) -> Neighbour {
    Neighbour {
        port: port.into(),
        source: "lldp".into(),
        chassis_id: chassis.into(),
        chassis_mac: Some(m(chassis)),
        remote_port: Some("ge1".into()),
        remote_port_description: None,
        name: Some(name.into()),
        description: None,
        address: None,
        capabilities: Vec::new(),
    }
}

fn learnt(mac: &str, port: u32) -> Learnt {
    Learnt {
        mac: m(mac),
        port,
        vlan: Some(10),
    }
}

/// The test LAN's campus, as its agents tell it: sw1 (ge1 scanner, ge2 ca, ge3 cb, ge8 sw2),
/// sw2 (ge1 sw1, ge2 cc, ge3 cd). sw1 learnt cc and cd on its uplink; sw2 learnt ca on its
/// uplink (it heard ca's broadcasts). `with_lldp` adds the neighbours lldpd tells.
fn campus(with_lldp: bool) -> Vec<Observation> {
    let ports = vec![
        port(1, "ge1"),
        port(2, "ge2"),
        port(3, "ge3"),
        port(8, "ge8"),
    ];
    let sw1 = L2 {
        ports: ports.clone(),
        neighbours: if with_lldp {
            vec![
                lldp("ge8", "02:77:04:00:00:04", "sw2.lab.test"),
                lldp("ge2", "02:77:04:00:00:10", "ca.lab.test"),
            ]
        } else {
            vec![]
        },
        learnt: vec![
            learnt("02:77:04:00:00:02", 1),
            learnt("02:77:04:00:00:10", 2),
            learnt("02:77:04:00:00:11", 3),
            learnt("02:77:04:00:00:20", 8),
            learnt("02:77:04:00:00:21", 8),
            learnt("02:77:04:00:00:04", 8),
        ],
        bridge_mac: Some(m("02:77:04:00:00:03")),
        ..Default::default()
    };
    let sw2 = L2 {
        ports: ports[..3].to_vec(),
        neighbours: if with_lldp {
            vec![lldp("ge1", "02:77:04:00:00:03", "sw1.lab.test")]
        } else {
            vec![]
        },
        learnt: vec![
            learnt("02:77:04:00:00:02", 1),
            learnt("02:77:04:00:00:10", 1),
            learnt("02:77:04:00:00:03", 1),
            learnt("02:77:04:00:00:20", 2),
            learnt("02:77:04:00:00:21", 3),
        ],
        bridge_mac: Some(m("02:77:04:00:00:04")),
        ..Default::default()
    };
    let mut obs = vec![
        o(
            "10.77.4.3",
            Fact::Mac {
                mac: m("02:77:04:00:00:03"),
            },
        ),
        o("10.77.4.3", Fact::L2(Box::new(sw1))),
        o(
            "10.77.4.4",
            Fact::Mac {
                mac: m("02:77:04:00:00:04"),
            },
        ),
        o("10.77.4.4", Fact::L2(Box::new(sw2))),
    ];
    for (ip, mac) in [
        ("10.77.4.10", "02:77:04:00:00:10"),
        ("10.77.4.11", "02:77:04:00:00:11"),
        ("10.77.4.20", "02:77:04:00:00:20"),
        ("10.77.4.21", "02:77:04:00:00:21"),
    ] {
        obs.push(o(ip, Fact::Mac { mac: m(mac) }));
    }
    obs
}

fn devices(obs: &[Observation]) -> Vec<Device> {
    let mut inv = Inventory::new(InventoryConfig::default());
    inv.apply_all(obs);
    inv.devices()
}

/// (switch's first address, port, device's first address, source).
fn placed(devs: &[Device]) -> BTreeSet<(String, String, String, String)> {
    let ip = |id: Uuid| devs.iter().find(|d| d.id == id).unwrap().ips()[0].to_string();
    links(devs)
        .into_iter()
        .map(|l| (ip(l.switch), l.port, ip(l.device), l.source))
        .collect()
}

fn set(items: &[(&str, &str, &str, &str)]) -> BTreeSet<(String, String, String, String)> {
    items
        .iter()
        .map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), d.to_string()))
        .collect()
}

#[test]
fn hosts_are_placed_on_their_access_port_not_the_uplink() {
    let devs = devices(&campus(false));
    assert_eq!(
        placed(&devs),
        set(&[
            ("10.77.4.3", "ge2", "10.77.4.10", "fdb"),
            ("10.77.4.3", "ge3", "10.77.4.11", "fdb"),
            ("10.77.4.4", "ge2", "10.77.4.20", "fdb"),
            ("10.77.4.4", "ge3", "10.77.4.21", "fdb"),
        ]),
        "ca is learnt on sw2's uplink too, cc and cd on sw1's: uplinks place nobody"
    );
}

#[test]
fn lldp_links_switches_and_beats_the_forwarding_table() {
    let devs = devices(&campus(true));
    let p = placed(&devs);
    assert!(
        p.contains(&(
            "10.77.4.3".into(),
            "ge2".into(),
            "10.77.4.10".into(),
            "lldp".into()
        )),
        "{p:?}"
    );
    assert!(!p.contains(&(
        "10.77.4.3".into(),
        "ge2".into(),
        "10.77.4.10".into(),
        "fdb".into()
    )));
    // One switch–switch link, told by the lower id.
    let sw: Vec<_> = p
        .iter()
        .filter(|l| l.2 == "10.77.4.4" || l.2 == "10.77.4.3")
        .collect();
    assert_eq!(sw.len(), 1, "{p:?}");
    assert_eq!(p.len(), 5);
}

#[test]
fn the_port_that_learnt_fewest_macs_is_where_a_host_is() {
    // An unmanaged switch hangs off sw's ge5 with 3 hosts; sw2 (no LLDP, its address not
    // learnt anywhere) has host h on ge1 alone, and sw learnt h on ge5 too.
    let sw = L2 {
        ports: vec![port(5, "ge5")],
        learnt: vec![
            learnt("02:00:00:00:00:01", 5),
            learnt("02:00:00:00:00:02", 5),
            learnt("02:00:00:00:00:03", 5),
        ],
        bridge_mac: Some(m("02:00:00:00:00:aa")),
        ..Default::default()
    };
    let sw2 = L2 {
        ports: vec![port(1, "ge1")],
        learnt: vec![learnt("02:00:00:00:00:03", 1)],
        bridge_mac: Some(m("02:00:00:00:00:bb")),
        ..Default::default()
    };
    let mut obs = vec![
        o("10.0.0.1", Fact::L2(Box::new(sw))),
        o("10.0.0.2", Fact::L2(Box::new(sw2))),
    ];
    for i in 1..=3 {
        obs.push(o(
            &format!("10.0.0.1{i}"),
            Fact::Mac {
                mac: m(&format!("02:00:00:00:00:0{i}")),
            },
        ));
    }
    let p = placed(&devices(&obs));
    assert!(
        p.contains(&(
            "10.0.0.2".into(),
            "ge1".into(),
            "10.0.0.13".into(),
            "fdb".into()
        )),
        "{p:?}"
    );
    assert!(p.contains(&(
        "10.0.0.1".into(),
        "ge5".into(),
        "10.0.0.11".into(),
        "fdb".into()
    )));
    assert_eq!(p.len(), 3);
}

#[test]
fn a_newer_snapshot_replaces_the_older() {
    let mut obs = campus(false);
    let mut newer = o(
        "10.77.4.3",
        Fact::L2(Box::new(L2 {
            ports: vec![port(1, "ge1")],
            ..Default::default()
        })),
    );
    newer.at += chrono::Duration::seconds(60);
    obs.push(newer);
    let devs = devices(&obs);
    let sw1 = devs
        .iter()
        .find(|d| d.ips()[0].to_string() == "10.77.4.3")
        .unwrap();
    assert_eq!(sw1.l2.as_ref().unwrap().ports.len(), 1);
}

proptest! {
    /// The links do not depend on the order of the devices or of the observations.
    #[test]
    fn links_do_not_depend_on_order(seed in any::<u64>(), lldp in any::<bool>()) {
        let mut obs = campus(lldp);
        let base = links(&devices(&obs));
        let mut rng = seed;
        for i in (1..obs.len()).rev() {
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            obs.swap(i, (rng >> 33) as usize % (i + 1));
        }
        let mut devs = devices(&obs);
        devs.reverse();
        prop_assert_eq!(links(&devs), base);
    }

    /// Whatever the tables say (random MACs and ports, switches learning each other), every
    /// device is placed at most once by the forwarding tables.
    #[test]
    fn every_device_is_placed_once_at_most(entries in prop::collection::vec((0u8..3, 0u8..12, 1u32..5), 0..60)) {
        let mut tables: Vec<L2> = (0..3).map(|s| L2 {
            ports: (1..5).map(|i| port(i, &format!("p{i}"))).collect(),
            bridge_mac: Some(MacAddr([2, 0xee, 0, 0, 0, s])),
            ..Default::default()
        }).collect();
        for (sw, host, p) in entries {
            // Hosts 10 and 11 are the other switches' own addresses.
            let mac = if host >= 10 { MacAddr([2, 0xee, 0, 0, 0, host - 10]) } else { MacAddr([2, 0, 0, 0, 0, host]) };
            tables[sw as usize].learnt.push(Learnt { mac, port: p, vlan: None });
        }
        let mut obs = Vec::new();
        for (s, t) in tables.into_iter().enumerate() {
            obs.push(o(&format!("10.1.0.{s}"), Fact::L2(Box::new(t))));
        }
        for h in 0..10u8 {
            obs.push(o(&format!("10.2.0.{h}"), Fact::Mac { mac: MacAddr([2, 0, 0, 0, 0, h]) }));
        }
        let l = links(&devices(&obs));
        let mut seen = BTreeSet::new();
        for x in l.iter().filter(|x| x.source == "fdb") {
            prop_assert!(seen.insert(x.device), "placed twice: {:?}", x);
        }
    }
}

#[test]
fn the_map_and_its_exports_carry_the_links() {
    let devs = devices(&campus(true));
    let t = crate::topology::Topology::build(&devs);
    let ports = t.port_links();
    assert_eq!(ports.len(), 5, "{ports:?}");
    let layout = t.layout();
    let drawn: Vec<_> = layout
        .links
        .iter()
        .filter(|l| l.kind == crate::topology::layout::LinkKind::Port)
        .map(|l| l.label.clone().unwrap_or_default())
        .collect();
    assert_eq!(drawn.len(), 5);
    assert!(drawn.contains(&"ge3".to_owned()));
    // The forwarding table's VLAN goes with the link, to the layout and the SVG.
    assert!(
        layout.links.iter().any(|l| l.vlan == Some(10)),
        "{:?}",
        layout.links
    );
    let svg = layout.to_svg();
    assert!(svg.contains("vlan-c2\" data-vlan=\"10\""), "{svg}");
    let dot = t.to_dot();
    assert!(dot.contains("style=bold, label=\"ge2\""), "{dot}");
    let mermaid = t.to_mermaid();
    assert!(mermaid.contains("===|\"ge2\"|"), "{mermaid}");
    let json = t.to_json().to_string();
    assert!(
        json.contains("\"kind\":\"link\"") && json.contains("\"via\":\"lldp\""),
        "{json}"
    );
    // Without link-layer facts nothing changes: no link edges.
    let plain = devices(&campus(true)[4..]);
    assert!(
        crate::topology::Topology::build(&plain)
            .port_links()
            .is_empty()
    );
}

/// What a host's own LLDP listener tells: it heard a bridge on `eth4`, naming its port.
fn heard(remote_port: &str, description: Option<&str>) -> L2 {
    L2 {
        ports: vec![port(7, "eth4")],
        neighbours: vec![Neighbour {
            port: "eth4".into(),
            source: "lldp".into(),
            chassis_id: "02:77:04:00:00:03".into(),
            chassis_mac: Some(m("02:77:04:00:00:03")),
            remote_port: Some(remote_port.into()),
            remote_port_description: description.map(str::to_owned),
            name: Some("sw1.lab.test".into()),
            description: None,
            address: Some("10.77.4.3".parse().unwrap()),
            capabilities: vec!["bridge".into()],
        }],
        ..Default::default()
    }
}

fn scanner(l2: L2) -> [Observation; 2] {
    [
        o(
            "10.77.4.2",
            Fact::Mac {
                mac: m("02:77:04:00:00:02"),
            },
        ),
        o("10.77.4.2", Fact::L2(Box::new(l2))),
    ]
}

/// A host that heard its switch is on the port the switch names, even where the switch was
/// never read (known only by its address); where it was read, on that port of it, and its
/// forwarding table's entry for the host is not a second link.
#[test]
fn a_host_that_hears_its_switch_is_on_the_port_the_switch_names() {
    let mut obs = vec![o(
        "10.77.4.3",
        Fact::Alive {
            method: "lldp".into(),
            rtt_us: None,
        },
    )];
    obs.extend(scanner(heard("ge1", None)));
    let devs = devices(&obs);
    assert_eq!(
        placed(&devs),
        set(&[("10.77.4.3", "ge1", "10.77.4.2", "lldp")])
    );
    let l = links(&devs);
    assert_eq!(l[0].device_port.as_deref(), Some("eth4"));
    assert_eq!(l[0].port_index, 0, "the switch's ports are not known");

    // A port id that is a MAC says less than the port's description.
    let mut obs = obs[..1].to_vec();
    obs.extend(scanner(heard("02:77:04:00:00:99", Some("ge1"))));
    assert_eq!(
        placed(&devices(&obs)),
        set(&[("10.77.4.3", "ge1", "10.77.4.2", "lldp")])
    );

    // The campus read as well: sw1's ge1, index 1; sw1 learnt the scanner's MAC on ge1 too,
    // which adds no link.
    let mut obs = campus(true);
    obs.extend(scanner(heard("ge1", Some("to the scanner"))));
    let devs = devices(&obs);
    let ip = |id: Uuid| devs.iter().find(|d| d.id == id).unwrap().ips()[0].to_string();
    let to_scanner: Vec<_> = links(&devs)
        .into_iter()
        .filter(|l| ip(l.device) == "10.77.4.2" || ip(l.switch) == "10.77.4.2")
        .collect();
    assert_eq!(to_scanner.len(), 1, "{to_scanner:?}");
    let l = &to_scanner[0];
    assert_eq!(
        (
            ip(l.switch).as_str(),
            l.port.as_str(),
            l.port_index,
            l.source.as_str()
        ),
        ("10.77.4.3", "ge1", 1, "lldp")
    );
}
