use proptest::prelude::*;

use super::*;

/// Runs [`PROGRAM`] over `frame` as the kernel would (the opcodes it uses only), with the
/// packet type `pkttype`; the number of bytes accepted.
fn run(frame: &[u8], pkttype: u32) -> u32 {
    let (mut a, mut x, mut pc) = (0u32, 0u32, 0usize);
    let load = |at: u32, n: usize| -> Option<u32> {
        let at = usize::try_from(at).ok()?;
        let b = frame.get(at..at + n)?;
        Some(b.iter().fold(0u32, |v, b| (v << 8) | u32::from(*b)))
    };
    loop {
        let (code, jt, jf, k) = PROGRAM[pc];
        pc += 1;
        match code {
            LD_W_ABS if k == PKTTYPE => a = pkttype,
            LD_W_ABS => match load(k, 4) {
                Some(v) => a = v,
                None => return 0,
            },
            LD_H_ABS => match load(k, 2) {
                Some(v) => a = v,
                None => return 0,
            },
            LD_B_ABS => match load(k, 1) {
                Some(v) => a = v,
                None => return 0,
            },
            LDX_B_MSH => match load(k, 1) {
                Some(v) => x = (v & 0xf) * 4,
                None => return 0,
            },
            LD_H_IND => match load(x + k, 2) {
                Some(v) => a = v,
                None => return 0,
            },
            JEQ => pc += usize::from(if a == k { jt } else { jf }),
            JGT => pc += usize::from(if a > k { jt } else { jf }),
            JSET => pc += usize::from(if a & k != 0 { jt } else { jf }),
            RET => return k,
            other => panic!("opcode {other:#x} not interpreted"),
        }
    }
}

fn udp_frame(dport: u16, frag: u16) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x08, 0x00]);
    f.extend_from_slice(&[0x45, 0, 0, 28, 0, 0]);
    f.extend_from_slice(&frag.to_be_bytes());
    f.extend_from_slice(&[64, 17, 0, 0, 10, 0, 0, 1, 255, 255, 255, 255]);
    f.extend_from_slice(&[0, 68]);
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&[0, 8, 0, 0]);
    f
}

#[test]
fn the_filter_lets_through_arp_dhcp_lldp_and_cdp_only() {
    let arp = arp::request_frame(
        MacAddr([2, 0, 0, 0, 0, 1]),
        Ipv4Addr::new(10, 0, 0, 1),
        Ipv4Addr::new(10, 0, 0, 2),
    );
    assert_eq!(run(&arp, 0), 65_535);
    assert_eq!(run(&udp_frame(67, 0), 0), 65_535);
    assert_eq!(
        run(&udp_frame(68, 0x4000), 1),
        65_535,
        "don't-fragment is fine"
    );
    assert_eq!(run(&udp_frame(53, 0), 0), 0);
    assert_eq!(run(&udp_frame(5353, 0), 0), 65_535, "mDNS");
    assert_eq!(run(&udp_frame(5354, 0), 0), 0);
    assert_eq!(run(&udp_frame(67, 0x0010), 0), 0, "a later fragment");
    assert_eq!(run(&arp, OUTGOING), 0, "what this machine sends");
    let mut tcp = udp_frame(67, 0);
    tcp[23] = 6;
    assert_eq!(run(&tcp, 0), 0);
    let mut v6 = arp.to_vec();
    v6[12..14].copy_from_slice(&[0x86, 0xdd]);
    assert_eq!(run(&v6, 0), 0);
    // LLDP and CDP from a switch; not when sent by this machine; an 802.3 frame to another
    // group address is not CDP.
    let lldp_frame = crate::lldp::tests::lldp_frame();
    let cdp_frame = crate::lldp::tests::cdp_frame();
    assert_eq!(run(&lldp_frame, 0), 65_535);
    assert_eq!(run(&cdp_frame, 0), 65_535);
    assert_eq!(run(&lldp_frame, OUTGOING), 0);
    let mut stp = cdp_frame.clone();
    stp[..6].copy_from_slice(&[0x01, 0x80, 0xc2, 0, 0, 0]);
    assert_eq!(run(&stp, 0), 0, "spanning tree");
    let mut odd = cdp_frame.clone();
    odd[12..14].copy_from_slice(&[0x90, 0x00]);
    assert_eq!(run(&odd, 0), 0, "an ethertype to CDP's group");
    // ICMPv6: a router solicitation and a neighbour advertisement, not an echo or MLD.
    let ll: std::net::Ipv6Addr = "fe80::77:ff:fe00:150".parse().unwrap();
    let rs = crate::ndp::router_solicitation_frame(MacAddr([2, 0x77, 0, 0, 1, 0x50]), ll);
    assert_eq!(run(&rs, 0), 65_535, "router solicitation");
    assert_eq!(run(&rs, OUTGOING), 0);
    let mut na = rs.clone();
    na[54] = 136;
    assert_eq!(run(&na, 0), 65_535, "neighbour advertisement");
    for t in [128, 131, 137, 143] {
        let mut other = rs.clone();
        other[54] = t;
        assert_eq!(run(&other, 0), 0, "ICMPv6 type {t}");
    }
    let mut hop_by_hop = rs.clone();
    hop_by_hop[20] = 0;
    assert_eq!(run(&hop_by_hop, 0), 0, "an extension header (MLD)");
    // DHCPv6 from a client; not a server's answer to it.
    let sol = crate::dhcp6::tests::frame(
        [2, 0x77, 0, 0, 1, 0x60],
        ll,
        &crate::dhcp6::tests::solicit(),
    );
    assert_eq!(run(&sol, 0), 65_535, "DHCPv6 solicit");
    let mut to_client = sol.clone();
    to_client[14 + 40 + 2..14 + 40 + 4].copy_from_slice(&546u16.to_be_bytes());
    assert_eq!(run(&to_client, 0), 0, "to the client port");
    let mut tcp6 = sol.clone();
    tcp6[20] = 6;
    assert_eq!(run(&tcp6, 0), 0, "TCP over IPv6");
    assert_eq!(filter().len(), PROGRAM.len());
}

#[test]
fn a_host_soliciting_routers_is_alive_at_its_link_local_address_once_a_minute() {
    let mut p = Passive::new(PassiveLimits::default());
    let now = Instant::now();
    let mac = MacAddr([2, 0x77, 0, 0, 1, 0x51]);
    let ll: std::net::Ipv6Addr = "fe80::77:ff:fe00:151".parse().unwrap();
    let frame = crate::ndp::router_solicitation_frame(mac, ll);
    let Some(h @ Heard::Ndp(_)) = parse(&frame, 3) else {
        panic!("not heard as NDP");
    };
    assert_eq!(source(&h), "passive-ndp");
    let facts = p.hear(&h, now);
    let at = IpAddr::V6(ll);
    assert!(facts.iter().all(|(a, _)| *a == at), "{facts:?}");
    assert!(facts.contains(&(at, Fact::Mac { mac })));
    assert!(
        facts
            .iter()
            .any(|(_, f)| matches!(f, Fact::Alive { method, .. } if method == "passive-ndp"))
    );
    assert!(!facts.iter().any(|(_, f)| matches!(f, Fact::Gateway)));
    // Again within the minute: nothing, and no budget spent.
    for _ in 0..50 {
        assert!(p.hear(&h, now + Duration::from_secs(1)).is_empty());
    }
    assert_eq!(p.dropped(), 0);
    assert!(!p.hear(&h, now + NDP_REFRESH).is_empty());
}

fn own() -> Vec<OwnInterface> {
    vec![
        OwnInterface {
            index: 2,
            name: "eth0".into(),
            mac: Some(MacAddr([2, 0x77, 0, 0, 0, 2])),
            ipv4: Some(Ipv4Addr::new(10, 77, 0, 2)),
        },
        OwnInterface {
            index: 7,
            name: "eth4".into(),
            mac: Some(MacAddr([2, 0x77, 4, 0, 0, 2])),
            ipv4: Some(Ipv4Addr::new(10, 77, 4, 2)),
        },
    ]
}

fn lldp_heard(ifindex: u32) -> Heard {
    parse(&crate::lldp::tests::lldp_frame(), ifindex).expect("an LLDP frame")
}

/// A switch heard on eth4: this machine's link layer (eth4, the switch's ge1) at its eth4
/// address, and the switch at its management address; the same frame again tells nothing
/// new; once its TTL ran out, eth4 has nobody.
#[test]
fn a_switch_heard_tells_where_this_machine_is_plugged_in() {
    let mut p = Passive::new(PassiveLimits::default());
    p.set_interfaces(own());
    let t0 = Instant::now();
    let facts = p.hear(&lldp_heard(7), t0);
    let at = |ip: &str| -> Vec<&Fact> {
        let ip: IpAddr = ip.parse().unwrap();
        facts
            .iter()
            .filter(|(i, _)| *i == ip)
            .map(|(_, f)| f)
            .collect()
    };
    let switch = at("10.77.4.3");
    assert!(
        switch
            .iter()
            .any(|f| matches!(f, Fact::Alive { method, .. } if method == "lldp"))
    );
    assert!(switch.iter().any(|f| matches!(f, Fact::Hostname { name, source } if name == "sclan-sw1[2J" && source == "lldp")));
    assert!(switch.iter().any(|f| matches!(
        f,
        Fact::DeviceType {
            device_type: scanopy_core::DeviceType::Switch,
            ..
        }
    )));
    let me = at("10.77.4.2");
    assert!(
        me.iter()
            .any(|f| matches!(f, Fact::Mac { mac } if *mac == MacAddr([2, 0x77, 4, 0, 0, 2])))
    );
    let l2 = me
        .iter()
        .find_map(|f| match f {
            Fact::L2(l) => Some(l.clone()),
            _ => None,
        })
        .expect("this machine's link layer");
    assert_eq!(l2.ports.len(), 1);
    assert_eq!((l2.ports[0].index, l2.ports[0].name.as_str()), (7, "eth4"));
    assert_eq!(l2.ports[0].vlan, Some(20));
    assert_eq!(l2.neighbours.len(), 1);
    let n = &l2.neighbours[0];
    assert_eq!(n.port, "eth4");
    assert_eq!(n.remote_port.as_deref(), Some("ge1"));
    assert_eq!(n.chassis_mac, Some(MacAddr([2, 0x77, 4, 0, 0, 3])));
    assert!(n.is_bridge());
    assert!(facts.iter().all(|(ip, _)| ip.to_string() != "10.77.0.2"));

    // The same frame 30 s later: nothing new to tell.
    assert!(
        p.hear(&lldp_heard(7), t0 + Duration::from_secs(30))
            .is_empty()
    );
    assert!(p.tick(t0 + Duration::from_secs(60)).is_empty());
    // Its TTL (120 s) runs out: eth4 is told again, with nobody on it.
    let gone = p.tick(t0 + Duration::from_secs(151));
    let l2 = gone
        .iter()
        .find_map(|(ip, f)| match f {
            Fact::L2(l) if ip.to_string() == "10.77.4.2" => Some(l.clone()),
            _ => None,
        })
        .expect("told again");
    assert!(l2.neighbours.is_empty());
    assert_eq!(l2.ports.len(), 1);
    assert_eq!(p.neighbours(), 0);
    assert!(p.tick(t0 + Duration::from_secs(160)).is_empty());
}

/// Thousands of announcements with random chassis ids from random MACs: the neighbours kept
/// and the facts told stay bounded.
#[test]
fn an_lldp_flood_is_bounded() {
    let mut p = Passive::new(PassiveLimits::default());
    p.set_interfaces(own());
    let t0 = Instant::now();
    let mut told = 0usize;
    for i in 0..5000u32 {
        let mut f = crate::lldp::tests::lldp_frame();
        let b = i.to_be_bytes();
        // The source MAC and the chassis id's last bytes.
        f[8..12].copy_from_slice(&b);
        f[18..22].copy_from_slice(&b);
        let h = parse(&f, 7).expect("still LLDP");
        told += p.hear(&h, t0 + Duration::from_millis(u64::from(i))).len();
    }
    assert!(p.neighbours() <= MAX_NEIGHBOURS);
    assert!(
        p.neighbours() <= PassiveLimits::default().new_burst as usize + 10,
        "{}",
        p.neighbours()
    );
    assert!(told < 1000, "{told} facts");
    assert!(p.untracked() > 4000);
}

fn discover(mac: [u8; 6], kind: u8, requested: Option<[u8; 4]>) -> dhcp::Message {
    let mut b = vec![0u8; 240];
    b[..4].copy_from_slice(&[1, 1, 6, 0]);
    b[28..34].copy_from_slice(&mac);
    b[236..240].copy_from_slice(&[99, 130, 83, 99]);
    b.extend_from_slice(&[53, 1, kind]);
    if let Some(r) = requested {
        b.extend_from_slice(&[50, 4]);
        b.extend_from_slice(&r);
    }
    b.extend_from_slice(&[12, 5]);
    b.extend_from_slice(b"phone");
    b.extend_from_slice(&[60, 15]);
    b.extend_from_slice(b"android-dhcp-13");
    b.extend_from_slice(&[55, 3, 1, 3, 6, 255]);
    dhcp::parse(&b).unwrap()
}

#[test]
fn a_dhcp_client_is_named_and_typed_at_the_address_it_asks_for() {
    let mut p = Passive::new(PassiveLimits::default());
    let now = Instant::now();
    let mac = [2, 0x77, 0, 0, 0, 0x50];
    // A DISCOVER without an address: the device of its MAC, at once, with what it said.
    let d = discover(mac, 1, None);
    let facts = p.hear(&Heard::Dhcp(MacAddr(mac), Box::new(d)), now);
    let [(at, Fact::Unaddressed { mac: m, facts })] = facts.as_slice() else {
        panic!("{facts:?}");
    };
    assert!(at.is_unspecified());
    assert_eq!(*m, MacAddr(mac));
    assert!(facts.iter().any(
        |f| matches!(f, Fact::Hostname { name, source } if name == "phone" && source == "dhcp")
    ));
    assert!(
        facts
            .iter()
            .any(|f| matches!(f, Fact::Os(h) if h.name.as_deref() == Some("Android"))),
        "{facts:?}"
    );
    assert!(!facts.iter().any(|f| matches!(f, Fact::Mac { .. })));
    let r = discover(mac, 3, Some([10, 77, 0, 120]));
    let facts = p.hear(&Heard::Dhcp(MacAddr(mac), Box::new(r)), now);
    let ip: IpAddr = "10.77.0.120".parse().unwrap();
    assert!(facts.iter().all(|(a, _)| *a == ip));
    assert!(facts.iter().any(
        |(_, f)| matches!(f, Fact::Hostname { name, source } if name == "phone" && source == "dhcp")
    ));
    assert!(facts.iter().any(|(_, f)| matches!(f, Fact::Os(h) if h.name.as_deref() == Some("Android") && h.evidence.contains("1,3,6"))), "{facts:?}");
    assert!(
        facts
            .iter()
            .any(|(_, f)| matches!(f, Fact::Alive { method, .. } if method == "dhcp"))
    );
}

#[test]
fn a_mac_flood_is_counted_not_followed() {
    let limits = PassiveLimits {
        max_macs: 100,
        per_mac: 3,
        new_burst: 1000,
        new_per_minute: 60,
    };
    let mut p = Passive::new(limits);
    let now = Instant::now();
    let mut observed = 0;
    for i in 0..10_000u32 {
        let b = i.to_be_bytes();
        let a = ArpFrame {
            operation: 1,
            sender_mac: MacAddr([2, 0xee, b[0], b[1], b[2], b[3]]),
            sender_ip: Ipv4Addr::new(10, 99, b[2], b[3]),
            target_ip: Ipv4Addr::new(10, 99, 0, 1),
        };
        observed += usize::from(!p.hear(&Heard::Arp(a), now).is_empty());
    }
    assert_eq!((observed, p.tracked(), p.untracked()), (100, 100, 9_900));
    // One chatty MAC: its budget a minute, then again the next minute.
    let a = ArpFrame {
        operation: 2,
        sender_mac: MacAddr([2, 0xee, 0, 0, 0, 5]),
        sender_ip: Ipv4Addr::new(10, 99, 0, 5),
        target_ip: Ipv4Addr::new(10, 99, 0, 1),
    };
    let heard: Vec<bool> = (0..5)
        .map(|_| !p.hear(&Heard::Arp(a), now).is_empty())
        .collect();
    assert_eq!(
        heard,
        [true, true, false, false, false],
        "one was used above"
    );
    assert!(
        !p.hear(&Heard::Arp(a), now + Duration::from_secs(61))
            .is_empty()
    );
}

#[test]
fn new_macs_are_taken_at_a_bounded_rate() {
    let mut p = Passive::new(PassiveLimits {
        new_burst: 10,
        new_per_minute: 60,
        ..PassiveLimits::default()
    });
    let t0 = Instant::now();
    let arp = |i: u32| {
        let b = i.to_be_bytes();
        Heard::Arp(ArpFrame {
            operation: 1,
            sender_mac: MacAddr([2, 0xaa, b[0], b[1], b[2], b[3]]),
            sender_ip: Ipv4Addr::new(10, 98, b[2], b[3]),
            target_ip: Ipv4Addr::new(10, 98, 0, 1),
        })
    };
    // A burst of 10 at once, then one a second.
    let first: usize = (0..100)
        .map(|i| usize::from(!p.hear(&arp(i), t0).is_empty()))
        .sum();
    assert_eq!(first, 10);
    let later: usize = (100..200)
        .map(|i| usize::from(!p.hear(&arp(i), t0 + Duration::from_secs(5)).is_empty()))
        .sum();
    assert_eq!(later, 5, "five seconds at one a second");
    assert_eq!(p.untracked(), 185);
    // A MAC already followed is not held back by the rate of new ones.
    assert!(!p.hear(&arp(0), t0 + Duration::from_secs(5)).is_empty());
    // After ten minutes quiet, followed MACs make room when the table is full.
    let mut q = Passive::new(PassiveLimits {
        max_macs: 3,
        new_burst: 100,
        ..PassiveLimits::default()
    });
    for i in 0..3 {
        assert!(!q.hear(&arp(i), t0).is_empty());
    }
    assert!(q.hear(&arp(3), t0 + Duration::from_secs(60)).is_empty());
    assert!(!q.hear(&arp(4), t0 + Duration::from_secs(700)).is_empty());
    assert_eq!(q.tracked(), 1);
}

proptest! {
    #[test]
    fn any_frame_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400), pkttype in 0u32..8) {
        let _ = run(&bytes, pkttype);
        if let Some(h) = parse(&bytes, 7) {
            let mut p = Passive::new(PassiveLimits::default());
            p.set_interfaces(own());
            let now = Instant::now();
            let _ = p.hear(&h, now);
            let _ = p.tick(now + Duration::from_secs(3600));
        }
    }
}

/// An mDNS response from 10.77.3.30 (02:77:00:03:00:30), port 5353 to 224.0.0.251:5353,
/// carrying `records` (name, type, rdata), names uncompressed.
fn mdns_frame(records: &[(&str, u16, Vec<u8>)]) -> Vec<u8> {
    let mut dns = vec![0, 0, 0x84, 0, 0, 0];
    dns.extend_from_slice(&(records.len() as u16).to_be_bytes());
    dns.extend_from_slice(&[0, 0, 0, 0]);
    for (n, t, rdata) in records {
        dns.extend(dns_name(n));
        dns.extend_from_slice(&t.to_be_bytes());
        dns.extend_from_slice(&[0x80, 1, 0, 0, 0x11, 0x94]);
        dns.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        dns.extend_from_slice(rdata);
    }
    let mut f = vec![
        0x01, 0x00, 0x5e, 0, 0, 0xfb, 2, 0x77, 0, 3, 0, 0x30, 0x08, 0x00,
    ];
    let total = (20 + 8 + dns.len()) as u16;
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&total.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0x40, 0, 255, 17, 0, 0, 10, 77, 3, 30, 224, 0, 0, 251]);
    f.extend_from_slice(&[0x14, 0xe9, 0x14, 0xe9]);
    f.extend_from_slice(&((8 + dns.len()) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend(dns);
    f
}

fn dns_name(n: &str) -> Vec<u8> {
    let mut v = Vec::new();
    for l in n.split('.') {
        v.push(l.len() as u8);
        v.extend_from_slice(l.as_bytes());
    }
    v.push(0);
    v
}

/// A printer's responder announcing itself (its name, its IPP instance with a model): heard,
/// it is named, typed and its 5353/udp service noted; the same announcement again tells
/// nothing new; a query (not a response) is not heard.
#[test]
fn an_mdns_announcement_names_and_types_its_sender() {
    let inst = "Office Printer._ipp._tcp.local";
    let mut srv = vec![0, 0, 0, 0, 0x02, 0x77];
    srv.extend(dns_name("media.local"));
    let txt: Vec<u8> = ["txtvers=1", "ty=Scanopy LabJet 400"]
        .iter()
        .flat_map(|s| std::iter::once(s.len() as u8).chain(s.bytes()))
        .collect();
    let frame = mdns_frame(&[
        (
            "30.3.77.10.in-addr.arpa",
            crate::mdns::PTR,
            dns_name("media.local"),
        ),
        ("_ipp._tcp.local", crate::mdns::PTR, dns_name(inst)),
        (inst, crate::mdns::SRV, srv),
        (inst, crate::mdns::TXT, txt),
    ]);
    assert_eq!(run(&frame, 0), 65_535, "the filter takes it");
    let heard = parse(&frame, 3).expect("an mDNS response");
    assert_eq!(source(&heard), "mdns");
    let mut p = Passive::new(PassiveLimits::default());
    let t0 = Instant::now();
    let facts = p.hear(&heard, t0);
    let ip: IpAddr = "10.77.3.30".parse().unwrap();
    assert!(facts.iter().all(|(i, _)| *i == ip));
    let has = |f: &dyn Fn(&Fact) -> bool| facts.iter().any(|(_, x)| f(x));
    assert!(has(
        &|f| matches!(f, Fact::Hostname { name, source } if name == "media.local" && source == "mdns")
    ));
    assert!(has(&|f| matches!(
        f,
        Fact::DeviceType {
            device_type: scanopy_core::DeviceType::Printer,
            ..
        }
    )));
    assert!(has(
        &|f| matches!(f, Fact::Alive { method, .. } if method == "mdns")
    ));
    assert!(has(&|f| matches!(f, Fact::Port(p) if p.port == 5353
        && p.extra.get("mdns.model").map(String::as_str) == Some("Scanopy LabJet 400")
        && p.evidence == "mdns-heard")));
    assert!(
        p.hear(&heard, t0 + Duration::from_secs(5)).is_empty(),
        "nothing new"
    );
    // A query from the same host: QR clear, not a response.
    let mut q = frame.clone();
    q[14 + 20 + 8 + 2] = 0;
    assert_eq!(parse(&q, 3), None);
}

proptest! {
    /// A real mDNS frame with bytes changed or cut: parsing and hearing it never panic, and
    /// what is kept stays bounded.
    #[test]
    fn damaged_mdns_frames_never_panic(flips in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 0..8),
                                       cut in any::<proptest::sample::Index>()) {
        let inst = "Office Printer._ipp._tcp.local";
        let mut f = mdns_frame(&[
            ("30.3.77.10.in-addr.arpa", crate::mdns::PTR, dns_name("media.local")),
            ("_ipp._tcp.local", crate::mdns::PTR, dns_name(inst)),
        ]);
        for (i, x) in flips {
            let i = i.index(f.len());
            f[i] ^= x;
        }
        f.truncate(cut.index(f.len() + 1));
        if let Some(h) = parse(&f, 3) {
            let mut p = Passive::new(PassiveLimits::default());
            let facts = p.hear(&h, Instant::now());
            prop_assert!(facts.len() <= 8);
        }
    }
}

#[test]
fn a_dhcpv6_client_is_alive_at_its_link_local_address_and_named() {
    let mut p = Passive::new(PassiveLimits::default());
    let now = Instant::now();
    let mac = [0x02, 0x77, 0, 0, 1, 0x60];
    let ll: std::net::Ipv6Addr = "fe80::77:ff:fe00:160".parse().unwrap();
    let f = crate::dhcp6::tests::frame(mac, ll, &crate::dhcp6::tests::solicit());
    let Some(h @ Heard::Dhcp6(..)) = parse(&f, 3) else {
        panic!("not heard as DHCPv6");
    };
    assert_eq!(source(&h), "dhcp6");
    let facts = p.hear(&h, now);
    let at = IpAddr::V6(ll);
    assert!(
        facts.contains(&(at, Fact::Mac { mac: MacAddr(mac) })),
        "{facts:?}"
    );
    assert!(
        facts
            .iter()
            .any(|(a, f)| *a == at && matches!(f, Fact::Alive { method, .. } if method == "dhcp6"))
    );
    let said = facts
        .iter()
        .find_map(|(a, f)| match f {
            Fact::Unaddressed { mac: m, facts } if a.is_unspecified() && *m == MacAddr(mac) => {
                Some(facts)
            }
            _ => None,
        })
        .expect("its name told for its MAC");
    assert!(said.iter().any(
        |f| matches!(f, Fact::Hostname { name, source } if name == "desktop-7" && source == "dhcp")
    ));
    assert!(
        said.iter()
            .any(|f| matches!(f, Fact::Os(h) if h.family == "Windows")),
        "{said:?}"
    );
}
