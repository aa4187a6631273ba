//! UDP probes for the services that matter on a LAN and only answer UDP: DNS (53), NTP (123)
//! and SNMP (161, community `public`). A service that answers is reported open and named; one
//! that stays silent is not reported (open and filtered cannot be told apart), nor is one that
//! the host says is closed (ICMP port unreachable). A host's mDNS responder (5353) is asked
//! by unicast for its name, services and model ([`crate::mdns`]), and its NetBIOS name service
//! (137) for its computer name and workgroup ([`crate::netbios`]), and its SSDP responder
//! (1900) for the UPnP devices it offers, whose description (fetched from that host only, within
//! 2 s and 64 KiB) tells their friendly name, maker, model and type ([`crate::ssdp`]).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use async_trait::async_trait;
use scanopy_core::{
    Confidence, Fact, PortFact, PortState, ScanContext, ScanError, Scanner, ScannerKind, Scope,
    Transport,
};
use tokio::net::UdpSocket;

use crate::catalogue::Catalogue;
use crate::probe::{Connect, connect, read_some};
use crate::{mdns, netbios, ssdp};

/// The SNMPv2c GetRequest for sysDescr.0 and sysName.0 with community `public`.
pub const SNMP_GET: [u8; 57] = [
    0x30, 0x37, 0x02, 0x01, 0x01, 0x04, 0x06, b'p', b'u', b'b', b'l', b'i', b'c', 0xa0, 0x2a, 0x02,
    0x04, 0x5c, 0xa9, 0x00, 0x01, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x1c, 0x30, 0x0c, 0x06,
    0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x01, 0x00, 0x05, 0x00, 0x30, 0x0c, 0x06, 0x08, 0x2b,
    0x06, 0x01, 0x02, 0x01, 0x01, 0x05, 0x00, 0x05, 0x00,
];

/// sysDescr.0 and sysName.0, as encoded object identifiers.
const SYS_DESCR: [u8; 8] = [0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x01, 0x00];
const SYS_NAME: [u8; 8] = [0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x05, 0x00];

/// An NTPv4 client request.
pub fn ntp_request() -> [u8; 48] {
    let mut p = [0u8; 48];
    p[0] = 0x23; // LI 0, version 4, mode 3 (client)
    p
}

/// The DNS `version.bind` CH TXT query (the TCP probe of the catalogue, without its length).
pub const DNS_VERSION: [u8; 30] = [
    0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, b'v', b'e', b'r',
    b's', b'i', b'o', b'n', 0x04, b'b', b'i', b'n', b'd', 0x00, 0x00, 0x10, 0x00, 0x03,
];

/// Reads one BER TLV at `pos`: (tag, value range, position after it).
fn tlv(b: &[u8], pos: usize) -> Option<(u8, std::ops::Range<usize>, usize)> {
    let tag = *b.get(pos)?;
    let first = *b.get(pos + 1)?;
    let (len, hdr) = if first & 0x80 == 0 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | usize::from(*b.get(pos + 2 + i)?);
        }
        (len, 2 + n)
    };
    let start = pos.checked_add(hdr)?;
    let end = start.checked_add(len)?;
    (end <= b.len()).then_some((tag, start..end, end))
}

/// The string values of an SNMP response's variable bindings, by object identifier. Never
/// panics, whatever the bytes.
pub fn snmp_strings(b: &[u8]) -> Vec<(Vec<u8>, String)> {
    let mut out = Vec::new();
    let Some((0x30, msg, _)) = tlv(b, 0) else {
        return out;
    };
    // version, community, then the PDU.
    let Some((0x02, _, p)) = tlv(b, msg.start) else {
        return out;
    };
    let Some((0x04, _, p)) = tlv(b, p) else {
        return out;
    };
    let Some((0xa2, pdu, _)) = tlv(b, p) else {
        return out;
    };
    let mut p = pdu.start;
    for _ in 0..3 {
        let Some((0x02, _, next)) = tlv(b, p) else {
            return out;
        };
        p = next;
    }
    let Some((0x30, list, _)) = tlv(b, p) else {
        return out;
    };
    let mut p = list.start;
    while p < list.end {
        let Some((0x30, vb, next)) = tlv(b, p) else {
            break;
        };
        if let Some((0x06, oid, after)) = tlv(b, vb.start) {
            if let Some((0x04, val, _)) = tlv(b, after) {
                out.push((
                    b[oid].to_vec(),
                    String::from_utf8_lossy(&b[val]).trim().to_owned(),
                ));
            }
        }
        p = next;
    }
    out
}

/// The text of the first TXT answer in a DNS response (what a server says to a
/// `version.bind` CHAOS query), if it is one: header, one question skipped, the answer's name
/// (a pointer or labels), type 16, its character-strings joined. `None` for anything else.
pub fn dns_version_text(b: &[u8]) -> Option<String> {
    let u16_at = |i: usize| Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]));
    if b.len() < 12 || b[2] & 0x80 == 0 || u16_at(6)? == 0 {
        return None;
    }
    let skip_name = |mut i: usize| -> Option<usize> {
        for _ in 0..128 {
            let len = *b.get(i)?;
            if len & 0xc0 == 0xc0 {
                return Some(i + 2);
            }
            if len == 0 {
                return Some(i + 1);
            }
            i += 1 + usize::from(len);
        }
        None
    };
    let mut i = 12;
    for _ in 0..u16_at(4)? {
        i = skip_name(i)? + 4;
    }
    i = skip_name(i)?;
    if u16_at(i)? != 16 {
        return None;
    }
    let rdlen = usize::from(u16_at(i + 8)?);
    let rdata = b.get(i + 10..i + 10 + rdlen)?;
    let mut out = Vec::new();
    let mut j = 0;
    while j < rdata.len() {
        let n = usize::from(rdata[j]);
        out.extend_from_slice(rdata.get(j + 1..j + 1 + n)?);
        j += 1 + n;
    }
    let text = String::from_utf8_lossy(&out).trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// What an NTP answer says: its stratum, if it is a server's reply.
pub fn ntp_stratum(b: &[u8]) -> Option<u8> {
    (b.len() >= 48 && b[0] & 0x07 == 4).then(|| b[1])
}

/// The UDP probe scanner.
#[derive(Debug, Clone, Default)]
pub struct UdpScanner {
    catalogue: Catalogue,
}

enum Answer {
    Bytes(Vec<u8>),
    Closed,
    Silent,
}

async fn ask(ip: IpAddr, port: u16, payload: &[u8], wait: Duration) -> Answer {
    let bind: SocketAddr = if ip.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    };
    let Ok(sock) = UdpSocket::bind(bind).await else {
        return Answer::Silent;
    };
    if sock.connect(SocketAddr::new(ip, port)).await.is_err() || sock.send(payload).await.is_err() {
        return Answer::Silent;
    }
    let mut buf = vec![0u8; 4096];
    match tokio::time::timeout(wait, sock.recv(&mut buf)).await {
        Ok(Ok(n)) => {
            buf.truncate(n);
            Answer::Bytes(buf)
        }
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => Answer::Closed,
        _ => Answer::Silent,
    }
}

#[async_trait]
impl Scanner for UdpScanner {
    fn name(&self) -> &str {
        "udp"
    }

    fn kind(&self) -> ScannerKind {
        ScannerKind::PerHost
    }

    async fn run(&self, ctx: &ScanContext, scope: Scope<'_>) -> Result<(), ScanError> {
        let Scope::Host(ip) = scope else {
            return Err(ScanError::Config("udp probes one host at a time".into()));
        };
        let wait = ctx
            .rtt_hint(ip)
            .map(|r| {
                (r * 8 + Duration::from_millis(200))
                    .min(Duration::from_millis(ctx.config().timeout_ms.max(200)))
            })
            .unwrap_or(Duration::from_millis(ctx.config().timeout_ms.max(200)));
        // SNMP first: it tells the most (the host's own name and description).
        let probes: [(u16, Vec<u8>); 4] = [
            (161, SNMP_GET.to_vec()),
            (53, DNS_VERSION.to_vec()),
            (123, ntp_request().to_vec()),
            (
                netbios::NETBIOS_PORT,
                netbios::node_status_query(NETBIOS_ID),
            ),
        ];
        for (port, payload) in probes {
            if !ctx.config().port_allowed(port) {
                continue;
            }
            // Two tries: UDP may be lost.
            let Some(answer) = ask_with_permit(ctx, ip, port, &payload, wait, 2).await else {
                return Ok(());
            };
            ctx.progress().add_ports_probed(1);
            let Answer::Bytes(bytes) = answer else {
                continue;
            };
            if let Some(fact) = self.identify(ctx, ip, port, &bytes).await {
                ctx.observe(ip, Fact::Port(fact)).await;
            }
        }
        // mDNS after the single-question probes: it takes up to ten queries.
        if ctx.config().port_allowed(mdns::MDNS_PORT) {
            if let Some(fact) = ask_mdns(ctx, ip, wait).await {
                ctx.observe(ip, Fact::Port(fact)).await;
            }
        }
        if ctx.config().port_allowed(ssdp::SSDP_PORT) {
            if let Some(fact) = ask_ssdp(ctx, ip, wait).await {
                ctx.observe(ip, Fact::Port(fact)).await;
            }
        }
        Ok(())
    }
}

/// Asks `ip` up to `tries` times until it answers, each under a probe permit of the scan's
/// budget. `None`: the scan was cancelled (or its budget closed).
async fn ask_with_permit(
    ctx: &ScanContext,
    ip: IpAddr,
    port: u16,
    payload: &[u8],
    wait: Duration,
    tries: usize,
) -> Option<Answer> {
    let mut answer = Answer::Silent;
    for _ in 0..tries {
        let _permit = ctx.probe().await?;
        answer = tokio::select! {
            a = ask(ip, port, payload, wait) => a,
            _ = ctx.cancelled() => return None,
        };
        if !matches!(answer, Answer::Silent) {
            break;
        }
    }
    Some(answer)
}

/// The transaction id of the NetBIOS node status request.
const NETBIOS_ID: u16 = 0x4e42;

/// The port fact for a NetBIOS node status answer; observes the computer's name (source
/// `netbios`) and the MAC it tells.
async fn netbios_fact(ctx: &ScanContext, ip: IpAddr, bytes: &[u8]) -> Option<PortFact> {
    let status = netbios::parse_node_status(NETBIOS_ID, bytes)?;
    let mut f = PortFact::state(netbios::NETBIOS_PORT, Transport::Udp, PortState::Open);
    f.name = Some("netbios-ns".into());
    f.confidence = Confidence::High;
    f.evidence = "netbios-node-status".into();
    if let Some(w) = status.workgroup() {
        f.extra.insert("netbios.workgroup".into(), w.to_owned());
    }
    if let Some(c) = status.computer() {
        f.extra.insert("netbios.name".into(), c.to_owned());
        ctx.observe(
            ip,
            Fact::Hostname {
                name: c.to_owned(),
                source: "netbios".into(),
            },
        )
        .await;
    }
    if let Some(mac) = status.mac {
        f.extra.insert(
            "netbios.mac".into(),
            mac.iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":"),
        );
    }
    Some(f)
}

/// Asks the host's mDNS responder by legacy unicast (see [`mdns`]): its name, its service
/// types, their instances and those instances' TXT records, in at most
/// 1 + [`mdns::MAX_TYPES`] + 1 queries. Reports `5353/udp` as `mdns` with what it said, and
/// observes the name (source `mdns`) and the device type its services imply.
async fn ask_mdns(ctx: &ScanContext, ip: IpAddr, wait: Duration) -> Option<PortFact> {
    let reverse = crate::dns::reverse_name(ip);
    let mut ask = MdnsAsk {
        ctx,
        ip,
        wait,
        id: 0x5c00,
        ann: mdns::Announcement::default(),
    };
    let first = vec![
        (reverse.clone(), mdns::PTR),
        (mdns::SERVICES.to_owned(), mdns::PTR),
    ];
    let answered = ask.round(&reverse, first, 2).await?;
    ctx.progress().add_ports_probed(1);
    if !answered {
        return None;
    }
    let types: Vec<String> = ask
        .ann
        .services
        .iter()
        .take(mdns::MAX_TYPES)
        .cloned()
        .collect();
    for t in types {
        ask.round(&reverse, vec![(format!("{t}.local"), mdns::PTR)], 1)
            .await?;
    }
    let missing = ask.ann.missing_txt();
    if !missing.is_empty() {
        let questions = missing
            .into_iter()
            .flat_map(|n| [(n.clone(), mdns::TXT), (n, mdns::SRV)])
            .collect();
        ask.round(&reverse, questions, 1).await?;
    }
    Some(mdns_fact(ctx, ip, &ask.ann).await)
}

/// One host's mDNS questions and what its answers said so far.
struct MdnsAsk<'a> {
    ctx: &'a ScanContext,
    ip: IpAddr,
    wait: Duration,
    id: u16,
    ann: mdns::Announcement,
}

impl MdnsAsk<'_> {
    /// Asks the questions in one query (up to `tries` times) and folds the answer in.
    /// `Some(true)`: records came back; `None`: the scan was cancelled.
    async fn round(
        &mut self,
        reverse: &str,
        questions: Vec<(String, u16)>,
        tries: usize,
    ) -> Option<bool> {
        self.id = self.id.wrapping_add(1);
        let q: Vec<(&str, u16)> = questions.iter().map(|(n, t)| (n.as_str(), *t)).collect();
        let payload = mdns::query(self.id, &q);
        let answer = ask_with_permit(
            self.ctx,
            self.ip,
            mdns::MDNS_PORT,
            &payload,
            self.wait,
            tries,
        )
        .await?;
        let Answer::Bytes(bytes) = answer else {
            return Some(false);
        };
        let records = mdns::parse(self.id, &bytes);
        self.ann.add(reverse, &records);
        Some(!records.is_empty())
    }
}

/// The port fact for what a host's mDNS responder said; observes its name and type.
async fn mdns_fact(ctx: &ScanContext, ip: IpAddr, ann: &mdns::Announcement) -> PortFact {
    let (f, more) = mdns::facts(ann, "mdns-unicast-query");
    for fact in more {
        ctx.observe(ip, fact).await;
    }
    f
}

/// How long the answers to one `M-SEARCH` are collected after the first, at most.
const SSDP_COLLECT: Duration = Duration::from_secs(1);
/// The deadline and the idle wait of a device description's fetch.
const DESCRIPTION_DEADLINE: Duration = Duration::from_secs(2);
const DESCRIPTION_IDLE: Duration = Duration::from_millis(500);

/// Sends a unicast `M-SEARCH` to `ip` twice, back to back (a lost datagram costs no second
/// wait), and reads up to [`ssdp::MAX_REPLIES`] answers: the first within `wait`, the others
/// until the host falls quiet for 200 ms or [`SSDP_COLLECT`] passes. Answers repeated (to the
/// second copy) are kept once. `None`: the scan was cancelled; an empty list: no answer.
async fn ssdp_replies(ctx: &ScanContext, ip: IpAddr, wait: Duration) -> Option<Vec<ssdp::Reply>> {
    let bind: SocketAddr = if ip.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    };
    let Ok(sock) = UdpSocket::bind(bind).await else {
        return Some(Vec::new());
    };
    if sock
        .connect(SocketAddr::new(ip, ssdp::SSDP_PORT))
        .await
        .is_err()
    {
        return Some(Vec::new());
    }
    let request = ssdp::msearch(ip);
    for _ in 0..2 {
        let _permit = ctx.probe().await?;
        if sock.send(&request).await.is_err() {
            return Some(Vec::new());
        }
    }
    ctx.progress().add_ports_probed(1);
    let mut buf = vec![0u8; 4096];
    let mut replies: Vec<ssdp::Reply> = Vec::new();
    let start = tokio::time::Instant::now();
    let mut until = start + wait;
    for _ in 0..ssdp::MAX_REPLIES * 2 {
        let got = tokio::select! {
            r = tokio::time::timeout_at(until, sock.recv(&mut buf)) => r,
            _ = ctx.cancelled() => return None,
        };
        // Silence, or port unreachable: nothing (more) to read.
        let Ok(Ok(n)) = got else { break };
        if let Some(r) = ssdp::parse_reply(&buf[..n]) {
            if !replies.contains(&r) {
                replies.push(r);
            }
        }
        if replies.len() >= ssdp::MAX_REPLIES {
            break;
        }
        let now = tokio::time::Instant::now();
        until = (now + Duration::from_millis(200)).min(start + wait + SSDP_COLLECT);
    }
    Some(replies)
}

/// Fetches the device description at `port`/`path` on `ip` under one probe permit, within
/// [`DESCRIPTION_DEADLINE`] and [`ssdp::MAX_DESCRIPTION`] bytes.
async fn fetch_description(
    ctx: &ScanContext,
    ip: IpAddr,
    port: u16,
    path: &str,
) -> Option<ssdp::Description> {
    use tokio::io::AsyncWriteExt;
    let _permit = ctx.probe().await?;
    let fetch = async {
        let Connect::Open(mut s, _) =
            connect(SocketAddr::new(ip, port), DESCRIPTION_DEADLINE).await
        else {
            return None;
        };
        s.write_all(&ssdp::description_request(ip, port, path))
            .await
            .ok()?;
        let got = read_some(
            &mut s,
            DESCRIPTION_DEADLINE,
            DESCRIPTION_IDLE,
            ssdp::MAX_DESCRIPTION,
            DESCRIPTION_DEADLINE,
        )
        .await;
        ssdp::parse_description(&ssdp::http_body(&got.bytes)?)
    };
    tokio::select! {
        d = tokio::time::timeout(DESCRIPTION_DEADLINE * 2, fetch) => d.ok().flatten(),
        _ = ctx.cancelled() => None,
    }
}

/// Asks the host's SSDP responder what it offers (see [`ssdp`]) and reads the description of
/// its root device from the first `LOCATION` on the host itself. Reports `1900/udp` as `ssdp`
/// with what it said, and observes the friendly name (source `upnp`) and the device type.
async fn ask_ssdp(ctx: &ScanContext, ip: IpAddr, wait: Duration) -> Option<PortFact> {
    let replies = ssdp_replies(ctx, ip, wait).await?;
    if replies.is_empty() {
        return None;
    }
    let mut f = PortFact::state(ssdp::SSDP_PORT, Transport::Udp, PortState::Open);
    f.name = Some("ssdp".into());
    f.confidence = Confidence::High;
    f.evidence = "ssdp-m-search".into();
    if let Some(server) = replies.iter().find_map(|r| r.server.clone()) {
        crate::recognise::enrich_text(&mut f, "http_servers", &server);
        if !f.extra.contains_key("os.family") {
            if let Some((family, version)) = ssdp::server_os(&server) {
                f.extra.insert("os.family".into(), family.into());
                if let Some(v) = version {
                    f.extra.insert("os.version".into(), v);
                }
            }
        }
        f.extra.insert("ssdp.server".into(), server);
    }
    // The root device's description first, then any other on the host.
    let mut targets: Vec<(u16, String)> = Vec::new();
    let roots = replies
        .iter()
        .filter(|r| r.st.as_deref() == Some("upnp:rootdevice"));
    for r in roots.chain(replies.iter()) {
        let Some(loc) = &r.location else { continue };
        match ssdp::description_target(loc, ip) {
            Some(t) => {
                if targets.is_empty() {
                    f.extra.insert("ssdp.location".into(), loc.clone());
                }
                if !targets.contains(&t) {
                    targets.push(t);
                }
            }
            // Another host's URL is recorded, never followed.
            None => {
                f.extra
                    .entry("ssdp.foreign_location".into())
                    .or_insert_with(|| loc.clone());
            }
        }
    }
    let Some((port, path)) = targets.into_iter().next() else {
        return Some(f);
    };
    if let Some(d) = fetch_description(ctx, ip, port, &path).await {
        upnp_facts(ctx, ip, &mut f, &d).await;
    }
    Some(f)
}

/// Folds a device description into the SSDP port fact and observes the friendly name and type.
async fn upnp_facts(ctx: &ScanContext, ip: IpAddr, f: &mut PortFact, d: &ssdp::Description) {
    let fields = [
        ("upnp.deviceType", &d.device_type),
        ("upnp.friendlyName", &d.friendly_name),
        ("upnp.manufacturer", &d.manufacturer),
        ("upnp.modelName", &d.model_name),
        ("upnp.modelNumber", &d.model_number),
        ("upnp.modelDescription", &d.model_description),
        ("upnp.serialNumber", &d.serial_number),
        ("upnp.udn", &d.udn),
    ];
    for (k, v) in fields {
        if let Some(v) = v {
            f.extra.insert(k.into(), v.clone());
        }
    }
    if let Some(m) = d.model() {
        f.extra.insert("upnp.model".into(), m);
    }
    if let Some(name) = &d.friendly_name {
        ctx.observe(
            ip,
            Fact::Hostname {
                name: name.clone(),
                source: "upnp".into(),
            },
        )
        .await;
    }
    if let Some(t) = &d.device_type {
        if let Some(device_type) = ssdp::device_type_of(t) {
            ctx.observe(
                ip,
                Fact::DeviceType {
                    device_type,
                    evidence: format!("upnp {t}"),
                },
            )
            .await;
        }
    }
}

impl UdpScanner {
    async fn identify(
        &self,
        ctx: &ScanContext,
        ip: IpAddr,
        port: u16,
        bytes: &[u8],
    ) -> Option<PortFact> {
        let mut f = PortFact::state(port, Transport::Udp, PortState::Open);
        match port {
            53 => {
                // The catalogue's DNS rules read the TCP form: prefix the length.
                let mut framed = u16::try_from(bytes.len()).ok()?.to_be_bytes().to_vec();
                framed.extend_from_slice(bytes);
                let id = self.catalogue.identify("dns-version", &framed);
                let text = dns_version_text(bytes);
                if id.is_none() && text.is_none() {
                    return None;
                }
                f.name = Some("domain".into());
                f.confidence = Confidence::Medium;
                f.evidence = "udp-dns-version".into();
                if let Some(id) = id {
                    f.name = Some(id.service);
                    f.product = id.product;
                    f.version = id.version;
                    f.confidence = id.confidence;
                    f.evidence = format!("udp-{}", id.rule);
                }
                if let Some(v) = text {
                    f.extra
                        .insert("dns.version".into(), v.chars().take(200).collect());
                    crate::recognise::enrich_text(&mut f, "dns_versionbind", &v);
                }
            }
            123 => {
                let stratum = ntp_stratum(bytes)?;
                f.name = Some("ntp".into());
                f.confidence = Confidence::High;
                f.evidence = "ntp-server-reply".into();
                f.extra.insert("ntp.stratum".into(), stratum.to_string());
            }
            161 => {
                let values = snmp_strings(bytes);
                if values.is_empty() {
                    return None;
                }
                f.name = Some("snmp".into());
                f.confidence = Confidence::High;
                f.evidence = "snmp-public-get".into();
                for (oid, v) in values {
                    if oid == SYS_DESCR {
                        crate::recognise::enrich_text(&mut f, "snmp_sysdescr", &v);
                        f.extra
                            .insert("snmp.sysDescr".into(), v.chars().take(200).collect());
                    } else if oid == SYS_NAME && !v.is_empty() {
                        f.extra.insert("snmp.sysName".into(), v.clone());
                        ctx.observe(
                            ip,
                            Fact::Hostname {
                                name: v,
                                source: "snmp".into(),
                            },
                        )
                        .await;
                    }
                }
            }
            netbios::NETBIOS_PORT => return netbios_fact(ctx, ip, bytes).await,
            _ => return None,
        }
        Some(f)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn the_snmp_request_is_well_formed() {
        let (tag, body, end) = tlv(&SNMP_GET, 0).unwrap();
        assert_eq!(
            (tag, body.len() + 2, end),
            (0x30, SNMP_GET.len(), SNMP_GET.len())
        );
    }

    #[test]
    fn reads_a_real_snmp_response() {
        // The request turned into a response (tag a2) carrying two strings.
        let descr = b"Linux svc 6.1";
        let name = b"svc.lab.test";
        let vb = |oid: &[u8; 8], v: &[u8]| {
            let mut x = vec![0x06, 8];
            x.extend_from_slice(oid);
            x.push(0x04);
            x.push(v.len() as u8);
            x.extend_from_slice(v);
            let mut s = vec![0x30, x.len() as u8];
            s.extend(x);
            s
        };
        let mut list = vb(&SYS_DESCR, descr);
        list.extend(vb(&SYS_NAME, name));
        let mut pdu = vec![
            0x02,
            0x04,
            0x5c,
            0xa9,
            0,
            1,
            0x02,
            1,
            0,
            0x02,
            1,
            0,
            0x30,
            list.len() as u8,
        ];
        pdu.extend(list);
        let mut msg = vec![0x02, 1, 1, 0x04, 6];
        msg.extend_from_slice(b"public");
        msg.push(0xa2);
        msg.push(pdu.len() as u8);
        msg.extend(pdu);
        let mut full = vec![0x30, msg.len() as u8];
        full.extend(msg);
        let v = snmp_strings(&full);
        assert_eq!(
            v,
            [
                (SYS_DESCR.to_vec(), "Linux svc 6.1".to_owned()),
                (SYS_NAME.to_vec(), "svc.lab.test".to_owned())
            ]
        );
    }

    #[test]
    fn ntp_replies() {
        let mut r = [0u8; 48];
        r[0] = 0x24;
        r[1] = 2;
        assert_eq!(ntp_stratum(&r), Some(2));
        assert_eq!(
            ntp_stratum(&ntp_request()),
            None,
            "a request is not a reply"
        );
    }

    #[test]
    fn a_version_bind_answer_gives_its_text_and_recog_reads_it() {
        let answer = b"\x12\x34\x85\x80\x00\x01\x00\x01\x00\x00\x00\x00\x07version\x04bind\x00\x00\x10\x00\x03\xc0\x0c\x00\x10\x00\x03\x00\x00\x00\x00\x00\x1e\x1d9.9.4-RedHat-9.9.4-38.el7_3.3";
        let text = dns_version_text(answer).unwrap();
        assert_eq!(text, "9.9.4-RedHat-9.9.4-38.el7_3.3");
        let mut f = PortFact::state(53, Transport::Udp, PortState::Open);
        let m = crate::recognise::enrich_text(&mut f, "dns_versionbind", &text);
        assert!(m.is_some(), "recog knows BIND's version strings");
        assert_eq!(f.product.as_deref(), Some("BIND"), "{f:?}");
        assert_eq!(f.version.as_deref(), Some("9.9.4"));
        // A truncated answer is no answer.
        assert_eq!(dns_version_text(&answer[..answer.len() - 3]), None);
        assert_eq!(dns_version_text(&answer[..12]), None);
    }

    #[test]
    fn an_snmp_sysdescr_tells_the_os() {
        let mut f = PortFact::state(161, Transport::Udp, PortState::Open);
        let m = crate::recognise::enrich_text(
            &mut f,
            "snmp_sysdescr",
            "Linux svc 6.1.0-28-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 (2024-11-22) x86_64",
        );
        assert!(m.is_some());
        assert_eq!(
            f.extra.get("os.family").map(String::as_str),
            Some("Linux"),
            "{f:?}"
        );
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = snmp_strings(&bytes);
            let _ = ntp_stratum(&bytes);
            let _ = dns_version_text(&bytes);
            let mut dns = vec![0x12, 0x34, 0x85, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
            dns.extend_from_slice(&bytes);
            let _ = dns_version_text(&dns);
            let mut framed = vec![0x30, 0x82, 0x00, bytes.len() as u8];
            framed.extend_from_slice(&bytes);
            let _ = snmp_strings(&framed);
        }
    }
}
