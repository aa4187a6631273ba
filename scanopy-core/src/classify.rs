//! Device types inferred from what a device shows: its vendor, its services and its role.
//!
//! A pure function of the merged device, so the merge stays independent of order. An explicit
//! observation ([`crate::Fact::DeviceType`]) always wins over inference; the evidence of
//! whichever decided is kept in [`Device::device_type_evidence`].

use crate::model::{Device, DeviceType, PortState};

/// One inference rule: a test and the type it implies.
struct Rule {
    id: &'static str,
    device_type: DeviceType,
    test: fn(&Device) -> bool,
}

fn has_port(d: &Device, ports: &[u16]) -> bool {
    d.services
        .iter()
        .any(|s| s.state == PortState::Open && ports.contains(&s.port))
}

fn has_product(d: &Device, needles: &[&str]) -> bool {
    d.services.iter().any(|s| {
        let hay = format!(
            "{} {} {}",
            s.product.as_deref().unwrap_or(""),
            s.extra.get("http.title").map(String::as_str).unwrap_or(""),
            s.extra.get("http.server").map(String::as_str).unwrap_or("")
        )
        .to_ascii_lowercase();
        needles.iter().any(|n| hay.contains(n))
    })
}

fn vendor_is(d: &Device, needles: &[&str]) -> bool {
    let v = d.vendor.as_deref().unwrap_or("").to_ascii_lowercase();
    !v.is_empty() && needles.iter().any(|n| v.contains(n))
}

/// The device's OS is of this family (lower case), on more than a guess: a TTL alone types
/// nothing.
fn os_is(d: &Device, family: &str) -> bool {
    d.os.as_ref().is_some_and(|o| {
        o.confidence >= crate::model::Confidence::Medium && o.family.eq_ignore_ascii_case(family)
    })
}

/// The rules, most specific first.
const RULES: &[Rule] = &[
    Rule {
        id: "routes-between-subnets",
        device_type: DeviceType::Gateway,
        test: |d| d.subnets().len() > 1,
    },
    Rule {
        id: "printer-ports",
        device_type: DeviceType::Printer,
        test: |d| {
            has_port(d, &[9100, 515, 631])
                || vendor_is(
                    d,
                    &[
                        "hewlett packard",
                        "brother industries",
                        "canon inc",
                        "seiko epson",
                        "lexmark",
                        "kyocera",
                        "xerox",
                    ],
                ) && has_port(d, &[80, 443])
        },
    },
    Rule {
        id: "hypervisor-product",
        device_type: DeviceType::Hypervisor,
        test: |d| has_product(d, &["proxmox", "vmware esxi"]) || has_port(d, &[8006]),
    },
    Rule {
        id: "nas-product-or-vendor",
        device_type: DeviceType::Nas,
        test: |d| {
            has_product(d, &["synology", "truenas", "qnap", "unraid"])
                || vendor_is(d, &["synology", "qnap"])
        },
    },
    Rule {
        id: "camera-vendor-or-rtsp",
        device_type: DeviceType::Camera,
        test: |d| {
            vendor_is(
                d,
                &[
                    "hikvision",
                    "dahua",
                    "axis communications",
                    "reolink",
                    "amcrest",
                ],
            ) || has_port(d, &[554]) && !has_port(d, &[22, 445])
        },
    },
    Rule {
        id: "docker-api",
        device_type: DeviceType::DockerHost,
        test: |d| has_port(d, &[2375, 2376]) || has_product(d, &["portainer"]),
    },
    Rule {
        id: "access-point-vendor",
        device_type: DeviceType::AccessPoint,
        test: |d| vendor_is(d, &["ubiquiti", "ruckus", "aruba"]) && !has_port(d, &[53]),
    },
    Rule {
        id: "media-product",
        device_type: DeviceType::Media,
        test: |d| {
            vendor_is(d, &["roku", "sonos"])
                || has_port(d, &[8009, 7000]) && vendor_is(d, &["google", "apple"])
        },
    },
    Rule {
        id: "os-ios",
        device_type: DeviceType::Phone,
        test: |d| os_is(d, "ios"),
    },
    Rule {
        id: "os-tvos",
        device_type: DeviceType::Media,
        test: |d| os_is(d, "tvos"),
    },
    Rule {
        id: "os-desktop",
        device_type: DeviceType::Computer,
        test: |d| (os_is(d, "macos") || os_is(d, "windows")) && !has_port(d, &[53, 88, 389]),
    },
    Rule {
        id: "windows-ports",
        device_type: DeviceType::Computer,
        test: |d| has_port(d, &[3389, 445, 139]),
    },
    Rule {
        id: "server-ports",
        device_type: DeviceType::Server,
        test: |d| {
            has_port(d, &[22, 25, 3306, 5432, 6379, 1883, 27017])
                || d.services
                    .iter()
                    .filter(|s| s.state == PortState::Open)
                    .count()
                    >= 3
        },
    },
    Rule {
        id: "dns-and-web",
        device_type: DeviceType::Gateway,
        test: |d| has_port(d, &[53]) && has_port(d, &[80, 443]),
    },
];

/// The inferred type of a device and the rule that decided, or `None` when nothing tells.
pub fn infer(device: &Device) -> Option<(DeviceType, &'static str)> {
    RULES
        .iter()
        .find(|r| (r.test)(device))
        .map(|r| (r.device_type, r.id))
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use chrono::Utc;
    use uuid::Uuid;

    use super::*;
    use crate::model::{Confidence, Interface, Service, Transport};

    fn device(vendor: Option<&str>, ports: &[(u16, Option<&str>)]) -> Device {
        let ip = "10.0.0.5".parse().unwrap();
        Device {
            id: Uuid::nil(),
            hostname: None,
            vendor: vendor.map(String::from),
            device_type: DeviceType::Unknown,
            device_type_evidence: None,
            interfaces: vec![Interface {
                ip,
                mac: None,
                subnet: Some("10.0.0.0/24".parse().unwrap()),
            }],
            services: ports
                .iter()
                .map(|(p, prod)| Service {
                    ip,
                    port: *p,
                    transport: Transport::Tcp,
                    state: PortState::Open,
                    name: "x".into(),
                    product: prod.map(String::from),
                    version: None,
                    extra: BTreeMap::new(),
                    confidence: Confidence::High,
                    evidence: String::new(),
                    first_seen: Utc::now(),
                    last_seen: Utc::now(),
                })
                .collect(),
            first_seen: Utc::now(),
            last_seen: Utc::now(),
            sources: BTreeSet::new(),
            randomized_mac: false,
            parent: None,
            container: None,
            merge_reasons: vec![],
            l2: None,
            os: None,
        }
    }

    /// (vendor, open ports with products, expected type)
    type Case = (
        Option<&'static str>,
        &'static [(u16, Option<&'static str>)],
        Option<DeviceType>,
    );

    #[test]
    fn table() {
        let cases: &[Case] = &[
            (None, &[(9100, None)], Some(DeviceType::Printer)),
            (
                Some("Synology Incorporated"),
                &[(80, Some("nginx"))],
                Some(DeviceType::Nas),
            ),
            (
                None,
                &[(8006, None), (22, Some("OpenSSH"))],
                Some(DeviceType::Hypervisor),
            ),
            (
                Some("Hangzhou Hikvision Digital Technology Co.,Ltd."),
                &[(80, None)],
                Some(DeviceType::Camera),
            ),
            (None, &[(3389, None)], Some(DeviceType::Computer)),
            (None, &[(22, Some("OpenSSH"))], Some(DeviceType::Server)),
            (
                None,
                &[(53, Some("dnsmasq")), (80, None)],
                Some(DeviceType::Gateway),
            ),
            (None, &[(80, None)], None),
            (None, &[], None),
        ];
        for (vendor, ports, expected) in cases {
            let got = infer(&device(*vendor, ports)).map(|(t, _)| t);
            assert_eq!(got, *expected, "{vendor:?} {ports:?}");
        }
    }
    #[test]
    fn an_os_of_medium_confidence_types_phones_media_and_desktops_and_a_guess_does_not() {
        let with_os = |family: &str, confidence, ports: &[(u16, Option<&str>)]| {
            let mut d = device(None, ports);
            d.os = Some(crate::model::Os {
                family: family.into(),
                name: None,
                version: None,
                confidence,
                evidence: vec!["test".into()],
            });
            infer(&d).map(|(t, _)| t)
        };
        use crate::model::Confidence::{Low, Medium};
        assert_eq!(with_os("iOS", Medium, &[]), Some(DeviceType::Phone));
        assert_eq!(with_os("tvOS", Medium, &[]), Some(DeviceType::Media));
        assert_eq!(with_os("macOS", Medium, &[]), Some(DeviceType::Computer));
        assert_eq!(
            with_os("Windows", Medium, &[(80, None)]),
            Some(DeviceType::Computer)
        );
        // A domain controller is no desktop; a TTL guess types nothing.
        assert_eq!(with_os("Windows", Medium, &[(88, None), (389, None)]), None);
        assert_eq!(with_os("Windows", Low, &[]), None);
        assert_eq!(with_os("Linux", Medium, &[]), None);
    }
}
