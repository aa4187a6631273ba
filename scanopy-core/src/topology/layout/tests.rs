use std::collections::{BTreeMap, BTreeSet};

use chrono::{TimeZone, Utc};
use ipnet::IpNet;
use proptest::prelude::*;
use uuid::Uuid;

use super::*;
use crate::model::{Container, ContainerNetwork, Device, DeviceType, Interface};

fn device(n: u128, ips: &[(&str, Option<&str>)], t: DeviceType) -> Device {
    let at = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
    Device {
        id: Uuid::from_u128(n),
        hostname: Some(format!("h{n}")),
        vendor: None,
        device_type: t,
        device_type_evidence: None,
        interfaces: ips
            .iter()
            .map(|(ip, s)| Interface {
                ip: ip.parse().unwrap(),
                mac: None,
                subnet: s.map(|s| s.parse::<IpNet>().unwrap()),
            })
            .collect(),
        services: vec![],
        first_seen: at,
        last_seen: at,
        sources: BTreeSet::new(),
        randomized_mac: false,
        parent: None,
        container: None,
        merge_reasons: vec![],
        l2: None,
        os: None,
    }
}

fn container(n: u128, host: u128, nets: &[&str]) -> Device {
    let mut d = device(n, &[], DeviceType::Container);
    d.parent = Some(Uuid::from_u128(host));
    d.container = Some(Container {
        id: format!("c{n}"),
        name: format!("c{n}"),
        image: "busybox".into(),
        state: "running".into(),
        health: None,
        compose_project: None,
        compose_service: None,
        networks: nets
            .iter()
            .enumerate()
            .map(|(i, name)| ContainerNetwork {
                name: (*name).into(),
                ip: Some(format!("172.30.{i}.{}", n % 250 + 2).parse().unwrap()),
            })
            .collect(),
        ports: vec![],
    });
    d
}

fn devices_of(l: &Layout) -> Vec<&PlacedNode> {
    l.nodes
        .iter()
        .filter(|n| matches!(n, PlacedNode::Device { .. }))
        .collect()
}

fn key_of(n: &PlacedNode) -> &str {
    match n {
        PlacedNode::Device { key, .. } => key,
        PlacedNode::More { group, .. } => group,
    }
}

fn overlaps(a: &Group, b: &Group) -> bool {
    a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h
}

/// What every layout holds, whatever the topology: each device drawn once or counted in its
/// group's "more" node; no group or the top row over the cap; cells of one group apart and
/// inside its box; top-level boxes apart; every edge drawn as a link or by containment;
/// everything within the drawing.
fn check(t: &Topology, l: &Layout) {
    let groups: BTreeMap<&str, &Group> = l.groups.iter().map(|g| (g.key.as_str(), g)).collect();
    assert_eq!(groups.len(), l.groups.len(), "group keys are unique");
    let drawn = devices_of(l);
    let more: usize = l
        .nodes
        .iter()
        .map(|n| match n {
            PlacedNode::More { count, .. } => *count,
            PlacedNode::Device { .. } => 0,
        })
        .sum();
    let keys: BTreeSet<&str> = drawn.iter().map(|n| key_of(n)).collect();
    assert_eq!(keys.len(), drawn.len(), "a device is drawn at most once");
    assert_eq!(
        drawn.len() + more,
        l.devices,
        "every device drawn or counted"
    );
    let all: usize = t
        .graph()
        .node_weights()
        .filter(|n| matches!(n, Node::Device { .. }))
        .count();
    assert_eq!(l.devices, all);

    let mut per_group: BTreeMap<Option<&str>, Vec<Point>> = BTreeMap::new();
    for n in &l.nodes {
        let group = match n {
            PlacedNode::Device { group, .. } => group.as_deref(),
            PlacedNode::More { group, .. } if group == TOP_ROW_KEY => None,
            PlacedNode::More { group, .. } => Some(group.as_str()),
        };
        per_group.entry(group).or_default().push(n.at());
        let p = n.at();
        assert!(
            p.x >= 0 && p.x <= l.width && p.y >= 0 && p.y <= l.height,
            "{n:?}"
        );
        if let Some(g) = group {
            let b = groups.get(g).unwrap_or_else(|| panic!("no group {g}"));
            assert!(
                p.x - NODE / 2 >= b.x && p.x + NODE / 2 <= b.x + b.w,
                "{n:?} outside {b:?}"
            );
            assert!(
                p.y - NODE / 2 >= b.y && p.y + NODE / 2 <= b.y + b.h,
                "{n:?} outside {b:?}"
            );
        }
    }
    for (g, points) in &per_group {
        let cells = points.len();
        let devices = l
            .nodes
            .iter()
            .filter(|n| matches!(n, PlacedNode::Device { group, .. } if group.as_deref() == *g))
            .count();
        let key = g.unwrap_or(TOP_ROW_KEY);
        let cap = if l.expanded.iter().any(|e| e == key) {
            l.cap.max(EXPANDED_CAP)
        } else {
            l.cap
        };
        assert!(devices <= cap, "{g:?}: {devices} drawn over the cap {cap}");
        assert!(cells <= cap + 1);
        for (i, a) in points.iter().enumerate() {
            for b in &points[i + 1..] {
                let apart = if g.is_none() {
                    (a.x - b.x).abs() >= GW_SPACING
                } else {
                    (a.x - b.x).abs() >= CELL_W || (a.y - b.y).abs() >= CELL_H
                };
                assert!(apart, "{g:?}: {a:?} and {b:?} overlap");
            }
        }
    }
    let top: Vec<&Group> = l
        .groups
        .iter()
        .filter(|g| g.kind != GroupKind::DockerNetwork)
        .collect();
    for (i, a) in top.iter().enumerate() {
        assert!(a.x >= 0 && a.x + a.w <= l.width && a.y + a.h <= l.height);
        for b in &top[i + 1..] {
            assert!(!overlaps(a, b), "{a:?} and {b:?} overlap");
        }
    }

    check_edges(t, l, &groups);
}

/// Edges: a member edge is containment in the subnet's box or a gateway link to it; a runs
/// edge is containment in the host's Docker box, with a link from the host when it is drawn.
fn check_edges(t: &Topology, l: &Layout, groups: &BTreeMap<&str, &Group>) {
    let drawn = devices_of(l);
    let at: BTreeMap<&str, &PlacedNode> = drawn.iter().map(|n| (key_of(n), *n)).collect();
    let links: BTreeSet<(LinkKind, &str, &str)> = l
        .links
        .iter()
        .map(|k| (k.kind, k.from.as_str(), k.to.as_str()))
        .collect();
    let (_, edges) = t.canonical();
    for (a, b, e) in &edges {
        match e {
            Edge::Member { .. } => {
                let Some(PlacedNode::Device { group, top, .. }) = at.get(a.as_str()) else {
                    continue;
                };
                if *top {
                    assert!(links.contains(&(LinkKind::Gateway, a, b)), "{a} -- {b}");
                } else if let Some(g) = group {
                    let in_docker =
                        g.starts_with("docker-network:") || g.starts_with("containers:");
                    assert!(in_docker || g == b, "{a} in {g}, not {b}");
                }
            }
            Edge::Runs => {
                if let Some(PlacedNode::Device { group, .. }) = at.get(b.as_str()) {
                    let g = group.as_deref().unwrap_or_default();
                    let dnet = groups[g];
                    assert_eq!(dnet.kind, GroupKind::DockerNetwork);
                    let docker = format!("containers:{a}");
                    assert!(groups.contains_key(docker.as_str()), "no box {docker}");
                }
                if at.contains_key(a.as_str()) {
                    let docker = format!("containers:{a}");
                    assert!(
                        links.contains(&(LinkKind::Runs, a.as_str(), docker.as_str())),
                        "{a} runs {b}: no link"
                    );
                }
            }
            Edge::Attached { .. } => {}
            Edge::Link { .. } => {
                if at.contains_key(a.as_str()) && at.contains_key(b.as_str()) {
                    assert!(
                        links.contains(&(LinkKind::Port, a.as_str(), b.as_str())),
                        "{a} port {b}: no link"
                    );
                }
            }
        }
    }
    for k in &l.links {
        assert!(at.contains_key(k.from.as_str()), "a link from {}", k.from);
        if k.kind == LinkKind::Port {
            assert!(at.contains_key(k.to.as_str()), "a port link to {}", k.to);
        } else {
            assert!(groups.contains_key(k.to.as_str()), "a link to {}", k.to);
        }
    }
}

#[test]
fn the_lab_draws_every_device_once_gateway_above_containers_under_their_host() {
    let t = Topology::build(&crate::topology::tests::lab());
    let l = t.layout();
    check(&t, &l);
    assert_eq!(devices_of(&l).len(), l.devices);
    let top: Vec<_> = l
        .nodes
        .iter()
        .filter(|n| matches!(n, PlacedNode::Device { top: true, .. }))
        .collect();
    assert_eq!(top.len(), 1, "the router");
    let subnets: Vec<&Group> = l
        .groups
        .iter()
        .filter(|g| g.kind == GroupKind::Subnet)
        .collect();
    assert_eq!(subnets.len(), 2, "one box per subnet");
    for g in &subnets {
        assert!(top[0].at().y < g.y, "the gateway is above the subnets");
    }
    assert!(l.groups.iter().any(|g| g.kind == GroupKind::Docker));
    let gw_links = l
        .links
        .iter()
        .filter(|k| k.kind == LinkKind::Gateway)
        .count();
    assert_eq!(gw_links, 2, "the gateway links both subnets");
    assert!(l.links.iter().any(|k| k.kind == LinkKind::Runs));
    assert!(l.width >= 300 && l.height >= 200);
}

#[test]
fn the_layout_is_deterministic_and_independent_of_device_order() {
    let mut devices = crate::topology::tests::lab();
    let a = Topology::build(&devices).layout();
    assert_eq!(a, Topology::build(&devices).layout());
    devices.reverse();
    assert_eq!(a, Topology::build(&devices).layout());
    let json = serde_json::to_string(&a).unwrap();
    assert_eq!(
        json,
        serde_json::to_string(&Topology::build(&devices).layout()).unwrap()
    );
}

#[test]
fn a_big_subnet_is_capped_with_a_more_node() {
    let devices: Vec<Device> = (0..500u128)
        .map(|i| {
            let ip = format!("10.0.{}.{}", i >> 8, i & 255);
            device(i + 1, &[(&ip, Some("10.0.0.0/16"))], DeviceType::Server)
        })
        .collect();
    let t = Topology::build(&devices);
    let l = t.layout_capped(24);
    check(&t, &l);
    assert_eq!(l.cap, 24);
    assert_eq!(devices_of(&l).len(), 24);
    let more: Vec<_> = l
        .nodes
        .iter()
        .filter_map(|n| match n {
            PlacedNode::More { group, count, .. } => Some((group.as_str(), *count)),
            PlacedNode::Device { .. } => None,
        })
        .collect();
    assert_eq!(more, vec![("subnet:10.0.0.0/16", 476)]);
    // The lowest addresses are the ones drawn.
    let PlacedNode::Device { ip, .. } = devices_of(&l)[0] else {
        unreachable!()
    };
    assert_eq!(ip.as_deref(), Some("10.0.0.0"));
    // The default cap for one group.
    assert_eq!(t.layout().cap, 240);
}

#[test]
fn a_cluster_opens_on_demand_and_a_focused_device_is_always_drawn() {
    // Two /16s of 500 devices each, capped at 24 per group.
    let devices: Vec<Device> = (0..1000u128)
        .map(|i| {
            let (net, host) = (i % 2, i / 2);
            let ip = format!("10.{net}.{}.{}", host >> 8, host & 255);
            let subnet = format!("10.{net}.0.0/16");
            device(i + 1, &[(&ip, Some(&subnet))], DeviceType::Server)
        })
        .collect();
    let t = Topology::build(&devices);
    let more_of = |l: &Layout| -> Vec<(String, usize)> {
        l.nodes
            .iter()
            .filter_map(|n| match n {
                PlacedNode::More { group, count, .. } => Some((group.clone(), *count)),
                PlacedNode::Device { .. } => None,
            })
            .collect()
    };
    let mut o = LayoutOptions {
        cap: Some(24),
        ..LayoutOptions::default()
    };
    o.expand.insert("subnet:10.1.0.0/16".into());
    let l = t.layout_with(&o);
    check(&t, &l);
    assert_eq!(l.expanded, vec!["subnet:10.1.0.0/16".to_owned()]);
    assert_eq!(
        devices_of(&l).len(),
        24 + 500,
        "the expanded group draws all its 500"
    );
    assert_eq!(more_of(&l), vec![("subnet:10.0.0.0/16".to_owned(), 476)]);

    // The device with the highest address of 10.0.0.0/16 is not among its first 24; focused,
    // it is drawn and the group still draws 24.
    let last = devices[998].id;
    assert!(
        !devices_of(&t.layout_capped(24))
            .iter()
            .any(|n| matches!(n, PlacedNode::Device { id, .. } if *id == last))
    );
    let l = t.layout_with(&LayoutOptions {
        cap: Some(24),
        focus: Some(last),
        ..LayoutOptions::default()
    });
    check(&t, &l);
    assert!(
        devices_of(&l)
            .iter()
            .any(|n| matches!(n, PlacedNode::Device { id, .. } if *id == last))
    );
    assert_eq!(devices_of(&l).len(), 48);
    assert_eq!(
        more_of(&l),
        vec![
            ("subnet:10.0.0.0/16".to_owned(), 476),
            ("subnet:10.1.0.0/16".to_owned(), 476)
        ]
    );
    // Options that ask nothing give the plain layout.
    assert_eq!(
        t.layout_with(&LayoutOptions {
            cap: Some(24),
            ..LayoutOptions::default()
        }),
        t.layout_capped(24)
    );
}

#[test]
fn a_large_network_draws_a_bounded_picture() {
    // 20,000 devices on 50 subnets: the default cap is 2,400 / 50 = 48 per subnet.
    let devices: Vec<Device> = (0..20_000u128)
        .map(|i| {
            let (net, host) = (i % 50, i / 50);
            let ip = format!("10.{net}.{}.{}", host >> 8, host & 255);
            let subnet = format!("10.{net}.0.0/16");
            device(i + 1, &[(&ip, Some(&subnet))], DeviceType::Computer)
        })
        .collect();
    let t = Topology::build(&devices);
    let l = t.layout();
    assert_eq!(l.cap, 48);
    assert_eq!(l.devices, 20_000);
    assert_eq!(devices_of(&l).len(), 50 * 48);
    assert_eq!(l.nodes.len(), 50 * 49, "one 'more' node per subnet");
    assert_eq!(l.groups.len(), 50);
    check(&t, &l);
}

#[test]
fn many_gateways_are_capped_in_the_top_row() {
    let devices: Vec<Device> = (0..40u128)
        .map(|i| {
            let a = format!("10.1.0.{}", i + 1);
            let b = format!("10.2.0.{}", i + 1);
            device(
                i + 1,
                &[(&a, Some("10.1.0.0/24")), (&b, Some("10.2.0.0/24"))],
                DeviceType::Unknown,
            )
        })
        .collect();
    let t = Topology::build(&devices);
    let l = t.layout_capped(10);
    check(&t, &l);
    assert_eq!(devices_of(&l).len(), 10);
    assert!(
        l.nodes.iter().any(
            |n| matches!(n, PlacedNode::More { group, count: 30, .. } if group == TOP_ROW_KEY)
        )
    );
}

#[test]
fn an_empty_topology_still_has_a_drawable_size() {
    let l = Topology::build(&[]).layout();
    assert!(l.nodes.is_empty() && l.groups.is_empty() && l.links.is_empty());
    assert!(l.width >= 300 && l.height >= 200);
    assert_eq!(grid(0, 10), (1, 0));
    assert_eq!(grid(7, 10), (4, 2));
    assert_eq!(grid(1000, 10), (10, 100));
    assert_eq!(default_cap(&Topology::build(&[])), 240);
}

/// A small arbitrary network: devices on some of four subnets (IPv4 and IPv6), some of them
/// Docker hosts with containers on some of three networks, or none.
fn arb_devices() -> impl Strategy<Value = Vec<Device>> {
    const SUBNETS: [(&str, &str); 4] = [
        ("10.0.0.0/24", "10.0.0."),
        ("10.0.1.0/24", "10.0.1."),
        ("192.168.0.0/16", "192.168.7."),
        ("fd00::/64", "fd00::"),
    ];
    let one = (
        proptest::collection::vec((0usize..5, 1u8..250), 0..3),
        0usize..15,
        proptest::option::of(0u128..12),
        proptest::collection::vec(0usize..3, 0..3),
    );
    proptest::collection::vec(one, 0..40).prop_map(|specs| {
        specs
            .into_iter()
            .enumerate()
            .map(|(i, (ifaces, t, parent, nets))| {
                let n = i as u128 + 1;
                let types = DeviceType::ALL;
                let t = types[t % types.len()];
                match parent {
                    Some(p) if p + 1 != n => {
                        let names = ["bridge", "app_default", "db"];
                        let nets: Vec<&str> = nets.iter().map(|j| names[*j]).collect();
                        container(n, p + 1, &nets)
                    }
                    _ => {
                        let ips: Vec<(String, Option<&str>)> = ifaces
                            .iter()
                            .map(|(s, host)| match SUBNETS.get(*s) {
                                Some((net, base)) => (format!("{base}{host}"), Some(*net)),
                                None => (format!("172.16.9.{host}"), None),
                            })
                            .collect();
                        let refs: Vec<(&str, Option<&str>)> =
                            ips.iter().map(|(a, s)| (a.as_str(), *s)).collect();
                        device(n, &refs, t)
                    }
                }
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any small network lays out without panicking, holds every invariant of [`check`] for
    /// any cap, and does not depend on the devices' order.
    #[test]
    fn any_small_network_lays_out(mut devices in arb_devices(), cap in 1usize..6) {
        let t = Topology::build(&devices);
        let l = t.layout_capped(cap);
        check(&t, &l);
        let _ = l.to_svg();
        devices.reverse();
        prop_assert_eq!(&l, &Topology::build(&devices).layout_capped(cap));
    }
}
