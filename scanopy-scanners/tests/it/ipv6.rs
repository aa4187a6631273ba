//! IPv6 on the test LAN (fd77::/64, radvd on the router, SLAAC on the hosts): the ndp scanner
//! finds a link's hosts by multicast, joins their IPv6 and IPv4 addresses by MAC, and the
//! per-host scanners identify and name them over IPv6.

use std::net::IpAddr;

use scanopy_core::{DeviceType, PortState};
use scanopy_scanners::{ArpScanner, NdpScanner, TcpScanner};
use scanopy_testlan::{IPV6_LAN, LAN, QUIET, ROUTER, SSH, SSH_SLAAC, SVC, WEB, WEB_V6, require};

use super::{device, lan_names, scan};

#[test]
fn testlan_ndp_finds_a_links_hosts_joins_them_by_mac_and_scans_them_over_ipv6() {
    if !require("testlan_ndp_finds_a_links_hosts_joins_them_by_mac_and_scans_them_over_ipv6") {
        return;
    }
    let (devices, warnings) = scan(
        &[IPV6_LAN, LAN],
        "22,80",
        vec![
            Box::new(ArpScanner::default()),
            Box::new(NdpScanner::default()),
            Box::new(TcpScanner::default()),
            Box::new(lan_names()),
        ],
    );
    assert!(warnings.is_empty(), "{warnings:?}");
    // ssh has only link-local and SLAAC addresses: found by the multicast echo, one device with
    // its IPv4 address (one MAC), OpenSSH identified on the SLAAC address, named by ip6.arpa.
    let slaac = IpAddr::V6(SSH_SLAAC);
    let ssh = device(&devices, slaac);
    let ips = ssh.ips();
    assert!(ips.contains(&SSH.addr()), "{ips:?}");
    assert!(
        ips.iter()
            .any(|ip| matches!(ip, IpAddr::V6(v6) if v6.segments()[0] == 0xfe80)),
        "the link-local address joins by MAC: {ips:?}"
    );
    let mac = ssh
        .interfaces
        .iter()
        .find(|i| i.ip == slaac)
        .and_then(|i| i.mac);
    assert_eq!(mac.map(|m| m.to_string()).as_deref(), SSH.mac);
    let sshd = ssh
        .services
        .iter()
        .find(|s| s.ip == slaac && s.port == 22)
        .unwrap_or_else(|| panic!("22 on {slaac}: {:#?}", ssh.services));
    assert_eq!(
        (sshd.state, sshd.name.as_str(), sshd.product.as_deref()),
        (PortState::Open, "ssh", Some("OpenSSH"))
    );
    assert_eq!(ssh.hostname.as_deref(), Some("ssh.lab.test"));
    // web answers from one of its two global addresses; both are its, with its IPv4 address.
    let web = device(&devices, WEB.addr());
    let v6: Vec<IpAddr> = web.ips().into_iter().filter(IpAddr::is_ipv6).collect();
    assert!(
        v6.iter().any(|ip| ip.to_string().starts_with("fd77:")),
        "{v6:?}"
    );
    let http = web
        .services
        .iter()
        .find(|s| s.ip.is_ipv6() && s.port == 80)
        .unwrap_or_else(|| panic!("80 over IPv6: {:#?}", web.services));
    assert_eq!(
        (http.name.as_str(), http.product.as_deref()),
        ("http", Some("nginx"))
    );
    // quiet ignores multicast echo (as Windows does): the echo with an unknown destination
    // option finds it (a Parameter Problem). svc answers from its temporary address; both join
    // their IPv4 device by MAC.
    for (h, what) in [(QUIET, "option probe"), (SVC, "temporary address")] {
        let d = device(&devices, h.addr());
        assert!(
            d.ips().iter().any(|ip| ip.to_string().starts_with("fd77:")),
            "{} ({what}): {:?}",
            h.name,
            d.ips()
        );
    }
    let svc_eui64: IpAddr = "fd77::77:ff:fe00:20".parse().unwrap();
    let svc = device(&devices, SVC.addr());
    assert!(
        svc.ips()
            .iter()
            .any(|ip| ip.to_string().starts_with("fd77:") && *ip != svc_eui64),
        "svc's temporary address: {:?}",
        svc.ips()
    );
    // The router advertises the prefix: a gateway, one device with its IPv4 legs.
    let router = device(&devices, ROUTER.addr());
    assert_eq!(router.device_type, DeviceType::Gateway);
    assert!(
        router.ips().iter().any(IpAddr::is_ipv6),
        "{:?}",
        router.ips()
    );
}

/// The link alone: names come from ip6.arpa (the router's dnsmasq has the PTR records).
#[test]
fn testlan_ipv6_hosts_are_named_by_ip6_arpa() {
    if !require("testlan_ipv6_hosts_are_named_by_ip6_arpa") {
        return;
    }
    let (devices, warnings) = scan(
        &[IPV6_LAN],
        "22",
        vec![Box::new(NdpScanner::default()), Box::new(lan_names())],
    );
    assert!(warnings.is_empty(), "{warnings:?}");
    let ssh = device(&devices, IpAddr::V6(SSH_SLAAC));
    assert!(ssh.ips().iter().all(IpAddr::is_ipv6), "{:?}", ssh.ips());
    assert_eq!(ssh.hostname.as_deref(), Some("ssh.lab.test"));
    // web answered from fd77::10 or its SLAAC address; only fd77::10 has a PTR record.
    let web = devices
        .iter()
        .find(|d| {
            d.interfaces
                .iter()
                .any(|i| i.mac.map(|m| m.to_string()).as_deref() == WEB.mac)
        })
        .expect("web found by its MAC");
    if web.ips().contains(&IpAddr::V6(WEB_V6)) {
        assert_eq!(web.hostname.as_deref(), Some("web.lab.test"));
    }
}

#[test]
fn testlan_a_link_no_interface_is_on_is_a_warning() {
    if !require("testlan_a_link_no_interface_is_on_is_a_warning") {
        return;
    }
    let (devices, warnings) = scan(&["fd99::/64"], "22", vec![Box::new(NdpScanner::default())]);
    assert!(devices.is_empty(), "{devices:#?}");
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("fd99::/64 is not on a link of this machine")),
        "{warnings:?}"
    );
}
