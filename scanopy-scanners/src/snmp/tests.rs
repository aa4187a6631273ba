use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use proptest::prelude::*;
use scanopy_core::{ScanConfig, ScanContext, TargetSet};
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

use super::ber::{self, Oid, Value, tag};
use super::mib;
use super::pdu::{self, Request, Version};
use super::usm;
use super::walk::{End, Failure, Limits, Session};

fn oid(s: &str) -> Oid {
    Oid::parse(s).unwrap()
}

fn arb_oid() -> impl Strategy<Value = Oid> {
    (
        0u32..=2,
        0u32..40,
        prop::collection::vec(any::<u32>(), 0..20),
    )
        .prop_map(|(a, b, rest)| {
            let mut v = vec![a, b];
            v.extend(rest);
            Oid(v)
        })
}

fn arb_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::Integer),
        prop::collection::vec(any::<u8>(), 0..300).prop_map(Value::Bytes),
        Just(Value::Null),
        arb_oid().prop_map(Value::Oid),
        any::<[u8; 4]>().prop_map(Value::IpAddress),
        any::<u32>().prop_map(Value::Counter32),
        any::<u32>().prop_map(Value::Gauge32),
        any::<u32>().prop_map(Value::TimeTicks),
        any::<u64>().prop_map(Value::Counter64),
        Just(Value::NoSuchObject),
        Just(Value::NoSuchInstance),
        Just(Value::EndOfMibView),
    ]
}

/// authPriv keys for the v3 properties (made once: a key costs a mebibyte of hashing).
static V3_KEYS: std::sync::LazyLock<usm::LocalKeys> = std::sync::LazyLock::new(|| {
    usm::User::parse("prop:SHA-256:auth-password:AES:priv-password")
        .unwrap()
        .password_keys()
        .localize(b"\x80\x00\x1f\x88\x04prop")
});

/// An authPriv SNMPv3 Response carrying `binds`, as an agent would send it (message id 5).
fn v3_response(binds: &[(Oid, Value)]) -> Vec<u8> {
    let mut list = Vec::new();
    for (o, v) in binds {
        let mut vb = Vec::new();
        ber::put(&mut vb, tag::OID, &ber::oid_contents(o));
        ber::put_value(&mut vb, v);
        ber::put(&mut list, tag::SEQUENCE, &vb);
    }
    let mut body = Vec::new();
    ber::put(&mut body, tag::INTEGER, &ber::int_contents(5));
    ber::put(&mut body, tag::INTEGER, &ber::int_contents(0));
    ber::put(&mut body, tag::INTEGER, &ber::int_contents(0));
    ber::put(&mut body, tag::SEQUENCE, &list);
    let mut pdu_bytes = Vec::new();
    ber::put(&mut pdu_bytes, pdu::RESPONSE, &body);
    usm::encode(
        usm::Outgoing {
            msg_id: 5,
            user: b"prop",
            engine: &usm::Engine {
                id: b"\x80\x00\x1f\x88\x04prop".to_vec(),
                boots: 1,
                time: 100,
            },
            keys: &V3_KEYS,
            salt: 42,
        },
        &pdu_bytes,
    )
}

/// A response message as an agent sends it.
fn response(
    version: Version,
    community: &[u8],
    id: i64,
    status: i64,
    binds: &[(Oid, Value)],
) -> Vec<u8> {
    let mut list = Vec::new();
    for (o, v) in binds {
        let mut vb = Vec::new();
        ber::put(&mut vb, tag::OID, &ber::oid_contents(o));
        ber::put_value(&mut vb, v);
        ber::put(&mut list, tag::SEQUENCE, &vb);
    }
    let mut body = Vec::new();
    ber::put(&mut body, tag::INTEGER, &ber::int_contents(id));
    ber::put(&mut body, tag::INTEGER, &ber::int_contents(status));
    ber::put(&mut body, tag::INTEGER, &ber::int_contents(0));
    ber::put(&mut body, tag::SEQUENCE, &list);
    let mut msg = Vec::new();
    let v = match version {
        Version::V1 => 0,
        Version::V2c => 1,
        Version::V3 => 3,
    };
    ber::put(&mut msg, tag::INTEGER, &ber::int_contents(v));
    ber::put(&mut msg, tag::OCTET_STRING, community);
    ber::put(&mut msg, pdu::RESPONSE, &body);
    let mut out = Vec::new();
    ber::put(&mut out, tag::SEQUENCE, &msg);
    out
}

#[test]
fn encodes_a_get_as_net_snmp_does() {
    // What `snmpget -v2c -c public HOST 1.3.6.1.2.1.1.1.0 1.3.6.1.2.1.1.5.0` sends, with its
    // request id: the same bytes as the udp scanner's fixed probe.
    let m = pdu::encode(
        Version::V2c,
        b"public",
        Request::Get,
        0x5ca9_0001,
        &[oid("1.3.6.1.2.1.1.1.0"), oid("1.3.6.1.2.1.1.5.0")],
    );
    assert_eq!(m, crate::udp::SNMP_GET.to_vec());
}

#[test]
fn reads_exceptions_and_application_types() {
    let binds = vec![
        (oid("1.3.6.1.2.1.1.3.0"), Value::TimeTicks(4_294_967_295)),
        (oid("1.3.6.1.2.1.31.1.1.1.6.1"), Value::Counter64(u64::MAX)),
        (
            oid("1.3.6.1.2.1.4.20.1.1.10.0.0.1"),
            Value::IpAddress([10, 0, 0, 1]),
        ),
        (oid("1.3.6.1.2.1.1.9.0"), Value::NoSuchObject),
        (oid("1.3.6.1.2.1.1.9.1"), Value::NoSuchInstance),
        (oid("1.3.6.1.2.1.99"), Value::EndOfMibView),
        (oid("2.999.1"), Value::Integer(-129)),
    ];
    let b = response(Version::V2c, b"c", 7, 0, &binds);
    let r = pdu::decode(&b, Version::V2c, b"c").unwrap();
    assert_eq!(r.request_id, 7);
    assert_eq!(r.bindings, binds);
    // Someone else's community, or another version, is not our answer.
    assert!(pdu::decode(&b, Version::V2c, b"d").is_err());
    assert!(pdu::decode(&b, Version::V1, b"c").is_err());
}

#[test]
fn refuses_what_snmp_cannot_carry() {
    // Indefinite length, a 5-byte length, an integer of 9 bytes, an OID arc over 32 bits,
    // an OID ending mid-arc.
    assert_eq!(ber::tlv(&[0x30, 0x80, 0, 0], 0), Err(ber::BerError::Length));
    assert_eq!(
        ber::tlv(&[0x30, 0x85, 1, 0, 0, 0, 0], 0),
        Err(ber::BerError::Length)
    );
    assert!(ber::decode_int(&[1; 9]).is_err());
    assert!(ber::decode_oid(&[0x2b, 0x90, 0x80, 0x80, 0x80, 0x00]).is_err());
    assert!(ber::decode_oid(&[0x2b, 0x86]).is_err());
    assert_eq!(
        ber::decode_oid(&[0x2b, 0x06, 0x01]).unwrap(),
        oid("1.3.6.1")
    );
    // A length that claims more than the datagram holds.
    assert_eq!(
        ber::tlv(&[0x04, 0x82, 0xff, 0xff, 0], 0),
        Err(ber::BerError::Truncated)
    );
}

proptest! {
    #[test]
    fn values_and_oids_round_trip(binds in prop::collection::vec((arb_oid(), arb_value()), 0..20), id in any::<i32>()) {
        let b = response(Version::V2c, b"public", i64::from(id), 0, &binds);
        let r = pdu::decode(&b, Version::V2c, b"public").unwrap();
        prop_assert_eq!(r.request_id, i64::from(id));
        prop_assert_eq!(r.bindings, binds);
    }

    #[test]
    fn requests_decode_as_what_they_ask(oids in prop::collection::vec(arb_oid(), 1..10), n in 0u32..5, m in 0u32..100) {
        let b = pdu::encode(Version::V2c, b"x", Request::GetBulk(n, m), 42, &oids);
        let (msg, _) = ber::expect(&b, 0, tag::SEQUENCE).unwrap();
        prop_assert_eq!(msg.end, b.len());
        let (_, p) = ber::expect(&b, msg.start, tag::INTEGER).unwrap();
        let (_, p) = ber::expect(&b, p, tag::OCTET_STRING).unwrap();
        let (t, body, _) = ber::tlv(&b, p).unwrap();
        prop_assert_eq!(t, pdu::GET_BULK);
        prop_assert_eq!(body.end, b.len());
    }

    /// Whatever an agent sends, decoding ends without a panic.
    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = pdu::decode(&bytes, Version::V2c, b"public");
        let _ = pdu::decode_pdu(&bytes, 0);
        let _ = ber::decode_oid(&bytes);
        if let Some((&t, rest)) = bytes.split_first() {
            let _ = ber::decode_value(t, rest);
        }
    }

    /// A real message with bytes flipped or cut: still no panic.
    #[test]
    fn damaged_responses_never_panic(binds in prop::collection::vec((arb_oid(), arb_value()), 1..8),
                                     flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
                                     cut in any::<prop::sample::Index>()) {
        let mut b = response(Version::V2c, b"public", 1, 0, &binds);
        for (i, x) in flips {
            let i = i.index(b.len());
            b[i] ^= x;
        }
        b.truncate(cut.index(b.len() + 1));
        let _ = pdu::decode(&b, Version::V2c, b"public");
    }

    /// Whatever an SNMPv3 agent (or someone pretending to be one) sends, decoding ends without
    /// a panic, with keys or without.
    #[test]
    fn decoding_arbitrary_v3_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = usm::decode(&bytes, 1, &usm::LocalKeys::none());
        let _ = usm::decode(&bytes, 1, &V3_KEYS);
        let _ = usm::is_v3(&bytes);
    }

    /// An authenticated, encrypted answer changed anywhere (bytes flipped, cut short) is
    /// refused: what decodes is exactly what the agent sent.
    #[test]
    fn a_changed_v3_answer_is_refused(binds in prop::collection::vec((arb_oid(), arb_value()), 1..6),
                                      flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
                                      cut in any::<prop::sample::Index>()) {
        let original = v3_response(&binds);
        let mut b = original.clone();
        for (i, x) in flips {
            let i = i.index(b.len());
            b[i] ^= x;
        }
        b.truncate(cut.index(b.len() + 1));
        match usm::decode(&b, 5, &V3_KEYS) {
            Ok(got) => {
                prop_assert_eq!(&b, &original);
                prop_assert_eq!(got.response.bindings, binds);
            }
            Err(_) => prop_assert_ne!(&b, &original),
        }
    }

    /// Whatever rows an agent returns under the tables read, interpreting them never panics
    /// and never keeps more than the caps.
    #[test]
    fn interpreting_arbitrary_rows_never_panics(rows in prop::collection::vec(
        (prop::sample::select(mib::walks().into_iter().chain(mib::scalars()).collect::<Vec<_>>()),
         prop::collection::vec(0u32..300, 0..12), arb_value()), 0..200)) {
        let rows: BTreeMap<Oid, Value> = rows.into_iter().map(|(root, idx, v)| (root.child(&idx), v)).collect();
        let v = mib::interpret(&rows);
        prop_assert!(v.l2.learnt.len() <= scanopy_core::model::MAX_L2_ENTRIES);
    }
}

/// A switch's rows as net-snmp and lldpd serve them: three ports, a bridge with a
/// forwarding table (one MAC behind each access port, three behind the uplink), VLANs, and
/// an LLDP neighbour on the uplink.
#[test]
fn reads_a_switch() {
    let mut rows: BTreeMap<Oid, Value> = BTreeMap::new();
    let mut put = |o: &str, v: Value| {
        rows.insert(oid(o), v);
    };
    put("1.3.6.1.2.1.1.5.0", Value::Bytes(b"sw1.lab.test".to_vec()));
    put(
        "1.3.6.1.6.3.10.2.1.1.0",
        Value::Bytes(vec![0x80, 0, 0x1f, 0x88, 4, b's', b'w', b'1']),
    );
    put(
        "1.3.6.1.2.1.17.1.1.0",
        Value::Bytes(vec![2, 0x77, 4, 0, 0, 3]),
    );
    for (i, name, kind) in [(1, "lo", 24), (2, "p1", 6), (3, "p2", 6), (4, "up", 6)] {
        put(
            &format!("1.3.6.1.2.1.2.2.1.2.{i}"),
            Value::Bytes(name.as_bytes().to_vec()),
        );
        put(
            &format!("1.3.6.1.2.1.31.1.1.1.1.{i}"),
            Value::Bytes(name.as_bytes().to_vec()),
        );
        put(&format!("1.3.6.1.2.1.2.2.1.3.{i}"), Value::Integer(kind));
        put(
            &format!("1.3.6.1.2.1.2.2.1.5.{i}"),
            Value::Gauge32(u32::MAX),
        );
        put(
            &format!("1.3.6.1.2.1.31.1.1.1.15.{i}"),
            Value::Gauge32(10_000),
        );
        put(&format!("1.3.6.1.2.1.2.2.1.8.{i}"), Value::Integer(1));
        // Bridge port i-1 is interface i.
        if i > 1 {
            put(
                &format!("1.3.6.1.2.1.17.1.4.1.2.{}", i - 1),
                Value::Integer(i),
            );
            put(
                &format!("1.3.6.1.2.1.17.7.1.4.5.1.1.{}", i - 1),
                Value::Gauge32(10),
            );
        }
    }
    put(
        "1.3.6.1.2.1.31.1.1.1.18.4",
        Value::Bytes(b"to sw2".to_vec()),
    );
    for (mac, port, status) in [
        ([2, 0x77, 4, 0, 0, 0x10], 1, 3),
        ([2, 0x77, 4, 0, 0, 0x11], 2, 3),
        ([2, 0x77, 4, 0, 0, 0x20], 3, 3),
        ([2, 0x77, 4, 0, 0, 0x21], 3, 3),
        ([2, 0x77, 4, 0, 0, 0x04], 3, 3),
        ([2, 0x77, 4, 0, 0, 0x03], 0, 4),
    ] {
        let idx = mac
            .iter()
            .map(|b| b.to_string())
            .collect::<Vec<_>>()
            .join(".");
        put(
            &format!("1.3.6.1.2.1.17.7.1.2.2.1.2.10.{idx}"),
            Value::Integer(port),
        );
        put(
            &format!("1.3.6.1.2.1.17.7.1.2.2.1.3.10.{idx}"),
            Value::Integer(status),
        );
    }
    put(
        "1.3.6.1.2.1.17.7.1.4.3.1.1.10",
        Value::Bytes(b"lab".to_vec()),
    );
    // lldpRemTable row (time 0, local port 4 = ifIndex, remote 1): chassis MAC, port by name.
    put("1.0.8802.1.1.2.1.4.1.1.4.0.4.1", Value::Integer(4));
    put(
        "1.0.8802.1.1.2.1.4.1.1.5.0.4.1",
        Value::Bytes(vec![2, 0x77, 4, 0, 0, 4]),
    );
    put("1.0.8802.1.1.2.1.4.1.1.6.0.4.1", Value::Integer(5));
    put(
        "1.0.8802.1.1.2.1.4.1.1.7.0.4.1",
        Value::Bytes(b"up".to_vec()),
    );
    put(
        "1.0.8802.1.1.2.1.4.1.1.9.0.4.1",
        Value::Bytes(b"sw2.lab.test".to_vec()),
    );
    put(
        "1.0.8802.1.1.2.1.4.2.1.3.0.4.1.1.4.10.77.4.4",
        Value::Integer(2),
    );
    // An ARP entry, and an invalid one.
    put(
        "1.3.6.1.2.1.4.22.1.2.4.10.77.4.20",
        Value::Bytes(vec![2, 0x77, 4, 0, 0, 0x20]),
    );
    put("1.3.6.1.2.1.4.22.1.4.4.10.77.4.20", Value::Integer(3));
    put(
        "1.3.6.1.2.1.4.22.1.2.4.10.77.4.99",
        Value::Bytes(vec![2, 0x77, 4, 0, 0, 0x99]),
    );
    put("1.3.6.1.2.1.4.22.1.4.4.10.77.4.99", Value::Integer(2));

    // IPv6 neighbours: fd77::1 on ifIndex 4, the same address invalid on 3, a link-local one
    // (left out); ENTITY-MIB's chassis.
    let arcs = |b: [u8; 16]| {
        b.iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(".")
    };
    let ula = arcs([0xfd, 0x77, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    let ll = arcs([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9]);
    put(
        &format!("1.3.6.1.2.1.4.35.1.4.4.2.16.{ll}"),
        Value::Bytes(vec![2, 0x77, 4, 0, 0, 0x29]),
    );
    put(
        &format!("1.3.6.1.2.1.4.35.1.4.4.2.16.{ula}"),
        Value::Bytes(vec![2, 0x77, 4, 0, 0, 0x21]),
    );
    put(
        &format!("1.3.6.1.2.1.4.35.1.4.3.2.16.{ula}"),
        Value::Bytes(vec![2, 0x77, 4, 0, 0, 0x22]),
    );
    put(
        &format!("1.3.6.1.2.1.4.35.1.6.3.2.16.{ula}"),
        Value::Integer(2),
    );
    put("1.3.6.1.2.1.47.1.1.1.1.5.1", Value::Integer(10));
    put(
        "1.3.6.1.2.1.47.1.1.1.1.13.1",
        Value::Bytes(b"PSU-1".to_vec()),
    );
    put("1.3.6.1.2.1.47.1.1.1.1.5.2", Value::Integer(3));
    put(
        "1.3.6.1.2.1.47.1.1.1.1.13.2",
        Value::Bytes(b"LS-8".to_vec()),
    );
    put(
        "1.3.6.1.2.1.47.1.1.1.1.12.2",
        Value::Bytes(b"Scanopy Labs".to_vec()),
    );
    put(
        "1.3.6.1.2.1.47.1.1.1.1.11.2",
        Value::Bytes(b"SN0042".to_vec()),
    );
    put(
        "1.3.6.1.2.1.47.1.1.1.1.10.2",
        Value::Bytes(b"2.1.0".to_vec()),
    );
    let v = mib::interpret(&rows);
    assert_eq!(
        v.nd,
        vec![(
            "fd77::1".parse().unwrap(),
            "02:77:04:00:00:21".parse().unwrap(),
            4
        )]
    );
    let c = v.chassis.clone().expect("the chassis entry");
    assert_eq!(
        (
            c.model.as_deref(),
            c.vendor.as_deref(),
            c.serial.as_deref(),
            c.firmware.as_deref()
        ),
        (
            Some("LS-8"),
            Some("Scanopy Labs"),
            Some("SN0042"),
            Some("2.1.0")
        ),
        "the chassis (class 3), not the first entry (a power supply)"
    );
    assert_eq!(v.sys_name.as_deref(), Some("sw1.lab.test"));
    assert_eq!(v.engine_id.as_deref(), Some("80001f8804737731"));
    let l2 = &v.l2;
    assert_eq!(
        l2.bridge_mac.map(|m| m.to_string()).as_deref(),
        Some("02:77:04:00:00:03")
    );
    assert_eq!(l2.ports.len(), 4);
    let up = l2.port(4).unwrap();
    assert_eq!(
        (
            up.name.as_str(),
            up.alias.as_deref(),
            up.speed_mbps,
            up.vlan
        ),
        ("up", Some("to sw2"), Some(10_000), Some(10))
    );
    assert_eq!(up.kind.as_deref(), Some("ethernet"));
    assert_eq!(l2.port(1).unwrap().kind.as_deref(), Some("loopback"));
    // The bridge's own entry (self) and port 0 are left out; bridge ports map to ifIndex.
    let learnt: Vec<(String, u32, Option<u16>)> = l2
        .learnt
        .iter()
        .map(|l| (l.mac.to_string(), l.port, l.vlan))
        .collect();
    assert_eq!(
        learnt,
        vec![
            ("02:77:04:00:00:04".into(), 4, Some(10)),
            ("02:77:04:00:00:10".into(), 2, Some(10)),
            ("02:77:04:00:00:11".into(), 3, Some(10)),
            ("02:77:04:00:00:20".into(), 4, Some(10)),
            ("02:77:04:00:00:21".into(), 4, Some(10)),
        ]
    );
    assert_eq!(
        l2.vlans,
        vec![scanopy_core::Vlan {
            id: 10,
            name: Some("lab".into())
        }]
    );
    assert_eq!(l2.neighbours.len(), 1);
    let n = &l2.neighbours[0];
    assert_eq!(n.port, "up");
    assert_eq!(n.chassis_id, "02:77:04:00:00:04");
    assert!(n.chassis_mac.is_some());
    assert_eq!(n.remote_port.as_deref(), Some("up"));
    assert_eq!(n.name.as_deref(), Some("sw2.lab.test"));
    assert_eq!(n.address, Some("10.77.4.4".parse().unwrap()));
    assert_eq!(v.arp.len(), 1, "the invalid entry is gone");
}

/// LLDP-V2-MIB (802.1AB-2009): a neighbour on ifIndex 3 with its capabilities; the one
/// LLDP-MIB told on ifIndex 4 is not told twice.
#[test]
fn reads_lldp_v2_neighbours_once() {
    let mut rows: BTreeMap<Oid, Value> = BTreeMap::new();
    let mut put = |o: &str, v: Value| {
        rows.insert(oid(o), v);
    };
    for (i, name) in [(3, "ge3"), (4, "up")] {
        put(
            &format!("1.3.6.1.2.1.31.1.1.1.1.{i}"),
            Value::Bytes(name.as_bytes().to_vec()),
        );
        put(&format!("1.3.6.1.2.1.2.2.1.3.{i}"), Value::Integer(6));
    }
    let v1 = "1.0.8802.1.1.2.1.4.1.1";
    put(&format!("{v1}.4.0.4.1"), Value::Integer(4));
    put(
        &format!("{v1}.5.0.4.1"),
        Value::Bytes(vec![2, 0x77, 4, 0, 0, 4]),
    );
    let v2 = "1.3.111.2.802.1.1.13.1.4.1.1";
    // (time 0, ifIndex, destination 1, remote 1): the same neighbour on 4, a phone on 3.
    put(&format!("{v2}.5.0.4.1.1"), Value::Integer(4));
    put(
        &format!("{v2}.6.0.4.1.1"),
        Value::Bytes(vec![2, 0x77, 4, 0, 0, 4]),
    );
    put(&format!("{v2}.5.0.3.1.1"), Value::Integer(4));
    put(
        &format!("{v2}.6.0.3.1.1"),
        Value::Bytes(vec![2, 0x77, 4, 0, 0, 0x30]),
    );
    put(&format!("{v2}.7.0.3.1.1"), Value::Integer(5));
    put(&format!("{v2}.8.0.3.1.1"), Value::Bytes(b"lan".to_vec()));
    put(
        &format!("{v2}.10.0.3.1.1"),
        Value::Bytes(b"phone-7".to_vec()),
    );
    // Bridge and telephone: bits 2 and 5 of the first byte, most significant first.
    put(&format!("{v2}.13.0.3.1.1"), Value::Bytes(vec![0b0010_0100]));
    let v = mib::interpret(&rows);
    let n: Vec<(&str, &str, Option<&str>)> =
        v.l2.neighbours
            .iter()
            .map(|n| (n.port.as_str(), n.chassis_id.as_str(), n.name.as_deref()))
            .collect();
    assert_eq!(
        n,
        [
            ("up", "02:77:04:00:00:04", None),
            ("ge3", "02:77:04:00:00:30", Some("phone-7")),
        ]
    );
    let phone = &v.l2.neighbours[1];
    assert_eq!(phone.remote_port.as_deref(), Some("lan"));
    assert_eq!(phone.capabilities, ["bridge", "phone"]);
}

// ----- the walker against a misbehaving agent on 127.0.0.1 -----

/// How the test agent misbehaves.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Quirk {
    /// Answers as an agent should.
    None,
    /// Goes silent after this many answers.
    StopAfter(usize),
    /// Answers every GETBULK with the same row (a loop).
    Loop,
    /// An endless table: every answer is rows after the asked one.
    Endless,
    /// Says tooBig unless max-repetitions is at most 3.
    TooBigOver3,
    /// Answers each request twice, the first time with a stale request id.
    Stale,
}

/// A v2c agent on 127.0.0.1 serving `rows` with community `public`.
async fn agent(rows: BTreeMap<Oid, Value>, quirk: Quirk) -> (SocketAddr, Arc<AtomicUsize>) {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65_536];
        loop {
            let Ok((n, from)) = sock.recv_from(&mut buf).await else {
                return;
            };
            let b = &buf[..n];
            let answered = seen.fetch_add(1, Ordering::SeqCst);
            if let Quirk::StopAfter(k) = quirk {
                if answered >= k {
                    continue;
                }
            }
            // Parse the request: version, community, PDU tag, id, a, b, the first oid.
            let (msg, _) = ber::expect(b, 0, tag::SEQUENCE).unwrap();
            let (_, p) = ber::expect(b, msg.start, tag::INTEGER).unwrap();
            let (c, p) = ber::expect(b, p, tag::OCTET_STRING).unwrap();
            if &b[c] != b"public" {
                continue;
            }
            let (t, body, _) = ber::tlv(b, p).unwrap();
            let (r, p) = ber::expect(b, body.start, tag::INTEGER).unwrap();
            let id = ber::decode_int(&b[r]).unwrap();
            let (_, p) = ber::expect(b, p, tag::INTEGER).unwrap();
            let (r, p) = ber::expect(b, p, tag::INTEGER).unwrap();
            let reps = ber::decode_int(&b[r]).unwrap();
            let (list, _) = ber::expect(b, p, tag::SEQUENCE).unwrap();
            let mut asked = Vec::new();
            let mut q = list.start;
            while q < list.end {
                let (vb, next) = ber::expect(b, q, tag::SEQUENCE).unwrap();
                let (o, _) = ber::expect(b, vb.start, tag::OID).unwrap();
                asked.push(ber::decode_oid(&b[o]).unwrap());
                q = next;
            }
            let mut out = Vec::new();
            let mut status = 0;
            match t {
                pdu::GET => {
                    for o in &asked {
                        out.push((
                            o.clone(),
                            rows.get(o).cloned().unwrap_or(Value::NoSuchObject),
                        ));
                    }
                }
                pdu::GET_BULK => {
                    let from_oid = asked[0].clone();
                    if quirk == Quirk::TooBigOver3 && reps > 3 {
                        status = 1;
                    } else if quirk == Quirk::Loop {
                        out.push((from_oid.child(&[1]), Value::Integer(1)));
                        out.push((from_oid.child(&[1]), Value::Integer(1)));
                    } else if quirk == Quirk::Endless {
                        let mut o = from_oid.clone();
                        if o.0.len() == 10 {
                            o.0.push(0);
                        }
                        for _ in 0..reps {
                            let last = o.0.len() - 1;
                            o.0[last] += 1;
                            out.push((o.clone(), Value::Integer(0)));
                        }
                    } else {
                        let mut it = rows.range((
                            std::ops::Bound::Excluded(from_oid),
                            std::ops::Bound::Unbounded,
                        ));
                        for _ in 0..reps {
                            match it.next() {
                                Some((o, v)) => out.push((o.clone(), v.clone())),
                                None => {
                                    out.push((oid("1.3.6.1.9"), Value::EndOfMibView));
                                    break;
                                }
                            }
                        }
                    }
                }
                _ => continue,
            }
            if quirk == Quirk::Stale {
                let stale = response(
                    Version::V2c,
                    b"public",
                    id - 1,
                    0,
                    &[(oid("1.3.6.1.2.1.1.5.0"), Value::Bytes(b"stale".to_vec()))],
                );
                let _ = sock.send_to(&stale, from).await;
            }
            let _ = sock
                .send_to(&response(Version::V2c, b"public", id, status, &out), from)
                .await;
        }
    });
    (addr, count)
}

fn ctx() -> ScanContext {
    ScanContext::standalone(
        "snmp",
        ScanConfig::default(),
        TargetSet::default(),
        CancellationToken::new(),
    )
    .0
}

fn limits() -> Limits {
    Limits {
        timeout: Duration::from_millis(200),
        tries: 2,
        budget: Duration::from_secs(5),
        max_bytes: 1 << 20,
        max_rows: 1000,
        max_repetitions: 10,
    }
}

fn table(n: u32) -> BTreeMap<Oid, Value> {
    let mut rows = BTreeMap::new();
    rows.insert(oid("1.3.6.1.2.1.1.5.0"), Value::Bytes(b"agent".to_vec()));
    for i in 1..=n {
        rows.insert(
            oid(&format!("1.3.6.1.2.1.2.2.1.2.{i}")),
            Value::Bytes(format!("if{i}").into_bytes()),
        );
        rows.insert(oid(&format!("1.3.6.1.2.1.2.2.1.3.{i}")), Value::Integer(6));
    }
    rows
}

async fn walk(
    rows: BTreeMap<Oid, Value>,
    quirk: Quirk,
    limits: Limits,
) -> (super::walk::Walk, usize) {
    let (addr, count) = agent(rows, quirk).await;
    let ctx = ctx();
    let mut s = Session::open(
        &ctx,
        addr.ip(),
        addr.port(),
        Version::V2c,
        b"public",
        limits,
    )
    .await
    .unwrap();
    let w = s.walk(&oid("1.3.6.1.2.1.2.2.1.2")).await;
    (w, count.load(Ordering::SeqCst))
}

#[tokio::test]
async fn walks_a_table_to_its_end() {
    let (w, asked) = walk(table(95), Quirk::None, limits()).await;
    assert_eq!(w.end, End::Complete);
    assert_eq!(w.rows.len(), 95);
    assert_eq!(
        asked, 10,
        "95 rows and the next column's first, 10 per request"
    );
}

#[tokio::test]
async fn an_agent_that_stops_half_way_ends_the_walk_with_what_it_gave() {
    let (w, _) = walk(table(95), Quirk::StopAfter(3), limits()).await;
    assert_eq!(w.end, End::Failed(Failure::Silent));
    assert_eq!(w.rows.len(), 30);
}

#[tokio::test]
async fn a_looping_agent_is_stopped() {
    let (w, asked) = walk(table(5), Quirk::Loop, limits()).await;
    assert!(matches!(w.end, End::OutOfOrder(_)), "{:?}", w.end);
    assert_eq!(w.rows.len(), 1);
    assert_eq!(asked, 1);
}

#[tokio::test]
async fn an_endless_table_stops_at_the_row_limit_or_the_budget() {
    let (w, _) = walk(table(5), Quirk::Endless, limits()).await;
    assert_eq!(w.end, End::RowLimit);
    assert_eq!(w.rows.len(), 1000);
    let small = Limits {
        max_bytes: 4096,
        ..limits()
    };
    let (w, _) = walk(table(5), Quirk::Endless, small).await;
    assert_eq!(w.end, End::Failed(Failure::Budget));
    assert!(w.rows.len() < 1000);
}

#[tokio::test]
async fn too_big_halves_the_repetitions() {
    let (w, _) = walk(table(20), Quirk::TooBigOver3, limits()).await;
    assert_eq!(w.end, End::Complete);
    assert_eq!(w.rows.len(), 20);
}

#[tokio::test]
async fn a_stale_answer_is_not_taken_for_the_current_one() {
    let (w, _) = walk(table(30), Quirk::Stale, limits()).await;
    assert_eq!(w.end, End::Complete);
    assert_eq!(w.rows.len(), 30);
    assert!(
        w.rows
            .iter()
            .all(|(o, _)| o.to_string().starts_with("1.3.6.1.2.1.2.2.1.2."))
    );
}

#[tokio::test]
async fn a_wrong_community_is_silence_within_the_tries() {
    let (addr, count) = agent(table(3), Quirk::None).await;
    let ctx = ctx();
    let mut s = Session::open(
        &ctx,
        addr.ip(),
        addr.port(),
        Version::V2c,
        b"wrong",
        limits(),
    )
    .await
    .unwrap();
    assert_eq!(s.get(&mib::scalars()).await, Err(Failure::Silent));
    assert_eq!(count.load(Ordering::SeqCst), 2, "two tries");
}

#[tokio::test]
async fn several_communities_are_asked_at_once_and_the_first_listed_that_answers_wins() {
    let (addr, count) = agent(table(3), Quirk::None).await;
    let ctx = ctx();
    let c = |v, s: &str| (v, s.as_bytes().to_vec());
    let candidates = [
        c(Version::V2c, "wrong"),
        c(Version::V1, "wrong"),
        c(Version::V2c, "public"),
        c(Version::V1, "public"),
    ];
    let got = super::walk::first_answering(
        &ctx,
        addr.ip(),
        addr.port(),
        &candidates,
        &mib::scalars(),
        false,
        limits(),
    )
    .await
    .unwrap()
    .community
    .expect("an answer");
    assert_eq!(got.0, 2, "public as v2c (the agent answers v2c only)");
    assert!(
        got.1
            .iter()
            .any(|(o, _)| o.to_string() == "1.3.6.1.2.1.1.5.0")
    );
    assert_eq!(
        count.load(Ordering::SeqCst),
        4,
        "one round: every candidate once"
    );
    // Nobody answers any: Ok(None) after the tries.
    let none = [c(Version::V2c, "a"), c(Version::V2c, "b")];
    let got = super::walk::first_answering(
        &ctx,
        addr.ip(),
        addr.port(),
        &none,
        &mib::scalars(),
        false,
        limits(),
    )
    .await;
    assert_eq!(got, Ok(super::walk::Round::default()));
    assert_eq!(count.load(Ordering::SeqCst), 8, "two rounds of two");
}

#[tokio::test]
async fn the_scanner_reports_what_the_agent_has() {
    use scanopy_core::{Fact, Scanner, Scope};
    let (addr, _) = agent(table(3), Quirk::None).await;
    let (ctx, mut rx) = ScanContext::standalone(
        "snmp",
        ScanConfig {
            timeout_ms: 300,
            ..ScanConfig::default()
        },
        TargetSet::default(),
        CancellationToken::new(),
    );
    let scanner = super::SnmpScanner::new(super::SnmpSettings {
        port: addr.port(),
        ..Default::default()
    });
    scanner.run(&ctx, Scope::Host(addr.ip())).await.unwrap();
    drop(ctx);
    let mut facts = Vec::new();
    while let Some(o) = rx.recv().await {
        facts.push(o.fact);
    }
    assert!(facts.iter().any(
        |f| matches!(f, Fact::Hostname { name, source } if name == "agent" && source == "snmp")
    ));
    let l2 = facts
        .iter()
        .find_map(|f| match f {
            Fact::L2(l) => Some(l),
            _ => None,
        })
        .expect("an L2 fact");
    assert_eq!(
        l2.ports.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        ["if1", "if2", "if3"]
    );
}
