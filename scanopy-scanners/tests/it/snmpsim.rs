//! The `snmp` scanner against recorded walks played by Debian's snmpsim on 127.0.0.1: a real
//! Cisco Catalyst 3750 and a real Linux host (recordings Debian's package ships), our own
//! recording of agent quirks (testlan/snmprec/quirks.snmprec: holes, an error mid-table, an
//! agent that stops answering half-way), and a generated forwarding table of 10,000 MACs.

use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use scanopy_core::{Device, DeviceType, Scanner};
use scanopy_scanners::snmp::Community;
use scanopy_scanners::{SnmpScanner, SnmpSettings};

use crate::{device, run_scan};

const EXAMPLES: &str = "/usr/share/doc/snmpsim/examples/data";
const QUIRKS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../testlan/snmprec/quirks.snmprec"
);

/// `true`: snmpsimd is installed. `false`: skipped, said on stderr.
///
/// # Panics
/// When the test LAN's packages were promised (`SCANOPY_TESTLAN=1`, set by `.ci/run`, which
/// installs snmpsim) and it is missing.
fn require_snmpsim(test: &str) -> bool {
    let there = Command::new("snmpsimd")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if there {
        return true;
    }
    assert!(
        !scanopy_testlan::promised(),
        "{test}: SCANOPY_TESTLAN=1 but snmpsimd is not installed (apt-get install snmpsim)"
    );
    eprintln!("SKIPPED {test}: snmpsimd is not installed (apt-get install snmpsim to include it)");
    false
}

/// snmpsimd playing `records` (community, .snmprec text) on a free port of 127.0.0.1; stopped
/// when dropped.
struct Sim {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Sim {
    fn start(records: &[(&str, String)]) -> Sim {
        let dir = std::env::temp_dir().join(format!(
            "scanopy-snmpsim-{}-{}",
            std::process::id(),
            records[0].0
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let data = dir.join("data");
        let cache = dir.join("cache");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::create_dir_all(&cache).unwrap();
        for (community, text) in records {
            std::fs::write(data.join(format!("{community}.snmprec")), text).unwrap();
        }
        let root = nix::unistd::geteuid().is_root();
        if root {
            // It runs as nobody: its files must be readable, its cache writable.
            use std::os::unix::fs::PermissionsExt;
            for (p, mode) in [(&dir, 0o755), (&data, 0o755), (&cache, 0o777)] {
                std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
            }
        }
        let port = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cmd = Command::new("snmpsimd");
        cmd.arg(format!("--data-dir={}", data.display()))
            .arg(format!("--cache-dir={}", cache.display()))
            .arg(format!("--agent-udpv4-endpoint=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(dir.join("snmpsimd.log")).unwrap(),
            ));
        if root {
            cmd.args(["--process-user=nobody", "--process-group=nogroup"]);
        }
        let child = cmd.spawn().expect("start snmpsimd");
        let sim = Sim { child, port, dir };
        sim.wait_ready(records[0].0);
        sim
    }

    /// Until it answers a GET (it indexes its files first: seconds for a big one).
    fn wait_ready(&self, community: &str) {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let get = get_request(community);
        let until = Instant::now() + Duration::from_secs(90);
        let mut buf = [0u8; 2048];
        while Instant::now() < until {
            let _ = sock.send_to(&get, ("127.0.0.1", self.port));
            if sock.recv(&mut buf).is_ok() {
                return;
            }
        }
        panic!(
            "snmpsimd did not answer within 90 s; its log: {}",
            std::fs::read_to_string(self.dir.join("snmpsimd.log")).unwrap_or_default()
        );
    }

    fn scanner(&self, community: &str) -> Box<dyn Scanner> {
        Box::new(SnmpScanner::new(SnmpSettings {
            communities: vec![Community {
                community: community.to_owned(),
            }],
            port: self.port,
            ..Default::default()
        }))
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A v2c GET of sysDescr.0 with `community`, written out by hand.
fn get_request(community: &str) -> Vec<u8> {
    let oid = [0x06, 0x08, 0x2b, 6, 1, 2, 1, 1, 1, 0];
    let mut vb = vec![0x30, (oid.len() + 2) as u8];
    vb.extend_from_slice(&oid);
    vb.extend_from_slice(&[0x05, 0x00]);
    let mut list = vec![0x30, vb.len() as u8];
    list.extend(vb);
    let mut pdu_body = vec![0x02, 0x01, 0x01, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00];
    pdu_body.extend(list);
    let mut pdu = vec![0xa0, pdu_body.len() as u8];
    pdu.extend(pdu_body);
    let mut msg = vec![0x02, 0x01, 0x01, 0x04, community.len() as u8];
    msg.extend_from_slice(community.as_bytes());
    msg.extend(pdu);
    let mut out = vec![0x30, msg.len() as u8];
    out.extend(msg);
    out
}

fn gunzip(path: &Path) -> String {
    let out = Command::new("gzip")
        .arg("-dc")
        .arg(path)
        .output()
        .expect("gzip");
    assert!(out.status.success(), "gzip -dc {}", path.display());
    String::from_utf8(out.stdout).expect("a text recording")
}

fn scan_loopback(scanner: Box<dyn Scanner>) -> (Vec<Device>, Vec<String>) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(run_scan(
            vec!["127.0.0.1".to_owned()],
            "1".to_owned(),
            vec![scanner],
        ))
}

fn loopback(devices: &[Device]) -> &Device {
    device(devices, IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// A real Catalyst 3750's walk (51,008 rows): its name, model and serial, 59 interfaces,
/// its VTP VLANs, its CDP neighbour, its ARP cache as hosts, and it is a switch.
#[test]
fn snmpsim_reads_a_real_catalyst_3750() {
    if !require_snmpsim("snmpsim_reads_a_real_catalyst_3750") {
        return;
    }
    let rec = gunzip(&Path::new(EXAMPLES).join("cisco_16_switch.snmprec.gz"));
    let sim = Sim::start(&[("cisco3750", rec)]);
    let (devices, warnings) = scan_loopback(sim.scanner("cisco3750"));
    assert!(warnings.is_empty(), "{warnings:?}");
    let d = loopback(&devices);
    assert_eq!(d.hostname.as_deref(), Some("Profiler3750"));
    assert_eq!(
        d.device_type,
        DeviceType::Switch,
        "{:?}",
        d.device_type_evidence
    );
    let snmp = d.services.iter().find(|s| s.port == 161).expect("161/udp");
    assert!(
        snmp.extra
            .get("snmp.sysDescr")
            .is_some_and(|s| s.starts_with("Cisco IOS Software, C3750")),
        "{:?}",
        snmp.extra
    );
    assert!(
        snmp.extra
            .get("hw.product")
            .is_some_and(|m| m.contains("3750")),
        "ENTITY-MIB's chassis: {:?}",
        snmp.extra
    );
    let l2 = d.l2.as_ref().expect("its link layer");
    assert!(!l2.truncated);
    assert_eq!(
        l2.ports.len(),
        59,
        "{:?}",
        l2.ports.iter().map(|p| &p.name).collect::<Vec<_>>()
    );
    let vlans: Vec<(u16, Option<&str>)> =
        l2.vlans.iter().map(|v| (v.id, v.name.as_deref())).collect();
    for want in [
        (1, Some("default")),
        (4, Some("mgmt")),
        (10, Some("MGMT")),
        (35, Some("DATA")),
    ] {
        assert!(vlans.contains(&want), "{want:?} in {vlans:?}");
    }
    assert!(
        l2.ports.iter().any(|p| p.vlan == Some(65)),
        "CISCO-VLAN-MEMBERSHIP-MIB's access VLANs"
    );
    assert!(
        l2.neighbours
            .iter()
            .any(|n| n.source == "cdp" && n.name.as_deref() == Some("C2960X.uac.local")),
        "{:#?}",
        l2.neighbours
    );
    // Its ARP cache: hosts it talked to, with their MACs (nothing is sent to them).
    let heard = devices
        .iter()
        .filter(|x| x.sources.contains("snmp") && x.id != d.id && !x.macs().is_empty())
        .count();
    assert!(heard >= 50, "{heard} hosts from its ARP cache");
}

/// A real Linux host's full walk: named, typed by nothing it does not say, no warning.
#[test]
fn snmpsim_reads_a_real_linux_host() {
    if !require_snmpsim("snmpsim_reads_a_real_linux_host") {
        return;
    }
    let rec = gunzip(&Path::new(EXAMPLES).join("recorded/linux-full-walk.snmprec.gz"));
    let sim = Sim::start(&[("linux", rec)]);
    let (devices, warnings) = scan_loopback(sim.scanner("linux"));
    assert!(warnings.is_empty(), "{warnings:?}");
    let d = loopback(&devices);
    assert!(d.hostname.is_some(), "{d:#?}");
    assert_ne!(d.device_type, DeviceType::Switch);
    let l2 = d.l2.as_ref().expect("its interfaces");
    assert!(
        l2.ports
            .iter()
            .any(|p| p.kind.as_deref() == Some("ethernet")),
        "{:#?}",
        l2.ports
    );
}

/// Holes in tables, a genErr mid-table and an agent that stops answering half-way through the
/// last table: the scan ends, keeps every row it could read, says it read the agent in part,
/// and keeps no row that is not whole.
#[test]
fn snmpsim_quirks_end_the_scan_with_what_was_read() {
    if !require_snmpsim("snmpsim_quirks_end_the_scan_with_what_was_read") {
        return;
    }
    let sim = Sim::start(&[("quirks", std::fs::read_to_string(QUIRKS).unwrap())]);
    let (devices, warnings) = scan_loopback(sim.scanner("quirks"));
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("127.0.0.1") && w.contains("read in part")),
        "{warnings:?}"
    );
    let d = loopback(&devices);
    assert_eq!(d.hostname.as_deref(), Some("quirks.lab.test"));
    let l2 = d.l2.as_ref().expect("its link layer");
    assert!(l2.truncated, "read in part");
    let ports: Vec<(u32, &str, Option<String>)> = l2
        .ports
        .iter()
        .map(|p| (p.index, p.name.as_str(), p.mac.map(|m| m.to_string())))
        .collect();
    assert_eq!(
        ports,
        [
            (1, "ge1", Some("02:77:05:00:00:01".to_owned())),
            (2, "ge2", Some("02:77:05:00:00:02".to_owned())),
            // Row 3 has no name at all; row 4's MAC has five bytes.
            (4, "port 4", None),
        ]
    );
    assert_eq!(l2.ports[1].oper_up, Some(false));
    assert_eq!(
        l2.bridge_mac.map(|m| m.to_string()).as_deref(),
        Some("02:77:05:00:00:00")
    );
    // The forwarding table's ports were read before the agent stalled; entries without a
    // port are not kept.
    let learnt: Vec<(String, u32)> = l2
        .learnt
        .iter()
        .map(|l| (l.mac.to_string(), l.port))
        .collect();
    assert_eq!(
        learnt,
        [
            ("02:77:05:00:00:10".to_owned(), 1),
            ("02:77:05:00:00:12".to_owned(), 2),
            ("02:77:05:00:00:13".to_owned(), 99),
        ]
    );
    assert!(l2.neighbours.len() <= 1, "{:#?}", l2.neighbours);
    // Its ARP cache: the entry with a whole MAC only.
    let arp: Vec<String> = devices
        .iter()
        .filter(|x| x.id != d.id)
        .flat_map(|x| x.ips())
        .map(|ip| ip.to_string())
        .collect();
    assert_eq!(arp, ["10.77.5.10"], "{devices:#?}");
}

/// A bridge's forwarding table of `n` MACs on 48 ports, as a recording.
fn fdb_recording(n: u32) -> String {
    let mut rows: Vec<(Vec<u32>, String)> = vec![
        (vec![1, 3, 6, 1, 2, 1, 1, 5, 0], "4|fdb.lab.test".into()),
        (
            vec![1, 3, 6, 1, 2, 1, 17, 1, 1, 0],
            "4x|027706000000".into(),
        ),
    ];
    for p in 1..=48u32 {
        rows.push((vec![1, 3, 6, 1, 2, 1, 2, 2, 1, 3, p], "2|6".into()));
        rows.push((
            vec![1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 1, p],
            format!("4|ge{p}"),
        ));
        rows.push((vec![1, 3, 6, 1, 2, 1, 17, 1, 4, 1, 2, p], format!("2|{p}")));
    }
    for i in 0..n {
        let mac = [0x02, 0x66, 0, (i >> 16) as u8, (i >> 8) as u8, i as u8];
        let mut idx = vec![1, 3, 6, 1, 2, 1, 17, 4, 3, 1, 2];
        idx.extend(mac.iter().map(|b| u32::from(*b)));
        rows.push((idx.clone(), format!("2|{}", i % 48 + 1)));
        idx[10] = 3;
        rows.push((idx, "2|3".into()));
    }
    rows.sort();
    rows.into_iter()
        .map(|(oid, v)| {
            let oid: Vec<String> = oid.iter().map(u32::to_string).collect();
            format!("{}|{v}\n", oid.join("."))
        })
        .collect()
}

/// A forwarding table of 10,000 MACs is read whole, each on its port.
#[test]
fn snmpsim_a_forwarding_table_of_10000_macs_is_read_whole() {
    if !require_snmpsim("snmpsim_a_forwarding_table_of_10000_macs_is_read_whole") {
        return;
    }
    let sim = Sim::start(&[("fdb10k", fdb_recording(10_000))]);
    let started = Instant::now();
    let (devices, warnings) = scan_loopback(sim.scanner("fdb10k"));
    eprintln!(
        "10,000 MACs read and merged in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    assert!(warnings.is_empty(), "{warnings:?}");
    let l2 = loopback(&devices).l2.as_ref().expect("its link layer");
    assert!(!l2.truncated);
    assert_eq!(l2.learnt.len(), 10_000);
    // Each on the port the recording put it on.
    for l in &l2.learnt {
        let i =
            (u32::from(l.mac.0[3]) << 16) | (u32::from(l.mac.0[4]) << 8) | u32::from(l.mac.0[5]);
        assert_eq!(l.port, i % 48 + 1, "{}", l.mac);
    }
    let on_7 = l2.learnt.iter().filter(|l| l.port == 7).count();
    assert!((208..=209).contains(&on_7), "{on_7} MACs on port 7");
}
