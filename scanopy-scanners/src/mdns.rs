//! mDNS and DNS-SD by unicast: what a host's responder (Avahi, Apple's mDNSResponder, a
//! printer's or a TV's firmware) says about itself when asked directly.
//!
//! A query sent to a host's port 5353 from another port is a "legacy unicast" query (RFC 6762
//! §6.7): the responder answers to the asking port, as a DNS server would. That needs no
//! multicast group and no privilege, and reaches only the host asked. The scan asks for:
//! 1. the host's own name (`PTR` of its reverse name, e.g. `media.local`) and the service
//!    types it offers (`_services._dns-sd._udp.local`);
//! 2. the instances of each type (`PTR`), at most [`MAX_TYPES`] types;
//! 3. each instance's `TXT` and `SRV` records, at most [`MAX_INSTANCES`] instances, unless
//!    the answers to 2. carried them already.
//!
//! The functions here are pure: they build queries and read answers, never panic, and bound
//! what they keep, whatever the bytes.

use std::collections::BTreeMap;

use scanopy_core::DeviceType;

use crate::dns::read_name;

/// The mDNS port.
pub const MDNS_PORT: u16 = 5353;
/// The service-type enumeration name of DNS-SD.
pub const SERVICES: &str = "_services._dns-sd._udp.local";
/// Service types asked about, at most.
pub const MAX_TYPES: usize = 8;
/// Instances whose records are asked for, at most.
pub const MAX_INSTANCES: usize = 8;
/// Records read from one answer, at most.
pub const MAX_RECORDS: usize = 64;
/// The longest name or text kept, in characters.
const MAX_TEXT: usize = 200;

/// DNS record types used here.
pub const PTR: u16 = 12;
/// A TXT record.
pub const TXT: u16 = 16;
/// An SRV record.
pub const SRV: u16 = 33;
/// An IPv4 address record.
pub const A: u16 = 1;

/// A query with id `id` for each (name, type), class IN.
pub fn query(id: u16, questions: &[(&str, u16)]) -> Vec<u8> {
    let mut q = Vec::with_capacity(64);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0, 0]);
    q.extend_from_slice(&(questions.len() as u16).to_be_bytes());
    q.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    for (name, rtype) in questions {
        for label in name.trim_end_matches('.').split('.') {
            let label = &label.as_bytes()[..label.len().min(63)];
            q.push(label.len() as u8);
            q.extend_from_slice(label);
        }
        q.push(0);
        q.extend_from_slice(&rtype.to_be_bytes());
        q.extend_from_slice(&[0, 1]);
    }
    q
}

/// What one record says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RData {
    /// A name this name points to.
    Ptr(String),
    /// The strings of a TXT record.
    Txt(Vec<String>),
    /// Where a service instance listens.
    Srv {
        /// The port the instance listens on.
        port: u16,
        /// The host name.
        target: String,
    },
    /// A type not read here.
    Other,
}

/// One resource record of an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The owner name, without a trailing dot.
    pub name: String,
    /// The record type.
    pub rtype: u16,
    /// The record's data, read for PTR, SRV and TXT records; `Other` for any other type or
    /// data that cannot be read.
    pub data: RData,
}

/// The records (answers, authority and additional sections, at most [`MAX_RECORDS`]) of a
/// response to the query with id `id`. Anything else (another id, a query, a malformed
/// message) gives what could be read before the fault, possibly nothing.
pub fn parse(id: u16, msg: &[u8]) -> Vec<Record> {
    let mut out = Vec::new();
    if msg.len() < 12 || u16::from_be_bytes([msg[0], msg[1]]) != id || msg[2] & 0x80 == 0 {
        return out;
    }
    let count = |i: usize| usize::from(u16::from_be_bytes([msg[i], msg[i + 1]]));
    let mut pos = 12;
    for _ in 0..count(4) {
        let Some((_, next)) = read_name(msg, pos) else {
            return out;
        };
        pos = next + 4;
    }
    let records = (count(6) + count(8) + count(10)).min(MAX_RECORDS);
    for _ in 0..records {
        let Some((name, next)) = read_name(msg, pos) else {
            return out;
        };
        let Some(rr) = msg.get(next..next + 10) else {
            return out;
        };
        let rtype = u16::from_be_bytes([rr[0], rr[1]]);
        let rdlen = usize::from(u16::from_be_bytes([rr[8], rr[9]]));
        let at = next + 10;
        let Some(rdata) = msg.get(at..at + rdlen) else {
            return out;
        };
        let data = match rtype {
            PTR => read_name(msg, at).map(|(n, _)| RData::Ptr(clean(&n))),
            SRV if rdlen >= 7 => read_name(msg, at + 6).map(|(t, _)| RData::Srv {
                port: u16::from_be_bytes([rdata[4], rdata[5]]),
                target: clean(&t),
            }),
            TXT => Some(RData::Txt(txt_strings(rdata))),
            _ => Some(RData::Other),
        };
        out.push(Record {
            name: clean(&name),
            rtype,
            data: data.unwrap_or(RData::Other),
        });
        pos = at + rdlen;
    }
    out
}

/// The character strings of TXT data (each a length byte and that many bytes).
fn txt_strings(mut b: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    while let Some((&len, rest)) = b.split_first() {
        let len = usize::from(len).min(rest.len());
        if len > 0 && out.len() < 32 {
            out.push(clean(&String::from_utf8_lossy(&rest[..len])));
        }
        b = &rest[len..];
    }
    out
}

/// A name or text as kept: without a trailing dot, at most [`MAX_TEXT`] characters.
fn clean(s: &str) -> String {
    s.trim_end_matches('.').chars().take(MAX_TEXT).collect()
}

/// A service instance a host announces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Instance {
    /// The instance's own label: often the name a person gave the device ("Living Room TV").
    pub label: String,
    /// Its service type (`_ipp._tcp`).
    pub service: String,
    /// The port its SRV record names.
    pub port: Option<u16>,
    /// Its TXT record, as key=value pairs (a key without `=` has an empty value).
    pub txt: Vec<(String, String)>,
}

/// What a host said about itself, gathered from all its answers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Announcement {
    /// The host's mDNS name (`media.local`).
    pub hostname: Option<String>,
    /// The service types it offers (`_http._tcp`), in the order given.
    pub services: Vec<String>,
    /// Its instances, by full name.
    pub instances: BTreeMap<String, Instance>,
}

impl Announcement {
    /// Folds one answer's records in: `reverse` is the host's reverse name
    /// (`10.0.77.10.in-addr.arpa`).
    pub fn add(&mut self, reverse: &str, records: &[Record]) {
        for r in records {
            match &r.data {
                RData::Ptr(target) if r.name.eq_ignore_ascii_case(reverse) => {
                    self.hostname = self
                        .hostname
                        .take()
                        .or_else(|| (!target.is_empty()).then(|| target.clone()));
                }
                RData::Ptr(target) if r.name.eq_ignore_ascii_case(SERVICES) => {
                    let t = service_type(target);
                    if !t.is_empty() && !self.services.contains(&t) && self.services.len() < 64 {
                        self.services.push(t);
                    }
                }
                RData::Ptr(target) if target.len() > r.name.len() => {
                    // An instance of the type `r.name`: "<label>.<type>".
                    let Some(label) = target
                        .strip_suffix(r.name.as_str())
                        .and_then(|l| l.strip_suffix('.'))
                    else {
                        continue;
                    };
                    if self.instances.len() < 64 {
                        let e = self.instances.entry(target.clone()).or_default();
                        e.label = label.to_owned();
                        e.service = service_type(&r.name);
                    }
                }
                RData::Srv { port, .. } => {
                    if let Some(e) = self.instances.get_mut(&r.name) {
                        e.port = Some(*port);
                    }
                }
                RData::Txt(strings) => {
                    if let Some(e) = self.instances.get_mut(&r.name) {
                        e.txt = strings
                            .iter()
                            .map(|s| match s.split_once('=') {
                                Some((k, v)) => (k.to_ascii_lowercase(), v.to_owned()),
                                None => (s.to_ascii_lowercase(), String::new()),
                            })
                            .collect();
                    }
                }
                _ => {}
            }
        }
    }

    /// Instances whose TXT record is still unknown, at most [`MAX_INSTANCES`].
    pub fn missing_txt(&self) -> Vec<String> {
        self.instances
            .iter()
            .filter(|(_, i)| i.txt.is_empty())
            .map(|(n, _)| n.clone())
            .take(MAX_INSTANCES)
            .collect()
    }

    /// The device's model, from the TXT keys devices use for it: `md` (Google Cast), `model`
    /// (Apple's `_device-info`, AirPlay), `ty` and `product` (printers), `usb_mdl`.
    pub fn model(&self) -> Option<String> {
        const KEYS: [&str; 5] = ["md", "model", "ty", "usb_mdl", "product"];
        KEYS.iter().find_map(|k| {
            self.instances.values().find_map(|i| {
                i.txt
                    .iter()
                    .find(|(key, v)| key == k && !v.trim().is_empty())
                    .map(|(_, v)| v.trim().trim_matches(['(', ')']).to_owned())
            })
        })
    }

    /// The name a person gave the device, when an instance of a device-level service carries
    /// it (a printer's, a speaker's, a TV's instance label).
    pub fn friendly_name(&self) -> Option<String> {
        self.instances
            .values()
            .find(|i| device_type_of(&i.service).is_some())
            .map(|i| i.label.clone())
            .filter(|l| !l.is_empty())
    }

    /// What the service types say the device is, with the type that says it.
    pub fn device_type(&self) -> Option<(DeviceType, String)> {
        self.services
            .iter()
            .chain(self.instances.values().map(|i| &i.service))
            .find_map(|s| device_type_of(s).map(|t| (t, s.clone())))
    }
}

/// An mDNS response heard on the wire (an IPv4 UDP datagram from port 5353 to port 5353, as
/// responders multicast their answers and announcements): the sender's MAC and address, and
/// the records. `None` for anything else (a query, a fragment, another port).
pub fn parse_frame(f: &[u8]) -> Option<(scanopy_core::MacAddr, std::net::Ipv4Addr, Vec<Record>)> {
    let u = crate::frame::ipv4_udp(f)?;
    if u.sport != MDNS_PORT || u.dport != MDNS_PORT {
        return None;
    }
    // A response (QR set); its id is 0 by RFC 6762, but any is read.
    let id = u16::from_be_bytes([*u.payload.first()?, *u.payload.get(1)?]);
    let records = parse(id, u.payload);
    let src = u.src;
    if records.is_empty() || src.is_unspecified() || src.is_broadcast() || src.is_multicast() {
        return None;
    }
    Some((u.src_mac, src, records))
}

/// What an announcement says, as observations of the host: its `5353/udp` service (with the
/// name, services, model and friendly name in `extra`, and what recog reads in the TXT
/// records), and its name (`mdns`) and device type when it tells them. `evidence` says how it
/// was learnt (asked, or heard).
pub fn facts(
    ann: &Announcement,
    evidence: &str,
) -> (scanopy_core::PortFact, Vec<scanopy_core::Fact>) {
    use scanopy_core::{Confidence, Fact, PortFact, PortState, Transport};
    let mut f = PortFact::state(MDNS_PORT, Transport::Udp, PortState::Open);
    f.name = Some("mdns".into());
    f.confidence = Confidence::High;
    f.evidence = evidence.into();
    let mut more = Vec::new();
    if let Some(h) = &ann.hostname {
        f.extra.insert("mdns.hostname".into(), h.clone());
        more.push(Fact::Hostname {
            name: h.clone(),
            source: "mdns".into(),
        });
    }
    if !ann.services.is_empty() {
        f.extra
            .insert("mdns.services".into(), ann.services.join(", "));
    }
    if let Some(m) = ann.model() {
        f.extra.insert("mdns.model".into(), m);
    }
    if let Some(n) = ann.friendly_name() {
        f.extra.insert("mdns.name".into(), n);
    }
    for i in ann.instances.values() {
        for (k, v) in &i.txt {
            let text = if v.is_empty() {
                k.clone()
            } else {
                format!("{k}={v}")
            };
            let db = if i.service == "_workstation._tcp" {
                "mdns_workstation_txt"
            } else {
                "mdns_device-info_txt"
            };
            crate::recognise::enrich_text(&mut f, db, &text);
        }
    }
    if let Some((device_type, service)) = ann.device_type() {
        more.push(Fact::DeviceType {
            device_type,
            evidence: format!("mdns {service}"),
        });
    }
    (f, more)
}

/// `_http._tcp.local` → `_http._tcp`.
fn service_type(name: &str) -> String {
    name.trim_end_matches('.')
        .strip_suffix(".local")
        .unwrap_or(name)
        .to_owned()
}

/// The device types some DNS-SD service types imply.
pub fn device_type_of(service: &str) -> Option<DeviceType> {
    Some(match service {
        "_ipp._tcp" | "_ipps._tcp" | "_printer._tcp" | "_pdl-datastream._tcp" | "_uscan._tcp" => {
            DeviceType::Printer
        }
        "_googlecast._tcp"
        | "_airplay._tcp"
        | "_raop._tcp"
        | "_spotify-connect._tcp"
        | "_roku._tcp" => DeviceType::Media,
        "_adisk._tcp" => DeviceType::Nas,
        "_hap._tcp" | "_matter._tcp" => DeviceType::Iot,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// An answer to `q` (its questions kept) with these records, names uncompressed.
    fn answer(q: &[u8], records: &[(&str, u16, Vec<u8>)]) -> Vec<u8> {
        let mut m = q.to_vec();
        m[2] = 0x84;
        m[6..8].copy_from_slice(&(records.len() as u16).to_be_bytes());
        for (name, rtype, rdata) in records {
            m.extend(encode(name));
            m.extend_from_slice(&rtype.to_be_bytes());
            m.extend_from_slice(&[0, 1, 0, 0, 0, 10]);
            m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
            m.extend_from_slice(rdata);
        }
        m
    }

    fn encode(name: &str) -> Vec<u8> {
        let mut v = Vec::new();
        for l in name.split('.') {
            v.push(l.len() as u8);
            v.extend_from_slice(l.as_bytes());
        }
        v.push(0);
        v
    }

    fn txt(strings: &[&str]) -> Vec<u8> {
        strings
            .iter()
            .flat_map(|s| std::iter::once(s.len() as u8).chain(s.bytes()))
            .collect()
    }

    #[test]
    fn a_host_tells_its_name_services_model_and_type() {
        let rev = "30.0.77.10.in-addr.arpa";
        let q = query(7, &[(rev, PTR), (SERVICES, PTR)]);
        let a = answer(
            &q,
            &[
                (rev, PTR, encode("media.local")),
                (SERVICES, PTR, encode("_ipp._tcp.local")),
                (SERVICES, PTR, encode("_http._tcp.local")),
            ],
        );
        let mut ann = Announcement::default();
        ann.add(rev, &parse(7, &a));
        assert_eq!(ann.hostname.as_deref(), Some("media.local"));
        assert_eq!(ann.services, ["_ipp._tcp", "_http._tcp"]);
        assert_eq!(parse(8, &a), [], "another query's answer");

        let q = query(8, &[("_ipp._tcp.local", PTR)]);
        let inst = "Office Printer._ipp._tcp.local";
        let mut srv = vec![0, 0, 0, 0, 0x02, 0x77];
        srv.extend(encode("media.local"));
        let a = answer(
            &q,
            &[
                ("_ipp._tcp.local", PTR, encode(inst)),
                (inst, SRV, srv),
                (
                    inst,
                    TXT,
                    txt(&["txtvers=1", "ty=HP LaserJet 400", "Color=T"]),
                ),
            ],
        );
        ann.add(rev, &parse(8, &a));
        let i = &ann.instances[inst];
        assert_eq!(
            (i.label.as_str(), i.service.as_str(), i.port),
            ("Office Printer", "_ipp._tcp", Some(631))
        );
        assert_eq!(ann.model().as_deref(), Some("HP LaserJet 400"));
        assert_eq!(ann.friendly_name().as_deref(), Some("Office Printer"));
        assert_eq!(
            ann.device_type(),
            Some((DeviceType::Printer, "_ipp._tcp".into()))
        );
        assert!(ann.missing_txt().is_empty());
    }

    #[test]
    fn the_query_is_a_plain_dns_query() {
        let q = query(0x1234, &[(SERVICES, PTR)]);
        assert_eq!(&q[..6], &[0x12, 0x34, 0, 0, 0, 1]);
        assert_eq!(read_name(&q, 12).unwrap().0, SERVICES);
        assert_eq!(&q[q.len() - 4..], &[0, 12, 0, 1]);
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400), id in any::<u16>()) {
            let records = parse(id, &bytes);
            prop_assert!(records.len() <= MAX_RECORDS);
            let mut framed = id.to_be_bytes().to_vec();
            framed.extend_from_slice(&[0x84, 0, 0, 1, 0, 4, 0, 0, 0, 2]);
            framed.extend_from_slice(&bytes);
            let mut ann = Announcement::default();
            ann.add("1.0.0.10.in-addr.arpa", &parse(id, &framed));
            ann.add(SERVICES, &parse(id, &bytes));
            let _ = (ann.model(), ann.friendly_name(), ann.device_type(), ann.missing_txt());
        }
    }
}
