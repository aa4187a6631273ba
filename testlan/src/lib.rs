//! The project's test LAN, seen from Rust tests (its layout: the comment at the top of
//! `testlan/testlan.sh`; keep both in sync).
//!
//! `testlan/testlan.sh up` (as root) builds a small LAN of network namespaces on 10.77.0.0/16
//! with real servers on it; this crate names its hosts and runs test code inside the scanner's
//! namespace ([`in_scanner_ns`]), so that tests send packets only to the test LAN (or to
//! 127.0.0.1), never to the machine's real network.
//!
//! A test that needs the LAN starts with [`require`]: when the LAN is up it returns `true`;
//! when it is not, the test is skipped with a message on stderr, unless `SCANOPY_TESTLAN=1`
//! says the environment promised it (as CI does), in which case the test fails loudly.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

/// The namespace the scanner runs in.
pub const SCANNER_NS: &str = "sclan-scan";
/// The scanner's own address.
pub const SCANNER_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);
/// The LAN the scanner is attached to.
pub const LAN: &str = "10.77.0.0/24";
/// The subnet behind the router.
pub const FAR_LAN: &str = "10.77.1.0/24";
/// The router's address on the LAN (the default gateway, and the DNS server).
pub const ROUTER_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
/// A /16 on the scanner's second leg, for sweeps of a large subnet.
pub const WIDE_LAN: &str = "10.78.0.0/16";
/// The two addresses of the host on [`WIDE_LAN`] (one MAC, `02:78:00:00:00:10`).
pub const WIDE_HOSTS: [Ipv4Addr; 2] =
    [Ipv4Addr::new(10, 78, 0, 10), Ipv4Addr::new(10, 78, 200, 20)];
/// The DNS domain of the LAN's names (`web.lab.test`).
pub const DOMAIN: &str = "lab.test";

/// A host of the test LAN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Host {
    /// Its short name (its DNS name is `{name}.lab.test`).
    pub name: &'static str,
    /// Its IPv4 address inside the test LAN's namespaces (the one the scanner probes).
    pub ip: Ipv4Addr,
    /// Its MAC, `None` for hosts beyond the router (the scanner never sees their MAC).
    pub mac: Option<&'static str>,
    /// TCP ports with a server behind them.
    pub open_tcp: &'static [u16],
    /// Whether it drops TCP instead of refusing it.
    pub drops_tcp: bool,
}

/// The router (10.77.0.1 and 10.77.1.1): DNS on 53/udp and 53/tcp.
pub const ROUTER: Host = Host {
    name: "router",
    ip: ROUTER_IP,
    mac: Some("02:77:00:00:00:01"),
    open_tcp: &[53],
    drops_tcp: false,
};
/// nginx on 80 and 443 (TLS, a self-signed certificate for `web.lab.test`) and redis on
/// 6379, with a Synology MAC.
pub const WEB: Host = Host {
    name: "web",
    ip: Ipv4Addr::new(10, 77, 0, 10),
    mac: Some("00:11:32:77:00:10"),
    open_tcp: &[80, 443, 6379],
    drops_tcp: false,
};
/// OpenSSH on 22.
pub const SSH: Host = Host {
    name: "ssh",
    ip: Ipv4Addr::new(10, 77, 0, 11),
    mac: Some("02:77:00:00:00:11"),
    open_tcp: &[22],
    drops_tcp: false,
};
/// No open port: every connection is refused.
pub const QUIET: Host = Host {
    name: "quiet",
    ip: Ipv4Addr::new(10, 77, 0, 12),
    mac: Some("02:77:00:00:00:12"),
    open_tcp: &[],
    drops_tcp: false,
};
/// Drops every TCP packet.
pub const DROP: Host = Host {
    name: "drop",
    ip: Ipv4Addr::new(10, 77, 0, 13),
    mac: Some("02:77:00:00:00:13"),
    open_tcp: &[],
    drops_tcp: true,
};
/// PostgreSQL on 5432, mosquitto on 1883, snmpd on 161/udp (community `public`).
pub const SVC: Host = Host {
    name: "svc",
    ip: Ipv4Addr::new(10, 77, 0, 20),
    mac: Some("02:77:00:00:00:20"),
    open_tcp: &[5432, 1883],
    drops_tcp: false,
};
/// 200 open ports: nginx on 20001-20200.
pub const MANY: Host = Host {
    name: "many",
    ip: Ipv4Addr::new(10, 77, 0, 21),
    mac: Some("02:77:00:00:00:21"),
    open_tcp: &[20001, 20100, 20200],
    drops_tcp: false,
};
/// The ports open on [`MANY`].
pub const MANY_PORTS: std::ops::RangeInclusive<u16> = 20001..=20200;
/// busybox httpd on 8080, beyond the router on 10.77.1.0/24.
pub const FAR: Host = Host {
    name: "far",
    ip: Ipv4Addr::new(10, 77, 1, 10),
    mac: None,
    open_tcp: &[8080],
    drops_tcp: false,
};
/// No servers and every TCP packet dropped, beyond the router on 10.77.1.0/24: only ICMP
/// (echo, timestamp) answers, so only ICMP discovery finds it.
pub const FAR_QUIET: Host = Host {
    name: "farquiet",
    ip: Ipv4Addr::new(10, 77, 1, 20),
    mac: None,
    open_tcp: &[],
    drops_tcp: true,
};

/// Every host but the scanner.
pub const HOSTS: [Host; 9] = [ROUTER, WEB, SSH, QUIET, DROP, SVC, MANY, FAR, FAR_QUIET];

/// IPv6 on the LAN: the router (fd77::1) advertises this prefix with radvd and every LAN host
/// takes a SLAAC address (EUI-64 of its MAC) from it; the scanner has [`SCANNER_V6`] only.
/// [`QUIET`] ignores multicast echo (as Windows does); [`SVC`] also has a temporary address,
/// which it prefers as its source.
pub const IPV6_LAN: &str = "fd77::/64";
/// The scanner's IPv6 address on the LAN (static; it takes no advertisements).
pub const SCANNER_V6: Ipv6Addr = Ipv6Addr::new(0xfd77, 0, 0, 0, 0, 0, 0, 2);
/// web's static IPv6 address (nginx listens on IPv6 too; PTR `web.lab.test`).
pub const WEB_V6: Ipv6Addr = Ipv6Addr::new(0xfd77, 0, 0, 0, 0, 0, 0, 0x10);
/// ssh's only global IPv6 address, SLAAC from its MAC 02:77:00:00:00:11 (sshd listens on
/// `::`; PTR `ssh.lab.test`).
pub const SSH_SLAAC: Ipv6Addr = Ipv6Addr::new(0xfd77, 0, 0, 0, 0x77, 0xff, 0xfe00, 0x11);

/// The home segment (the scanner's fourth leg, 10.77.3.2; no router): devices that announce
/// themselves.
pub const HOME_LAN: &str = "10.77.3.0/24";
/// avahi-daemon: mDNS host name `media.local`, an IPP printer instance "Office Printer"
/// (TXT `ty=Scanopy LabJet 400`) and an `_http._tcp` service, both static (no server behind
/// them: no TCP port is open); Samba's nmbd (NetBIOS name `MEDIA`, workgroup `LAB`).
pub const MEDIA: Host = Host {
    name: "media",
    ip: Ipv4Addr::new(10, 77, 3, 30),
    mac: Some("02:77:00:03:00:30"),
    open_tcp: &[],
    drops_tcp: false,
};

/// minissdpd answering SSDP for a UPnP MediaRenderer, its description served by busybox
/// httpd on 8080: friendly name "Living Room TV", Scanopy Labs ScreenCast 55.
pub const TV: Host = Host {
    name: "tv",
    ip: Ipv4Addr::new(10, 77, 3, 40),
    mac: Some("02:77:00:03:00:40"),
    open_tcp: &[8080],
    drops_tcp: false,
};

/// The hostile segment (the scanner's third leg, 10.77.2.2; the router is 10.77.2.1): hosts
/// that try to stall or fool a scan, as real processes (`testlan/hostile.py`, socat).
pub const HOSTILE_LAN: &str = "10.77.2.0/24";

const fn hostile(name: &'static str, last: u8, mac: &'static str, open: &'static [u16]) -> Host {
    Host {
        name,
        ip: Ipv4Addr::new(10, 77, 2, last),
        mac: Some(mac),
        open_tcp: open,
        drops_tcp: false,
    }
}

/// 443 accepts and never speaks (socat `SYSTEM:"sleep 300"`).
/// 25 is an SMTP server that greets after 1.5 s and hangs up on a client that speaks first.
pub const MUTE: Host = hostile("mute", 30, "02:77:00:02:00:30", &[25, 443]);
/// 443 sends one byte every 50 ms, forever.
pub const TRICKLE: Host = hostile("trickle", 31, "02:77:00:02:00:31", &[443]);
/// 80 sends 8 MiB of banner.
pub const FLOOD: Host = hostile("flood", 32, "02:77:00:02:00:32", &[80]);
/// 443 reads the ClientHello, sends half a ServerHello, then stalls.
pub const TLS_STALL: Host = hostile("tlsstall", 33, "02:77:00:02:00:33", &[443]);
/// Every TCP port answers (a few listed here), greeting with terminal escapes, then stalling.
pub const EVERY: Host = hostile("every", 34, "02:77:00:02:00:34", &[1, 22, 80, 443, 65535]);
/// 161/udp answers malformed BER, 53/udp malformed DNS; it also serves the PTR names of the
/// hostile hosts (through the router): see [`HOSTILE_PTR`].
pub const BAD_UDP: Host = hostile("badudp", 35, "02:77:00:02:00:35", &[]);
/// Answers ARP (and TCP, with resets) for every address of [`LIAR_CLAIMS`] besides its own.
pub const LIAR: Host = hostile("liar", 36, "02:77:00:02:00:36", &[]);
/// The addresses [`LIAR`] answers ARP for although they are not its own.
pub const LIAR_CLAIMS: &str = "10.77.2.64/26";
/// The hostile hosts.
pub const HOSTILE: [Host; 7] = [MUTE, TRICKLE, FLOOD, TLS_STALL, EVERY, BAD_UDP, LIAR];
/// The reverse-DNS names of hostile hosts, as sent (control characters, 63-byte labels, a
/// 253-character name, a CSV formula).
pub const HOSTILE_PTR: [(Ipv4Addr, &str); 5] = [
    (MUTE.ip, "\x1b[31mmute\x1b[0m.evil.test"),
    (
        TRICKLE.ip,
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.ddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd",
    ),
    (FLOOD.ip, "flood\r\n\x07bell.evil.test"),
    (TLS_STALL.ip, "tls\x08\x08\x08stall.evil.test"),
    (EVERY.ip, "=1+2.every.evil.test"),
];

/// The campus segment (the scanner's fifth leg, 10.77.4.2, on sw1's port `ge1`): two managed
/// switches in a row and four hosts, each running lldpd.
pub const CAMPUS_LAN: &str = "10.77.4.0/24";
/// The read community of the campus switches' agents (the svc host's is `public`).
pub const CAMPUS_COMMUNITY: &str = "lab-ro";

/// The router's SNMPv3 users (its snmpd's `createUser`s), as `--snmp-v3` takes them: authPriv
/// with SHA and with SHA-256 (AES), authNoPriv with MD5, and noAuthNoPriv.
pub const ROUTER_V3_USERS: [&str; 4] = [
    "lab-sha:SHA:rtr-auth-sha1:AES:rtr-priv-sha1",
    "lab-256:SHA-256:rtr-auth-sha256:AES:rtr-priv-sha256",
    "lab-md5:MD5:rtr-auth-md5",
    "lab-none",
];

/// A managed switch of the campus: snmpd on its management address (on the bridge itself)
/// serves the kernel's forwarding table and, through lldpd, LLDP-MIB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Switch {
    /// Its short name (`sysName` is `{name}.lab.test`).
    pub name: &'static str,
    /// Its management address.
    pub ip: Ipv4Addr,
    /// Its bridge's MAC.
    pub mac: &'static str,
    /// Its port to the other switch.
    pub uplink: &'static str,
}

/// The first switch: the scanner on `ge1`, `ca` on `ge2`, `cb` on `ge3`, `sw2` on `ge8`.
pub const SW1: Switch = Switch {
    name: "sw1",
    ip: Ipv4Addr::new(10, 77, 4, 3),
    mac: "02:77:04:00:00:03",
    uplink: "ge8",
};
/// The second switch: `sw1` on `ge1`, `cc` on `ge2`, `cd` on `ge3`.
pub const SW2: Switch = Switch {
    name: "sw2",
    ip: Ipv4Addr::new(10, 77, 4, 4),
    mac: "02:77:04:00:00:04",
    uplink: "ge1",
};

/// The campus hosts and where each is plugged in (the truth placement is checked against):
/// (host name, address, MAC, switch, port, VLAN of that port).
pub const CAMPUS: [(&str, Ipv4Addr, &str, &str, &str, u16); 4] = [
    (
        "ca",
        Ipv4Addr::new(10, 77, 4, 10),
        "02:77:04:00:00:10",
        "sw1",
        "ge2",
        10,
    ),
    (
        "cb",
        Ipv4Addr::new(10, 77, 4, 11),
        "02:77:04:00:00:11",
        "sw1",
        "ge3",
        20,
    ),
    (
        "cc",
        Ipv4Addr::new(10, 77, 4, 20),
        "02:77:04:00:00:20",
        "sw2",
        "ge2",
        20,
    ),
    (
        "cd",
        Ipv4Addr::new(10, 77, 4, 21),
        "02:77:04:00:00:21",
        "sw2",
        "ge3",
        20,
    ),
];

impl Host {
    /// Its address as an [`IpAddr`].
    pub fn addr(&self) -> IpAddr {
        IpAddr::V4(self.ip)
    }
}

/// Whether the test LAN is up (its scanner namespace exists).
pub fn is_up() -> bool {
    Path::new("/run/netns").join(SCANNER_NS).exists()
}

/// Whether the environment promised the LAN (`SCANOPY_TESTLAN=1`, set by `.ci/run`).
pub fn promised() -> bool {
    std::env::var("SCANOPY_TESTLAN").is_ok_and(|v| v == "1")
}

/// Call first in a test that needs the LAN. `true`: go on. `false`: the LAN is not up and
/// nobody promised it; the test should return (it has said on stderr that it skipped).
///
/// # Panics
/// When `SCANOPY_TESTLAN=1` promised the LAN and it is not up, or when not running as root.
pub fn require(test: &str) -> bool {
    if is_up() {
        assert!(
            nix::unistd::geteuid().is_root(),
            "{test}: the test LAN needs root to enter its namespaces"
        );
        return true;
    }
    assert!(
        !promised(),
        "{test}: SCANOPY_TESTLAN=1 but the test LAN is not up (run `sudo testlan/testlan.sh up`)"
    );
    eprintln!(
        "SKIPPED {test}: the test LAN is not up (run `sudo testlan/testlan.sh up` as root to include it)"
    );
    false
}

/// Runs `f` on a fresh thread that has entered network namespace `ns`, on a Tokio runtime of
/// its own (current-thread, I/O and time enabled). Every socket it opens belongs to `ns`.
///
/// # Panics
/// When the namespace cannot be entered, or `f` panics.
pub fn in_ns<F, Fut, T>(ns: &str, f: F) -> T
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T>,
    T: Send + 'static,
{
    let path = Path::new("/run/netns").join(ns);
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path)
            .unwrap_or_else(|e| panic!("failed to open {}: {e}", path.display()));
        nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)
            .unwrap_or_else(|e| panic!("failed to enter {}: {e}", path.display()));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("failed to build a Tokio runtime");
        rt.block_on(f())
    })
    .join()
    .unwrap_or_else(|p| std::panic::resume_unwind(p))
}

/// [`in_ns`] in the scanner's namespace.
pub fn in_scanner_ns<F, Fut, T>(f: F) -> T
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T>,
    T: Send + 'static,
{
    in_ns(SCANNER_NS, f)
}

/// The Docker socket the tests use.
pub const DOCKER_SOCKET: &str = "/var/run/docker.sock";

/// Call first in a test that needs a Docker engine (`testlan/docker.sh up`). `true`: go on.
/// `false`: no engine answers and nobody promised one; the test should return (it has said so
/// on stderr).
///
/// # Panics
/// When `SCANOPY_DOCKER=1` promised an engine and none answers.
pub fn require_docker(test: &str) -> bool {
    let up = std::process::Command::new("docker")
        .args(["info", "--format", "{{.ID}}"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if up {
        return true;
    }
    assert!(
        !std::env::var("SCANOPY_DOCKER").is_ok_and(|v| v == "1"),
        "{test}: SCANOPY_DOCKER=1 but no Docker engine answers (run `sudo testlan/docker.sh up`)"
    );
    eprintln!(
        "SKIPPED {test}: no Docker engine answers (run `sudo testlan/docker.sh up` as root to include it)"
    );
    false
}
