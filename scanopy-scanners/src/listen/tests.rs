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
fn the_filter_lets_through_arp_and_dhcp_only() {
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
    assert_eq!(run(&udp_frame(67, 0x0010), 0), 0, "a later fragment");
    assert_eq!(run(&arp, OUTGOING), 0, "what this machine sends");
    let mut tcp = udp_frame(67, 0);
    tcp[23] = 6;
    assert_eq!(run(&tcp, 0), 0);
    let mut v6 = arp.to_vec();
    v6[12..14].copy_from_slice(&[0x86, 0xdd]);
    assert_eq!(run(&v6, 0), 0);
    assert_eq!(filter().len(), PROGRAM.len());
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
    // A DISCOVER without an address: remembered, nothing observed yet.
    let d = discover(mac, 1, None);
    assert!(
        p.hear(&Heard::Dhcp(MacAddr(mac), Box::new(d)), now)
            .is_empty()
    );
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
        if let Some(h) = parse(&bytes) {
            let mut p = Passive::new(PassiveLimits::default());
            let _ = p.hear(&h, Instant::now());
        }
    }
}
