//! The built-in scanners against the test LAN (needs root and `testlan/testlan.sh up`; skipped
//! with a message otherwise, failed when `SCANOPY_TESTLAN=1`).

mod docker;
mod hostile;
mod icmp;
mod ipv6;
mod listen;
mod snmp;
mod snmpsim;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use scanopy_core::compliance::{Fixture, check};
use scanopy_core::{
    Device, Inventory, InventoryConfig, Pipeline, PortState, ScanConfig, ScanEvent, Scanner,
    TargetSpec,
};
use scanopy_scanners::{ArpScanner, NameScanner, NameSettings, TcpPing, TcpScanner, UdpScanner};
use scanopy_testlan::{
    DROP, FAR, MANY, MANY_PORTS, QUIET, ROUTER, SSH, SVC, WEB, in_scanner_ns, require,
};
use tokio_util::sync::CancellationToken;

pub(crate) fn scan(
    targets: &[&str],
    ports: &str,
    scanners: Vec<Box<dyn Scanner>>,
) -> (Vec<Device>, Vec<String>) {
    let targets: Vec<String> = targets.iter().map(|s| s.to_string()).collect();
    let ports = ports.to_owned();
    in_scanner_ns(move || run_scan(targets, ports, scanners))
}

/// A scan run where the caller is (inside the scanner's namespace, for the test LAN).
async fn run_scan(
    targets: Vec<String>,
    ports: String,
    scanners: Vec<Box<dyn Scanner>>,
) -> (Vec<Device>, Vec<String>) {
    {
        let spec = TargetSpec::new(&targets, &[] as &[&str]).unwrap();
        let set = spec.build(&BTreeMap::new(), &[], false).unwrap();
        let config = ScanConfig {
            targets: spec,
            ports: ports.parse().unwrap(),
            timeout_ms: 500,
            ..Default::default()
        };
        let mut p = Pipeline::new();
        for s in scanners {
            p.add(s);
        }
        let (events, summary) = p
            .start(config, set, CancellationToken::new())
            .collect()
            .await;
        let mut inv = Inventory::new(InventoryConfig {
            network_id: Default::default(),
            subnets: vec![
                "10.77.0.0/24".parse().unwrap(),
                "10.77.1.0/24".parse().unwrap(),
            ],
        });
        for e in &events {
            if let ScanEvent::Observation(o) = e {
                inv.apply(o);
            }
        }
        (inv.devices(), summary.warnings)
    }
}

pub(crate) fn device(devices: &[Device], ip: IpAddr) -> &Device {
    devices
        .iter()
        .find(|d| d.ips().contains(&ip))
        .unwrap_or_else(|| panic!("{ip} not found in {devices:#?}"))
}

#[test]
fn testlan_tcp_scanner_identifies_real_services() {
    if !require("testlan_tcp_scanner_identifies_real_services") {
        return;
    }
    let targets = [
        "10.77.0.10",
        "10.77.0.11",
        "10.77.0.12",
        "10.77.0.13",
        "10.77.1.10",
        "10.77.0.1",
    ];
    let (devices, warnings) = scan(
        &targets,
        "22,53,80,81,6379,8080",
        vec![Box::new(TcpScanner::default())],
    );
    assert!(warnings.is_empty(), "{warnings:?}");

    let web = device(&devices, WEB.addr());
    let by_port: BTreeMap<u16, _> = web.services.iter().map(|s| (s.port, s)).collect();
    assert_eq!(
        by_port.keys().copied().collect::<Vec<_>>(),
        [80, 6379],
        "only open ports are services"
    );
    let http = by_port[&80];
    assert_eq!(
        (http.name.as_str(), http.product.as_deref()),
        ("http", Some("nginx"))
    );
    assert!(
        http.version.as_deref().is_some_and(|v| v.starts_with("1.")),
        "{http:?}"
    );
    assert_eq!(
        http.extra.get("http.title").map(String::as_str),
        Some("Scanopy test web")
    );
    assert_eq!(http.evidence, "http-nginx");
    assert_eq!(by_port[&6379].name, "redis");

    let ssh = &device(&devices, SSH.addr()).services[0];
    assert_eq!(
        (ssh.name.as_str(), ssh.product.as_deref()),
        ("ssh", Some("OpenSSH"))
    );
    assert!(ssh.version.is_some());

    let dns = &device(&devices, ROUTER.addr()).services[0];
    assert_eq!(
        (dns.port, dns.name.as_str(), dns.product.as_deref()),
        (53, "domain", Some("dnsmasq"))
    );

    let far = &device(&devices, FAR.addr()).services[0];
    assert_eq!(
        (far.port, far.name.as_str(), far.state),
        (8080, "http", PortState::Open)
    );
    assert_eq!(
        far.extra.get("http.title").map(String::as_str),
        Some("far away")
    );

    // quiet refuses everything: alive, no services. drop answers nothing: not seen at all.
    let quiet = device(&devices, QUIET.addr());
    assert!(quiet.services.is_empty());
    assert!(
        !devices.iter().any(|d| d.ips().contains(&DROP.addr())),
        "a silent host is not invented"
    );
}

#[test]
fn testlan_discovery_finds_every_host_and_hands_it_on() {
    if !require("testlan_discovery_finds_every_host_and_hands_it_on") {
        return;
    }
    let (devices, warnings) = scan(
        &["10.77.0.0/24", "10.77.1.0/24"],
        "22,80,8080",
        vec![
            Box::new(TcpPing::default()),
            Box::new(TcpScanner::default()),
        ],
    );
    assert!(warnings.is_empty(), "{warnings:?}");
    for h in [ROUTER, WEB, SSH, QUIET, DROP, FAR] {
        let d = device(&devices, h.addr());
        if let Some(mac) = h.mac {
            assert_eq!(
                d.macs().iter().map(|m| m.to_string()).collect::<Vec<_>>(),
                [mac],
                "{}",
                h.name
            );
        } else {
            assert!(d.macs().is_empty(), "{}: beyond the router, no MAC", h.name);
        }
    }
    // The router answers on both subnets with one MAC per leg, found as separate interfaces of
    // devices; the far host's web server was port-scanned through the router.
    let far = device(&devices, FAR.addr());
    assert!(
        far.services
            .iter()
            .any(|s| s.port == 8080 && s.name == "http")
    );
    let web = device(&devices, WEB.addr());
    assert!(
        web.services
            .iter()
            .any(|s| s.port == 80 && s.product.as_deref() == Some("nginx"))
    );
    // Only addresses that answered: no phantom devices.
    let mut found: Vec<String> = devices
        .iter()
        .flat_map(|d| d.ips())
        .map(|i| i.to_string())
        .collect();
    found.sort();
    let mut expected: Vec<String> = [
        "10.77.0.1",
        "10.77.0.2",
        "10.77.0.10",
        "10.77.0.11",
        "10.77.0.12",
        "10.77.0.13",
        "10.77.0.20",
        "10.77.0.21",
        "10.77.1.1",
        "10.77.1.10",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    expected.sort();
    assert_eq!(found, expected);
}

#[test]
fn testlan_cancellation_stops_a_sweep_promptly() {
    if !require("testlan_cancellation_stops_a_sweep_promptly") {
        return;
    }
    let elapsed = in_scanner_ns(|| async {
        let spec = TargetSpec::new(&["10.77.0.0/24"], &[] as &[&str]).unwrap();
        let set = spec.build(&BTreeMap::new(), &[], false).unwrap();
        let config = ScanConfig {
            ports: "1-2000".parse().unwrap(),
            rate: Some(200),
            ..Default::default()
        };
        let cancel = CancellationToken::new();
        let handle = Pipeline::new()
            .with(Box::new(TcpPing::default()))
            .with(Box::new(TcpScanner::default()))
            .start(config, set, cancel.clone());
        tokio::time::sleep(Duration::from_millis(300)).await;
        let start = std::time::Instant::now();
        cancel.cancel();
        let summary = handle.finish().await;
        assert!(summary.cancelled);
        assert!(
            summary.warnings.iter().all(|w| !w.contains("aborted")),
            "scanners stopped by themselves: {:?}",
            summary.warnings
        );
        start.elapsed()
    });
    // Not a timing assertion on speed: a scanner that ignored cancellation would be aborted
    // after the pipeline's 2 s grace and say so (checked above).
    eprintln!("stopped {elapsed:?} after cancellation");
}

#[test]
fn testlan_arp_finds_every_on_link_host_with_mac_and_vendor() {
    if !require("testlan_arp_finds_every_on_link_host_with_mac_and_vendor") {
        return;
    }
    let (devices, warnings) = scan(
        &["10.77.0.0/24"],
        "1",
        vec![Box::new(ArpScanner::default())],
    );
    assert!(warnings.is_empty(), "{warnings:?}");
    for h in [ROUTER, WEB, SSH, QUIET, DROP] {
        let d = device(&devices, h.addr());
        assert_eq!(
            d.macs().iter().map(|m| m.to_string()).collect::<Vec<_>>(),
            [h.mac.unwrap()],
            "{}",
            h.name
        );
        assert!(d.sources.contains("arp"));
    }
    assert_eq!(
        device(&devices, WEB.addr()).vendor.as_deref(),
        Some("Synology Incorporated")
    );
    assert!(
        device(&devices, SSH.addr()).randomized_mac,
        "02:… is locally administered"
    );
    assert_eq!(
        device(&devices, ROUTER.addr()).device_type,
        scanopy_core::DeviceType::Gateway,
        "the scanner's default gateway"
    );
    // The scanner's own address is on the subnet too; nothing else answered.
    assert_eq!(devices.len(), 8, "{devices:#?}");
}

#[tokio::test]
async fn tcp_scanner_passes_the_compliance_suite_on_loopback() {
    // An SSH-like banner on one port (identified at once) and a silent one (the scanner waits
    // for its banner, then probes it): results stream while work remains.
    let speaking = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (p1, p2) = (
        speaking.local_addr().unwrap().port(),
        silent.local_addr().unwrap().port(),
    );
    tokio::spawn(async move {
        loop {
            let (mut s, _) = speaking.accept().await.unwrap();
            let _ = tokio::io::AsyncWriteExt::write_all(&mut s, b"SSH-2.0-OpenSSH_9.2\r\n").await;
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(5)).await;
                drop(s)
            });
        }
    });
    tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let (s, _) = silent.accept().await.unwrap();
            held.push(s);
        }
    });
    let config = ScanConfig {
        ports: format!("{p1},{p2}").parse().unwrap(),
        ..ScanConfig::default()
    };
    let fixture = Fixture::host("127.0.0.1".parse().unwrap()).with_config(config);
    let failures = check(|| Box::new(TcpScanner::default()), &fixture).await;
    assert!(failures.is_empty(), "{failures:#?}");
}

#[tokio::test]
async fn tcp_ping_passes_the_compliance_suite_on_loopback() {
    // 127.0.0.0/8 answers on Linux: a thousand loopback addresses keep the sweep busy.
    let spec = TargetSpec::new(&["127.0.0.1-127.0.3.232"], &[] as &[&str]).unwrap();
    let targets = spec.build(&BTreeMap::new(), &[], false).unwrap();
    let fixture = Fixture::targets(targets);
    let failures = check(|| Box::new(TcpPing::default()), &fixture).await;
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn testlan_arp_passes_the_compliance_suite() {
    if !require("testlan_arp_passes_the_compliance_suite") {
        return;
    }
    let failures = in_scanner_ns(|| async {
        let spec = TargetSpec::new(&["10.77.0.0/24"], &[] as &[&str]).unwrap();
        let fixture = Fixture::targets(spec.build(&BTreeMap::new(), &[], false).unwrap());
        check(|| Box::new(ArpScanner::default()), &fixture).await
    });
    assert!(failures.is_empty(), "{failures:#?}");
}

fn lan_names() -> NameScanner {
    NameScanner::new(NameSettings {
        resolv_conf: format!("/etc/netns/{}/resolv.conf", scanopy_testlan::SCANNER_NS).into(),
        ..NameSettings::default()
    })
}

#[test]
fn testlan_names_come_from_reverse_dns() {
    if !require("testlan_names_come_from_reverse_dns") {
        return;
    }
    let (devices, warnings) = scan(
        &["10.77.0.10", "10.77.0.11", "10.77.1.10", "10.77.0.99"],
        "1",
        vec![Box::new(lan_names())],
    );
    assert!(warnings.is_empty(), "{warnings:?}");
    let name = |h: scanopy_testlan::Host| device(&devices, h.addr()).hostname.clone();
    assert_eq!(name(WEB).as_deref(), Some("web.lab.test"));
    assert_eq!(name(SSH).as_deref(), Some("ssh.lab.test"));
    assert_eq!(name(FAR).as_deref(), Some("far.lab.test"));
    assert!(
        devices
            .iter()
            .all(|d| !d.ips().contains(&"10.77.0.99".parse().unwrap()) || d.hostname.is_none())
    );
}

#[test]
fn testlan_names_scanner_passes_the_compliance_suite() {
    if !require("testlan_names_scanner_passes_the_compliance_suite") {
        return;
    }
    let failures = in_scanner_ns(|| async {
        check(|| Box::new(lan_names()), &Fixture::host(WEB.addr())).await
    });
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn testlan_databases_and_brokers_are_identified() {
    if !require("testlan_databases_and_brokers_are_identified") {
        return;
    }
    let (devices, warnings) = scan(
        &["10.77.0.20"],
        "1883,5432",
        vec![Box::new(TcpScanner::default())],
    );
    assert!(warnings.is_empty(), "{warnings:?}");
    let svc = device(&devices, SVC.addr());
    let names: Vec<(u16, &str, Option<&str>)> = svc
        .services
        .iter()
        .map(|s| (s.port, s.name.as_str(), s.product.as_deref()))
        .collect();
    assert_eq!(
        names,
        [
            (1883, "mqtt", None),
            (5432, "postgresql", Some("PostgreSQL"))
        ]
    );
}

#[test]
fn testlan_a_host_with_two_hundred_open_ports_is_scanned_whole() {
    if !require("testlan_a_host_with_two_hundred_open_ports_is_scanned_whole") {
        return;
    }
    let (devices, warnings) = scan(
        &["10.77.0.21"],
        "20000-20300",
        vec![Box::new(TcpScanner::default())],
    );
    assert!(warnings.is_empty(), "{warnings:?}");
    let many = device(&devices, MANY.addr());
    let ports: Vec<u16> = many.services.iter().map(|s| s.port).collect();
    assert_eq!(ports, MANY_PORTS.collect::<Vec<_>>());
    assert!(
        many.services
            .iter()
            .all(|s| s.name == "http" && s.product.as_deref() == Some("nginx"))
    );
}

#[test]
fn testlan_udp_probes_find_dns_and_snmp() {
    if !require("testlan_udp_probes_find_dns_and_snmp") {
        return;
    }
    let (devices, warnings) = scan(
        &["10.77.0.1", "10.77.0.20", "10.77.0.12"],
        "1",
        vec![Box::new(UdpScanner::default())],
    );
    assert!(warnings.is_empty(), "{warnings:?}");
    let dns = device(&devices, ROUTER.addr())
        .services
        .iter()
        .find(|s| s.port == 53)
        .expect("dns");
    assert_eq!(
        (dns.name.as_str(), dns.product.as_deref()),
        ("domain", Some("dnsmasq"))
    );
    assert_eq!(dns.transport, scanopy_core::Transport::Udp);
    let svc = device(&devices, SVC.addr());
    let snmp = svc.services.iter().find(|s| s.port == 161).expect("snmp");
    assert_eq!(snmp.name, "snmp");
    assert_eq!(
        snmp.extra.get("snmp.sysDescr").map(String::as_str),
        Some("scanopy test LAN service host")
    );
    assert_eq!(svc.hostname.as_deref(), Some("svc.lab.test"));
    // quiet answers UDP with port unreachable: nothing reported, nothing invented.
    assert!(devices.iter().all(|d| !d.ips().contains(&QUIET.addr())));
}

/// avahi and nmbd on the home segment, asked by unicast: the mDNS name, the services, the
/// printer's model from TXT, the device typed a printer by its `_ipp._tcp` service; the
/// NetBIOS name and workgroup.
#[test]
fn testlan_mdns_and_netbios_name_the_device_its_model_and_type() {
    if !require("testlan_mdns_and_netbios_name_the_device_its_model_and_type") {
        return;
    }
    let (devices, warnings) = scan(&["10.77.3.30"], "1", vec![Box::new(UdpScanner::default())]);
    assert!(warnings.is_empty(), "{warnings:?}");
    let media = device(&devices, scanopy_testlan::MEDIA.addr());
    let mdns = media
        .services
        .iter()
        .find(|s| s.port == 5353)
        .expect("5353/udp answered");
    assert_eq!(mdns.name, "mdns");
    let extra = |k: &str| mdns.extra.get(k).map(String::as_str);
    assert_eq!(extra("mdns.hostname"), Some("media.local"));
    assert_eq!(extra("mdns.model"), Some("Scanopy LabJet 400"));
    assert_eq!(extra("mdns.name"), Some("Office Printer"));
    let services = extra("mdns.services").unwrap_or_default();
    assert!(
        services.contains("_ipp._tcp") && services.contains("_http._tcp"),
        "{services}"
    );
    assert_eq!(media.hostname.as_deref(), Some("media.local"));
    assert_eq!(media.device_type, scanopy_core::DeviceType::Printer);
    // Samba's nmbd on the same host: its NetBIOS name and workgroup.
    let nb = media
        .services
        .iter()
        .find(|s| s.port == 137)
        .expect("137/udp answered");
    assert_eq!(nb.name, "netbios-ns");
    assert_eq!(
        nb.extra.get("netbios.name").map(String::as_str),
        Some("MEDIA")
    );
    assert_eq!(
        nb.extra.get("netbios.workgroup").map(String::as_str),
        Some("LAB")
    );
}

/// minissdpd and busybox httpd on the home segment's TV: a unicast M-SEARCH finds its
/// description, which names it, its maker and model, and types it a media device.
#[test]
fn testlan_ssdp_names_the_tv_its_maker_model_and_type() {
    if !require("testlan_ssdp_names_the_tv_its_maker_model_and_type") {
        return;
    }
    let tv = scanopy_testlan::TV;
    let (devices, warnings) = scan(
        &[&tv.addr().to_string()],
        "1",
        vec![Box::new(UdpScanner::default())],
    );
    assert!(warnings.is_empty(), "{warnings:?}");
    let d = device(&devices, tv.addr());
    let ssdp = d
        .services
        .iter()
        .find(|s| s.port == 1900)
        .expect("1900/udp answered");
    assert_eq!(ssdp.name, "ssdp");
    let extra = |k: &str| ssdp.extra.get(k).map(String::as_str);
    assert_eq!(
        extra("ssdp.server"),
        Some("Linux/6.1 UPnP/1.0 ScreenCast/2.1")
    );
    assert_eq!(
        extra("ssdp.location"),
        Some("http://10.77.3.40:8080/description.xml")
    );
    assert_eq!(extra("upnp.friendlyName"), Some("Living Room TV"));
    assert_eq!(extra("upnp.manufacturer"), Some("Scanopy Labs"));
    assert_eq!(extra("upnp.model"), Some("ScreenCast 55"));
    assert_eq!(
        extra("upnp.deviceType"),
        Some("urn:schemas-upnp-org:device:MediaRenderer:1")
    );
    assert_eq!(d.hostname.as_deref(), Some("Living Room TV"));
    assert_eq!(d.device_type, scanopy_core::DeviceType::Media);
    // The recog reading of the SERVER header: Linux.
    assert_eq!(
        d.os.as_ref().map(|o| o.family.as_str()),
        Some("Linux"),
        "{:?}",
        d.os
    );
}

#[test]
fn testlan_udp_scanner_passes_the_compliance_suite() {
    if !require("testlan_udp_scanner_passes_the_compliance_suite") {
        return;
    }
    let failures = in_scanner_ns(|| async {
        check(
            || Box::new(UdpScanner::default()),
            &Fixture::host(SVC.addr()),
        )
        .await
    });
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn testlan_tls_certificates_are_read_and_https_identified() {
    if !require("testlan_tls_certificates_are_read_and_https_identified") {
        return;
    }
    let (devices, warnings) = scan(
        &["10.77.0.10"],
        "443",
        vec![Box::new(TcpScanner::default())],
    );
    assert!(warnings.is_empty(), "{warnings:?}");
    let web = device(&devices, WEB.addr());
    let https = web
        .services
        .iter()
        .find(|s| s.port == 443)
        .expect("443 open");
    assert_eq!(
        (https.name.as_str(), https.product.as_deref()),
        ("https", Some("nginx"))
    );
    let subject = https.extra.get("tls.subject").expect("certificate subject");
    assert!(subject.contains("CN=web.lab.test"), "{subject}");
    assert!(
        https
            .extra
            .get("tls.san")
            .is_some_and(|s| s.contains("10.77.0.10")),
        "{:?}",
        https.extra
    );
    assert!(https.extra.contains_key("tls.not_after"));
    assert_eq!(
        https.extra.get("http.title").map(String::as_str),
        Some("Scanopy test web")
    );
    assert_eq!(
        web.hostname.as_deref(),
        Some("web.lab.test"),
        "the certificate names the host"
    );
}

fn syn_scanner() -> TcpScanner {
    TcpScanner::new(
        scanopy_scanners::Catalogue::builtin(),
        scanopy_scanners::TcpSettings {
            syn: true,
            ..Default::default()
        },
    )
}

#[test]
fn testlan_syn_sweep_finds_what_connecting_finds() {
    if !require("testlan_syn_sweep_finds_what_connecting_finds") {
        return;
    }
    let targets = [
        "10.77.0.10",
        "10.77.0.12",
        "10.77.0.13",
        "10.77.0.20",
        "10.77.0.21",
        "10.77.1.10",
    ];
    let ports = "22,80,443,1883,5432,6379,8080,20000-20300";
    let summarise =
        |devices: &[scanopy_core::Device]| -> Vec<(String, u16, String, Option<String>)> {
            let mut v: Vec<_> = devices
                .iter()
                .flat_map(|d| {
                    d.services
                        .iter()
                        .map(|s| (s.ip.to_string(), s.port, s.name.clone(), s.product.clone()))
                })
                .collect();
            v.sort();
            v
        };
    let (by_syn, w1) = scan(&targets, ports, vec![Box::new(syn_scanner())]);
    let (by_connect, w2) = scan(&targets, ports, vec![Box::new(TcpScanner::default())]);
    assert!(w1.is_empty() && w2.is_empty(), "{w1:?} {w2:?}");
    let syn = summarise(&by_syn);
    assert_eq!(syn, summarise(&by_connect));
    assert_eq!(syn.iter().filter(|s| s.0 == "10.77.0.21").count(), 200);
    // quiet refuses (alive, no services); drop answers nothing (not invented).
    assert!(device(&by_syn, QUIET.addr()).services.is_empty());
    assert!(!by_syn.iter().any(|d| d.ips().contains(&DROP.addr())));
    // The SYN-ACKs' TTL is a guess at the OS (Linux namespaces send 64; beyond the router 63);
    // a connect scan sees no TTL.
    let os = |devices: &[scanopy_core::Device], ip| device(devices, ip).os.clone();
    for (ip, ttl) in [(WEB.addr(), 64), (FAR.addr(), 63)] {
        let guess = os(&by_syn, ip).unwrap_or_else(|| panic!("{ip}: no OS from the TTL"));
        assert_eq!(
            (guess.family.as_str(), guess.confidence),
            ("Unix", scanopy_core::Confidence::Low)
        );
        assert_eq!(guess.evidence, [format!("ttl {ttl} (tcp syn-ack)")]);
        assert_eq!(os(&by_connect, ip), None);
    }
}

#[test]
fn testlan_syn_scanner_passes_the_compliance_suite() {
    if !require("testlan_syn_scanner_passes_the_compliance_suite") {
        return;
    }
    let failures = in_scanner_ns(|| async {
        let config = ScanConfig {
            ports: "20001-20200".parse().unwrap(),
            ..ScanConfig::default()
        };
        check(
            || Box::new(syn_scanner()),
            &Fixture::host(MANY.addr()).with_config(config),
        )
        .await
    });
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn testlan_arp_sweeps_a_slash_16() {
    if !require("testlan_arp_sweeps_a_slash_16") {
        return;
    }
    let (devices, warnings) = scan(
        &[scanopy_testlan::WIDE_LAN],
        "1",
        vec![Box::new(ArpScanner::default())],
    );
    assert!(warnings.is_empty(), "{warnings:?}");
    // The host answers for both its addresses with one MAC: one device, two interfaces; and
    // the scanner's own address on that leg.
    let wide = device(&devices, scanopy_testlan::WIDE_HOSTS[0].into());
    let ips: Vec<IpAddr> = wide.ips();
    assert_eq!(ips, scanopy_testlan::WIDE_HOSTS.map(IpAddr::V4).to_vec());
    assert_eq!(devices.len(), 2, "{devices:#?}");
}

/// The default ports (`top1000`, as a scan without `--ports` uses) find the test LAN's Redis
/// and MQTT brokers, which nmap's top 1,000 leave out, and identify them.
#[test]
fn testlan_default_ports_find_redis_and_mqtt() {
    if !require("testlan_default_ports_find_redis_and_mqtt") {
        return;
    }
    let default = ScanConfig::default().ports.to_string();
    assert_eq!(default, "top1000");
    let (devices, _) = scan(
        &["10.77.0.10", "10.77.0.20"],
        &default,
        vec![Box::new(TcpScanner::default())],
    );
    let named = |ip: IpAddr, port: u16| {
        device(&devices, ip)
            .services
            .iter()
            .find(|s| s.port == port)
            .map(|s| s.name.clone())
    };
    assert_eq!(named(WEB.addr(), 6379).as_deref(), Some("redis"));
    assert_eq!(named(SVC.addr(), 1883).as_deref(), Some("mqtt"));
}

/// A SYN sweep finds an open printer port without completing a connection (nothing a printer
/// could print reaches it): the port is `jetdirect`, the device a printer.
#[test]
fn testlan_a_syn_sweep_finds_a_printer_port_without_connecting() {
    if !require("testlan_a_syn_sweep_finds_a_printer_port_without_connecting") {
        return;
    }
    let (devices, accepted) = in_scanner_ns(|| async {
        let l = tokio::net::TcpListener::bind("10.77.0.2:9100")
            .await
            .unwrap();
        let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = accepted.clone();
        let accepting = tokio::spawn(async move {
            while l.accept().await.is_ok() {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        });
        let tcp = TcpScanner::new(
            scanopy_scanners::catalogue::Catalogue::builtin(),
            scanopy_scanners::TcpSettings {
                syn: true,
                ..Default::default()
            },
        );
        let (devices, _) = run_scan(
            vec!["10.77.0.2".into()],
            "22,9100".into(),
            vec![Box::new(tcp)],
        )
        .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        accepting.abort();
        (devices, accepted.load(std::sync::atomic::Ordering::SeqCst))
    });
    assert_eq!(accepted, 0, "a connection reached the printer port");
    let me = device(&devices, "10.77.0.2".parse().unwrap());
    let jd = me.services.iter().find(|s| s.port == 9100);
    assert_eq!(jd.map(|s| s.name.as_str()), Some("jetdirect"), "{me:#?}");
    assert_eq!(me.device_type, scanopy_core::DeviceType::Printer, "{me:#?}");
}

/// A server that greets late (it looks the client's name up first) and hangs up on a client
/// that speaks before the greeting, as Exim does, is waited for: identified as SMTP, product
/// and all, not probed too early into a `554`.
#[test]
fn testlan_a_late_greeting_is_waited_for() {
    if !require("testlan_a_late_greeting_is_waited_for") {
        return;
    }
    let mute = scanopy_testlan::MUTE.addr();
    let (devices, _) = scan(
        &[&mute.to_string()],
        "25",
        vec![Box::new(TcpScanner::default())],
    );
    let smtp = device(&devices, mute)
        .services
        .iter()
        .find(|s| s.port == 25)
        .expect("25/tcp reported")
        .clone();
    assert_eq!(
        (smtp.name.as_str(), smtp.product.as_deref()),
        ("smtp", Some("Postfix")),
        "{smtp:#?}"
    );
}

/// The same LAN scanned twice gives the same services, names, products and versions, and the
/// same operating systems: nothing depends on which answer came first.
#[test]
fn testlan_two_scans_of_the_same_lan_name_the_same_things() {
    if !require("testlan_two_scans_of_the_same_lan_name_the_same_things") {
        return;
    }
    type Named = Vec<(IpAddr, u16, String, Option<String>, Option<String>)>;
    let once = || -> (Named, Vec<(IpAddr, Option<String>)>) {
        // The router, the web, SSH and services hosts, the late greeter and the media host.
        let (devices, _) = scan(
            &[
                "10.77.0.1",
                "10.77.0.10",
                "10.77.0.11",
                "10.77.0.20",
                "10.77.2.30",
                "10.77.3.30",
            ],
            "top1000",
            vec![
                Box::new(TcpScanner::default()),
                Box::new(UdpScanner::default()),
            ],
        );
        let mut named: Named = devices
            .iter()
            .flat_map(|d| d.services.iter())
            .map(|s| {
                (
                    s.ip,
                    s.port,
                    s.name.clone(),
                    s.product.clone(),
                    s.version.clone(),
                )
            })
            .collect();
        named.sort();
        let os = devices
            .iter()
            .map(|d| (d.ips()[0], d.os.as_ref().map(|o| o.family.clone())))
            .collect();
        (named, os)
    };
    let (first, first_os) = once();
    let (second, second_os) = once();
    let names = |n: &Named| n.iter().filter(|s| s.2 != "unknown").count();
    assert!(
        names(&first) >= 10,
        "too little found to compare: {first:#?}"
    );
    assert_eq!(first, second, "two scans named different things");
    assert_eq!(first_os, second_os);
    // The OpenSSH host says its distribution in its banner.
    let ssh = first_os.iter().find(|(ip, _)| *ip == SSH.addr());
    assert_eq!(ssh, Some(&(SSH.addr(), Some("Linux".to_owned()))));
}
