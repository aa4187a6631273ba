//! BER as SNMP uses it (X.690, the subset of RFC 3416): definite lengths, the universal types
//! INTEGER, OCTET STRING, NULL and OBJECT IDENTIFIER, SEQUENCE, and SNMP's application types.
//!
//! Pure functions over bytes. The decoder takes whatever an agent sends: it never panics, never
//! allocates more than the input's size, and refuses what SNMP cannot carry (indefinite
//! lengths, lengths over 4 bytes, integers over 64 bits, object identifiers over 128 arcs).

use std::fmt;
use std::ops::Range;

/// The longest object identifier accepted, in arcs (RFC 2578 allows 128).
pub const MAX_ARCS: usize = 128;

/// Tags.
pub mod tag {
    /// INTEGER.
    pub const INTEGER: u8 = 0x02;
    /// OCTET STRING.
    pub const OCTET_STRING: u8 = 0x04;
    /// NULL.
    pub const NULL: u8 = 0x05;
    /// OBJECT IDENTIFIER.
    pub const OID: u8 = 0x06;
    /// SEQUENCE.
    pub const SEQUENCE: u8 = 0x30;
    /// IpAddress.
    pub const IP_ADDRESS: u8 = 0x40;
    /// Counter32.
    pub const COUNTER32: u8 = 0x41;
    /// Gauge32 (Unsigned32).
    pub const GAUGE32: u8 = 0x42;
    /// TimeTicks.
    pub const TIMETICKS: u8 = 0x43;
    /// Opaque.
    pub const OPAQUE: u8 = 0x44;
    /// Counter64.
    pub const COUNTER64: u8 = 0x46;
    /// noSuchObject.
    pub const NO_SUCH_OBJECT: u8 = 0x80;
    /// noSuchInstance.
    pub const NO_SUCH_INSTANCE: u8 = 0x81;
    /// endOfMibView.
    pub const END_OF_MIB_VIEW: u8 = 0x82;
}

/// Why bytes are not BER that SNMP can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BerError {
    /// The input ended inside an element.
    #[error("truncated")]
    Truncated,
    /// An indefinite length, or a length of more than 4 bytes.
    #[error("unsupported length")]
    Length,
    /// Another tag than the one the structure needs here.
    #[error("unexpected tag 0x{found:02x} where 0x{want:02x} belongs")]
    Tag {
        /// The tag needed.
        want: u8,
        /// The tag found.
        found: u8,
    },
    /// An integer wider than 64 bits, or empty.
    #[error("bad integer")]
    Integer,
    /// An object identifier that is empty, too long, or has an arc over 32 bits.
    #[error("bad object identifier")]
    Oid,
}

/// An object identifier.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Oid(pub Vec<u32>);

impl Oid {
    /// Parses dotted text (`1.3.6.1.2.1.1.5.0`); `None` for anything else.
    pub fn parse(s: &str) -> Option<Oid> {
        let arcs: Option<Vec<u32>> = s
            .trim_start_matches('.')
            .split('.')
            .map(|a| a.parse().ok())
            .collect();
        let arcs = arcs?;
        (arcs.len() >= 2 && arcs.len() <= MAX_ARCS && arcs[0] <= 2).then_some(Oid(arcs))
    }

    /// Whether `self` lies under `root` (or is `root`).
    pub fn starts_with(&self, root: &Oid) -> bool {
        self.0.starts_with(&root.0)
    }

    /// The arcs after `root`, when `self` is under it.
    pub fn suffix(&self, root: &Oid) -> Option<&[u32]> {
        self.0.strip_prefix(root.0.as_slice())
    }

    /// `self` with `arcs` appended.
    pub fn child(&self, arcs: &[u32]) -> Oid {
        let mut v = self.0.clone();
        v.extend_from_slice(arcs);
        Oid(v)
    }
}

impl fmt::Display for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{a}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Oid({self})")
    }
}

/// A variable's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// INTEGER (Integer32, and enumerations).
    Integer(i64),
    /// OCTET STRING: text, a MAC, a bit string; its meaning depends on the object.
    Bytes(Vec<u8>),
    /// NULL (in requests).
    Null,
    /// OBJECT IDENTIFIER.
    Oid(Oid),
    /// IpAddress.
    IpAddress([u8; 4]),
    /// Counter32.
    Counter32(u32),
    /// Gauge32 / Unsigned32.
    Gauge32(u32),
    /// TimeTicks (hundredths of a second).
    TimeTicks(u32),
    /// Opaque.
    Opaque(Vec<u8>),
    /// Counter64.
    Counter64(u64),
    /// The agent has no such object.
    NoSuchObject,
    /// The object has no such instance.
    NoSuchInstance,
    /// Nothing follows in the agent's view.
    EndOfMibView,
}

impl Value {
    /// Whether this is one of the three exceptions rather than a value.
    pub fn is_exception(&self) -> bool {
        matches!(
            self,
            Value::NoSuchObject | Value::NoSuchInstance | Value::EndOfMibView
        )
    }

    /// The value as an unsigned number, for any numeric type that fits.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::Integer(i) => u64::try_from(i).ok(),
            Value::Counter32(v) | Value::Gauge32(v) | Value::TimeTicks(v) => Some(u64::from(v)),
            Value::Counter64(v) => Some(v),
            _ => None,
        }
    }

    /// The value as a signed integer.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::Integer(i) => Some(i),
            _ => self.as_u64().and_then(|v| i64::try_from(v).ok()),
        }
    }

    /// The octets of an OCTET STRING or Opaque.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) | Value::Opaque(b) => Some(b),
            _ => None,
        }
    }

    /// An OCTET STRING as text: UTF-8 (lossy), trailing NULs and surrounding white space
    /// removed. Callers that show it escape it (it comes from the network).
    pub fn as_text(&self) -> Option<String> {
        let b = self.as_bytes()?;
        let b = b.strip_suffix(&[0]).unwrap_or(b);
        Some(String::from_utf8_lossy(b).trim().to_owned())
    }
}

/// Reads one element at `pos`: its tag, the range of its contents, and the position after it.
pub fn tlv(b: &[u8], pos: usize) -> Result<(u8, Range<usize>, usize), BerError> {
    let tag = *b.get(pos).ok_or(BerError::Truncated)?;
    let first = *b.get(pos + 1).ok_or(BerError::Truncated)?;
    let (len, hdr) = if first & 0x80 == 0 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return Err(BerError::Length);
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | usize::from(*b.get(pos + 2 + i).ok_or(BerError::Truncated)?);
        }
        (len, 2 + n)
    };
    let start = pos + hdr;
    let end = start.checked_add(len).ok_or(BerError::Length)?;
    if end > b.len() {
        return Err(BerError::Truncated);
    }
    Ok((tag, start..end, end))
}

/// Reads an element that must have tag `want`.
pub fn expect(b: &[u8], pos: usize, want: u8) -> Result<(Range<usize>, usize), BerError> {
    let (found, r, next) = tlv(b, pos)?;
    if found != want {
        return Err(BerError::Tag { want, found });
    }
    Ok((r, next))
}

/// A signed two's-complement integer of 1 to 8 content bytes.
pub fn decode_int(c: &[u8]) -> Result<i64, BerError> {
    if c.is_empty() || c.len() > 8 {
        return Err(BerError::Integer);
    }
    let mut v: i64 = if c[0] & 0x80 != 0 { -1 } else { 0 };
    for &byte in c {
        v = (v << 8) | i64::from(byte);
    }
    Ok(v)
}

/// An unsigned integer of up to `bits` bits (a leading zero byte allowed).
fn decode_uint(c: &[u8], bits: u32) -> Result<u64, BerError> {
    let c = match c {
        [0, rest @ ..] if !rest.is_empty() => rest,
        _ => c,
    };
    if c.is_empty() || c.len() * 8 > bits as usize {
        return Err(BerError::Integer);
    }
    Ok(c.iter().fold(0u64, |v, &b| (v << 8) | u64::from(b)))
}

/// An object identifier's contents.
pub fn decode_oid(c: &[u8]) -> Result<Oid, BerError> {
    if c.is_empty() {
        return Err(BerError::Oid);
    }
    let mut arcs = Vec::with_capacity(c.len().min(MAX_ARCS) + 1);
    let mut v: u64 = 0;
    for (i, &byte) in c.iter().enumerate() {
        v = (v << 7) | u64::from(byte & 0x7f);
        if v > u64::from(u32::MAX) + 80 {
            return Err(BerError::Oid);
        }
        if byte & 0x80 == 0 {
            if arcs.is_empty() {
                let (a, b) = if v < 40 {
                    (0, v)
                } else if v < 80 {
                    (1, v - 40)
                } else {
                    (2, v - 80)
                };
                arcs.push(a as u32);
                arcs.push(u32::try_from(b).map_err(|_| BerError::Oid)?);
            } else {
                arcs.push(u32::try_from(v).map_err(|_| BerError::Oid)?);
            }
            if arcs.len() > MAX_ARCS {
                return Err(BerError::Oid);
            }
            v = 0;
        } else if i + 1 == c.len() {
            return Err(BerError::Oid);
        }
    }
    Ok(Oid(arcs))
}

/// A value element (any tag SNMP allows in a variable binding).
pub fn decode_value(tag_: u8, c: &[u8]) -> Result<Value, BerError> {
    Ok(match tag_ {
        tag::INTEGER => Value::Integer(decode_int(c)?),
        tag::OCTET_STRING => Value::Bytes(c.to_vec()),
        tag::NULL => Value::Null,
        tag::OID => Value::Oid(decode_oid(c)?),
        tag::IP_ADDRESS => Value::IpAddress(c.try_into().map_err(|_| BerError::Integer)?),
        tag::COUNTER32 => Value::Counter32(decode_uint(c, 32)? as u32),
        tag::GAUGE32 => Value::Gauge32(decode_uint(c, 32)? as u32),
        tag::TIMETICKS => Value::TimeTicks(decode_uint(c, 32)? as u32),
        tag::OPAQUE => Value::Opaque(c.to_vec()),
        tag::COUNTER64 => Value::Counter64(decode_uint(c, 64)?),
        tag::NO_SUCH_OBJECT => Value::NoSuchObject,
        tag::NO_SUCH_INSTANCE => Value::NoSuchInstance,
        tag::END_OF_MIB_VIEW => Value::EndOfMibView,
        found => {
            return Err(BerError::Tag {
                want: tag::OCTET_STRING,
                found,
            });
        }
    })
}

/// Appends an element: tag, definite length, contents.
pub fn put(out: &mut Vec<u8>, tag_: u8, contents: &[u8]) {
    out.push(tag_);
    let n = contents.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes = (n as u32).to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (4 - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(contents);
}

/// The minimal two's-complement contents of an integer.
pub fn int_contents(v: i64) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let mut i = 0;
    while i < 7
        && ((bytes[i] == 0 && bytes[i + 1] & 0x80 == 0)
            || (bytes[i] == 0xff && bytes[i + 1] & 0x80 != 0))
    {
        i += 1;
    }
    bytes[i..].to_vec()
}

/// The contents of an object identifier (at least two arcs; a shorter one encodes as `0.0`).
pub fn oid_contents(oid: &Oid) -> Vec<u8> {
    let a = &oid.0;
    let first = u64::from(*a.first().unwrap_or(&0)) * 40 + u64::from(*a.get(1).unwrap_or(&0));
    let mut out = Vec::with_capacity(a.len() * 2);
    push_base128(&mut out, first);
    for &arc in a.iter().skip(2) {
        push_base128(&mut out, u64::from(arc));
    }
    out
}

fn push_base128(out: &mut Vec<u8>, v: u64) {
    let mut tmp = [0u8; 10];
    let mut n = 0;
    let mut v = v;
    loop {
        tmp[n] = (v & 0x7f) as u8;
        n += 1;
        v >>= 7;
        if v == 0 {
            break;
        }
    }
    for i in (0..n).rev() {
        out.push(tmp[i] | if i > 0 { 0x80 } else { 0 });
    }
}

/// Appends a value element.
pub fn put_value(out: &mut Vec<u8>, v: &Value) {
    let uint = |x: u64| {
        let mut c = x.to_be_bytes().to_vec();
        while c.len() > 1 && c[0] == 0 && c[1] & 0x80 == 0 {
            c.remove(0);
        }
        if c[0] & 0x80 != 0 {
            c.insert(0, 0);
        }
        c
    };
    match v {
        Value::Integer(i) => put(out, tag::INTEGER, &int_contents(*i)),
        Value::Bytes(b) => put(out, tag::OCTET_STRING, b),
        Value::Null => put(out, tag::NULL, &[]),
        Value::Oid(o) => put(out, tag::OID, &oid_contents(o)),
        Value::IpAddress(a) => put(out, tag::IP_ADDRESS, a),
        Value::Counter32(x) => put(out, tag::COUNTER32, &uint(u64::from(*x))),
        Value::Gauge32(x) => put(out, tag::GAUGE32, &uint(u64::from(*x))),
        Value::TimeTicks(x) => put(out, tag::TIMETICKS, &uint(u64::from(*x))),
        Value::Opaque(b) => put(out, tag::OPAQUE, b),
        Value::Counter64(x) => put(out, tag::COUNTER64, &uint(*x)),
        Value::NoSuchObject => put(out, tag::NO_SUCH_OBJECT, &[]),
        Value::NoSuchInstance => put(out, tag::NO_SUCH_INSTANCE, &[]),
        Value::EndOfMibView => put(out, tag::END_OF_MIB_VIEW, &[]),
    }
}
