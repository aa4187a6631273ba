//! The `snmp` scanner against real agents on the test LAN: the campus switches (net-snmp's
//! snmpd serving the Linux bridges' own forwarding tables, lldpd as AgentX sub-agent for
//! LLDP-MIB), the svc host's snmpd (community `public`), and the hostile host whose 161/udp
//! answers malformed BER.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use scanopy_core::{Device, DeviceType, Scanner, topology};
use scanopy_scanners::snmp::Community;
use scanopy_scanners::snmp::usm::User;
use scanopy_scanners::{ArpScanner, SnmpScanner, SnmpSettings};
use scanopy_testlan::{CAMPUS, CAMPUS_COMMUNITY, CAMPUS_LAN, SW1, SW2, require};

use crate::{device, scan};

fn snmp(communities: &[&str]) -> Box<dyn Scanner> {
    Box::new(SnmpScanner::new(SnmpSettings {
        communities: communities
            .iter()
            .map(|c| Community {
                community: (*c).to_owned(),
            })
            .collect(),
        ..Default::default()
    }))
}

fn by_name<'a>(devices: &'a [Device], name: &str) -> &'a Device {
    devices
        .iter()
        .find(|d| d.hostname.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no device named {name}: {devices:#?}"))
}

/// A scan of the campus places every host on its real switch port, lists every LLDP
/// neighbour, and types the switches; a wrong community first costs no correct answer.
#[test]
fn testlan_snmp_places_every_campus_host_on_its_switch_port() {
    if !require("testlan_snmp_places_every_campus_host_on_its_switch_port") {
        return;
    }
    let t = Instant::now();
    // The ARP sweep first (it also makes every host talk, so the bridges learn it), then the
    // agents, with a wrong community tried before the right one.
    let (devices, warnings) = scan(
        &[CAMPUS_LAN],
        "1",
        vec![
            Box::new(ArpScanner::default()),
            snmp(&["wrong", CAMPUS_COMMUNITY]),
        ],
    );
    let took = t.elapsed();
    assert!(warnings.is_empty(), "{warnings:?}");
    let sw1 = device(&devices, SW1.ip.into());
    let sw2 = device(&devices, SW2.ip.into());
    for (sw, s) in [(sw1, SW1), (sw2, SW2)] {
        assert_eq!(
            sw.hostname.as_deref(),
            Some(format!("{}.lab.test", s.name).as_str())
        );
        assert_eq!(
            sw.device_type,
            DeviceType::Switch,
            "{:?}",
            sw.device_type_evidence
        );
        let l2 = sw.l2.as_ref().expect("the switch told its link layer");
        assert_eq!(l2.bridge_mac.map(|m| m.to_string()).as_deref(), Some(s.mac));
        let snmp = sw.services.iter().find(|x| x.port == 161).expect("161/udp");
        assert_eq!(
            snmp.extra.get("snmp.sysLocation").map(String::as_str),
            Some("lab rack 1")
        );
        assert!(snmp.extra.contains_key("snmp.engineID"));
    }
    // Every LLDP neighbour: sw1 hears ca, cb and sw2; sw2 hears sw1, cc and cd.
    let heard = |d: &Device| -> BTreeSet<(String, String)> {
        d.l2.as_ref()
            .unwrap()
            .neighbours
            .iter()
            .map(|n| (n.port.clone(), n.name.clone().unwrap_or_default()))
            .collect()
    };
    let want = |v: &[(&str, &str)]| -> BTreeSet<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    assert_eq!(
        heard(sw1),
        want(&[
            ("ge2", "ca.lab.test"),
            ("ge3", "cb.lab.test"),
            ("ge8", "sw2.lab.test")
        ])
    );
    assert_eq!(
        heard(sw2),
        want(&[
            ("ge1", "sw1.lab.test"),
            ("ge2", "cc.lab.test"),
            ("ge3", "cd.lab.test")
        ])
    );
    // VLANs as declared per port.
    let vlans: Vec<u16> = sw1
        .l2
        .as_ref()
        .unwrap()
        .vlans
        .iter()
        .map(|v| v.id)
        .collect();
    assert_eq!(vlans, [1, 10, 20]);

    // Placement: every campus host on its real port (100 %), and one switch-to-switch link.
    let links = topology::l2_links(&devices);
    let name_of = |id| {
        devices
            .iter()
            .find(|d| d.id == id)
            .and_then(|d| d.hostname.clone())
            .unwrap_or_default()
    };
    let mut right = 0;
    for (host, ip, mac, sw, port, vlan) in CAMPUS {
        let d = device(&devices, ip.into());
        assert_eq!(d.macs()[0].to_string(), mac);
        let on: Vec<_> = links.iter().filter(|l| l.device == d.id).collect();
        assert_eq!(on.len(), 1, "{host} placed once: {on:?}");
        let l = on[0];
        assert_eq!(
            (name_of(l.switch), l.port.as_str()),
            (format!("{sw}.lab.test"), port),
            "{host}: {l:?}"
        );
        assert_eq!(l.vlan, Some(vlan), "{host}");
        right += 1;
    }
    let trunk: Vec<_> = links
        .iter()
        .filter(|l| [sw1.id, sw2.id].contains(&l.switch) && [sw1.id, sw2.id].contains(&l.device))
        .collect();
    assert_eq!(trunk.len(), 1, "{trunk:?}");
    let t0 = trunk[0];
    let ends = if t0.switch == sw1.id {
        (t0.port.as_str(), SW1.uplink)
    } else {
        (t0.port.as_str(), SW2.uplink)
    };
    assert_eq!(ends.0, ends.1);
    // Without ARP, the agent alone tells its management address's MAC (the bridge's).
    let (alone, _) = scan(&[&SW2.ip.to_string()], "1", vec![snmp(&[CAMPUS_COMMUNITY])]);
    let sw = device(&alone, SW2.ip.into());
    assert_eq!(
        sw.macs().iter().map(|m| m.to_string()).collect::<Vec<_>>(),
        [SW2.mac],
        "{sw:?}"
    );
    eprintln!(
        "snmp campus: {right}/{} hosts on their port, {} links, scan {:.2} s",
        CAMPUS.len(),
        links.len(),
        took.as_secs_f64()
    );
}

/// The svc host's snmpd with the default community (`public`): name, description, engine id;
/// no agent at all (the web host) and malformed BER (badudp) cost nothing and invent nothing.
#[test]
fn testlan_snmp_reads_a_plain_agent_and_survives_malformed_ones() {
    if !require("testlan_snmp_reads_a_plain_agent_and_survives_malformed_ones") {
        return;
    }
    let t = Instant::now();
    let (devices, warnings) = scan(
        &["10.77.0.20", "10.77.0.10", "10.77.2.35"],
        "1",
        vec![Box::new(ArpScanner::default()), snmp(&[])],
    );
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(t.elapsed() < Duration::from_secs(30));
    let svc = by_name(&devices, "svc.lab.test");
    let s = svc
        .services
        .iter()
        .find(|s| s.port == 161)
        .expect("161/udp");
    assert_eq!(
        s.extra.get("snmp.sysDescr").map(String::as_str),
        Some("scanopy test LAN service host")
    );
    let l2 = svc.l2.as_ref().expect("its interfaces");
    assert!(
        l2.ports.iter().any(|p| p.name == "eth0"
            && p.mac.map(|m| m.to_string()).as_deref() == Some("02:77:00:00:00:20")),
        "{l2:?}"
    );
    assert!(!l2.is_bridge());
    for d in &devices {
        if d.ips().contains(&"10.77.2.35".parse().unwrap())
            || d.ips().contains(&"10.77.0.10".parse().unwrap())
        {
            assert!(d.services.iter().all(|s| s.port != 161), "{d:?}");
            assert!(d.l2.is_none());
        }
    }
}

/// The router's agent: its ARP cache names the hosts behind it (which this machine cannot ARP)
/// with their MACs, its two legs are one device (engine id), and it routes.
#[test]
fn testlan_snmp_reads_the_routers_arp_table() {
    if !require("testlan_snmp_reads_the_routers_arp_table") {
        return;
    }
    let far = scanopy_testlan::FAR;
    // Make the router talk to far now (its ARP entry may have aged out since the LAN came up):
    // a connection from the scanner to far's web server goes through it.
    let reached = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            scanopy_testlan::SCANNER_NS,
            "timeout",
            "3",
            "bash",
            "-c",
        ])
        .arg(format!("exec 3<>/dev/tcp/{}/8080", far.ip))
        .status()
        .expect("run bash in the scanner's namespace");
    assert!(reached.success(), "far's web server does not answer");
    let (devices, warnings) = scan(
        // Its address on the far side too: its other legs are joined only within the targets.
        &[&scanopy_testlan::ROUTER_IP.to_string(), "10.77.1.1"],
        "1",
        vec![snmp(&[CAMPUS_COMMUNITY])],
    );
    assert!(warnings.is_empty(), "{warnings:?}");
    let router = device(&devices, scanopy_testlan::ROUTER_IP.into());
    assert_eq!(router.hostname.as_deref(), Some("router.lab.test"));
    assert_eq!(
        router.device_type,
        DeviceType::Gateway,
        "{:?}",
        router.device_type_evidence
    );
    assert!(
        router.ips().contains(&"10.77.1.1".parse().unwrap()),
        "both legs, one device: {:?}",
        router.ips()
    );
    // Its third leg (10.77.2.1) was not a target: not claimed.
    assert!(
        devices
            .iter()
            .all(|d| !d.ips().contains(&"10.77.2.1".parse().unwrap())),
        "{devices:#?}"
    );
    // far sits behind the router: only the router's ARP cache tells its MAC.
    let d = device(&devices, far.addr());
    assert_eq!(
        d.macs().iter().map(|m| m.to_string()).collect::<Vec<_>>(),
        ["02:77:00:01:00:10"]
    );
    assert!(d.sources.contains("snmp"), "{:?}", d.sources);
    // Its IPv6 neighbour cache's link-local entries (bridges, hosts nobody else sees) are not
    // made devices.
    assert!(
        devices.iter().all(|d| d
            .ips()
            .iter()
            .all(|ip| !ip.to_string().starts_with("fe80:"))),
        "{devices:#?}"
    );
}

fn snmp_v3(users: &[&str], communities: &[&str]) -> Box<dyn Scanner> {
    Box::new(SnmpScanner::new(SnmpSettings {
        users: users.iter().map(|u| User::parse(u).unwrap()).collect(),
        communities: communities
            .iter()
            .map(|c| Community {
                community: (*c).to_owned(),
            })
            .collect(),
        ..Default::default()
    }))
}

/// The router's snmpd read with each of its SNMPv3 users (authPriv SHA and SHA-256 with AES,
/// authNoPriv MD5, noAuthNoPriv): the same system group and ARP cache as with its community,
/// read as version 3. Wrong credentials are a warning naming the agent, the user and why, and
/// the next user or the community is tried.
#[test]
fn testlan_snmpv3_users_read_the_router_and_wrong_ones_are_warnings() {
    if !require("testlan_snmpv3_users_read_the_router_and_wrong_ones_are_warnings") {
        return;
    }
    let router_ip = scanopy_testlan::ROUTER_IP.to_string();
    let snmp_service = |d: &Device| {
        d.services
            .iter()
            .find(|s| s.port == 161)
            .cloned()
            .unwrap_or_else(|| panic!("no 161/udp: {d:#?}"))
    };
    for user in scanopy_testlan::ROUTER_V3_USERS {
        let (devices, warnings) = scan(&[&router_ip], "1", vec![snmp_v3(&[user], &[])]);
        let name = user.split(':').next().unwrap();
        assert!(warnings.is_empty(), "{name}: {warnings:?}");
        let router = device(&devices, scanopy_testlan::ROUTER_IP.into());
        assert_eq!(
            router.hostname.as_deref(),
            Some("router.lab.test"),
            "{name}"
        );
        let s = snmp_service(router);
        assert_eq!(
            s.extra.get("snmp.version").map(String::as_str),
            Some("3"),
            "{name}"
        );
        assert!(
            s.extra.get("snmp.engineID").is_some_and(|e| !e.is_empty()),
            "{name}: {:?}",
            s.extra
        );
        // The ARP cache came through as well (a walk, not only the first GET).
        assert!(
            devices.iter().any(|d| d.sources.contains("snmp")
                && d.ips()
                    .iter()
                    .any(|ip| ip.to_string().starts_with("10.77.0."))
                && !d.ips().contains(&scanopy_testlan::ROUTER_IP.into())),
            "{name}: {devices:#?}"
        );
    }

    // Wrong credentials: each is named in one warning with the agent's reason; nothing is read
    // with them, and a community given as well is used instead.
    let wrong = [
        (
            "lab-sha:SHA:not-the-password:AES:rtr-priv-sha1",
            "wrong authentication",
        ),
        ("lab-sha:SHA:rtr-auth-sha1:AES:not-the-password", "privacy"),
        ("nobody:SHA:some-password", "unknown user"),
        (
            "lab-256:SHA:rtr-auth-sha256:AES:rtr-priv-sha256",
            "wrong authentication",
        ),
    ];
    for (user, why) in wrong {
        let (devices, warnings) = scan(&[&router_ip], "1", vec![snmp_v3(&[user], &[])]);
        let name = user.split(':').next().unwrap();
        assert!(
            warnings
                .iter()
                .any(|w| w.contains(&router_ip) && w.contains(name) && w.contains(why)),
            "{user}: {warnings:?}"
        );
        assert!(
            warnings.iter().all(|w| !w.contains("not-the-password")
                && !w.contains("rtr-auth")
                && !w.contains("rtr-priv")),
            "a password in a warning: {warnings:?}"
        );
        assert!(
            devices
                .iter()
                .all(|d| d.services.iter().all(|s| s.port != 161)),
            "{user}: read with wrong credentials: {devices:#?}"
        );
    }
    // A wrong user, then the right one: the right one reads it, no warning.
    let (devices, warnings) = scan(
        &[&router_ip],
        "1",
        vec![snmp_v3(
            &[
                "nobody:SHA:some-password",
                scanopy_testlan::ROUTER_V3_USERS[0],
            ],
            &[],
        )],
    );
    assert!(warnings.is_empty(), "{warnings:?}");
    let s = snmp_service(device(&devices, scanopy_testlan::ROUTER_IP.into()));
    assert_eq!(s.extra.get("snmp.version").map(String::as_str), Some("3"));
    // A wrong user and the right community: a warning for the user, the agent read as v2c.
    let (devices, warnings) = scan(
        &[&router_ip],
        "1",
        vec![snmp_v3(&["nobody:SHA:some-password"], &[CAMPUS_COMMUNITY])],
    );
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let s = snmp_service(device(&devices, scanopy_testlan::ROUTER_IP.into()));
    assert_eq!(s.extra.get("snmp.version").map(String::as_str), Some("2c"));
}

/// Versions 1 and 2c against the router's real snmpd, by hand: a v1 walk (GETNEXT, ending on
/// `noSuchName`) and a v2c walk (GETBULK) of the system group give the same rows.
#[test]
fn testlan_snmp_v1_and_v2c_walks_of_a_real_agent_agree() {
    use scanopy_scanners::snmp::ber::Oid;
    use scanopy_scanners::snmp::pdu::Version;
    use scanopy_scanners::snmp::walk::{End, Limits, Session};
    if !require("testlan_snmp_v1_and_v2c_walks_of_a_real_agent_agree") {
        return;
    }
    let walks = scanopy_testlan::in_scanner_ns(|| async {
        let (ctx, _rx) = scanopy_core::ScanContext::standalone(
            "snmp",
            scanopy_core::ScanConfig::default(),
            scanopy_core::TargetSet::default(),
            tokio_util::sync::CancellationToken::new(),
        );
        let system = Oid::parse("1.3.6.1.2.1.1").unwrap();
        let mut out = Vec::new();
        for v in [Version::V1, Version::V2c] {
            let mut s = Session::open(
                &ctx,
                scanopy_testlan::ROUTER_IP.into(),
                161,
                v,
                CAMPUS_COMMUNITY.as_bytes(),
                Limits::default(),
            )
            .await
            .unwrap();
            let w = s.walk(&system).await;
            out.push((v, w.end == End::Complete, w.rows, s.requests));
        }
        out
    });
    let (_, v1_done, v1_rows, v1_requests) = &walks[0];
    let (_, v2_done, v2_rows, v2_requests) = &walks[1];
    assert!(*v1_done && *v2_done, "{walks:?}");
    assert!(v1_rows.len() >= 7, "{v1_rows:?}");
    // sysUpTime moves between the two walks; every other row is the same.
    let stable = |rows: &[(Oid, scanopy_scanners::snmp::ber::Value)]| -> Vec<String> {
        rows.iter()
            .filter(|(o, _)| !o.to_string().starts_with("1.3.6.1.2.1.1.3."))
            .map(|(o, v)| format!("{o}={v:?}"))
            .collect()
    };
    assert_eq!(stable(v1_rows), stable(v2_rows));
    assert!(
        v1_requests > v2_requests,
        "GETNEXT asks once a row, GETBULK 40 at a time: {v1_requests} vs {v2_requests}"
    );
}
