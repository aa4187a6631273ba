//! SSDP and UPnP (1900/udp): a unicast `M-SEARCH` asks a host which UPnP devices and services it
//! offers; each answer names a `LOCATION`, the URL of a device description (XML) that tells the
//! device's friendly name, maker, model and type. TVs, media players, speakers, routers,
//! printers and NAS boxes answer.
//!
//! The functions here are pure: they build the request and read the answers and the
//! description, never panic, and bound what they keep, whatever the bytes. A description is
//! fetched only from the address that was scanned (see [`description_target`]): a `LOCATION`
//! that points elsewhere is ignored, so a hostile answer cannot send the scanner to another host.

use std::net::IpAddr;

use scanopy_core::DeviceType;

/// The SSDP port.
pub const SSDP_PORT: u16 = 1900;
/// Answers (datagrams) read from one host, at most.
pub const MAX_REPLIES: usize = 16;
/// The largest device description read, in bytes.
pub const MAX_DESCRIPTION: usize = 64 * 1024;
/// Characters kept of one header or description field.
pub const MAX_FIELD: usize = 200;

/// The OS a `SERVER` header names in its first token (UPnP Device Architecture §1.1.2: `OS/version
/// UPnP/2.0 product/version`): the family and, when given, its version; `None` for the
/// placeholders devices send (`Unknown/0.0`) and names this does not know.
pub fn server_os(server: &str) -> Option<(&'static str, Option<String>)> {
    let first = server.split_whitespace().next()?;
    let (name, version) = match first.split_once('/') {
        Some((n, v)) => (n, Some(v)),
        None => (first, None),
    };
    let family = match name.to_ascii_lowercase().as_str() {
        "linux" => "Linux",
        "windows" | "microsoft-windows" | "windows_nt" | "windowsnt" => "Windows",
        "android" => "Android",
        "freebsd" => "FreeBSD",
        _ => return None,
    };
    let version = version
        .filter(|v| v.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .map(|v| v.chars().take(32).collect());
    Some((family, version))
}

/// A unicast `M-SEARCH` for every device and service (`ssdp:all`) of the host `ip`. Unicast
/// searches carry the host's own address in `HOST` and no `MX` (UPnP Device Architecture 1.1
/// §1.3.2): the device answers at once.
pub fn msearch(ip: IpAddr) -> Vec<u8> {
    let host = match ip {
        IpAddr::V4(v4) => format!("{v4}:{SSDP_PORT}"),
        IpAddr::V6(v6) => format!("[{v6}]:{SSDP_PORT}"),
    };
    format!(
        "M-SEARCH * HTTP/1.1\r\nHOST: {host}\r\nMAN: \"ssdp:discover\"\r\nST: ssdp:all\r\n\
         USER-AGENT: scanopy UPnP/1.1 scanopy/{}\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    )
    .into_bytes()
}

/// What one SSDP answer says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reply {
    /// `LOCATION`: where the device description is.
    pub location: Option<String>,
    /// `SERVER`: the OS, UPnP version and product, e.g. `Linux/6.1 UPnP/1.0 MiniUPnPd/2.3`.
    pub server: Option<String>,
    /// `ST`: the search target this answer is for (a device or service type, a UUID).
    pub st: Option<String>,
    /// `USN`: the unique service name.
    pub usn: Option<String>,
}

/// Text for people and for the store: control characters dropped, whitespace folded, at most
/// [`MAX_FIELD`] characters.
fn clean(s: &str) -> String {
    s.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(MAX_FIELD)
        .collect()
}

/// Reads one answer to an `M-SEARCH` (`HTTP/1.1 200 OK` and headers) or an announcement
/// (`NOTIFY * HTTP/1.1`); `None` for anything else.
pub fn parse_reply(bytes: &[u8]) -> Option<Reply> {
    let text = String::from_utf8_lossy(bytes.get(..bytes.len().min(4096))?);
    let mut lines = text.split('\n').map(|l| l.trim_end_matches('\r'));
    let first = lines.next()?;
    let ok = first
        .strip_prefix("HTTP/1.")
        .and_then(|r| r.get(1..))
        .is_some_and(|r| r.trim_start().starts_with("200"));
    if !ok && !first.starts_with("NOTIFY * HTTP/1.") {
        return None;
    }
    let mut reply = Reply::default();
    for line in lines.take(32) {
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = clean(value);
        if value.is_empty() {
            continue;
        }
        let slot = match name.trim().to_ascii_uppercase().as_str() {
            "LOCATION" | "AL" => &mut reply.location,
            "SERVER" => &mut reply.server,
            "ST" | "NT" => &mut reply.st,
            "USN" => &mut reply.usn,
            _ => continue,
        };
        slot.get_or_insert(value);
    }
    Some(reply)
}

/// The port and path to fetch a `LOCATION` from, when it is a plain `http://` URL on the
/// scanned address `ip` itself (an IPv4 literal, or an IPv6 one in brackets). Anything else,
/// another host, a name, `https`, userinfo, is `None`: the scanner never follows it.
pub fn description_target(location: &str, ip: IpAddr) -> Option<(u16, String)> {
    let rest = location
        .get(..7)
        .filter(|s| s.eq_ignore_ascii_case("http://"))
        .and(location.get(7..))?;
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.contains('@') {
        return None;
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']')?;
        (h, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let host: IpAddr = host.parse().ok()?;
    if host != ip {
        return None;
    }
    let port = match port {
        None => 80,
        Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0)?,
    };
    let path = path.split('#').next().unwrap_or("/");
    let path = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    };
    if path.len() > 1024 || path.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return None;
    }
    Some((port, path))
}

/// The HTTP/1.0 request for a device description at `path` on `ip`:`port`.
pub fn description_request(ip: IpAddr, port: u16, path: &str) -> Vec<u8> {
    let host = match ip {
        IpAddr::V4(v4) => format!("{v4}:{port}"),
        IpAddr::V6(v6) => format!("[{v6}]:{port}"),
    };
    format!(
        "GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: scanopy/{}\r\nAccept: text/xml, \
         application/xml\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    )
    .into_bytes()
}

/// The body of an HTTP answer with status 200, de-chunked if it came in chunks; `None` for
/// another status or an answer that is not HTTP. A body cut short (by the byte cap or the
/// deadline) is returned as far as it came.
pub fn http_body(bytes: &[u8]) -> Option<Vec<u8>> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&bytes[..end]);
    let mut lines = head.split("\r\n");
    let status = lines.next()?;
    let code = status.strip_prefix("HTTP/1.")?.get(1..)?.trim_start();
    if !code.starts_with("200") {
        return None;
    }
    let chunked = lines.any(|l| {
        l.split_once(':').is_some_and(|(n, v)| {
            n.trim().eq_ignore_ascii_case("transfer-encoding")
                && v.to_ascii_lowercase().contains("chunked")
        })
    });
    let body = &bytes[end + 4..];
    if !chunked {
        return Some(body.to_vec());
    }
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&rest[..eol]).ok()?;
        let size = size.split(';').next()?.trim();
        let size = usize::from_str_radix(size, 16).ok()?;
        if size == 0 {
            break;
        }
        let data = &rest[eol + 2..];
        let take = size.min(data.len());
        out.extend_from_slice(&data[..take]);
        if take < size {
            break;
        }
        rest = data.get(size + 2..).unwrap_or(&[]);
    }
    Some(out)
}

/// What a device description says of its root device.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Description {
    /// `deviceType`, e.g. `urn:schemas-upnp-org:device:MediaRenderer:1`.
    pub device_type: Option<String>,
    /// `friendlyName`: the name its owner sees, e.g. "Living Room TV".
    pub friendly_name: Option<String>,
    /// `manufacturer`.
    pub manufacturer: Option<String>,
    /// `modelName`.
    pub model_name: Option<String>,
    /// `modelNumber`.
    pub model_number: Option<String>,
    /// `modelDescription`.
    pub model_description: Option<String>,
    /// `serialNumber`.
    pub serial_number: Option<String>,
    /// `UDN`: the device's unique name, `uuid:…`.
    pub udn: Option<String>,
}

impl Description {
    /// The model for people: the model name and, when it adds something, the number.
    pub fn model(&self) -> Option<String> {
        match (&self.model_name, &self.model_number) {
            (Some(n), Some(k)) if !n.contains(k.as_str()) => Some(format!("{n} {k}")),
            (Some(n), _) => Some(n.clone()),
            (None, Some(k)) => Some(k.clone()),
            (None, None) => None,
        }
    }
}

/// Reads a device description (UPnP Device Architecture §2.3): the fields of the root
/// `device` element, matched by local name whatever the namespace. `None` when the text is
/// not XML (a DTD is refused, so no entity expansion) or has no `device` element.
pub fn parse_description(bytes: &[u8]) -> Option<Description> {
    let text = String::from_utf8_lossy(bytes.get(..bytes.len().min(MAX_DESCRIPTION))?);
    // Some devices put whitespace or a byte-order mark before the declaration.
    let text = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    let doc = roxmltree::Document::parse(text).ok()?;
    let device = doc
        .root_element()
        .children()
        .find(|n| n.is_element() && n.tag_name().name() == "device")?;
    let field = |name: &str| {
        device
            .children()
            .find(|n| n.is_element() && n.tag_name().name() == name)
            .and_then(|n| n.text())
            .map(clean)
            .filter(|s| !s.is_empty())
    };
    Some(Description {
        device_type: field("deviceType"),
        friendly_name: field("friendlyName"),
        manufacturer: field("manufacturer"),
        model_name: field("modelName"),
        model_number: field("modelNumber"),
        model_description: field("modelDescription"),
        serial_number: field("serialNumber"),
        udn: field("UDN"),
    })
}

/// The kind of device a UPnP device type (`urn:…:device:NAME:version`) is, for the types that
/// say it plainly.
pub fn device_type_of(upnp_type: &str) -> Option<DeviceType> {
    let mut parts = upnp_type.split(':');
    let name = loop {
        match parts.next()? {
            "device" => break parts.next()?,
            _ => continue,
        }
    };
    Some(match name {
        "MediaRenderer" | "ZonePlayer" | "dial" | "tvdevice" => DeviceType::Media,
        "InternetGatewayDevice" | "WANDevice" | "WANConnectionDevice" => DeviceType::Gateway,
        "WLANAccessPointDevice" => DeviceType::AccessPoint,
        "Printer" | "PrinterBasic" | "PrinterEnhanced" | "Scanner" => DeviceType::Printer,
        "DigitalSecurityCamera" => DeviceType::Camera,
        "BinaryLight" | "DimmableLight" | "HVAC_System" | "SensorManagement" | "controllee" => {
            DeviceType::Iot
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 77, 3, 40));

    #[test]
    fn the_search_is_unicast_to_the_host_and_asks_for_everything() {
        let q = String::from_utf8(msearch(IP)).unwrap();
        assert!(q.starts_with("M-SEARCH * HTTP/1.1\r\nHOST: 10.77.3.40:1900\r\n"));
        assert!(q.contains("MAN: \"ssdp:discover\"\r\n") && q.contains("ST: ssdp:all\r\n"));
        assert!(!q.contains("MX:") && q.ends_with("\r\n\r\n"));
        let v6 = String::from_utf8(msearch("fd77::40".parse().unwrap())).unwrap();
        assert!(v6.contains("HOST: [fd77::40]:1900\r\n"));
    }

    #[test]
    fn reads_an_answer_as_minissdpd_sends_it() {
        let r = parse_reply(
            b"HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nST: upnp:rootdevice\r\n\
              USN: uuid:4d696e69-444c-164e-9d41-b827eb000001::upnp:rootdevice\r\nEXT:\r\n\
              SERVER: Linux/6.1 UPnP/1.0 ScreenCast/2.1\r\n\
              LOCATION: http://10.77.3.40:8080/description.xml\r\n\r\n",
        )
        .unwrap();
        assert_eq!(
            r.location.as_deref(),
            Some("http://10.77.3.40:8080/description.xml")
        );
        assert_eq!(
            r.server.as_deref(),
            Some("Linux/6.1 UPnP/1.0 ScreenCast/2.1")
        );
        assert_eq!(r.st.as_deref(), Some("upnp:rootdevice"));
        assert!(r.usn.unwrap().starts_with("uuid:4d696e69"));
        // Lower-case headers, bare LF line ends and an announcement are read too.
        let n = parse_reply(b"NOTIFY * HTTP/1.1\nlocation: http://10.77.3.40/d.xml\nnt: x\n\n");
        assert_eq!(
            n.unwrap().location.as_deref(),
            Some("http://10.77.3.40/d.xml")
        );
        assert_eq!(parse_reply(b"HTTP/1.1 404 Not Found\r\n\r\n"), None);
        assert_eq!(parse_reply(b"M-SEARCH * HTTP/1.1\r\n\r\n"), None);
    }

    #[test]
    fn the_server_header_names_the_os() {
        assert_eq!(
            server_os("Linux/6.1 UPnP/1.0 ScreenCast/2.1"),
            Some(("Linux", Some("6.1".into())))
        );
        assert_eq!(
            server_os("Microsoft-Windows/10.0 UPnP/1.0 UPnP-Device-Host/1.0"),
            Some(("Windows", Some("10.0".into())))
        );
        assert_eq!(
            server_os("Linux UPnP/1.0 Sonos/47.2-59120 (BR100)"),
            Some(("Linux", None))
        );
        assert_eq!(server_os("Unknown/0.0 UPnP/1.0 Virata-EmWeb/R6_1_0"), None);
        assert_eq!(server_os(""), None);
    }

    #[test]
    fn a_hostile_answer_is_cut_and_cleaned() {
        let mut b = b"HTTP/1.1 200 OK\r\nSERVER: a\x1b[31mb".to_vec();
        b.extend(std::iter::repeat_n(b'x', 10_000));
        let r = parse_reply(&b).unwrap();
        let server = r.server.unwrap();
        assert!(server.chars().count() <= MAX_FIELD);
        assert!(!server.contains('\x1b'), "{server}");
    }

    #[test]
    fn a_description_is_fetched_only_from_the_scanned_address() {
        assert_eq!(
            description_target("http://10.77.3.40:8080/description.xml", IP),
            Some((8080, "/description.xml".into()))
        );
        assert_eq!(
            description_target("HTTP://10.77.3.40/d.xml?x=1#frag", IP),
            Some((80, "/d.xml?x=1".into()))
        );
        assert_eq!(
            description_target("http://10.77.3.40", IP),
            Some((80, "/".into()))
        );
        for other in [
            "http://10.77.3.41:8080/d.xml",
            "http://127.0.0.1/d.xml",
            "http://tv.local/d.xml",
            "https://10.77.3.40/d.xml",
            "http://evil@10.77.3.40/d.xml",
            "http://10.77.3.40:0/d.xml",
            "http://10.77.3.40:99999/d.xml",
            "http://10.77.3.40/a b",
            "file:///etc/passwd",
            "",
        ] {
            assert_eq!(description_target(other, IP), None, "{other}");
        }
        let v6: IpAddr = "fd77::40".parse().unwrap();
        assert_eq!(
            description_target("http://[fd77::40]:49152/d.xml", v6),
            Some((49152, "/d.xml".into()))
        );
    }

    const TV: &str = r#"<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0">
  <specVersion><major>1</major><minor>0</minor></specVersion>
  <device>
    <deviceType>urn:schemas-upnp-org:device:MediaRenderer:1</deviceType>
    <friendlyName>Living Room TV</friendlyName>
    <manufacturer>Scanopy Labs</manufacturer>
    <modelName>ScreenCast</modelName>
    <modelNumber>55</modelNumber>
    <serialNumber>SC55-0001</serialNumber>
    <UDN>uuid:4d696e69-444c-164e-9d41-b827eb000001</UDN>
    <deviceList><device><friendlyName>inner</friendlyName></device></deviceList>
  </device>
</root>"#;

    #[test]
    fn reads_a_device_description() {
        let d = parse_description(TV.as_bytes()).unwrap();
        assert_eq!(d.friendly_name.as_deref(), Some("Living Room TV"));
        assert_eq!(d.manufacturer.as_deref(), Some("Scanopy Labs"));
        assert_eq!(d.model().as_deref(), Some("ScreenCast 55"));
        assert_eq!(d.serial_number.as_deref(), Some("SC55-0001"));
        assert_eq!(
            d.device_type.as_deref().and_then(device_type_of),
            Some(DeviceType::Media)
        );
        // A DTD (an entity bomb's vehicle) is refused; not XML is None.
        let bomb = "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY a \"aaaa\">]><root><device>\
                    <friendlyName>&a;</friendlyName></device></root>";
        assert_eq!(parse_description(bomb.as_bytes()), None);
        assert_eq!(parse_description(b"<html>not upnp"), None);
    }

    #[test]
    fn http_bodies_plain_and_chunked() {
        assert_eq!(
            http_body(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello").unwrap(),
            b"hello"
        );
        assert_eq!(
            http_body(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2;x=1\r\nlo\r\n0\r\n\r\n"
            )
            .unwrap(),
            b"hello"
        );
        assert_eq!(
            http_body(b"HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n"),
            None
        );
        assert_eq!(http_body(b"SSH-2.0-x\r\n\r\n"), None);
    }

    #[test]
    fn upnp_types_that_say_what_a_device_is() {
        for (t, want) in [
            (
                "urn:schemas-upnp-org:device:InternetGatewayDevice:2",
                Some(DeviceType::Gateway),
            ),
            (
                "urn:dial-multiscreen-org:device:dial:1",
                Some(DeviceType::Media),
            ),
            (
                "urn:schemas-upnp-org:device:Printer:1",
                Some(DeviceType::Printer),
            ),
            ("urn:schemas-upnp-org:device:Basic:1", None),
            ("urn:schemas-upnp-org:service:AVTransport:1", None),
            ("", None),
        ] {
            assert_eq!(device_type_of(t), want, "{t}");
        }
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            if let Some(r) = parse_reply(&bytes) {
                for f in [r.location, r.server, r.st, r.usn].into_iter().flatten() {
                    prop_assert!(f.chars().count() <= MAX_FIELD);
                    prop_assert!(!f.chars().any(char::is_control));
                }
            }
            let _ = http_body(&bytes);
            let _ = parse_description(&bytes);
            let text = String::from_utf8_lossy(&bytes);
            if let Some((port, path)) = description_target(&text, IP) {
                prop_assert!(port != 0 && path.starts_with('/'));
            }
            let _ = device_type_of(&text);
            let _ = server_os(&text);
        }

        #[test]
        fn any_http_answer_with_a_header_never_panics(
            body in proptest::collection::vec(any::<u8>(), 0..400),
            chunked in any::<bool>(),
        ) {
            let mut b = b"HTTP/1.1 200 OK\r\n".to_vec();
            if chunked {
                b.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
            }
            b.extend_from_slice(b"\r\n");
            b.extend_from_slice(&body);
            let got = http_body(&b).unwrap_or_default();
            prop_assert!(got.len() <= body.len());
        }
    }
}
