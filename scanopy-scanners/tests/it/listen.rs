//! The passive listener against a host that joins the test LAN's home segment (`testlan.sh
//! join`: busybox udhcpc asks the media host's dnsmasq for an address with a host name and vendor class, then
//! announces it by gratuitous ARP): it is heard, named and typed without a packet sent.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use scanopy_core::Fact;
use scanopy_scanners::listen::{Passive, PassiveLimits, listen};
use scanopy_testlan::{in_scanner_ns, require};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../testlan/testlan.sh");

fn testlan(args: &[&str]) -> bool {
    std::process::Command::new(SCRIPT)
        .args(args)
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn testlan_a_host_that_joins_is_heard_with_its_dhcp_name_os_and_arp() {
    if !require("testlan_a_host_that_joins_is_heard_with_its_dhcp_name_os_and_arp") {
        return;
    }
    testlan(&["leave", "joiner"]);
    // The join runs from this namespace once the listener is up (it makes a namespace of its
    // own, which is not done from inside the scanner's).
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let joiner = std::thread::spawn(move || {
        go_rx.recv().unwrap();
        testlan(&[
            "join",
            "joiner",
            "02:77:00:00:00:77",
            "phone",
            "android-dhcp-13",
        ])
    });
    let (facts, took) = in_scanner_ns(move || async move {
        let (tx, mut rx) = tokio::sync::mpsc::channel(scanopy_scanners::listen::LISTEN_QUEUE);
        let listener = listen(tx).expect("a packet socket (CAP_NET_RAW)");
        let mut passive = Passive::new(PassiveLimits::default());
        let start = Instant::now();
        go_tx.send(()).unwrap();
        let mut facts: Vec<(IpAddr, Fact)> = Vec::new();
        let mut named = None;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let got = tokio::time::timeout_at(deadline, rx.recv()).await;
            let Ok(Some((heard, at))) = got else { break };
            for f in passive.hear(&heard, at) {
                if matches!(&f.1, Fact::Hostname { source, .. } if source == "dhcp")
                    && named.is_none()
                {
                    named = Some(at.duration_since(start));
                }
                facts.push(f);
            }
            // The joiner: its DHCP name and its gratuitous ARP (others, such as a switch
            // named by LLDP that ARPs too, are not it).
            let arp_seen = facts.iter().any(|(ip, f)| {
                matches!(f, Fact::Alive { method, .. } if method == "passive-arp")
                    && facts.iter().any(|(i, g)| {
                        i == ip && matches!(g, Fact::Hostname { source, .. } if source == "dhcp")
                    })
            });
            if arp_seen {
                break;
            }
        }
        drop(listener);
        (facts, named)
    });
    let joined = joiner.join().unwrap();
    testlan(&["leave", "joiner"]);
    assert!(joined, "the joiner got no lease");
    let ip = facts
        .iter()
        .find_map(|(ip, f)| match f {
            Fact::Hostname { name, source } if name == "phone" && source == "dhcp" => Some(*ip),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no DHCP host name heard: {facts:#?}"));
    let v4 = match ip {
        IpAddr::V4(v4) => v4,
        IpAddr::V6(_) => panic!("{ip}"),
    };
    assert!(
        (100..150).contains(&v4.octets()[3]) && v4.octets()[..3] == [10, 77, 3],
        "{ip}"
    );
    let of_ip: Vec<&Fact> = facts
        .iter()
        .filter(|(i, _)| *i == ip)
        .map(|(_, f)| f)
        .collect();
    assert!(
        of_ip
            .iter()
            .any(|f| matches!(f, Fact::Mac { mac } if mac.to_string() == "02:77:00:00:00:77")),
        "{of_ip:#?}"
    );
    assert!(
        of_ip
            .iter()
            .any(|f| matches!(f, Fact::Os(h) if h.name.as_deref() == Some("Android"))),
        "{of_ip:#?}"
    );
    assert!(
        of_ip
            .iter()
            .any(|f| matches!(f, Fact::Alive { method, .. } if method == "passive-arp")),
        "the gratuitous ARP: {of_ip:#?}"
    );
    eprintln!("heard the joiner's name {took:?} after the join began");
}

/// The listener in the scanner's namespace hears sw1 on eth4 (its fifth leg, on sw1's ge1) by
/// LLDP and by CDP (lldpd -ccc): this machine's link layer names sw1 and its port, and sw1 is
/// heard at its management address as a switch, with no SNMP and no packet sent.
#[test]
fn testlan_the_listener_hears_its_switch_by_lldp_and_cdp() {
    if !require("testlan_the_listener_hears_its_switch_by_lldp_and_cdp") {
        return;
    }
    let facts = in_scanner_ns(|| async {
        let (tx, mut rx) = tokio::sync::mpsc::channel(scanopy_scanners::listen::LISTEN_QUEUE);
        let listener = listen(tx).expect("a packet socket (CAP_NET_RAW)");
        let mut passive = Passive::new(PassiveLimits::default());
        passive.set_interfaces(scanopy_scanners::listen::own_interfaces());
        let mut facts: Vec<(IpAddr, Fact)> = Vec::new();
        // lldpd sends every 5 s: both protocols within three rounds.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(16);
        loop {
            let got = tokio::time::timeout_at(deadline, rx.recv()).await;
            let Ok(Some((heard, at))) = got else { break };
            facts.extend(passive.hear(&heard, at));
            let both = facts.iter().rev().any(|(_, f)| {
                matches!(f, Fact::L2(l) if ["lldp", "cdp"]
                    .iter()
                    .all(|s| l.neighbours.iter().any(|n| n.source == *s)))
            });
            if both {
                break;
            }
        }
        drop(listener);
        facts
    });
    let me: IpAddr = "10.77.4.2".parse().unwrap();
    let l2 = facts
        .iter()
        .rev()
        .find_map(|(ip, f)| match f {
            Fact::L2(l) if *ip == me => Some(l.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no link layer told of 10.77.4.2: {facts:#?}"));
    assert_eq!(l2.ports.len(), 1, "{l2:#?}");
    assert_eq!(l2.ports[0].name, "eth4");
    assert_eq!(
        l2.ports[0].mac.map(|m| m.to_string()).as_deref(),
        Some("02:77:04:00:00:02")
    );
    for source in ["lldp", "cdp"] {
        let n = l2
            .neighbours
            .iter()
            .find(|n| n.source == source)
            .unwrap_or_else(|| panic!("no {source} neighbour: {l2:#?}"));
        assert_eq!(n.port, "eth4");
        assert_eq!(n.name.as_deref(), Some("sw1.lab.test"), "{n:#?}");
        assert_eq!(n.address, Some("10.77.4.3".parse().unwrap()), "{n:#?}");
        assert!(n.is_bridge(), "{n:#?}");
        // sw1's port: LLDP names it in the port description (its id is a MAC), CDP in the id.
        let port = n
            .remote_port_description
            .as_deref()
            .or(n.remote_port.as_deref());
        assert_eq!(port, Some("ge1"), "{n:#?}");
    }
    let sw1: IpAddr = "10.77.4.3".parse().unwrap();
    assert!(facts.iter().any(|(ip, f)| *ip == sw1
        && matches!(
            f,
            Fact::DeviceType {
                device_type: scanopy_core::DeviceType::Switch,
                ..
            }
        )));
    assert!(
        facts.iter().any(|(ip, f)| *ip == sw1
            && matches!(f, Fact::Hostname { name, .. } if name == "sw1.lab.test"))
    );
}

/// Sent from the TV's namespace: a multicast mDNS query (from port 5353, so answers are
/// multicast too) for the media host's reverse name and for IPP printers.
const MDNS_QUERY: &str = r#"
import socket, struct
def name(n):
    return b"".join(bytes([len(l)]) + l.encode() for l in n.split(".")) + b"\0"
q = struct.pack(">6H", 0, 0, 2, 0, 0, 0)
q += name("30.3.77.10.in-addr.arpa") + struct.pack(">2H", 12, 1)
q += name("_ipp._tcp.local") + struct.pack(">2H", 12, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 5353))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("10.77.3.40"))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
s.sendto(q, ("224.0.0.251", 5353))
"#;

/// The listener in the scanner's namespace overhears the media host's avahi answer a query the
/// TV multicasts: the printer is named, typed and its model read, without a packet sent by the
/// listener.
#[test]
fn testlan_the_listener_overhears_mdns_answers() {
    if !require("testlan_the_listener_overhears_mdns_answers") {
        return;
    }
    let media = IpAddr::V4(scanopy_testlan::MEDIA.ip);
    let facts = in_scanner_ns(move || async move {
        let (tx, mut rx) = tokio::sync::mpsc::channel(scanopy_scanners::listen::LISTEN_QUEUE);
        let listener = listen(tx).expect("a packet socket (CAP_NET_RAW)");
        let mut passive = Passive::new(PassiveLimits::default());
        let mut facts: Vec<(IpAddr, Fact)> = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let mut asked = tokio::time::Instant::now();
        let ask = || {
            std::process::Command::new("ip")
                .args(["netns", "exec", "sclan-tv", "python3", "-c", MDNS_QUERY])
                .status()
                .is_ok_and(|s| s.success())
        };
        assert!(ask(), "the TV's query was not sent");
        loop {
            // Asked again every 2 s (a multicast answer may be delayed or lost).
            if asked.elapsed() > Duration::from_secs(2) {
                ask();
                asked = tokio::time::Instant::now();
            }
            let got = tokio::time::timeout(Duration::from_millis(500), rx.recv()).await;
            if let Ok(Some((heard, at))) = got {
                facts.extend(passive.hear(&heard, at));
            }
            let named = facts.iter().any(|(ip, f)| {
                *ip == media && matches!(f, Fact::Hostname { source, .. } if source == "mdns")
            });
            let typed = facts.iter().any(|(ip, f)| {
                *ip == media
                    && matches!(
                        f,
                        Fact::DeviceType {
                            device_type: scanopy_core::DeviceType::Printer,
                            ..
                        }
                    )
            });
            if (named && typed) || tokio::time::Instant::now() > deadline {
                break;
            }
        }
        drop(listener);
        facts
    });
    let of_media: Vec<&Fact> = facts
        .iter()
        .filter(|(ip, _)| *ip == media)
        .map(|(_, f)| f)
        .collect();
    assert!(
        of_media
            .iter()
            .any(|f| matches!(f, Fact::Hostname { name, source } if name == "media.local" && source == "mdns")),
        "{of_media:#?}"
    );
    assert!(
        of_media.iter().any(|f| matches!(
            f,
            Fact::DeviceType {
                device_type: scanopy_core::DeviceType::Printer,
                ..
            }
        )),
        "{of_media:#?}"
    );
    assert!(
        of_media
            .iter()
            .any(|f| matches!(f, Fact::Port(p) if p.port == 5353
            && p.extra.get("mdns.model").is_some_and(|m| m.contains("LabJet")))),
        "{of_media:#?}"
    );
}
