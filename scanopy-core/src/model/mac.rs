//! MAC addresses: parsing, the canonical lower-case form, and the flags that matter for identity.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A 48-bit IEEE MAC address, written `aa:bb:cc:dd:ee:ff` (lower case).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MacAddr(pub [u8; 6]);

/// A MAC address that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid MAC address {0:?}: expected six hex bytes like aa:bb:cc:dd:ee:ff")]
pub struct MacParseError(pub String);

impl MacAddr {
    /// The six bytes.
    pub fn octets(&self) -> [u8; 6] {
        self.0
    }

    /// Locally administered (the U/L bit is set): typical of randomised ("private") phone and
    /// laptop addresses, virtual machines and containers. Such a MAC identifies a device less
    /// reliably than a vendor-assigned one.
    pub fn is_locally_administered(&self) -> bool {
        self.0[0] & 0x02 != 0
    }

    /// A group (multicast or broadcast) address: never the address of one device.
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    /// All zeros, as some ARP replies and incomplete neighbour entries carry.
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 6]
    }

    /// Whether this address can name a device: not zero, not multicast or broadcast.
    pub fn is_unicast(&self) -> bool {
        !self.is_zero() && !self.is_multicast()
    }

    /// The organisationally unique identifier (first three bytes), the key of vendor tables.
    pub fn oui(&self) -> [u8; 3] {
        [self.0[0], self.0[1], self.0[2]]
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MacAddr({self})")
    }
}

impl FromStr for MacAddr {
    type Err = MacParseError;

    /// Accepts `aa:bb:cc:dd:ee:ff`, `aa-bb-cc-dd-ee-ff`, `aabb.ccdd.eeff` and `aabbccddeeff`,
    /// in either case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || MacParseError(s.to_owned());
        let hex: String = if s.contains(':') || s.contains('-') {
            let parts: Vec<&str> = s.split([':', '-']).collect();
            if parts.len() != 6 || parts.iter().any(|p| p.is_empty() || p.len() > 2) {
                return Err(err());
            }
            parts.iter().map(|p| format!("{p:0>2}")).collect()
        } else {
            s.chars().filter(|c| *c != '.').collect()
        };
        if hex.len() != 12 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(err());
        }
        let mut out = [0u8; 6];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| err())?;
        }
        Ok(MacAddr(out))
    }
}

impl Serialize for MacAddr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MacAddr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_forms_and_prints_lower_case() {
        for s in [
            "00:11:32:AA:00:10",
            "00-11-32-aa-00-10",
            "0011.32aa.0010",
            "001132aa0010",
        ] {
            let mac: MacAddr = s.parse().unwrap();
            assert_eq!(mac.to_string(), "00:11:32:aa:00:10", "{s}");
        }
        assert_eq!(
            "0:1:2:3:4:5".parse::<MacAddr>().unwrap().to_string(),
            "00:01:02:03:04:05"
        );
    }

    #[test]
    fn rejects_garbage() {
        for s in [
            "",
            "00:11:22:33:44",
            "00:11:22:33:44:55:66",
            "zz:11:22:33:44:55",
            "001:1:2:3:4:5",
        ] {
            assert!(s.parse::<MacAddr>().is_err(), "{s}");
        }
    }

    #[test]
    fn flags() {
        let random: MacAddr = "da:a1:19:00:00:01".parse().unwrap();
        assert!(random.is_locally_administered());
        let synology: MacAddr = "00:11:32:00:00:01".parse().unwrap();
        assert!(!synology.is_locally_administered());
        assert!(synology.is_unicast());
        assert!(!"ff:ff:ff:ff:ff:ff".parse::<MacAddr>().unwrap().is_unicast());
        assert!(!"00:00:00:00:00:00".parse::<MacAddr>().unwrap().is_unicast());
    }
}
