use std::collections::BTreeMap;
use std::net::IpAddr;

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;

use super::*;
use crate::model::{Container, PortState, Transport};
use crate::observation::{Fact, Observation, PortFact};

fn t(s: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn mac(s: &str) -> MacAddr {
    s.parse().unwrap()
}

fn obs(ip_: &str, scanner: &str, at: i64, fact: Fact) -> Observation {
    Observation {
        ip: ip(ip_),
        scanner: scanner.into(),
        at: t(at),
        fact,
    }
}

fn open(port: u16) -> Fact {
    Fact::Port(PortFact::state(port, Transport::Tcp, PortState::Open))
}

fn inventory() -> Inventory {
    Inventory::new(InventoryConfig {
        network_id: Uuid::nil(),
        subnets: vec![
            "10.0.0.0/24".parse().unwrap(),
            "10.0.1.0/24".parse().unwrap(),
        ],
    })
}

fn devices(o: &[Observation]) -> Vec<Device> {
    let mut inv = inventory();
    inv.apply_all(o);
    inv.devices()
}

#[test]
fn a_host_name_comes_from_the_most_trusted_source_then_the_latest() {
    let name = |n: &str, source: &str, at| {
        obs(
            "10.0.1.9",
            "x",
            at,
            Fact::Hostname {
                name: n.into(),
                source: source.into(),
            },
        )
    };
    let ptr = name("media.lab.test", "ptr", 1);
    let mdns = name("media.local", "mdns", 5);
    let tls = name("cdn.example.com", "tls", 9);
    let nb = name("MEDIA", "netbios", 7);
    for order in [
        vec![ptr.clone(), mdns.clone(), tls.clone(), nb.clone()],
        vec![tls.clone(), nb.clone(), mdns.clone(), ptr.clone()],
    ] {
        assert_eq!(
            devices(&order)[0].hostname.as_deref(),
            Some("media.lab.test")
        );
    }
    assert_eq!(
        devices(&[tls.clone(), nb.clone(), mdns.clone()])[0]
            .hostname
            .as_deref(),
        Some("media.local"),
        "mDNS over NetBIOS, though NetBIOS was later"
    );
    assert_eq!(
        devices(&[tls.clone(), nb])[0].hostname.as_deref(),
        Some("MEDIA"),
        "anything over a certificate's name"
    );
    // Equal trust: the latest.
    let later = name("media2.lab.test", "ptr", 3);
    assert_eq!(
        devices(&[later, ptr, mdns])[0].hostname.as_deref(),
        Some("media2.lab.test")
    );
}

#[test]
fn ip_without_mac_joins_the_device_holding_it_in_either_order() {
    let a = obs(
        "10.0.0.5",
        "arp",
        1,
        Fact::Mac {
            mac: mac("00:11:32:00:00:05"),
        },
    );
    let b = obs("10.0.0.5", "tcp", 2, open(22));
    for order in [vec![a.clone(), b.clone()], vec![b, a]] {
        let d = devices(&order);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].macs(), vec![mac("00:11:32:00:00:05")]);
        assert_eq!(d[0].services.len(), 1);
        assert_eq!(d[0].services[0].name, "unknown");
        assert_eq!(
            d[0].sources.iter().cloned().collect::<Vec<_>>(),
            ["arp", "tcp"]
        );
        assert_eq!(
            d[0].interfaces[0].subnet,
            Some("10.0.0.0/24".parse().unwrap())
        );
    }
}

#[test]
fn a_mac_with_two_addresses_is_one_device_with_two_interfaces() {
    let m = Fact::Mac {
        mac: mac("00:11:32:00:00:05"),
    };
    let d = devices(&[
        obs("10.0.0.5", "arp", 1, m.clone()),
        obs("10.0.1.5", "arp", 1, m),
    ]);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].ips(), vec![ip("10.0.0.5"), ip("10.0.1.5")]);
    assert!(d[0].merge_reasons.is_empty());
}

#[test]
fn two_macs_stay_apart_unless_an_identity_rule_joins_them() {
    let a = obs(
        "10.0.0.5",
        "arp",
        1,
        Fact::Mac {
            mac: mac("00:11:32:00:00:05"),
        },
    );
    let b = obs(
        "10.0.0.6",
        "arp",
        1,
        Fact::Mac {
            mac: mac("00:11:32:00:00:06"),
        },
    );
    assert_eq!(devices(&[a.clone(), b.clone()]).len(), 2);
    let key = |ip_| {
        obs(
            ip_,
            "tcp",
            2,
            Fact::Identity {
                rule: "ssh-hostkey".into(),
                value: "SHA256:x".into(),
            },
        )
    };
    let d = devices(&[a, b, key("10.0.0.5"), key("10.0.0.6")]);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].macs().len(), 2);
    assert_eq!(d[0].merge_reasons[0].rule, "identity:ssh-hostkey");
}

#[test]
fn a_reassigned_address_follows_its_latest_mac() {
    let d = devices(&[
        obs(
            "10.0.0.9",
            "arp",
            1,
            Fact::Mac {
                mac: mac("00:11:32:00:00:01"),
            },
        ),
        obs(
            "10.0.0.9",
            "arp",
            5,
            Fact::Mac {
                mac: mac("00:11:32:00:00:02"),
            },
        ),
        obs("10.0.0.9", "tcp", 6, open(80)),
    ]);
    assert_eq!(d.len(), 2);
    let with_port: Vec<_> = d.iter().filter(|d| !d.services.is_empty()).collect();
    assert_eq!(with_port.len(), 1);
    assert_eq!(with_port[0].macs(), vec![mac("00:11:32:00:00:02")]);
}

#[test]
fn locally_administered_macs_are_flagged_and_broadcast_is_ignored() {
    let d = devices(&[
        obs(
            "10.0.0.7",
            "arp",
            1,
            Fact::Mac {
                mac: mac("da:a1:19:00:00:07"),
            },
        ),
        obs(
            "10.0.0.8",
            "arp",
            1,
            Fact::Mac {
                mac: mac("ff:ff:ff:ff:ff:ff"),
            },
        ),
    ]);
    assert_eq!(d.len(), 2);
    assert!(d[0].randomized_mac);
    assert!(d[1].macs().is_empty(), "a broadcast MAC names no device");
}

#[test]
fn containers_hang_off_their_docker_host() {
    let c = Container {
        id: "abc".into(),
        name: "web".into(),
        image: "nginx".into(),
        state: "running".into(),
        health: None,
        compose_project: None,
        compose_service: None,
        networks: vec![],
        ports: vec![],
    };
    let d = devices(&[
        obs(
            "10.0.0.2",
            "arp",
            1,
            Fact::Mac {
                mac: mac("00:11:32:00:00:02"),
            },
        ),
        obs("10.0.0.2", "docker", 2, Fact::Container(Box::new(c))),
    ]);
    assert_eq!(d.len(), 2);
    assert_eq!(d[1].device_type, DeviceType::Container);
    assert_eq!(d[1].parent, Some(d[0].id));
    assert_eq!(d[1].label(), "web");
}

#[test]
fn best_identification_wins_and_state_follows_the_latest() {
    let mut p = PortFact::state(80, Transport::Tcp, PortState::Open);
    p.name = Some("http".into());
    p.product = Some("nginx".into());
    p.confidence = Confidence::High;
    p.evidence = "http-server-header".into();
    let mut guess = PortFact::state(80, Transport::Tcp, PortState::Open);
    guess.name = Some("http".into());
    guess.evidence = "port".into();
    let closed = PortFact::state(80, Transport::Tcp, PortState::Closed);
    let d = devices(&[
        obs("10.0.0.3", "tcp", 1, Fact::Port(p)),
        obs("10.0.0.3", "tcp", 3, Fact::Port(guess)),
        obs("10.0.0.3", "tcp", 4, Fact::Port(closed)),
    ]);
    let s = &d[0].services[0];
    assert_eq!(s.product.as_deref(), Some("nginx"));
    assert_eq!(s.state, PortState::Closed);
    assert_eq!((s.first_seen, s.last_seen), (t(1), t(4)));
}

/// Rule 8: a host heard asking DHCP for an address is the device of its MAC at once, and the
/// same device (same id, its name kept) once its MAC is bound to an address.
#[test]
fn a_device_heard_before_it_had_an_address_keeps_its_id_when_it_gets_one() {
    let m = mac("02:77:00:00:01:00");
    let discover = obs(
        "0.0.0.0",
        "listen",
        1,
        Fact::Unaddressed {
            mac: m,
            facts: vec![
                Fact::Hostname {
                    name: "tablet".into(),
                    source: "dhcp".into(),
                },
                // Not a fact about a device with no address: ignored.
                Fact::Gateway,
            ],
        },
    );
    // Facts about the unspecified address itself name nothing.
    let stray = obs("0.0.0.0", "arp", 1, open(80));
    let alone = devices(&[discover.clone(), stray.clone()]);
    assert_eq!(alone.len(), 1, "{alone:?}");
    let d = &alone[0];
    assert_eq!(d.hostname.as_deref(), Some("tablet"));
    assert_eq!(d.macs(), vec![m]);
    assert!(d.ips().is_empty());
    assert_eq!(d.interfaces.len(), 1);
    assert!(d.interfaces[0].ip.is_unspecified());
    assert!(d.services.is_empty());
    assert_eq!(d.device_type, DeviceType::Unknown);

    let request = [
        obs("10.0.0.120", "listen", 4, Fact::Mac { mac: m }),
        obs("10.0.0.120", "listen", 4, open(22)),
    ];
    let mut all = vec![discover, stray];
    all.extend(request.iter().cloned());
    let later = devices(&all);
    assert_eq!(later.len(), 1, "{later:?}");
    let e = &later[0];
    assert_eq!(e.id, d.id);
    assert_eq!(e.hostname.as_deref(), Some("tablet"));
    assert_eq!(e.ips(), vec![ip("10.0.0.120")]);
    assert_eq!(e.interfaces.len(), 1, "{:?}", e.interfaces);
    assert_eq!((e.first_seen, e.last_seen), (t(1), t(4)));
    assert!(e.sources.contains("listen"));
}

#[test]
fn device_ids_are_scoped_by_network() {
    let o = [obs("10.0.0.3", "tcp", 1, open(22))];
    let mut a = Inventory::new(InventoryConfig {
        network_id: Uuid::from_u128(1),
        subnets: vec![],
    });
    let mut b = Inventory::new(InventoryConfig {
        network_id: Uuid::from_u128(2),
        subnets: vec![],
    });
    a.apply_all(&o);
    b.apply_all(&o);
    assert_ne!(a.devices()[0].id, b.devices()[0].id);
}

// ---- properties -------------------------------------------------------------------------

fn arb_ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        (1u8..8).prop_map(|h| IpAddr::from([10, 0, 0, h])),
        (1u8..4).prop_map(|h| IpAddr::from([10, 0, 1, h])),
        (1u16..3).prop_map(|h| IpAddr::from([0xfd00, 0, 0, 0, 0, 0, 0, h])),
    ]
}

fn arb_mac() -> impl Strategy<Value = MacAddr> {
    prop_oneof![
        (0u8..5).prop_map(|b| MacAddr([0x00, 0x11, 0x32, 0, 0, b])),
        (0u8..2).prop_map(|b| MacAddr([0xda, 0xa1, 0x19, 0, 0, b])),
    ]
}

fn arb_fact() -> impl Strategy<Value = Fact> {
    let state = prop_oneof![
        Just(PortState::Open),
        Just(PortState::Closed),
        Just(PortState::Filtered)
    ];
    let name = proptest::option::of(prop_oneof![Just("http".to_owned()), Just("ssh".to_owned())]);
    let conf = prop_oneof![Just(Confidence::Low), Just(Confidence::High)];
    prop_oneof![
        Just(Fact::Alive {
            method: "tcp-open".into(),
            rtt_us: None
        }),
        arb_mac().prop_map(|mac| Fact::Mac { mac }),
        (
            prop_oneof![Just("a"), Just("b")],
            prop_oneof![Just("ptr"), Just("mdns"), Just("tls")]
        )
            .prop_map(|(n, source)| Fact::Hostname {
                name: n.into(),
                source: source.into()
            }),
        prop_oneof![Just("Synology"), Just("Ubiquiti")]
            .prop_map(|v| Fact::Vendor { vendor: v.into() }),
        (
            prop_oneof![Just(22u16), Just(80), Just(443)],
            state,
            name,
            conf
        )
            .prop_map(|(port, state, name, confidence)| {
                let mut p = PortFact::state(port, Transport::Tcp, state);
                p.name = name;
                p.confidence = confidence;
                Fact::Port(p)
            }),
        prop_oneof![Just("k1"), Just("k2")].prop_map(|v| Fact::Identity {
            rule: "ssh-hostkey".into(),
            value: v.into()
        }),
        Just(Fact::Gateway),
        (arb_mac(), prop_oneof![Just("a"), Just("phone")]).prop_map(|(mac, n)| {
            Fact::Unaddressed {
                mac,
                facts: vec![
                    Fact::Hostname {
                        name: n.into(),
                        source: "dhcp".into(),
                    },
                    Fact::Alive {
                        method: "dhcp".into(),
                        rtt_us: None,
                    },
                    Fact::Gateway,
                ],
            }
        }),
        prop_oneof![Just("c1"), Just("c2")].prop_map(|id| Fact::Container(Box::new(Container {
            id: id.into(),
            name: format!("n-{id}"),
            image: "img".into(),
            state: "running".into(),
            health: None,
            compose_project: None,
            compose_service: None,
            networks: vec![],
            ports: vec![],
        }))),
    ]
}

fn arb_obs() -> impl Strategy<Value = Observation> {
    (
        arb_ip(),
        prop_oneof![Just("arp"), Just("tcp")],
        0i64..6,
        arb_fact(),
    )
        .prop_map(|(ip, scanner, at, fact)| Observation {
            ip,
            scanner: scanner.into(),
            at: t(at),
            fact,
        })
}

fn arb_batch() -> impl Strategy<Value = Vec<Observation>> {
    proptest::collection::vec(arb_obs(), 0..40)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn merge_is_idempotent(o in arb_batch()) {
        let once = devices(&o);
        let mut inv = inventory();
        inv.apply_all(&o);
        inv.apply_all(&o);
        prop_assert_eq!(inv.devices(), once);
    }

    #[test]
    fn merge_is_independent_of_order_and_batching(
        o in arb_batch(),
        seed in any::<u64>(),
        cuts in proptest::collection::vec(0usize..40, 0..4),
    ) {
        let reference = devices(&o);
        // A deterministic shuffle from the seed.
        let mut shuffled = o.clone();
        let mut s = seed | 1;
        for i in (1..shuffled.len()).rev() {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            shuffled.swap(i, (s % (i as u64 + 1)) as usize);
        }
        // Applied in batches, looking at the devices between batches.
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(shuffled.len())).collect();
        cuts.sort();
        let mut inv = inventory();
        let mut start = 0;
        for c in cuts.into_iter().chain([shuffled.len()]) {
            inv.apply_all(&shuffled[start..c]);
            let _ = inv.devices();
            start = c;
        }
        prop_assert_eq!(inv.devices(), reference);
    }

    #[test]
    fn merge_loses_no_address_or_port(o in arb_batch()) {
        let d = devices(&o);
        let ips: BTreeSet<IpAddr> = d.iter().flat_map(|d| d.ips()).collect();
        let ports: BTreeSet<(IpAddr, u16)> =
            d.iter().flat_map(|d| d.services.iter().map(|s| (s.ip, s.port))).collect();
        let containers: BTreeSet<String> =
            d.iter().filter_map(|d| d.container.as_ref().map(|c| c.id.clone())).collect();
        let macs: BTreeSet<MacAddr> = d.iter().flat_map(|d| d.macs()).collect();
        for x in &o {
            if let Fact::Unaddressed { mac, .. } = &x.fact {
                prop_assert!(!mac.is_unicast() || macs.contains(mac), "MAC {} lost", mac);
                continue;
            }
            prop_assert!(ips.contains(&x.ip), "address {} lost", x.ip);
            match &x.fact {
                Fact::Port(p) => prop_assert!(ports.contains(&(x.ip, p.port)), "port lost"),
                Fact::Container(c) => prop_assert!(containers.contains(&c.id), "container lost"),
                _ => {}
            }
        }
    }

    #[test]
    fn two_macs_of_one_subnet_share_a_device_only_with_a_reason(o in arb_batch()) {
        for d in devices(&o) {
            let mut by_subnet: BTreeMap<Option<IpNet>, BTreeSet<MacAddr>> = BTreeMap::new();
            for i in &d.interfaces {
                if let Some(m) = i.mac {
                    by_subnet.entry(i.subnet).or_default().insert(m);
                }
            }
            if by_subnet.values().any(|m| m.len() > 1) {
                prop_assert!(!d.merge_reasons.is_empty(), "{:?} joined without a rule", d.macs());
            }
            let uniq: BTreeSet<_> = d.services.iter().map(|s| (s.ip, s.transport, s.port)).collect();
            prop_assert_eq!(uniq.len(), d.services.len(), "a service listed twice");
        }
    }

    #[test]
    fn every_device_id_is_unique(o in arb_batch()) {
        let d = devices(&o);
        let ids: BTreeSet<Uuid> = d.iter().map(|d| d.id).collect();
        prop_assert_eq!(ids.len(), d.len());
    }
}
