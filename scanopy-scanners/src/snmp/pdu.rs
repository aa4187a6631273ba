//! SNMP messages of versions 1 and 2c (RFC 1157, RFC 3416): community-based requests out, and
//! whatever comes back read into a [`Response`] or refused with a reason.

use super::ber::{self, BerError, Oid, Value, tag};

/// The protocol version of a community message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// SNMPv1: no GETBULK, no exceptions (a missing object is error `noSuchName`).
    V1,
    /// SNMPv2c.
    V2c,
    /// SNMPv3 (its messages are [`super::usm`]'s; the PDUs are v2c's).
    V3,
}

impl Version {
    fn number(self) -> i64 {
        match self {
            Version::V1 => 0,
            Version::V2c => 1,
            Version::V3 => 3,
        }
    }
}

/// The request PDUs a walker sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// GetRequest.
    Get,
    /// GetNextRequest.
    GetNext,
    /// GetBulkRequest (v2c only): `non_repeaters`, `max_repetitions`.
    GetBulk(u32, u32),
}

/// PDU tags.
pub const GET: u8 = 0xa0;
/// GetNextRequest.
pub const GET_NEXT: u8 = 0xa1;
/// Response (GetResponse in v1).
pub const RESPONSE: u8 = 0xa2;
/// GetBulkRequest.
pub const GET_BULK: u8 = 0xa5;
/// Report (v3).
pub const REPORT: u8 = 0xa8;

/// Error statuses that change what a walker does.
pub mod status {
    /// The answer would not fit in a message.
    pub const TOO_BIG: i64 = 1;
    /// v1: the object does not exist (the end of a walk).
    pub const NO_SUCH_NAME: i64 = 2;
}

/// A response: its request id, error status and index, and its variable bindings in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The request it answers.
    pub request_id: i64,
    /// 0 for no error.
    pub error_status: i64,
    /// Which binding the error is about (1-based), 0 for none.
    pub error_index: i64,
    /// The bindings.
    pub bindings: Vec<(Oid, Value)>,
}

/// The PDU body shared by every version: request id, two integers and the bindings.
pub fn encode_pdu(pdu_tag: u8, request_id: i32, a: i64, b: i64, oids: &[Oid]) -> Vec<u8> {
    let mut binds = Vec::with_capacity(oids.len() * 16);
    for oid in oids {
        let mut vb = Vec::with_capacity(24);
        ber::put(&mut vb, tag::OID, &ber::oid_contents(oid));
        ber::put(&mut vb, tag::NULL, &[]);
        ber::put(&mut binds, tag::SEQUENCE, &vb);
    }
    let mut body = Vec::with_capacity(binds.len() + 16);
    ber::put(
        &mut body,
        tag::INTEGER,
        &ber::int_contents(i64::from(request_id)),
    );
    ber::put(&mut body, tag::INTEGER, &ber::int_contents(a));
    ber::put(&mut body, tag::INTEGER, &ber::int_contents(b));
    ber::put(&mut body, tag::SEQUENCE, &binds);
    let mut pdu = Vec::with_capacity(body.len() + 4);
    ber::put(&mut pdu, pdu_tag, &body);
    pdu
}

/// The PDU tag and its two integers for a request.
pub fn request_parts(req: Request) -> (u8, i64, i64) {
    match req {
        Request::Get => (GET, 0, 0),
        Request::GetNext => (GET_NEXT, 0, 0),
        Request::GetBulk(n, m) => (GET_BULK, i64::from(n), i64::from(m)),
    }
}

/// A whole community message.
pub fn encode(
    version: Version,
    community: &[u8],
    req: Request,
    request_id: i32,
    oids: &[Oid],
) -> Vec<u8> {
    let (t, a, b) = request_parts(req);
    let pdu = encode_pdu(t, request_id, a, b, oids);
    let mut msg = Vec::with_capacity(pdu.len() + community.len() + 8);
    ber::put(&mut msg, tag::INTEGER, &ber::int_contents(version.number()));
    ber::put(&mut msg, tag::OCTET_STRING, community);
    msg.extend_from_slice(&pdu);
    let mut out = Vec::with_capacity(msg.len() + 4);
    ber::put(&mut out, tag::SEQUENCE, &msg);
    out
}

/// Reads a PDU (Response or Report) starting at `pos`: its tag and contents.
pub fn decode_pdu(b: &[u8], pos: usize) -> Result<(u8, Response), BerError> {
    let (t, body, _) = ber::tlv(b, pos)?;
    if t != RESPONSE && t != REPORT {
        return Err(BerError::Tag {
            want: RESPONSE,
            found: t,
        });
    }
    let (r, p) = ber::expect(b, body.start, tag::INTEGER)?;
    let request_id = ber::decode_int(&b[r])?;
    let (r, p) = ber::expect(b, p, tag::INTEGER)?;
    let error_status = ber::decode_int(&b[r])?;
    let (r, p) = ber::expect(b, p, tag::INTEGER)?;
    let error_index = ber::decode_int(&b[r])?;
    let (list, _) = ber::expect(b, p, tag::SEQUENCE)?;
    if list.end > body.end {
        return Err(BerError::Truncated);
    }
    let mut bindings = Vec::new();
    let mut p = list.start;
    while p < list.end {
        let (vb, next) = ber::expect(b, p, tag::SEQUENCE)?;
        let (oid, after) = ber::expect(b, vb.start, tag::OID)?;
        let oid = ber::decode_oid(&b[oid])?;
        let (vt, val, _) = ber::tlv(b, after)?;
        if val.end > vb.end {
            return Err(BerError::Truncated);
        }
        bindings.push((oid, ber::decode_value(vt, &b[val])?));
        p = next;
    }
    Ok((
        t,
        Response {
            request_id,
            error_status,
            error_index,
            bindings,
        },
    ))
}

/// Reads a community message's response: its version must be `version` and its community
/// `community` (an answer to someone else is refused).
pub fn decode(b: &[u8], version: Version, community: &[u8]) -> Result<Response, BerError> {
    let (msg, _) = ber::expect(b, 0, tag::SEQUENCE)?;
    let (r, p) = ber::expect(b, msg.start, tag::INTEGER)?;
    if ber::decode_int(&b[r])? != version.number() {
        return Err(BerError::Integer);
    }
    let (c, p) = ber::expect(b, p, tag::OCTET_STRING)?;
    if &b[c] != community {
        return Err(BerError::Tag {
            want: tag::OCTET_STRING,
            found: tag::OCTET_STRING,
        });
    }
    let (t, resp) = decode_pdu(b, p)?;
    if t != RESPONSE {
        return Err(BerError::Tag {
            want: RESPONSE,
            found: t,
        });
    }
    Ok(resp)
}
