use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use super::*;

fn build(inc: &[&str], exc: &[&str]) -> Result<TargetSet, TargetError> {
    TargetSpec::new(inc, exc)?.build(&BTreeMap::new(), &[], false)
}

fn addrs(set: &TargetSet) -> Vec<String> {
    set.iter().map(|a| a.to_string()).collect()
}

#[test]
fn every_contract_form_parses() {
    let cases: &[(&str, u128)] = &[
        ("10.0.0.0/24", 254),
        ("10.0.0.5", 1),
        ("10.0.0.1-50", 50),
        ("10.0.0.1-10.0.1.20", 276),
        ("10.0.0.7/30", 2),
        ("10.0.0.7/31", 2),
        ("10.0.0.7/32", 1),
        ("fd00::/120", 256),
        ("fd00::5", 1),
        ("fd00::1-ff", 255),
        ("fd00::1-fd00::1:0", 65536),
        ("nas.lan", 1),
        ("my-host", 1),
    ];
    for (token, count) in cases {
        let t: Target = token.parse().unwrap_or_else(|e| panic!("{token}: {e}"));
        assert_eq!(t.count(), *count, "{token}");
    }
}

#[test]
fn bad_tokens_are_errors_naming_the_token() {
    for token in [
        "",
        "10.0.0.0/33",
        "10.0.0.300",
        "10.0.0.5-3",
        "10.0.0.1-256",
        "10.0.0.1-fd00::1",
        "fd00::1-10000",
        "-host",
        "host-",
        "a..b",
        "10.0.0",
        "1.2.3.4.5",
        "ho st",
        "10.0.0.1-",
        "x/24",
    ] {
        let err = token.parse::<Target>().expect_err(token);
        assert!(
            err.to_string().contains(&format!("{token:?}")),
            "{err} names {token:?}"
        );
    }
}

#[test]
fn cidr_with_host_bits_means_its_block() {
    assert_eq!(
        "10.0.0.5/24".parse::<Target>().unwrap(),
        Target::Net("10.0.0.0/24".parse().unwrap())
    );
}

#[test]
fn exclusions_remove_addresses() {
    let set = build(&["10.0.0.0/29"], &["10.0.0.2-4", "10.0.0.6"]).unwrap();
    assert_eq!(addrs(&set), ["10.0.0.1", "10.0.0.5"]);
    let set = build(&["10.0.0.1-3", "10.0.0.2-5"], &[]).unwrap();
    assert_eq!(set.len(), 5, "overlaps counted once");
    assert!(build(&["10.0.0.1"], &["10.0.0.1"]).unwrap().is_empty());
}

#[test]
fn an_ipv6_link_is_kept_as_a_link_not_enumerated() {
    for (token, allow_large) in [
        ("fd77::/64", false),
        ("fd77::/64", true),
        ("fd77::/100", false),
        ("fd77::1/64", false),
    ] {
        let spec = TargetSpec::new(&[token], &["fd77::5"]).unwrap();
        let set = spec.build(&BTreeMap::new(), &[], allow_large).unwrap();
        let link: ipnet::Ipv6Net = token.parse::<ipnet::Ipv6Net>().unwrap().trunc();
        assert_eq!(set.links(), [link], "{token}");
        assert_eq!((set.len(), set.iter().count()), (0, 0), "{token}");
        assert!(!set.is_empty());
        assert!(set.contains("fd77::10".parse().unwrap()), "{token}");
        assert!(
            !set.contains("fd77::5".parse().unwrap()),
            "{token}: excluded"
        );
        assert!(!set.contains("fd78::10".parse().unwrap()));
        assert!(!set.contains("10.0.0.1".parse().unwrap()));
    }
    // Larger than a /48, or a range too long to sweep: refused, saying why.
    for (token, allow_large) in [
        ("fd00::/32", true),
        ("::/0", false),
        ("fd77::1-fd77::1:0:0", false),
    ] {
        let spec = TargetSpec::new(&[token], &[] as &[&str]).unwrap();
        let err = spec.build(&BTreeMap::new(), &[], allow_large).unwrap_err();
        assert!(matches!(err, TargetError::Ipv6TooLarge { .. }), "{err}");
        assert!(
            err.to_string().contains("not swept address by address"),
            "{err}"
        );
    }
    // A /108 is a link without --allow-large, swept address by address with it.
    let spec = TargetSpec::new(&["fd77::/108"], &[] as &[&str]).unwrap();
    assert_eq!(
        spec.build(&BTreeMap::new(), &[], false)
            .unwrap()
            .links()
            .len(),
        1
    );
    assert_eq!(
        spec.build(&BTreeMap::new(), &[], true).unwrap().len(),
        1 << 20
    );
}

#[test]
fn large_targets_need_allow_large() {
    let spec = TargetSpec::new(&["10.0.0.0/15"], &[] as &[&str]).unwrap();
    let err = spec.build(&BTreeMap::new(), &[], false).unwrap_err();
    assert!(matches!(err, TargetError::TooLarge { .. }), "{err}");
    assert!(err.to_string().contains("--allow-large"));
    assert_eq!(
        spec.build(&BTreeMap::new(), &[], true).unwrap().len(),
        (1 << 17) - 2
    );
    assert!(build(&["10.0.0.0/16"], &[]).is_ok(), "a /16 is allowed");
    let huge = TargetSpec::new(&["10.0.0.0/7"], &[] as &[&str]).unwrap();
    assert!(matches!(
        huge.build(&BTreeMap::new(), &[], true),
        Err(TargetError::TooManyAddresses { .. })
    ));
}

#[test]
fn host_names_resolve_through_the_caller() {
    let spec = TargetSpec::new(&["nas.lan", "10.0.0.9"], &[] as &[&str]).unwrap();
    assert_eq!(spec.host_names(), ["nas.lan"]);
    let err = spec.build(&BTreeMap::new(), &[], false).unwrap_err();
    assert_eq!(
        err,
        TargetError::Unresolved {
            token: "nas.lan".into()
        }
    );
    let resolved = BTreeMap::from([("nas.lan".to_owned(), vec!["10.0.0.10".parse().unwrap()])]);
    let set = spec.build(&resolved, &[], false).unwrap();
    assert_eq!(addrs(&set), ["10.0.0.9", "10.0.0.10"]);
}

#[test]
fn no_target_means_attached_subnets() {
    let ifaces = vec![
        HostInterface {
            name: "lo".into(),
            up: true,
            loopback: true,
            addrs: vec!["127.0.0.1/8".parse().unwrap()],
        },
        HostInterface {
            name: "eth0".into(),
            up: true,
            loopback: false,
            addrs: vec![
                "192.168.1.20/24".parse().unwrap(),
                "fe80::1/64".parse().unwrap(),
                "2001:db8:1::20/64".parse().unwrap(),
                "ff02::1/64".parse().unwrap(),
            ],
        },
        HostInterface {
            name: "eth1".into(),
            up: false,
            loopback: false,
            addrs: vec!["10.9.0.2/24".parse().unwrap()],
        },
        HostInterface {
            name: "docker0".into(),
            up: true,
            loopback: false,
            addrs: vec!["172.17.0.1/16".parse().unwrap()],
        },
        HostInterface {
            name: "wlan0".into(),
            up: true,
            loopback: false,
            addrs: vec!["169.254.3.3/16".parse().unwrap()],
        },
        HostInterface {
            name: "corp".into(),
            up: true,
            loopback: false,
            addrs: vec!["10.20.30.40/8".parse().unwrap()],
        },
    ];
    let (nets, warnings) = attached_subnets(&ifaces);
    let nets: Vec<String> = nets.iter().map(|n| n.to_string()).collect();
    // IPv4 only (CONTRACT.md): an IPv6 link is scanned when named.
    assert_eq!(nets, ["10.20.0.0/16", "192.168.1.0/24"]);
    assert_eq!(warnings.len(), 1);
    let set = TargetSpec::default()
        .build(
            &BTreeMap::new(),
            &["192.168.1.0/24".parse().unwrap()],
            false,
        )
        .unwrap();
    assert_eq!(set.len(), 254);
}

proptest! {
    #[test]
    fn any_address_parses_to_itself(a in any::<u32>(), b in any::<u128>()) {
        for ip in [IpAddr::V4(Ipv4Addr::from(a)), IpAddr::V6(Ipv6Addr::from(b))] {
            let t: Target = ip.to_string().parse().unwrap();
            prop_assert_eq!(&t, &Target::Range(ip, ip));
            prop_assert_eq!(t.to_string().parse::<Target>().unwrap(), t);
        }
    }

    #[test]
    fn ranges_cover_exactly_their_addresses(a in any::<u32>(), len in 0u32..300) {
        let b = a.saturating_add(len);
        let token = format!("{}-{}", Ipv4Addr::from(a), Ipv4Addr::from(b));
        let t: Target = token.parse().unwrap();
        prop_assert_eq!(t.count(), u128::from(b - a) + 1);
        let set = TargetSpec::new(&[token], &[] as &[&str]).unwrap()
            .build(&BTreeMap::new(), &[], false).unwrap();
        prop_assert_eq!(set.iter().count() as u128, set.len());
        prop_assert!(set.contains(IpAddr::V4(Ipv4Addr::from(a))));
        prop_assert!(set.contains(IpAddr::V4(Ipv4Addr::from(b))));
    }

    #[test]
    fn cidr_blocks_parse_and_print(a in any::<u32>(), p in 16u8..=32) {
        let token = format!("{}/{}", Ipv4Addr::from(a), p);
        let t: Target = token.parse().unwrap();
        let Target::Net(n) = &t else { panic!("{token}") };
        prop_assert!(n.contains(&IpAddr::V4(Ipv4Addr::from(a))));
        prop_assert_eq!(t.to_string().parse::<Target>().unwrap(), t.clone());
    }

    #[test]
    fn exclusion_removes_exactly_what_it_names(a in 0u8..=255, len in 0u8..40, ex in 0u8..=255) {
        let end = a.saturating_add(len);
        let set = build(&[&format!("10.1.2.{a}-{end}")], &[&format!("10.1.2.{ex}")]).unwrap();
        let ex_ip: IpAddr = format!("10.1.2.{ex}").parse().unwrap();
        prop_assert!(!set.contains(ex_ip));
        let expected = u128::from(end - a) + 1 - u128::from(a <= ex && ex <= end);
        prop_assert_eq!(set.len(), expected);
    }

    #[test]
    fn garbage_never_panics(s in "\\PC{0,40}") {
        if let Err(e) = s.parse::<Target>() {
            prop_assert!(!e.to_string().is_empty());
        }
    }
}

#[test]
fn a_target_set_parses_from_tokens_with_exclusions() {
    let set = TargetSet::parse(&["10.0.0.1-4", "!10.0.0.1", " ! 10.0.0.3 "]).unwrap();
    assert_eq!(addrs(&set), ["10.0.0.2", "10.0.0.4"]);
    assert!(matches!(
        TargetSet::parse(&["printer.lan"]),
        Err(TargetError::Unresolved { .. })
    ));
    assert!(matches!(
        TargetSet::parse(&["!10.0.0.1"]),
        Err(TargetError::Invalid { .. })
    ));
    assert!(matches!(
        TargetSet::parse(&[] as &[&str]),
        Err(TargetError::Invalid { .. })
    ));
    assert!(matches!(
        TargetSet::parse(&["10.0.0.0/8"]),
        Err(TargetError::TooLarge { .. })
    ));
    assert!(matches!(
        TargetSet::parse(&["10.0.0.300"]),
        Err(TargetError::Invalid { .. })
    ));
}
