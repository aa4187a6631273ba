use std::collections::BTreeMap;

use chrono::Utc;
use proptest::prelude::*;
use uuid::Uuid;

use super::*;
use crate::model::{Container, DeviceType, Service};

fn device() -> Device {
    let now = Utc::now();
    Device {
        id: Uuid::nil(),
        hostname: None,
        vendor: None,
        device_type: DeviceType::Unknown,
        device_type_evidence: None,
        interfaces: Vec::new(),
        services: Vec::new(),
        first_seen: now,
        last_seen: now,
        sources: Default::default(),
        randomized_mac: false,
        parent: None,
        container: None,
        merge_reasons: Vec::new(),
        l2: None,
        os: None,
    }
}

fn service(port: u16, name: &str, extra: &[(&str, &str)]) -> Service {
    let now = Utc::now();
    Service {
        ip: "10.0.0.1".parse().unwrap(),
        port,
        transport: Transport::Tcp,
        state: PortState::Open,
        name: name.into(),
        product: None,
        version: None,
        extra: extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
        confidence: Confidence::High,
        evidence: String::new(),
        first_seen: now,
        last_seen: now,
    }
}

fn ttl(family: &str, ttl: u8) -> OsHint {
    OsHint {
        confidence: Confidence::Low,
        family: family.into(),
        name: None,
        version: None,
        evidence: format!("ttl {ttl}"),
    }
}

#[test]
fn a_ttl_guesses_the_initial_ttl_family_and_no_more() {
    assert_eq!(initial_ttl(0), None);
    assert_eq!(ttl_hint(0, "tcp syn-ack"), None);
    for (ttl, initial, family) in [
        (1, 64, "Unix"),
        (63, 64, "Unix"),
        (64, 64, "Unix"),
        (65, 128, "Windows"),
        (127, 128, "Windows"),
        (128, 128, "Windows"),
        (129, 255, "Network OS"),
        (254, 255, "Network OS"),
        (255, 255, "Network OS"),
    ] {
        assert_eq!(initial_ttl(ttl), Some(initial), "ttl {ttl}");
        let h = ttl_hint(ttl, "tcp syn-ack").unwrap();
        assert_eq!(
            (h.family.as_str(), h.confidence),
            (family, Confidence::Low),
            "ttl {ttl}"
        );
    }
    assert_eq!(
        ttl_hint(63, "icmp echo").unwrap().evidence,
        "ttl 63 (icmp echo)"
    );
    // A banner naming Linux outweighs the TTL's Unix guess.
    let mut d = device();
    d.services
        .push(service(22, "ssh", &[("os.family", "Linux")]));
    let os = infer(&d, &[ttl_hint(64, "tcp syn-ack").unwrap()]).unwrap();
    assert_eq!(
        (os.family.as_str(), os.confidence),
        ("Linux", Confidence::Medium)
    );
}

#[test]
fn nothing_points_anywhere_gives_no_os() {
    assert_eq!(infer(&device(), &[]), None);
    let mut d = device();
    d.services.push(service(80, "http", &[]));
    assert_eq!(infer(&d, &[]), None);
}

#[test]
fn an_ssh_banner_names_the_distribution_and_two_places_agreeing_make_it_high() {
    let mut d = device();
    let ubuntu = [
        ("os.family", "Linux"),
        ("os.product", "Linux"),
        ("os.vendor", "Ubuntu"),
        ("os.version", "22.04"),
    ];
    d.services.push(service(22, "ssh", &ubuntu));
    let os = infer(&d, &[]).unwrap();
    assert_eq!(os.family, "Linux");
    assert_eq!(os.name.as_deref(), Some("Ubuntu"));
    assert_eq!(os.version.as_deref(), Some("22.04"));
    assert_eq!(os.confidence, Confidence::Medium);
    assert_eq!(os.evidence, vec!["22/tcp ssh".to_owned()]);
    d.services
        .push(service(80, "http", &[("os.family", "Linux")]));
    let os = infer(&d, &[ttl("Linux", 64)]).unwrap();
    assert_eq!(os.confidence, Confidence::High, "{os:?}");
    assert_eq!(os.name.as_deref(), Some("Ubuntu"));
    assert_eq!(os.evidence.len(), 3);
    assert_eq!(os.evidence.last().map(String::as_str), Some("ttl 64"));
}

#[test]
fn a_ttl_alone_is_a_low_guess_and_stronger_evidence_of_another_family_wins() {
    let d = device();
    let os = infer(&d, &[ttl("Windows", 128)]).unwrap();
    assert_eq!(
        (os.family.as_str(), os.confidence),
        ("Windows", Confidence::Low)
    );
    let mut d = device();
    d.services.push(service(
        22,
        "ssh",
        &[("os.family", "FreeBSD"), ("os.product", "FreeBSD")],
    ));
    let os = infer(&d, &[ttl("Linux", 64), ttl("Linux", 63)]).unwrap();
    assert_eq!(os.family, "FreeBSD");
    assert_eq!(
        os.name, None,
        "the product equal to the family adds nothing"
    );
}

#[test]
fn windows_ports_containers_and_apple_models_point_to_their_families() {
    let mut d = device();
    d.services.push(service(135, "msrpc", &[]));
    d.services.push(service(445, "microsoft-ds", &[]));
    assert_eq!(infer(&d, &[]).unwrap().family, "Windows");
    let mut d = device();
    d.container = Some(Container {
        id: "c".repeat(64),
        name: "web".into(),
        image: "nginx".into(),
        state: "running".into(),
        health: None,
        compose_project: None,
        compose_service: None,
        networks: Vec::new(),
        ports: Vec::new(),
    });
    assert_eq!(infer(&d, &[]).unwrap().family, "Linux");
    let mut d = device();
    d.services
        .push(service(5353, "mdns", &[("mdns.model", "MacBookPro18,3")]));
    assert_eq!(infer(&d, &[]).unwrap().family, "macOS");
}

#[test]
fn families_are_compared_without_case_and_ties_are_decided_by_name() {
    let d = device();
    let os = infer(&d, &[ttl("linux", 64), ttl("Linux", 63)]).unwrap();
    assert_eq!(os.evidence.len(), 2);
    let a = infer(&d, &[ttl("Windows", 128), ttl("Linux", 64)]).unwrap();
    let b = infer(&d, &[ttl("Linux", 64), ttl("Windows", 128)]).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.family, "Linux");
}

proptest! {
    #[test]
    fn any_hints_give_a_bounded_clean_answer_that_ignores_their_order(
        hints in proptest::collection::vec(
            (0u8..3, "\\PC{0,200}", proptest::option::of("\\PC{0,50}"), "[\\x00-\\x7f]{0,300}"),
            0..20,
        )
    ) {
        let hints: Vec<OsHint> = hints
            .into_iter()
            .map(|(c, family, name, evidence)| OsHint {
                confidence: [Confidence::Low, Confidence::Medium, Confidence::High][c as usize],
                family,
                name,
                version: None,
                evidence,
            })
            .collect();
        let d = device();
        let a = infer(&d, &hints);
        let mut rev = hints.clone();
        rev.reverse();
        prop_assert_eq!(&a, &infer(&d, &rev));
        if let Some(os) = a {
            prop_assert!(!os.family.is_empty());
            prop_assert!(os.evidence.len() <= MAX_EVIDENCE);
            for t in std::iter::once(&os.family).chain(&os.evidence).chain(os.name.iter()) {
                prop_assert!(t.chars().count() <= MAX_TEXT);
                prop_assert!(!t.chars().any(char::is_control));
            }
        }
    }
}
