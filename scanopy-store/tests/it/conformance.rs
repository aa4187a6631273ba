//! The checks every backend passes.

use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use scanopy_core::{
    Confidence, Fact, MacAddr, Observation, PortFact, PortState, ScanConfig, Transport,
};
use scanopy_store::prelude::*;
use scanopy_store::{DeviceEdit, DeviceFilter, NewScanRun, RunStatus, StoreError};
use uuid::Uuid;

fn t(s: i64) -> DateTime<Utc> {
    Utc::now() - Duration::hours(1) + Duration::seconds(s)
}

fn obs(ip: &str, at: DateTime<Utc>, fact: Fact) -> Observation {
    Observation {
        ip: ip.parse().unwrap(),
        scanner: "test".into(),
        at,
        fact,
    }
}

fn mac(s: &str) -> Fact {
    Fact::Mac {
        mac: s.parse::<MacAddr>().unwrap(),
    }
}

fn port(p: u16) -> Fact {
    Fact::Port(PortFact::state(p, Transport::Tcp, PortState::Open))
}

async fn run(store: &dyn Store, network: Uuid) -> Uuid {
    store
        .start_scan(NewScanRun {
            network,
            daemon: None,
            config: ScanConfig::default(),
            targets: vec!["10.0.0.0/24".parse().unwrap()],
        })
        .await
        .unwrap()
        .id
}

async fn network(store: &dyn Store) -> Uuid {
    store
        .create_network("lab", &["10.0.0.0/24".parse().unwrap()])
        .await
        .unwrap()
        .id
}

async fn all(store: &dyn Store) -> Vec<scanopy_store::StoredDevice> {
    store
        .devices(&DeviceFilter::default(), 1000, None)
        .await
        .unwrap()
        .items
}

fn os_hint(confidence: Confidence, family: &str, name: Option<&str>, evidence: &str) -> Fact {
    Fact::Os(scanopy_core::OsHint {
        confidence,
        family: family.into(),
        name: name.map(str::to_owned),
        version: None,
        evidence: evidence.into(),
    })
}

pub(crate) async fn the_os_is_kept_and_only_stronger_evidence_replaces_it(store: &dyn Store) {
    let net = network(store).await;
    let r = run(store, net).await;
    let ip = "10.0.0.7";
    let m = mac("00:11:32:00:00:07");
    let os_of = |devices: &[scanopy_store::StoredDevice]| {
        let d = devices
            .iter()
            .find(|d| d.device.ips() == [ip.parse::<IpAddr>().unwrap()]);
        d.and_then(|d| d.device.os.clone())
    };
    store
        .apply_batch(r, Uuid::new_v4(), &[obs(ip, t(1), m.clone())])
        .await
        .unwrap();
    assert_eq!(os_of(&all(store).await), None, "no evidence, no OS");
    let banner = os_hint(
        Confidence::Medium,
        "Linux",
        Some("Debian"),
        "22/tcp OpenSSH",
    );
    store
        .apply_batch(
            r,
            Uuid::new_v4(),
            &[obs(ip, t(2), m.clone()), obs(ip, t(2), banner)],
        )
        .await
        .unwrap();
    let os = os_of(&all(store).await).expect("the banner's OS is stored");
    assert_eq!(
        (os.family.as_str(), os.name.as_deref()),
        ("Linux", Some("Debian"))
    );
    assert_eq!(os.confidence, Confidence::Medium);
    // A later, weaker guess of another family does not replace it...
    let ttl = os_hint(Confidence::Low, "Windows", None, "ttl 128");
    let c = store
        .apply_batch(
            r,
            Uuid::new_v4(),
            &[obs(ip, t(3), m.clone()), obs(ip, t(3), ttl)],
        )
        .await
        .unwrap();
    assert!(c.devices_changed.is_empty(), "{c:?}");
    assert_eq!(
        os_of(&all(store).await).unwrap().name.as_deref(),
        Some("Debian")
    );
    // ...stronger evidence does, and the change is an event naming the family.
    let said = os_hint(Confidence::High, "FreeBSD", None, "snmp sysDescr");
    let c = store
        .apply_batch(
            r,
            Uuid::new_v4(),
            &[obs(ip, t(4), m.clone()), obs(ip, t(4), said)],
        )
        .await
        .unwrap();
    assert_eq!(c.devices_changed.len(), 1, "{c:?}");
    let os = os_of(&all(store).await).unwrap();
    assert_eq!(
        (os.family.as_str(), os.confidence),
        ("FreeBSD", Confidence::High)
    );
    let events = store.events(0, 1000).await.unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.kind == "device_changed" && e.detail["os"] == "FreeBSD"),
        "{events:?}"
    );
}

pub(crate) async fn merge_rules_follow_the_core(store: &dyn Store) {
    let net = network(store).await;
    let r = run(store, net).await;
    // A MAC, then (another batch) the same address without MAC: one device.
    let c1 = store
        .apply_batch(
            r,
            Uuid::new_v4(),
            &[obs("10.0.0.5", t(1), mac("00:11:32:00:00:05"))],
        )
        .await
        .unwrap();
    assert_eq!(c1.devices_new.len(), 1);
    let c2 = store
        .apply_batch(r, Uuid::new_v4(), &[obs("10.0.0.5", t(2), port(22))])
        .await
        .unwrap();
    assert!(c2.devices_new.is_empty(), "{c2:?}");
    assert_eq!(c2.services_new.len(), 1);
    // A second MAC on another address: another device.
    store
        .apply_batch(
            r,
            Uuid::new_v4(),
            &[obs("10.0.0.6", t(3), mac("00:11:32:00:00:06"))],
        )
        .await
        .unwrap();
    // An address known only by address, later seen with a MAC: the same device, now with it.
    store
        .apply_batch(r, Uuid::new_v4(), &[obs("10.0.0.7", t(4), port(80))])
        .await
        .unwrap();
    let c = store
        .apply_batch(
            r,
            Uuid::new_v4(),
            &[obs("10.0.0.7", t(5), mac("00:11:32:00:00:07"))],
        )
        .await
        .unwrap();
    assert!(c.devices_new.is_empty(), "{c:?}");
    let devices = all(store).await;
    assert_eq!(devices.len(), 3, "{devices:#?}");
    let d5 = devices
        .iter()
        .find(|d| d.device.ips().contains(&"10.0.0.5".parse().unwrap()))
        .unwrap();
    assert_eq!(d5.device.macs().len(), 1);
    assert_eq!(d5.device.services.len(), 1);
    assert_eq!(
        d5.device.interfaces[0].subnet,
        Some("10.0.0.0/24".parse().unwrap())
    );
    let d7 = devices
        .iter()
        .find(|d| d.device.ips().contains(&"10.0.0.7".parse().unwrap()))
        .unwrap();
    assert_eq!(
        d7.device.interfaces.len(),
        1,
        "the address-only interface took on the MAC"
    );
    assert_eq!(d7.device.macs().len(), 1);
    assert_eq!(d7.device.services.len(), 1);
}

pub(crate) async fn a_batch_applied_twice_changes_nothing(store: &dyn Store) {
    let net = network(store).await;
    let r = run(store, net).await;
    let batch = Uuid::new_v4();
    let o = [
        obs("10.0.0.5", t(1), mac("00:11:32:00:00:05")),
        obs("10.0.0.5", t(1), port(80)),
    ];
    let first = store.apply_batch(r, batch, &o).await.unwrap();
    assert!(!first.is_empty());
    let before = all(store).await;
    let events_before = store.events(0, 1000).await.unwrap().len();
    let again = store.apply_batch(r, batch, &o).await.unwrap();
    assert!(again.is_empty(), "{again:?}");
    assert_eq!(all(store).await, before);
    assert_eq!(store.events(0, 1000).await.unwrap().len(), events_before);
    assert_eq!(store.scan_run(r).await.unwrap().unwrap().devices_seen, 1);
}

pub(crate) async fn devices_missed_by_scans_go_offline_not_away(store: &dyn Store) {
    let net = network(store).await;
    let r = run(store, net).await;
    store
        .apply_batch(
            r,
            Uuid::new_v4(),
            &[obs("10.0.0.5", t(1), mac("00:11:32:00:00:05"))],
        )
        .await
        .unwrap();
    store.finish_scan(r, RunStatus::Done).await.unwrap();
    let mut gone = Vec::new();
    for _ in 0..scanopy_store::OFFLINE_AFTER {
        let r = run(store, net).await;
        let c = store.finish_scan(r, RunStatus::Done).await.unwrap();
        gone.extend(c.devices_gone);
    }
    let devices = all(store).await;
    assert_eq!(devices.len(), 1, "offline, not deleted");
    assert!(devices[0].offline);
    assert_eq!(gone, vec![devices[0].device.id]);
    // Seen again: online.
    let r = run(store, net).await;
    store
        .apply_batch(
            r,
            Uuid::new_v4(),
            &[obs("10.0.0.5", Utc::now(), mac("00:11:32:00:00:05"))],
        )
        .await
        .unwrap();
    assert!(!all(store).await[0].offline);
    // A run that was told to leave an address alone does not miss what is there.
    let net2 = store
        .create_network("other", &["10.1.0.0/24".parse().unwrap()])
        .await
        .unwrap()
        .id;
    let r = store
        .start_scan(NewScanRun {
            network: net2,
            daemon: None,
            config: ScanConfig::default(),
            targets: vec!["10.1.0.0/24".parse().unwrap()],
        })
        .await
        .unwrap()
        .id;
    store
        .apply_batch(
            r,
            Uuid::new_v4(),
            &[
                obs("10.1.0.5", Utc::now(), mac("00:11:32:00:01:05")),
                obs("10.1.0.6", Utc::now(), mac("00:11:32:00:01:06")),
            ],
        )
        .await
        .unwrap();
    store.finish_scan(r, RunStatus::Done).await.unwrap();
    for _ in 0..scanopy_store::OFFLINE_AFTER {
        let config = ScanConfig {
            targets: scanopy_core::TargetSpec::new(&["10.1.0.0/24"], &["10.1.0.5"]).unwrap(),
            ..ScanConfig::default()
        };
        let r = store
            .start_scan(NewScanRun {
                network: net2,
                daemon: None,
                config,
                targets: vec!["10.1.0.0/24".parse().unwrap()],
            })
            .await
            .unwrap()
            .id;
        store.finish_scan(r, RunStatus::Done).await.unwrap();
    }
    let mut offline: Vec<(String, bool)> = all(store)
        .await
        .into_iter()
        .filter(|d| d.network == net2)
        .map(|d| (d.device.ips()[0].to_string(), d.offline))
        .collect();
    offline.sort();
    assert_eq!(
        offline,
        [
            ("10.1.0.5".to_owned(), false),
            ("10.1.0.6".to_owned(), true)
        ],
        "the excluded address is not missed"
    );
    // One device_gone when it went, one device_back when it came back.
    let kinds: Vec<String> = store
        .events(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .filter(|k| k == "device_gone" || k == "device_back")
        .collect();
    assert_eq!(kinds, ["device_gone", "device_back", "device_gone"]);
    // A run that failed does not count as a miss.
    let r = run(store, net).await;
    assert!(
        store
            .finish_scan(r, RunStatus::Failed)
            .await
            .unwrap()
            .devices_gone
            .is_empty()
    );
    assert!(matches!(
        store.finish_scan(r, RunStatus::Done).await,
        Err(StoreError::BadRequest(_))
    ));
}

pub(crate) async fn deleted_devices_stay_deleted_unless_seen_again(store: &dyn Store) {
    let net = network(store).await;
    let r = run(store, net).await;
    store
        .apply_batch(
            r,
            Uuid::new_v4(),
            &[obs("10.0.0.5", t(1), mac("00:11:32:00:00:05"))],
        )
        .await
        .unwrap();
    let id = all(store).await[0].device.id;
    store.delete_device(id).await.unwrap();
    assert!(all(store).await.is_empty());
    assert!(matches!(
        store.delete_device(id).await,
        Err(StoreError::NotFound(_))
    ));
    // A late batch with an observation from before the deletion: still deleted.
    store
        .apply_batch(
            r,
            Uuid::new_v4(),
            &[obs("10.0.0.5", t(2), mac("00:11:32:00:00:05"))],
        )
        .await
        .unwrap();
    assert!(
        all(store).await.is_empty(),
        "brought back by an old observation"
    );
    // Seen after the deletion: back.
    let c = store
        .apply_batch(
            r,
            Uuid::new_v4(),
            &[obs(
                "10.0.0.5",
                Utc::now() + Duration::seconds(1),
                mac("00:11:32:00:00:05"),
            )],
        )
        .await
        .unwrap();
    assert_eq!(c.devices_new, vec![id]);
    assert_eq!(all(store).await.len(), 1);
}

pub(crate) async fn user_edits_survive_scans(store: &dyn Store) {
    let net = network(store).await;
    let r = run(store, net).await;
    store
        .apply_batch(
            r,
            Uuid::new_v4(),
            &[obs("10.0.0.5", t(1), mac("00:11:32:00:00:05"))],
        )
        .await
        .unwrap();
    let id = all(store).await[0].device.id;
    let edited = store
        .edit_device(
            id,
            DeviceEdit {
                name: Some(Some("NAS".into())),
                notes: Some(Some("attic".into())),
                tags: Some(vec!["storage".into()]),
            },
        )
        .await
        .unwrap();
    assert_eq!(edited.user_name.as_deref(), Some("NAS"));
    store
        .apply_batch(
            r,
            Uuid::new_v4(),
            &[obs(
                "10.0.0.5",
                t(2),
                Fact::Hostname {
                    name: "diskstation.lan".into(),
                    source: "ptr".into(),
                },
            )],
        )
        .await
        .unwrap();
    let d = store.device(id).await.unwrap().unwrap();
    assert_eq!(d.user_name.as_deref(), Some("NAS"));
    assert_eq!(d.notes.as_deref(), Some("attic"));
    assert_eq!(d.tags, ["storage"]);
    assert_eq!(d.device.hostname.as_deref(), Some("diskstation.lan"));
    assert!(matches!(
        store
            .edit_device(Uuid::new_v4(), DeviceEdit::default())
            .await,
        Err(StoreError::NotFound(_))
    ));
}

pub(crate) async fn events_come_in_order_and_resume_from_a_cursor(store: &dyn Store) {
    let net = network(store).await;
    let r = run(store, net).await;
    store
        .apply_batch(
            r,
            Uuid::new_v4(),
            &[
                obs("10.0.0.5", t(1), mac("00:11:32:00:00:05")),
                obs("10.0.0.5", t(1), port(22)),
            ],
        )
        .await
        .unwrap();
    store
        .apply_batch(
            r,
            Uuid::new_v4(),
            &[obs(
                "10.0.0.5",
                t(2),
                Fact::Hostname {
                    name: "a".into(),
                    source: "ptr".into(),
                },
            )],
        )
        .await
        .unwrap();
    store.finish_scan(r, RunStatus::Done).await.unwrap();
    let events = store.events(0, 100).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["device_new", "service_new", "device_changed", "scan_done"]
    );
    assert!(events.windows(2).all(|w| w[0].seq < w[1].seq));
    let rest = store.events(events[1].seq, 100).await.unwrap();
    assert_eq!(rest.len(), 2);
    assert!(store.events(events[3].seq, 100).await.unwrap().is_empty());
}

pub(crate) async fn pagination_visits_every_device_once(store: &dyn Store) {
    let net = store
        .create_network("big", &["10.1.0.0/16".parse().unwrap()])
        .await
        .unwrap()
        .id;
    let r = store
        .start_scan(NewScanRun {
            network: net,
            daemon: None,
            config: ScanConfig::default(),
            targets: vec!["10.1.0.0/16".parse().unwrap()],
        })
        .await
        .unwrap()
        .id;
    let o: Vec<Observation> = (0..250u32)
        .map(|i| {
            let ip = IpAddr::from([10, 1, (i / 200) as u8, (i % 200 + 1) as u8]);
            Observation {
                ip,
                scanner: "t".into(),
                at: t(1),
                fact: port(80),
            }
        })
        .collect();
    store.apply_batch(r, Uuid::new_v4(), &o).await.unwrap();
    let mut seen = std::collections::BTreeSet::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = store
            .devices(&DeviceFilter::default(), 100, cursor.as_deref())
            .await
            .unwrap();
        pages += 1;
        for d in &page.items {
            assert!(seen.insert(d.device.id), "a device listed twice");
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!((seen.len(), pages), (250, 3));
    assert!(matches!(
        store
            .devices(&DeviceFilter::default(), 10, Some("not-a-cursor"))
            .await,
        Err(StoreError::BadRequest(_))
    ));
}

pub(crate) async fn filters_narrow_the_list(store: &dyn Store) {
    let net = network(store).await;
    let r = run(store, net).await;
    let mut ssh = PortFact::state(22, Transport::Tcp, PortState::Open);
    ssh.name = Some("ssh".into());
    store
        .apply_batch(
            r,
            Uuid::new_v4(),
            &[
                obs("10.0.0.5", t(1), mac("00:11:32:00:00:05")),
                obs(
                    "10.0.0.5",
                    t(1),
                    Fact::Hostname {
                        name: "nas.lan".into(),
                        source: "ptr".into(),
                    },
                ),
                obs("10.0.0.6", t(1), Fact::Port(ssh)),
                obs("10.0.0.7", t(1), port(80)),
            ],
        )
        .await
        .unwrap();
    let count =
        |f: DeviceFilter| async move { store.devices(&f, 100, None).await.unwrap().items.len() };
    assert_eq!(count(DeviceFilter::default()).await, 3);
    assert_eq!(
        count(DeviceFilter {
            q: Some("nas".into()),
            ..Default::default()
        })
        .await,
        1
    );
    assert_eq!(
        count(DeviceFilter {
            q: Some("00:11:32".into()),
            ..Default::default()
        })
        .await,
        1
    );
    assert_eq!(
        count(DeviceFilter {
            q: Some("%".into()),
            ..Default::default()
        })
        .await,
        0,
        "wildcards are literal"
    );
    assert_eq!(
        count(DeviceFilter {
            service: Some("ssh".into()),
            ..Default::default()
        })
        .await,
        1
    );
    assert_eq!(
        count(DeviceFilter {
            subnet: Some("10.0.0.0/24".parse().unwrap()),
            ..Default::default()
        })
        .await,
        3
    );
    assert_eq!(
        count(DeviceFilter {
            network: Some(Uuid::new_v4()),
            ..Default::default()
        })
        .await,
        0
    );
    assert_eq!(
        count(DeviceFilter {
            seen_since: Some(Utc::now()),
            ..Default::default()
        })
        .await,
        0
    );
    assert_eq!(
        count(DeviceFilter {
            q: Some("'; DROP TABLE devices; --".into()),
            ..Default::default()
        })
        .await,
        0
    );
    assert_eq!(count(DeviceFilter::default()).await, 3);
}

pub(crate) async fn concurrent_writers_lose_nothing(store: &dyn Store) {
    let net = store
        .create_network("busy", &["10.2.0.0/16".parse().unwrap()])
        .await
        .unwrap()
        .id;
    let r = store
        .start_scan(NewScanRun {
            network: net,
            daemon: None,
            config: ScanConfig::default(),
            targets: vec!["10.2.0.0/16".parse().unwrap()],
        })
        .await
        .unwrap()
        .id;
    let writer = |base: u8| async move {
        for i in 0..40u8 {
            let o = [Observation {
                ip: IpAddr::from([10, 2, base, i + 1]),
                scanner: "t".into(),
                at: t(1),
                fact: port(80),
            }];
            store.apply_batch(r, Uuid::new_v4(), &o).await.unwrap();
        }
    };
    futures_join(writer(1), writer(2)).await;
    assert_eq!(
        store
            .devices(&DeviceFilter::default(), 1000, None)
            .await
            .unwrap()
            .items
            .len(),
        80
    );
}

async fn futures_join<A: std::future::Future<Output = ()>, B: std::future::Future<Output = ()>>(
    a: A,
    b: B,
) {
    tokio::join!(a, b);
}

pub(crate) async fn services_keep_their_best_identification(store: &dyn Store) {
    let net = network(store).await;
    let r = run(store, net).await;
    let mut strong = PortFact::state(80, Transport::Tcp, PortState::Open);
    strong.name = Some("http".into());
    strong.product = Some("nginx".into());
    strong.confidence = Confidence::High;
    strong.evidence = "http-nginx".into();
    store
        .apply_batch(
            r,
            Uuid::new_v4(),
            &[obs("10.0.0.5", t(1), Fact::Port(strong))],
        )
        .await
        .unwrap();
    // A later scan that could not identify it does not erase what was known.
    let c = store
        .apply_batch(r, Uuid::new_v4(), &[obs("10.0.0.5", t(2), port(80))])
        .await
        .unwrap();
    assert!(c.services_changed.is_empty(), "{c:?}");
    let d = &all(store).await[0];
    assert_eq!(d.device.services[0].product.as_deref(), Some("nginx"));
    // A closed port is a change.
    let closed = Fact::Port(PortFact::state(80, Transport::Tcp, PortState::Closed));
    let c = store
        .apply_batch(r, Uuid::new_v4(), &[obs("10.0.0.5", t(3), closed)])
        .await
        .unwrap();
    assert_eq!(c.services_changed.len(), 1);
}

pub(crate) async fn sightings_move_last_seen_on(store: &dyn Store) {
    let net = network(store).await;
    let r = run(store, net).await;
    let o = |at| {
        [
            obs("10.0.0.5", at, mac("00:11:32:00:00:05")),
            obs("10.0.0.5", at, port(80)),
        ]
    };
    store
        .apply_batch(r, Uuid::new_v4(), &o(t(1)))
        .await
        .unwrap();
    let before = all(store).await.remove(0).device;
    let later = t(100);
    let c = store
        .apply_batch(r, Uuid::new_v4(), &o(later))
        .await
        .unwrap();
    assert!(c.is_empty(), "seen again, nothing new: {c:?}");
    let after = all(store).await.remove(0).device;
    assert_eq!(after.first_seen, before.first_seen);
    assert!(after.last_seen >= later && after.last_seen > before.last_seen);
    assert!(after.services[0].last_seen >= later);
    assert_eq!(after.services[0].first_seen, before.services[0].first_seen);
}

async fn daemon(store: &dyn Store, net: Uuid, name: &str) -> Uuid {
    use scanopy_store::{CredentialKind, NewCredential, NewDaemon, Role};
    let (key, _) = store
        .create_credential(NewCredential {
            kind: CredentialKind::DaemonKey,
            name: name.into(),
            role: Role::Daemon,
            network: Some(net),
            user: None,
            expires_at: None,
        })
        .await
        .unwrap();
    store
        .register_daemon(NewDaemon {
            network: net,
            key_id: Some(key.id),
            name: name.into(),
            capabilities: Default::default(),
            local: false,
            instance: None,
        })
        .await
        .unwrap()
        .id
}

fn queued(net: Uuid, daemon: Option<Uuid>) -> NewScanRun {
    NewScanRun {
        network: net,
        daemon,
        config: ScanConfig::default(),
        targets: vec!["10.0.0.0/24".parse().unwrap()],
    }
}

pub(crate) async fn job_claims_are_exclusive_under_contention(store: &dyn Store) {
    let net = network(store).await;
    let mut jobs = std::collections::BTreeSet::new();
    for _ in 0..24 {
        jobs.insert(store.enqueue_scan(queued(net, None)).await.unwrap().id);
    }
    let mut daemons = Vec::new();
    for i in 0..6 {
        daemons.push(daemon(store, net, &format!("d{i}")).await);
    }
    // Six claimers at once, each claiming until the queue is empty.
    let claimer = |d: Uuid| async move {
        let mut got = Vec::new();
        while let Some(j) = store
            .claim_job(d, net, std::time::Duration::from_secs(60))
            .await
            .unwrap()
        {
            assert_eq!(j.status, RunStatus::Running);
            assert_eq!(j.daemon, Some(d));
            got.push(j.id);
        }
        got
    };
    let all_claims: Vec<Uuid> = futures::future::join_all(daemons.iter().map(|d| claimer(*d)))
        .await
        .into_iter()
        .flatten()
        .collect();
    let unique: std::collections::BTreeSet<Uuid> = all_claims.iter().copied().collect();
    assert_eq!(all_claims.len(), 24, "every job claimed exactly once");
    assert_eq!(unique, jobs);
}

pub(crate) async fn expired_leases_return_jobs_and_cancel_reaches_daemons(store: &dyn Store) {
    use std::time::Duration as Std;
    let net = network(store).await;
    let (a, b) = (daemon(store, net, "a").await, daemon(store, net, "b").await);
    // A job meant for b is not handed to a.
    let for_b = store.enqueue_scan(queued(net, Some(b))).await.unwrap();
    assert_eq!(for_b.status, RunStatus::Queued);
    assert!(
        store
            .claim_job(a, net, Std::from_secs(60))
            .await
            .unwrap()
            .is_none()
    );
    // a's lease expires: the job goes back to the queue and b gets it.
    let job = store.enqueue_scan(queued(net, None)).await.unwrap();
    let claimed = store.claim_job(a, net, Std::ZERO).await.unwrap().unwrap();
    assert_eq!(claimed.id, job.id);
    tokio::time::sleep(Std::from_millis(20)).await;
    let mut got = Vec::new();
    while let Some(j) = store.claim_job(b, net, Std::from_secs(60)).await.unwrap() {
        got.push(j.id);
    }
    assert_eq!(
        got,
        vec![for_b.id, job.id],
        "oldest first; the expired job again"
    );
    let lost = store.renew_job(job.id, a, None, Std::from_secs(60)).await;
    assert!(matches!(lost, Err(StoreError::Conflict(_))), "{lost:?}");
    // b holds it: progress is recorded, the lease renewed.
    let p = scanopy_core::ProgressSnapshot {
        hosts_total: 256,
        hosts_found: 3,
        ..Default::default()
    };
    let r = store
        .renew_job(job.id, b, Some(p), Std::from_secs(60))
        .await
        .unwrap();
    assert_eq!(r.progress, Some(p));
    assert!(!r.cancel_requested);
    // Cancelling a running job reaches its daemon at its next call.
    store.cancel_scan(job.id).await.unwrap();
    let r = store
        .renew_job(job.id, b, None, Std::from_secs(60))
        .await
        .unwrap();
    assert!(r.cancel_requested);
    store
        .finish_scan(job.id, RunStatus::Cancelled)
        .await
        .unwrap();
    // Cancelling a queued job ends it at once; nobody claims it.
    let q = store.enqueue_scan(queued(net, None)).await.unwrap();
    let c = store.cancel_scan(q.id).await.unwrap();
    assert_eq!(c.status, RunStatus::Cancelled);
    assert!(c.finished_at.is_some());
    assert!(
        store
            .claim_job(a, net, Std::from_secs(60))
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        store.cancel_scan(Uuid::new_v4()).await,
        Err(StoreError::NotFound(_))
    ));
    // The list is newest first and pages with a cursor.
    let first = store.scan_runs(Some(net), 2, None).await.unwrap();
    assert_eq!(first.items[0].id, q.id);
    let rest = store
        .scan_runs(Some(net), 10, first.next_cursor.as_deref())
        .await
        .unwrap();
    assert_eq!(first.items.len() + rest.items.len(), 3);
    assert!(rest.next_cursor.is_none());
    // A job that could not be handed over goes back to the queue at once.
    let r = store.enqueue_scan(queued(net, None)).await.unwrap();
    let got = store
        .claim_job(a, net, Std::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.id, r.id);
    store.release_job(r.id, a).await.unwrap();
    let again = store
        .claim_job(b, net, Std::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((again.id, again.daemon), (r.id, Some(b)));
    // Cancelled while its daemon is gone for good: it ends when the lease runs out.
    store.renew_job(r.id, b, None, Std::ZERO).await.unwrap();
    store.cancel_scan(r.id).await.unwrap();
    tokio::time::sleep(Std::from_millis(20)).await;
    assert!(
        store
            .claim_job(a, net, Std::from_secs(60))
            .await
            .unwrap()
            .is_none()
    );
    let ended = store.scan_run(r.id).await.unwrap().unwrap();
    assert_eq!(ended.status, RunStatus::Cancelled);
    assert!(ended.finished_at.is_some());
}

pub(crate) async fn credentials_verify_expire_and_revoke(store: &dyn Store) {
    use scanopy_store::{CredentialKind, NewCredential, Role};
    let user = store
        .create_user("admin", "correct horse battery", Role::Admin)
        .await
        .unwrap();
    assert_eq!(store.user_count().await.unwrap(), 1);
    assert!(matches!(
        store
            .create_user("admin", "another long password", Role::Viewer)
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.create_user("short", "tiny", Role::Viewer).await,
        Err(StoreError::BadRequest(_))
    ));
    let ok = store
        .verify_password("admin", "correct horse battery")
        .await
        .unwrap();
    assert_eq!(ok.map(|u| u.id), Some(user.id));
    assert!(
        store
            .verify_password("admin", "wrong")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .verify_password("nobody", "x")
            .await
            .unwrap()
            .is_none()
    );

    let token = |kind, expires_at| NewCredential {
        kind,
        name: "ci".into(),
        role: Role::Viewer,
        network: None,
        user: Some(user.id),
        expires_at,
    };
    let (t, secret) = store
        .create_credential(token(CredentialKind::ApiToken, None))
        .await
        .unwrap();
    assert!(secret.starts_with("st_") && secret.len() > 40, "{secret}");
    let found = store
        .verify_credential(CredentialKind::ApiToken, &secret)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((found.id, found.role), (t.id, Role::Viewer));
    // A token is not a session, and a near miss is nothing.
    assert!(
        store
            .verify_credential(CredentialKind::Session, &secret)
            .await
            .unwrap()
            .is_none()
    );
    let mut near = secret.clone();
    near.pop();
    assert!(
        store
            .verify_credential(CredentialKind::ApiToken, &near)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store
            .credentials(CredentialKind::ApiToken)
            .await
            .unwrap()
            .len(),
        1
    );
    store
        .revoke_credential(CredentialKind::ApiToken, t.id)
        .await
        .unwrap();
    assert!(
        store
            .verify_credential(CredentialKind::ApiToken, &secret)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .credentials(CredentialKind::ApiToken)
            .await
            .unwrap()
            .is_empty()
    );
    // An expired session is nothing.
    let (_, old) = store
        .create_credential(token(
            CredentialKind::Session,
            Some(Utc::now() - Duration::seconds(1)),
        ))
        .await
        .unwrap();
    assert!(
        store
            .verify_credential(CredentialKind::Session, &old)
            .await
            .unwrap()
            .is_none()
    );
    // A daemon key belongs to a network that exists.
    let bad = store
        .create_credential(NewCredential {
            kind: CredentialKind::DaemonKey,
            name: "k".into(),
            role: Role::Daemon,
            network: None,
            user: None,
            expires_at: None,
        })
        .await;
    assert!(matches!(bad, Err(StoreError::BadRequest(_))), "{bad:?}");
}

pub(crate) async fn due_schedules_are_taken_once(store: &dyn Store) {
    use scanopy_store::NewSchedule;
    let net = network(store).await;
    let s = store
        .create_schedule(NewSchedule {
            network: net,
            daemon: None,
            every_minutes: 60,
            config: ScanConfig::default(),
            targets: vec![],
            first_run: Utc::now() - Duration::minutes(150),
        })
        .await
        .unwrap();
    let now = Utc::now();
    let (a, b) = tokio::join!(store.take_due_schedules(now), store.take_due_schedules(now));
    let taken: Vec<_> = a.unwrap().into_iter().chain(b.unwrap()).collect();
    assert_eq!(taken.len(), 1, "one taker");
    assert_eq!(taken[0].id, s.id);
    assert!(taken[0].next_run > now && taken[0].next_run <= now + Duration::minutes(60));
    assert!(
        store
            .take_due_schedules(Utc::now())
            .await
            .unwrap()
            .is_empty()
    );
    store.delete_schedule(s.id).await.unwrap();
    assert!(store.schedules().await.unwrap().is_empty());
}

/// Two stores on one database (two servers): claimers on both never share a job.
pub(crate) async fn claims_across_two_stores(a: &dyn Store, b: &dyn Store) {
    let net = network(a).await;
    for _ in 0..20 {
        a.enqueue_scan(queued(net, None)).await.unwrap();
    }
    let (da, db) = (daemon(a, net, "a").await, daemon(b, net, "b").await);
    async fn claimer(store: &dyn Store, d: Uuid, net: Uuid) -> Vec<Uuid> {
        let mut got = Vec::new();
        while let Some(j) = store
            .claim_job(d, net, std::time::Duration::from_secs(60))
            .await
            .unwrap()
        {
            got.push(j.id);
        }
        got
    }
    let (x, y) = tokio::join!(claimer(a, da, net), claimer(b, db, net));
    let mut all: Vec<Uuid> = x.into_iter().chain(y).collect();
    assert_eq!(all.len(), 20);
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 20, "no job claimed twice");
}

/// An address seen first without its MAC, then with it (or both in one batch), is one
/// interface with the MAC, not two.
pub(crate) async fn an_address_gains_its_mac_without_a_duplicate(store: &dyn Store) {
    let net = network(store).await;
    let r = run(store, net).await;
    store
        .apply_batch(r, Uuid::new_v4(), &[obs("10.0.0.7", t(1), port(80))])
        .await
        .unwrap();
    store
        .apply_batch(
            r,
            Uuid::new_v4(),
            &[obs("10.0.0.7", t(2), mac("00:11:32:00:00:07"))],
        )
        .await
        .unwrap();
    store
        .apply_batch(
            r,
            Uuid::new_v4(),
            &[
                obs("10.0.0.8", t(3), port(22)),
                obs("10.0.0.8", t(3), mac("00:11:32:00:00:08")),
            ],
        )
        .await
        .unwrap();
    store
        .apply_batch(
            r,
            Uuid::new_v4(),
            &[
                obs("10.0.0.7", t(4), port(443)),
                obs("10.0.0.8", t(4), port(22)),
            ],
        )
        .await
        .unwrap();
    let devices = all(store).await;
    assert_eq!(devices.len(), 2, "{devices:#?}");
    for d in &devices {
        assert_eq!(d.device.interfaces.len(), 1, "{:#?}", d.device.interfaces);
        assert!(d.device.interfaces[0].mac.is_some());
    }
}

/// A finished scan that probed a port it no longer finds open removes the service and says so;
/// a scan that did not probe it, or did not see the device, changes nothing.
pub(crate) async fn services_not_found_again_are_gone(store: &dyn Store) {
    let net = network(store).await;
    let with_ports = |ports: &str, scanners: &[&str]| NewScanRun {
        network: net,
        daemon: None,
        config: ScanConfig {
            ports: ports.parse().unwrap(),
            scanners: scanners.iter().map(|s| s.to_string()).collect(),
            ..ScanConfig::default()
        },
        targets: vec!["10.0.0.0/24".parse().unwrap()],
    };
    let first = store
        .start_scan(with_ports("22,80,443", &[]))
        .await
        .unwrap();
    let now = Utc::now();
    store
        .apply_batch(
            first.id,
            Uuid::new_v4(),
            &[
                obs("10.0.0.5", now, port(22)),
                obs("10.0.0.5", now, port(80)),
                obs("10.0.0.5", now, port(443)),
                obs("10.0.0.6", now, port(22)),
            ],
        )
        .await
        .unwrap();
    store.finish_scan(first.id, RunStatus::Done).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    // Probes 22 and 80 only; finds 22 on .5; .6 does not answer at all.
    let second = store
        .start_scan(with_ports("22,80", &["tcp"]))
        .await
        .unwrap();
    store
        .apply_batch(
            second.id,
            Uuid::new_v4(),
            &[obs("10.0.0.5", Utc::now(), port(22))],
        )
        .await
        .unwrap();
    let c = store.finish_scan(second.id, RunStatus::Done).await.unwrap();
    let gone: Vec<u16> = c.services_gone.iter().map(|(_, p, _)| *p).collect();
    assert_eq!(gone, vec![80], "443 was not probed; .6 was not seen");
    let devices = all(store).await;
    let five = devices
        .iter()
        .find(|d| d.device.ips().contains(&"10.0.0.5".parse().unwrap()))
        .unwrap();
    let mut left: Vec<u16> = five.device.services.iter().map(|s| s.port).collect();
    left.sort();
    assert_eq!(left, vec![22, 443]);
    let six = devices
        .iter()
        .find(|d| d.device.ips().contains(&"10.0.0.6".parse().unwrap()))
        .unwrap();
    assert_eq!(six.device.services.len(), 1);
    let evs = store.events(0, 1000).await.unwrap();
    let e = evs.iter().find(|e| e.kind == "service_gone").unwrap();
    assert_eq!(e.detail["port"], 80);
    // A scan without the TCP scanner removes nothing.
    let third = store
        .start_scan(with_ports("22,80,443", &["arp"]))
        .await
        .unwrap();
    store
        .apply_batch(
            third.id,
            Uuid::new_v4(),
            &[obs("10.0.0.5", Utc::now(), mac("00:11:32:00:00:05"))],
        )
        .await
        .unwrap();
    let c = store.finish_scan(third.id, RunStatus::Done).await.unwrap();
    assert!(c.services_gone.is_empty(), "{c:?}");
}

fn job_batch<'a>(
    run: Uuid,
    daemon: Uuid,
    observations: &'a [Observation],
) -> scanopy_store::JobBatch<'a> {
    scanopy_store::JobBatch {
        run,
        daemon,
        batch: Uuid::new_v4(),
        observations,
        limits: scanopy_store::RunLimits::default(),
    }
}

fn refused_with(r: &Result<scanopy_store::BatchReport, StoreError>, want: &str) -> bool {
    matches!(r, Err(StoreError::Refused { code, .. }) if *code == want)
}

async fn claimed(store: &dyn Store, net: Uuid, daemon: Uuid, targets: &[&str]) -> Uuid {
    let mut run = queued(net, Some(daemon));
    run.config.targets = scanopy_core::TargetSpec::new(targets, &[] as &[&str]).unwrap();
    let job = store.enqueue_scan(run).await.unwrap();
    let got = store
        .claim_job(daemon, net, std::time::Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.id, job.id);
    job.id
}

/// Only the daemon holding a run's lease, and only while it runs, adds to the inventory; a
/// refused batch changes nothing.
pub(crate) async fn job_results_come_only_from_the_lease_holder_while_running(store: &dyn Store) {
    let net = network(store).await;
    let (a, b) = (daemon(store, net, "a").await, daemon(store, net, "b").await);
    let job = claimed(store, net, a, &["10.0.0.0/24"]).await;
    let o = [obs("10.0.0.5", Utc::now(), mac("00:11:32:00:00:05"))];
    let stranger = store.apply_job_batch(job_batch(job, b, &o)).await;
    assert!(refused_with(&stranger, "job_not_held"), "{stranger:?}");
    assert!(
        all(store).await.is_empty(),
        "a stranger's batch changed the inventory"
    );
    assert!(store.events(0, 100).await.unwrap().is_empty());
    let r = store.scan_run(job).await.unwrap().unwrap();
    assert_eq!((r.devices_seen, r.observations), (0, 0));
    let ok = store.apply_job_batch(job_batch(job, a, &o)).await.unwrap();
    assert!(ok.applied);
    assert_eq!(ok.changes.devices_new.len(), 1);
    store.finish_scan(job, RunStatus::Done).await.unwrap();
    let before = all(store).await;
    let events = store.events(0, 100).await.unwrap().len();
    let late = [obs("10.0.0.6", Utc::now(), mac("00:11:32:00:00:06"))];
    let after_end = store.apply_job_batch(job_batch(job, a, &late)).await;
    assert!(refused_with(&after_end, "job_not_running"), "{after_end:?}");
    let plain = store.apply_batch(job, Uuid::new_v4(), &late).await;
    assert!(
        matches!(&plain, Err(StoreError::Refused { code, .. }) if *code == "job_not_running"),
        "{plain:?}"
    );
    assert_eq!(all(store).await, before);
    assert_eq!(store.events(0, 100).await.unwrap().len(), events);
    // A queued job takes nothing either.
    let q = store.enqueue_scan(queued(net, Some(b))).await.unwrap();
    assert!(refused_with(
        &store.apply_job_batch(job_batch(q.id, b, &late)).await,
        "job_not_held"
    ));
}

/// Per-host facts about addresses outside the job's targets are dropped and counted; what a
/// sweep hears from the segment is kept; times are clamped to the run's window.
pub(crate) async fn job_results_keep_to_the_targets_and_the_window(store: &dyn Store) {
    let net = network(store).await;
    let a = daemon(store, net, "a").await;
    let job = claimed(store, net, a, &["10.0.0.0/28"]).await;
    let started = store.scan_run(job).await.unwrap().unwrap().started_at;
    let o = [
        obs("10.0.0.5", Utc::now(), port(22)),
        obs("10.0.0.100", Utc::now(), port(22)),
        obs(
            "10.0.0.100",
            Utc::now(),
            Fact::Hostname {
                name: "planted.lan".into(),
                source: "ptr".into(),
            },
        ),
        obs("10.0.0.200", Utc::now(), mac("00:11:32:00:00:c8")),
        obs(
            "10.0.0.6",
            "2099-01-01T00:00:00Z".parse().unwrap(),
            port(80),
        ),
        obs("10.0.0.7", Utc::now() - Duration::days(2), port(80)),
    ];
    let r = store.apply_job_batch(job_batch(job, a, &o)).await.unwrap();
    assert_eq!((r.outside_targets, r.clamped), (2, 2), "{r:?}");
    let devices = all(store).await;
    let ips: std::collections::BTreeSet<String> = devices
        .iter()
        .flat_map(|d| d.device.ips())
        .map(|i| i.to_string())
        .collect();
    assert_eq!(
        ips.into_iter().collect::<Vec<_>>(),
        ["10.0.0.200", "10.0.0.5", "10.0.0.6", "10.0.0.7"]
    );
    assert!(devices.iter().all(|d| d.device.hostname.is_none()));
    let now = Utc::now();
    for d in &devices {
        assert!(
            d.device.last_seen <= now,
            "{:?} lies in the future",
            d.device
        );
        assert!(
            d.device.first_seen >= started,
            "{:?} before the run",
            d.device
        );
        for s in &d.device.services {
            assert!(s.last_seen <= now && s.first_seen >= started, "{s:?}");
        }
    }
    let run = store.scan_run(job).await.unwrap().unwrap();
    assert_eq!((run.observations, run.observations_dropped), (4, 2));
}

/// A run that goes over its cap of devices or observations ends failed, saying so; the batch
/// that went over changes nothing.
pub(crate) async fn job_results_over_a_cap_end_the_run_failed(store: &dyn Store) {
    use scanopy_store::RunLimits;
    let net = network(store).await;
    let a = daemon(store, net, "a").await;
    let job = claimed(store, net, a, &["10.0.0.0/24"]).await;
    let limits = RunLimits {
        max_devices: 2,
        max_observations: 100,
    };
    let three: Vec<Observation> = (1..=3)
        .map(|i| obs(&format!("10.0.0.{i}"), Utc::now(), port(22)))
        .collect();
    let one = [obs("10.0.0.1", Utc::now(), port(22))];
    let mut b = job_batch(job, a, &one);
    b.limits = limits;
    store.apply_job_batch(b).await.unwrap();
    let mut b = job_batch(job, a, &three);
    b.limits = limits;
    let over = store.apply_job_batch(b).await;
    assert!(refused_with(&over, "run_limit"), "{over:?}");
    assert_eq!(
        all(store).await.len(),
        1,
        "the batch over the cap was applied"
    );
    let run = store.scan_run(job).await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Failed);
    assert!(run.error.unwrap_or_default().contains("devices"));
    assert!(run.finished_at.is_some());
    // Observations: three fit, a fourth does not.
    let job = claimed(store, net, a, &["10.0.0.0/24"]).await;
    let limits = RunLimits {
        max_devices: 100,
        max_observations: 3,
    };
    let mut b = job_batch(job, a, &three);
    b.limits = limits;
    store.apply_job_batch(b).await.unwrap();
    let four = [obs("10.0.0.9", Utc::now(), port(22))];
    let mut b = job_batch(job, a, &four);
    b.limits = limits;
    assert!(refused_with(&store.apply_job_batch(b).await, "run_limit"));
    let run = store.scan_run(job).await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Failed);
    assert!(run.error.unwrap_or_default().contains("observations"));
    assert_eq!(all(store).await.len(), 3);
    assert!(matches!(
        store.finish_scan(job, RunStatus::Done).await,
        Err(StoreError::BadRequest(_))
    ));
}

/// A run with a refused batch ends failed, never done, and marks no device missed.
pub(crate) async fn a_refused_batch_makes_a_run_fail_not_miss(store: &dyn Store) {
    let net = network(store).await;
    let a = daemon(store, net, "a").await;
    let job = claimed(store, net, a, &["10.0.0.0/24"]).await;
    let o = [obs("10.0.0.5", Utc::now(), mac("00:11:32:00:00:05"))];
    store.apply_job_batch(job_batch(job, a, &o)).await.unwrap();
    store.finish_scan(job, RunStatus::Done).await.unwrap();
    let mut gone = Vec::new();
    for _ in 0..scanopy_store::OFFLINE_AFTER {
        let job = claimed(store, net, a, &["10.0.0.0/24"]).await;
        store
            .reject_batch(job, a, "a batch carries at most 20000 observations")
            .await
            .unwrap();
        gone.extend(
            store
                .finish_scan(job, RunStatus::Done)
                .await
                .unwrap()
                .devices_gone,
        );
        let run = store.scan_run(job).await.unwrap().unwrap();
        assert_eq!(run.status, RunStatus::Failed);
        assert_eq!(run.rejected_batches, 1);
        let e = run.error.unwrap_or_default();
        assert!(e.contains("refused") && e.contains("20000"), "{e}");
    }
    assert!(gone.is_empty(), "{gone:?}");
    assert!(!all(store).await[0].offline);
    // Only the holder's refusals count.
    let job = claimed(store, net, a, &["10.0.0.0/24"]).await;
    store.reject_batch(job, Uuid::new_v4(), "x").await.unwrap();
    assert_eq!(
        store.scan_run(job).await.unwrap().unwrap().rejected_batches,
        0
    );
}

/// A daemon whose clock runs behind the server's reports times before the run's start: the
/// devices it saw are not missed (runs are compared by number, not by clock).
pub(crate) async fn a_daemon_clock_behind_marks_nothing_missed(store: &dyn Store) {
    let net = network(store).await;
    let a = daemon(store, net, "a").await;
    let mut gone = Vec::new();
    for _ in 0..=scanopy_store::OFFLINE_AFTER {
        let job = claimed(store, net, a, &["10.0.0.0/24"]).await;
        let behind = Utc::now() - Duration::minutes(10);
        let o = [
            obs("10.0.0.5", behind, mac("00:11:32:00:00:05")),
            obs("10.0.0.5", behind, port(22)),
        ];
        store.apply_job_batch(job_batch(job, a, &o)).await.unwrap();
        let c = store.finish_scan(job, RunStatus::Done).await.unwrap();
        assert!(c.services_gone.is_empty(), "{c:?}");
        gone.extend(c.devices_gone);
    }
    assert!(gone.is_empty(), "{gone:?}");
    let d = all(store).await.remove(0);
    assert!(!d.offline);
    assert_eq!(d.device.services.len(), 1);
}

/// `devices_seen` is the number of distinct devices a run saw, however many batches saw them.
pub(crate) async fn devices_seen_counts_distinct_devices(store: &dyn Store) {
    let net = network(store).await;
    let r = run(store, net).await;
    for i in 0..4u8 {
        let o = [
            obs("10.0.0.5", Utc::now(), mac("00:11:32:00:00:05")),
            obs("10.0.0.6", Utc::now(), port(22)),
            obs(&format!("10.0.0.{}", 10 + i % 2), Utc::now(), port(80)),
        ];
        store.apply_batch(r, Uuid::new_v4(), &o).await.unwrap();
    }
    assert_eq!(store.scan_run(r).await.unwrap().unwrap().devices_seen, 4);
    store.finish_scan(r, RunStatus::Done).await.unwrap();
    assert_eq!(store.scan_run(r).await.unwrap().unwrap().devices_seen, 4);
}
fn push_caps(url: &str) -> scanopy_core::protocol::Capabilities {
    scanopy_core::protocol::Capabilities {
        mode: scanopy_core::protocol::DaemonMode::Push,
        url: Some(url.into()),
        ..Default::default()
    }
}

/// What a push daemon announces is kept apart from the URL an admin approved: a registration
/// never sets or changes the approved one, and a changed announcement shows as pending.
pub(crate) async fn push_urls_are_approved_not_announced(store: &dyn Store) {
    use scanopy_store::{CredentialKind, NewCredential, NewDaemon, Role};
    let net = network(store).await;
    let (key, _) = store
        .create_credential(NewCredential {
            kind: CredentialKind::DaemonKey,
            name: "p".into(),
            role: Role::Daemon,
            network: Some(net),
            user: None,
            expires_at: None,
        })
        .await
        .unwrap();
    let reg = |url: &str| NewDaemon {
        network: net,
        key_id: Some(key.id),
        name: "pushy".into(),
        capabilities: push_caps(url),
        local: false,
        instance: None,
    };
    let d = store
        .register_daemon(reg("http://10.0.0.5:60073"))
        .await
        .unwrap();
    assert_eq!(d.announced_url.as_deref(), Some("http://10.0.0.5:60073"));
    assert_eq!(d.approved_url, None, "announcing approves nothing");
    assert!(d.push_url_pending());
    let d2 = store
        .set_daemon_push_url(d.id, Some("http://10.0.0.5:60073"))
        .await
        .unwrap();
    assert_eq!(d2.approved_url.as_deref(), Some("http://10.0.0.5:60073"));
    assert!(!d2.push_url_pending());
    // The daemon announces another URL: the approved one stays, the new one is pending.
    let d3 = store
        .register_daemon(reg("http://169.254.169.254/latest"))
        .await
        .unwrap();
    assert_eq!(d3.id, d.id);
    assert_eq!(d3.approved_url.as_deref(), Some("http://10.0.0.5:60073"));
    assert_eq!(
        d3.announced_url.as_deref(),
        Some("http://169.254.169.254/latest")
    );
    assert!(d3.push_url_pending());
    let listed = store.daemons().await.unwrap();
    let l = listed.iter().find(|x| x.id == d.id).unwrap();
    assert_eq!(l.approved_url.as_deref(), Some("http://10.0.0.5:60073"));
    // Cleared: nothing is called any more.
    let d4 = store.set_daemon_push_url(d.id, None).await.unwrap();
    assert_eq!(d4.approved_url, None);
    assert!(matches!(
        store
            .set_daemon_push_url(Uuid::new_v4(), Some("http://x"))
            .await,
        Err(StoreError::NotFound(_))
    ));
}

/// Each server instance has its own local daemon record; the record made before instances
/// existed is taken over by one of them, once.
pub(crate) async fn local_daemons_are_one_per_instance(store: &dyn Store) {
    use scanopy_store::NewDaemon;
    let net = network(store).await;
    let local = |instance: Option<&str>, name: &str| NewDaemon {
        network: net,
        key_id: None,
        name: name.into(),
        capabilities: Default::default(),
        local: true,
        instance: instance.map(str::to_owned),
    };
    // A record from before instances.
    let legacy = store.register_daemon(local(None, "old")).await.unwrap();
    let a = store
        .register_daemon(local(Some("host-a/1"), "a (local)"))
        .await
        .unwrap();
    assert_eq!(
        a.id, legacy.id,
        "the first instance takes over the old record"
    );
    assert_eq!(a.instance.as_deref(), Some("host-a/1"));
    let b = store
        .register_daemon(local(Some("host-b/2"), "b (local)"))
        .await
        .unwrap();
    assert_ne!(
        b.id, a.id,
        "another server's local daemon is its own record"
    );
    let a2 = store
        .register_daemon(local(Some("host-a/1"), "a (local)"))
        .await
        .unwrap();
    assert_eq!(a2.id, a.id, "a restart keeps its record");
    let b2 = store
        .register_daemon(local(Some("host-b/2"), "b renamed"))
        .await
        .unwrap();
    assert_eq!((b2.id, b2.name.as_str()), (b.id, "b renamed"));
    let locals: Vec<_> = store
        .daemons()
        .await
        .unwrap()
        .into_iter()
        .filter(|d| d.local && d.network == net)
        .collect();
    assert_eq!(locals.len(), 2, "{locals:?}");
}

/// A delivery is claimed once per webhook and event, however many claim it at once.
pub(crate) async fn webhook_deliveries_are_claimed_once(store: &dyn Store) {
    let hook = store
        .create_webhook("http://127.0.0.1:9/h", "0123456789abcdef")
        .await
        .unwrap();
    let other = store
        .create_webhook("http://127.0.0.1:9/g", "0123456789abcdef")
        .await
        .unwrap();
    assert!(store.claim_delivery(hook.id, 1, "a").await.unwrap());
    assert!(!store.claim_delivery(hook.id, 1, "a").await.unwrap());
    assert!(!store.claim_delivery(hook.id, 1, "b").await.unwrap());
    assert!(store.claim_delivery(other.id, 1, "b").await.unwrap());
    assert!(store.claim_delivery(hook.id, 2, "b").await.unwrap());
    claims_race(store, store, hook.id).await;
}

/// Two claimers (on one store, or on two stores of one database) race for 50 events: each
/// event is claimed exactly once.
pub(crate) async fn claims_race(a: &dyn Store, b: &dyn Store, hook: Uuid) {
    async fn claimer(store: &dyn Store, hook: Uuid, who: &str) -> Vec<i64> {
        let mut got = Vec::new();
        for seq in 100..150 {
            if store.claim_delivery(hook, seq, who).await.unwrap() {
                got.push(seq);
            }
        }
        got
    }
    let (x, y) = tokio::join!(claimer(a, hook, "a"), claimer(b, hook, "b"));
    let mut all: Vec<i64> = x.into_iter().chain(y).collect();
    all.sort();
    assert_eq!(
        all,
        (100..150).collect::<Vec<_>>(),
        "each event claimed once"
    );
}

/// Renewals keep a lease only while the scan advances: a daemon that renews with the same
/// progress past its stall timeout (plus a lease of grace) loses the run, which ends failed,
/// saying why; one whose progress changes keeps it.
pub(crate) async fn renewals_without_progress_end_a_stalled_run(store: &dyn Store) {
    use scanopy_core::ProgressSnapshot;
    use std::time::Duration as Std;
    let net = network(store).await;
    let a = daemon(store, net, "a").await;
    let mut run = queued(net, Some(a));
    run.config.stall_timeout_ms = 150;
    store.enqueue_scan(run).await.unwrap();
    let job = store
        .claim_job(a, net, Std::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    let lease = Std::from_millis(50);
    let mut p = ProgressSnapshot {
        hosts_total: 256,
        ..Default::default()
    };
    // Advancing every 100 ms for 500 ms (more than stall + lease) keeps the run.
    for i in 0..5 {
        p.probes_sent = i + 1;
        let r = store.renew_job(job.id, a, Some(p), lease).await.unwrap();
        assert_eq!(r.status, RunStatus::Running);
        tokio::time::sleep(Std::from_millis(100)).await;
    }
    // The same counts (or none) over and over: the run ends once 150 + 50 ms have passed.
    let mut ended = None;
    for _ in 0..40 {
        match store.renew_job(job.id, a, Some(p), lease).await {
            Ok(_) => tokio::time::sleep(Std::from_millis(25)).await,
            Err(e) => {
                ended = Some(e);
                break;
            }
        }
    }
    let e = ended.expect("a run whose progress stood still for 1 s kept its lease");
    assert!(matches!(e, StoreError::Conflict(_)), "{e:?}");
    let r = store.scan_run(job.id).await.unwrap().unwrap();
    assert_eq!(r.status, RunStatus::Failed);
    assert!(
        r.error.as_deref().unwrap_or("").contains("no progress"),
        "{:?}",
        r.error
    );
    assert_eq!(r.rejected_batches, 0);
    // Gone for good: another renewal is a conflict too.
    assert!(store.renew_job(job.id, a, Some(p), lease).await.is_err());
}

/// A listen run (what a daemon's passive listener reports into) adds what it hears like any
/// run, but ending it marks nothing missed, it is never handed out as a job, and once its
/// daemon stops renewing it the next claim ends it.
pub(crate) async fn listen_runs_mark_nothing_missed_and_are_never_claimed(store: &dyn Store) {
    use scanopy_core::protocol::LISTEN_SCANNER;
    let net = network(store).await;
    let (a, b) = (daemon(store, net, "a").await, daemon(store, net, "b").await);
    // A device a scan saw.
    let scan = claimed(store, net, a, &["10.0.0.0/24"]).await;
    let seen = [obs("10.0.0.5", Utc::now(), mac("00:11:32:00:00:05"))];
    store
        .apply_job_batch(job_batch(scan, a, &seen))
        .await
        .unwrap();
    store.finish_scan(scan, RunStatus::Done).await.unwrap();
    let listen_run = |d: Uuid| NewScanRun {
        network: net,
        daemon: Some(d),
        config: ScanConfig {
            scanners: vec![LISTEN_SCANNER.into()],
            ..ScanConfig::default()
        },
        targets: vec!["10.0.0.0/24".parse().unwrap()],
    };
    // Listen runs that end, more than enough of them to mark a missed device offline.
    for i in 0..=scanopy_store::OFFLINE_AFTER {
        let l = store.start_scan(listen_run(a)).await.unwrap();
        store
            .renew_job(l.id, a, None, std::time::Duration::from_secs(60))
            .await
            .unwrap();
        let heard = [obs(
            &format!("10.0.0.{}", 20 + i),
            Utc::now(),
            mac(&format!("00:11:32:00:01:{:02x}", i)),
        )];
        let r = store
            .apply_job_batch(job_batch(l.id, a, &heard))
            .await
            .unwrap();
        assert_eq!(
            r.changes.devices_new.len(),
            1,
            "what a listen run hears is kept"
        );
        store.finish_scan(l.id, RunStatus::Done).await.unwrap();
    }
    let devices = all(store).await;
    assert_eq!(devices.len(), 1 + scanopy_store::OFFLINE_AFTER as usize + 1);
    assert!(
        devices.iter().all(|d| !d.offline),
        "ending listen runs marks nothing missed: {devices:#?}"
    );
    // A running listen run is nobody's job, not even once its lease lapsed; the claim that
    // finds it lapsed ends it.
    let l = store.start_scan(listen_run(a)).await.unwrap();
    store
        .renew_job(l.id, a, None, std::time::Duration::from_millis(50))
        .await
        .unwrap();
    assert!(
        store
            .claim_job(b, net, std::time::Duration::from_secs(60))
            .await
            .unwrap()
            .is_none()
    );
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    for d in [a, b] {
        assert!(
            store
                .claim_job(d, net, std::time::Duration::from_secs(60))
                .await
                .unwrap()
                .is_none()
        );
    }
    let ended = store.scan_run(l.id).await.unwrap().unwrap();
    assert_eq!(ended.status, RunStatus::Done, "{ended:?}");
    assert!(ended.finished_at.is_some());
    assert!(all(store).await.iter().all(|d| !d.offline));
}

/// Two hosts heard asking DHCP for an address are two devices by their MACs (never one at
/// `0.0.0.0`); when one's MAC is bound to an address it is the same device, its `0.0.0.0`
/// interface gone and its name kept, and the batch reports it addressed; hearing it ask again
/// changes nothing.
pub(crate) async fn a_device_heard_before_it_had_an_address_keeps_its_id(store: &dyn Store) {
    use scanopy_core::protocol::LISTEN_SCANNER;
    let net = network(store).await;
    let a = daemon(store, net, "a").await;
    let l = store
        .start_scan(NewScanRun {
            network: net,
            daemon: Some(a),
            config: ScanConfig {
                scanners: vec![LISTEN_SCANNER.into()],
                ..ScanConfig::default()
            },
            targets: vec!["10.0.0.0/24".parse().unwrap()],
        })
        .await
        .unwrap();
    store
        .renew_job(l.id, a, None, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    let asking = |m: &str, name: &str| {
        obs(
            "0.0.0.0",
            Utc::now(),
            Fact::Unaddressed {
                mac: m.parse().unwrap(),
                facts: vec![Fact::Hostname {
                    name: name.into(),
                    source: "dhcp".into(),
                }],
            },
        )
    };
    let (m1, m2) = ("02:77:00:00:01:01", "02:77:00:00:01:02");
    let r = store
        .apply_job_batch(job_batch(
            l.id,
            a,
            &[asking(m1, "tablet"), asking(m2, "phone")],
        ))
        .await
        .unwrap();
    assert_eq!(r.changes.devices_new.len(), 2, "{r:?}");
    assert!(r.addressed.is_empty());
    assert_eq!(r.outside_targets, 0, "kept, though it has no address");
    let first = all(store).await;
    assert_eq!(first.len(), 2, "{first:#?}");
    for d in &first {
        assert_eq!(d.device.interfaces.len(), 1);
        assert!(d.device.interfaces[0].ip.is_unspecified());
        assert!(d.device.ips().is_empty());
    }
    let tablet = first
        .iter()
        .find(|d| d.device.hostname.as_deref() == Some("tablet"))
        .unwrap()
        .device
        .id;
    // Its REQUEST: the address, with the MAC.
    let r = store
        .apply_job_batch(job_batch(
            l.id,
            a,
            &[obs("10.0.0.120", Utc::now(), mac(m1))],
        ))
        .await
        .unwrap();
    assert!(r.changes.devices_new.is_empty(), "{r:?}");
    assert_eq!(r.addressed, vec![tablet]);
    let d = store.device(tablet).await.unwrap().unwrap();
    assert_eq!(d.device.hostname.as_deref(), Some("tablet"));
    assert_eq!(
        d.device
            .interfaces
            .iter()
            .map(|i| (i.ip.to_string(), i.mac.map(|m| m.to_string())))
            .collect::<Vec<_>>(),
        vec![("10.0.0.120".to_owned(), Some(m1.to_owned()))]
    );
    // Asking again (a renewal after a reboot) adds no `0.0.0.0` back.
    let r = store
        .apply_job_batch(job_batch(l.id, a, &[asking(m1, "tablet")]))
        .await
        .unwrap();
    assert!(
        r.changes.devices_new.is_empty() && r.addressed.is_empty(),
        "{r:?}"
    );
    let d = store.device(tablet).await.unwrap().unwrap();
    assert_eq!(
        d.device.ips(),
        vec!["10.0.0.120".parse::<std::net::IpAddr>().unwrap()]
    );
    assert_eq!(d.device.interfaces.len(), 1, "{:?}", d.device.interfaces);
    assert_eq!(all(store).await.len(), 2);
    // The other, heard first at its link-local address (a router solicitation) and only then
    // by IPv4: addressed by the IPv4 one, not by the link-local one.
    let r = store
        .apply_job_batch(job_batch(
            l.id,
            a,
            &[obs("fe80::77:ff:fe00:102", Utc::now(), mac(m2))],
        ))
        .await
        .unwrap();
    assert!(
        r.changes.devices_new.is_empty() && r.addressed.is_empty(),
        "{r:?}"
    );
    let r = store
        .apply_job_batch(job_batch(
            l.id,
            a,
            &[obs("10.0.0.121", Utc::now(), mac(m2))],
        ))
        .await
        .unwrap();
    assert_eq!(r.addressed.len(), 1, "{r:?}");
    assert!(r.changes.devices_new.is_empty());
    assert_eq!(all(store).await.len(), 2);
}

/// Alert rules are kept with their channel, scope and limits; each event is claimed by one
/// server per rule; what a rule did is read back newest first; its last delivery (tests
/// excepted) is its throttle's clock; deleting a rule deletes its records.
pub(crate) async fn alert_rules_claim_each_event_once_and_keep_what_they_sent(store: &dyn Store) {
    use scanopy_store::{AlertChannel, AlertDelivery, NewAlertRule, QuietHours};
    let net = network(store).await;
    let new = |name: &str, network: Option<Uuid>| NewAlertRule {
        name: name.into(),
        events: vec!["device_new".into(), "device_gone".into()],
        network,
        scope: Default::default(),
        digest: None,
        channel: AlertChannel::Ntfy {
            url: "http://127.0.0.1:9".into(),
            topic: "lan".into(),
        },
        throttle_secs: 60,
        quiet: Some(QuietHours {
            from: "22:00".into(),
            to: "07:00".into(),
        }),
    };
    let a = store
        .create_alert_rule(new("home", Some(net)))
        .await
        .unwrap();
    let b = store
        .create_alert_rule(NewAlertRule {
            channel: AlertChannel::Email {
                to: "ops@example.test".into(),
            },
            quiet: None,
            scope: scanopy_store::AlertScope {
                subnet: Some("10.0.0.0/25".parse().unwrap()),
                tag: Some("cameras".into()),
                device: Some(Uuid::nil()),
            },
            digest: Some("08:30".into()),
            ..new("all", None)
        })
        .await
        .unwrap();
    assert!(matches!(
        store
            .create_alert_rule(new("nowhere", Some(Uuid::new_v4())))
            .await,
        Err(StoreError::NotFound(_))
    ));
    let rules = store.alert_rules().await.unwrap();
    assert_eq!(rules, vec![a.clone(), b.clone()]);
    assert!(a.enabled && a.network == Some(net) && a.throttle_secs == 60);
    // One claim per (rule, event).
    assert!(store.claim_alert(a.id, 7, "s1").await.unwrap());
    assert!(!store.claim_alert(a.id, 7, "s2").await.unwrap());
    assert!(store.claim_alert(b.id, 7, "s2").await.unwrap());
    assert_eq!(store.last_alert(a.id).await.unwrap(), None);
    let rec = |seq: i64, status: &str, at: DateTime<Utc>| AlertDelivery {
        rule: a.id,
        event_seq: seq,
        status: status.into(),
        attempts: 1,
        error: None,
        summary: Some(format!("event {seq}")),
        at,
    };
    let t0 = Utc::now() - Duration::seconds(30);
    store.record_alert(&rec(7, "delivered", t0)).await.unwrap();
    store
        .record_alert(&rec(8, "throttled", t0 + Duration::seconds(1)))
        .await
        .unwrap();
    store
        .record_alert(&rec(0, "delivered", t0 + Duration::seconds(2)))
        .await
        .unwrap();
    let got = store.alert_deliveries(a.id, 10).await.unwrap();
    assert_eq!(
        got.iter().map(|d| d.event_seq).collect::<Vec<_>>(),
        [0, 8, 7]
    );
    assert_eq!(got[2].summary.as_deref(), Some("event 7"));
    // A digest's queue: what is queued, oldest first, until marked sent.
    for (seq, dt) in [(9, 3), (10, 4), (11, 6)] {
        store
            .record_alert(&rec(seq, "queued", t0 + Duration::seconds(dt)))
            .await
            .unwrap();
    }
    let q = store.queued_alerts(a.id, 100).await.unwrap();
    assert_eq!(
        q.iter().map(|d| d.event_seq).collect::<Vec<_>>(),
        [9, 10, 11]
    );
    assert_eq!(
        store
            .mark_digested(a.id, t0 + Duration::seconds(4))
            .await
            .unwrap(),
        2
    );
    let q = store.queued_alerts(a.id, 100).await.unwrap();
    assert_eq!(q.iter().map(|d| d.event_seq).collect::<Vec<_>>(), [11]);
    let last = store.last_alert(a.id).await.unwrap().unwrap();
    assert!(
        (last - t0).num_milliseconds().abs() < 1000,
        "the test is not the clock: {last}"
    );
    store.delete_alert_rule(a.id).await.unwrap();
    assert!(matches!(
        store.delete_alert_rule(a.id).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(store.alert_deliveries(a.id, 10).await.unwrap().is_empty());
    assert_eq!(store.alert_rules().await.unwrap(), vec![b]);
}

/// The audit trail keeps each entry as written, newest first, in pages by time.
pub(crate) async fn the_audit_trail_is_read_newest_first_in_pages(store: &dyn Store) {
    use scanopy_store::AuditEntry;
    let t0 = Utc::now() - Duration::seconds(100);
    for i in 0..5i64 {
        store
            .record_audit(&AuditEntry {
                id: Uuid::new_v4(),
                at: t0 + Duration::seconds(i),
                actor: "admin".into(),
                via: if i % 2 == 0 { "session" } else { "token" }.into(),
                address: (i != 3).then(|| "10.0.0.9".to_owned()),
                action: format!("action_{i}"),
                target: Some(format!("t{i}")),
                detail: serde_json::json!({"n": i}),
            })
            .await
            .unwrap();
    }
    let all = store.audit(100, None).await.unwrap();
    let actions: Vec<&str> = all.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        ["action_4", "action_3", "action_2", "action_1", "action_0"]
    );
    assert_eq!(all[1].address, None);
    assert_eq!(all[0].detail, serde_json::json!({"n": 4}));
    assert_eq!(all[0].via, "session");
    let page = store.audit(2, Some(all[1].at)).await.unwrap();
    let actions: Vec<&str> = page.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["action_2", "action_1"]);
}

/// A switch's link layer (ports, forwarding table) is kept with it and read back on the device
/// and the map; a newer snapshot replaces it, an older one arriving late does not, and device
/// lists do not carry it.
pub(crate) async fn a_switch_link_layer_is_kept_newest_first(store: &dyn Store) {
    use scanopy_core::{L2, Learnt, NetPort};
    let net = network(store).await;
    let snapshot = |ports: u32| {
        Fact::L2(Box::new(L2 {
            ports: (1..=ports)
                .map(|i| NetPort {
                    index: i,
                    name: format!("ge{i}"),
                    alias: None,
                    mac: None,
                    speed_mbps: Some(1000),
                    admin_up: Some(true),
                    oper_up: Some(true),
                    kind: Some("ethernet".into()),
                    vlan: Some(10),
                })
                .collect(),
            learnt: vec![Learnt {
                mac: "00:11:32:00:00:07".parse().unwrap(),
                port: 1,
                vlan: Some(10),
            }],
            bridge_mac: Some("00:11:32:00:00:03".parse().unwrap()),
            ..Default::default()
        }))
    };
    let apply = |at: DateTime<Utc>, ports: u32| {
        let batch = vec![
            obs("10.0.0.3", at, mac("00:11:32:00:00:03")),
            obs("10.0.0.3", at, snapshot(ports)),
        ];
        async move {
            let r = run(store, net).await;
            store.apply_batch(r, Uuid::new_v4(), &batch).await.unwrap();
            store.finish_scan(r, RunStatus::Done).await.unwrap();
        }
    };
    apply(t(10), 4).await;
    let id = all(store).await[0].device.id;
    let ports = |d: &scanopy_store::StoredDevice| d.device.l2.as_ref().map(|l| l.ports.len());
    let d = store.device(id).await.unwrap().unwrap();
    assert_eq!(ports(&d), Some(4));
    assert_eq!(d.device.l2.as_ref().unwrap().learnt.len(), 1);
    assert_eq!(ports(&all(store).await[0]), None, "lists do not carry it");
    let map = store.map_devices(Some(net)).await.unwrap();
    assert_eq!(ports(&map[0]), Some(4), "the map does");
    apply(t(20), 6).await;
    assert_eq!(ports(&store.device(id).await.unwrap().unwrap()), Some(6));
    // A snapshot taken before the stored one, arriving late, changes nothing.
    apply(t(15), 2).await;
    assert_eq!(ports(&store.device(id).await.unwrap().unwrap()), Some(6));
}

pub(crate) async fn snmp_credentials_are_kept_in_order_per_network(store: &dyn Store) {
    let a = store.create_network("a", &[]).await.unwrap();
    let b = store.create_network("b", &[]).await.unwrap();
    let cred = |network: Uuid, label: &str, i: i64| scanopy_store::SnmpCredential {
        id: Uuid::new_v4(),
        network,
        label: label.into(),
        kind: if i % 2 == 0 { "community" } else { "v3" }.into(),
        user: (i % 2 == 1).then(|| format!("user{i}")),
        auth_protocol: (i % 2 == 1).then(|| "SHA-256".into()),
        privacy_protocol: (i % 2 == 1).then(|| "AES".into()),
        sealed: format!("sealed-{label}"),
        created_at: t(i),
    };
    let mut added = Vec::new();
    for (i, label) in ["first", "second", "third"].iter().enumerate() {
        added.push(
            store
                .add_snmp_credential(cred(a.id, label, i as i64))
                .await
                .unwrap(),
        );
    }
    store
        .add_snmp_credential(cred(b.id, "other", 0))
        .await
        .unwrap();
    let listed = store.snmp_credentials(a.id).await.unwrap();
    assert_eq!(listed.len(), 3);
    for (got, want) in listed.iter().zip(&added) {
        assert_eq!(got.id, want.id);
        assert_eq!(got.label, want.label);
        assert_eq!(got.kind, want.kind);
        assert_eq!(got.user, want.user);
        assert_eq!(got.auth_protocol, want.auth_protocol);
        assert_eq!(got.privacy_protocol, want.privacy_protocol);
        assert_eq!(got.sealed, want.sealed);
        assert_eq!(got.network, a.id);
    }
    // Deleting is per network: another network's id names nothing.
    assert!(matches!(
        store.delete_snmp_credential(b.id, added[1].id).await,
        Err(StoreError::NotFound(_))
    ));
    store
        .delete_snmp_credential(a.id, added[1].id)
        .await
        .unwrap();
    assert!(matches!(
        store.delete_snmp_credential(a.id, added[1].id).await,
        Err(StoreError::NotFound(_))
    ));
    let left: Vec<String> = store
        .snmp_credentials(a.id)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.label)
        .collect();
    assert_eq!(left, ["first", "third"]);
    assert_eq!(store.snmp_credentials(b.id).await.unwrap().len(), 1);
    // An unknown network has none and takes none.
    let nowhere = Uuid::new_v4();
    assert!(store.snmp_credentials(nowhere).await.unwrap().is_empty());
    assert!(matches!(
        store.add_snmp_credential(cred(nowhere, "x", 0)).await,
        Err(StoreError::NotFound(_))
    ));
    // A bounded list.
    for i in 0..40 {
        let r = store.add_snmp_credential(cred(b.id, "more", 10 + i)).await;
        if i < 31 {
            r.unwrap();
        } else {
            assert!(matches!(r, Err(StoreError::BadRequest(_))), "{r:?}");
        }
    }
}

pub(crate) async fn a_network_is_renamed_and_its_subnets_changed(store: &dyn Store) {
    let net = |s: &str| s.parse::<ipnet::IpNet>().unwrap();
    let n = store
        .create_network("lab", &[net("10.77.0.0/24")])
        .await
        .unwrap();
    let other = store
        .create_network("other", &[net("10.9.0.0/24")])
        .await
        .unwrap();
    let wider = [
        net("10.77.0.0/24"),
        net("10.77.1.0/24"),
        net("10.77.1.0/24"),
    ];
    let u = store
        .update_network(n.id, None, Some(&wider))
        .await
        .unwrap();
    assert_eq!((u.id, u.name.as_str()), (n.id, "lab"));
    assert_eq!(u.subnets.len(), 2, "duplicates go: {:?}", u.subnets);
    let u = store
        .update_network(n.id, Some(" campus "), None)
        .await
        .unwrap();
    assert_eq!(u.name, "campus");
    assert_eq!(u.subnets.len(), 2);
    let listed = store.networks().await.unwrap();
    let got = listed.iter().find(|x| x.id == n.id).unwrap();
    assert_eq!(got, &u);
    assert_eq!(listed.iter().find(|x| x.id == other.id).unwrap(), &other);
    assert!(matches!(
        store.update_network(n.id, Some("  "), None).await,
        Err(StoreError::BadRequest(_))
    ));
    assert!(matches!(
        store.update_network(Uuid::new_v4(), Some("x"), None).await,
        Err(StoreError::NotFound(_))
    ));
}

pub(crate) async fn users_roles_disable_and_caps(store: &dyn Store) {
    use scanopy_store::{CredentialKind, NewCredential, Role};
    let admin = store
        .create_user("admin", "correct horse battery", Role::Admin)
        .await
        .unwrap();
    let ed = store
        .create_user("erin", "erin's long password", Role::Editor)
        .await
        .unwrap();
    assert!(matches!(
        store
            .create_user("d", "a long enough password", Role::Daemon)
            .await,
        Err(StoreError::BadRequest(_))
    ));
    let names: Vec<String> = store
        .users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(names, ["admin", "erin"]);
    let cred = |kind, role, expires_at| NewCredential {
        kind,
        name: "erin".into(),
        role,
        network: None,
        user: Some(ed.id),
        expires_at,
    };
    // An admin token of an editor is an editor's; a session follows its user's role.
    let (_, tok) = store
        .create_credential(cred(CredentialKind::ApiToken, Role::Admin, None))
        .await
        .unwrap();
    let soon = Some(chrono::Utc::now() + chrono::Duration::hours(1));
    let (s1, sess1) = store
        .create_credential(cred(CredentialKind::Session, Role::Editor, soon))
        .await
        .unwrap();
    let (_, sess2) = store
        .create_credential(cred(CredentialKind::Session, Role::Editor, soon))
        .await
        .unwrap();
    let role = |kind, s: String| async move {
        store
            .verify_credential(kind, &s)
            .await
            .unwrap()
            .map(|c| c.role)
    };
    assert_eq!(
        role(CredentialKind::ApiToken, tok.clone()).await,
        Some(Role::Editor)
    );
    store
        .update_user(ed.id, Some(Role::Viewer), None)
        .await
        .unwrap();
    assert_eq!(
        role(CredentialKind::ApiToken, tok.clone()).await,
        Some(Role::Viewer)
    );
    assert_eq!(
        role(CredentialKind::Session, sess1.clone()).await,
        Some(Role::Viewer)
    );
    store
        .update_user(ed.id, Some(Role::Admin), None)
        .await
        .unwrap();
    assert_eq!(
        role(CredentialKind::Session, sess1.clone()).await,
        Some(Role::Admin)
    );
    assert_eq!(
        role(CredentialKind::ApiToken, tok.clone()).await,
        Some(Role::Admin),
        "the token was made admin; its user is one again"
    );
    store
        .update_user(ed.id, Some(Role::Editor), None)
        .await
        .unwrap();
    assert_eq!(
        store
            .user_credentials(ed.id, CredentialKind::Session)
            .await
            .unwrap()
            .len(),
        2
    );
    // A password change ends the user's other sessions.
    store
        .set_user_password(ed.id, "erin's newer password", Some(s1.id))
        .await
        .unwrap();
    assert!(role(CredentialKind::Session, sess1.clone()).await.is_some());
    assert!(role(CredentialKind::Session, sess2.clone()).await.is_none());
    assert!(
        store
            .verify_password("erin", "erin's long password")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .verify_password("erin", "erin's newer password")
            .await
            .unwrap()
            .is_some()
    );
    // Disabled: no sign-in, sessions ended, tokens refused; enabled again: the token works,
    // the ended sessions stay ended.
    let u = store.update_user(ed.id, None, Some(true)).await.unwrap();
    assert!(u.disabled_at.is_some());
    assert!(
        store
            .verify_password("erin", "erin's newer password")
            .await
            .unwrap()
            .is_none()
    );
    assert!(role(CredentialKind::Session, sess1.clone()).await.is_none());
    assert!(role(CredentialKind::ApiToken, tok.clone()).await.is_none());
    let u = store.update_user(ed.id, None, Some(false)).await.unwrap();
    assert!(u.disabled_at.is_none() && u.last_seen_at.is_some(), "{u:?}");
    assert_eq!(
        role(CredentialKind::ApiToken, tok.clone()).await,
        Some(Role::Editor)
    );
    assert!(role(CredentialKind::Session, sess1).await.is_none());
    // The last enabled admin stays one.
    for (r, d) in [(Some(Role::Viewer), None), (None, Some(true))] {
        assert!(matches!(
            store.update_user(admin.id, r, d).await,
            Err(StoreError::Conflict(_))
        ));
    }
    assert_eq!(store.user(admin.id).await.unwrap().role, Role::Admin);
    store
        .update_user(ed.id, Some(Role::Admin), None)
        .await
        .unwrap();
    store.update_user(admin.id, None, Some(true)).await.unwrap();
    assert!(matches!(
        store.update_user(ed.id, Some(Role::Editor), None).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.user(uuid::Uuid::new_v4()).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.set_user_password(ed.id, "short", None).await,
        Err(StoreError::BadRequest(_))
    ));
}

pub(crate) async fn an_address_answering_with_another_mac_is_an_event(store: &dyn Store) {
    let net = network(store).await;
    let r = run(store, net).await;
    let batch = |m: &'static str, at| vec![obs("10.0.0.5", at, mac(m))];
    store
        .apply_batch(r, Uuid::new_v4(), &batch("00:11:32:00:00:05", t(1)))
        .await
        .unwrap();
    let moved = |evs: Vec<scanopy_store::Event>| {
        evs.into_iter()
            .filter(|e| e.kind == "address_moved")
            .collect::<Vec<_>>()
    };
    assert!(moved(store.events(0, 1000).await.unwrap()).is_empty());
    // Seen again with its MAC: nothing moved.
    store
        .apply_batch(r, Uuid::new_v4(), &batch("00:11:32:00:00:05", t(2)))
        .await
        .unwrap();
    assert!(moved(store.events(0, 1000).await.unwrap()).is_empty());
    // Another MAC at the address: a new device, and one event naming the MAC before.
    let c = store
        .apply_batch(r, Uuid::new_v4(), &batch("02:00:5e:10:00:99", t(3)))
        .await
        .unwrap();
    assert_eq!(c.devices_new.len(), 1);
    let evs = moved(store.events(0, 1000).await.unwrap());
    assert_eq!(evs.len(), 1, "{evs:?}");
    assert_eq!(evs[0].device, Some(c.devices_new[0]));
    assert_eq!(evs[0].detail["ip"], "10.0.0.5");
    assert_eq!(evs[0].detail["mac"], "02:00:5e:10:00:99");
    assert_eq!(evs[0].detail["previous_mac"], "00:11:32:00:00:05");
    // The same again: no second event.
    store
        .apply_batch(r, Uuid::new_v4(), &batch("02:00:5e:10:00:99", t(4)))
        .await
        .unwrap();
    assert_eq!(moved(store.events(0, 1000).await.unwrap()).len(), 1);
    // Back to the first MAC: that one is known there, but the other was there last; the
    // first device's interface is not new, so nothing is said (a flip-flop is one event).
    store
        .apply_batch(r, Uuid::new_v4(), &batch("00:11:32:00:00:05", t(5)))
        .await
        .unwrap();
    assert_eq!(moved(store.events(0, 1000).await.unwrap()).len(), 1);
}

pub(crate) async fn the_map_as_it_was_at_a_time(store: &dyn Store) {
    let net = network(store).await;
    let r = run(store, net).await;
    let a_mac = "00:11:32:00:00:05";
    for (ip, m, at) in [
        ("10.0.0.5", a_mac, t(100)),
        ("10.0.0.6", "00:11:32:00:00:06", t(300)),
        ("10.0.0.7", a_mac, t(400)),
    ] {
        store
            .apply_batch(r, Uuid::new_v4(), &[obs(ip, at, mac(m))])
            .await
            .unwrap();
    }
    let ips_at = |at: Option<DateTime<Utc>>| async move {
        let ds = match at {
            Some(t) => store.map_devices_at(Some(net), t).await.unwrap(),
            None => store.map_devices(Some(net)).await.unwrap(),
        };
        let mut v: Vec<Vec<String>> = ds
            .iter()
            .map(|d| {
                d.device
                    .interfaces
                    .iter()
                    .map(|i| i.ip.to_string())
                    .collect()
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(ips_at(Some(t(50))).await, Vec::<Vec<String>>::new());
    assert_eq!(ips_at(Some(t(200))).await, [vec!["10.0.0.5"]]);
    assert_eq!(
        ips_at(Some(t(350))).await,
        [vec!["10.0.0.5"], vec!["10.0.0.6"]],
        "not yet its second address"
    );
    assert_eq!(
        ips_at(None).await,
        [vec!["10.0.0.5", "10.0.0.7"], vec!["10.0.0.6"]]
    );
    // Deleted now: gone from today's map, still on the map of before.
    let a = store.map_devices(Some(net)).await.unwrap();
    let a = a
        .iter()
        .find(|d| d.device.interfaces.len() == 2)
        .unwrap()
        .device
        .id;
    store.delete_device(a).await.unwrap();
    assert_eq!(ips_at(None).await, [vec!["10.0.0.6"]]);
    assert_eq!(
        ips_at(Some(t(350))).await,
        [vec!["10.0.0.5"], vec!["10.0.0.6"]]
    );
    assert_eq!(
        store.map_devices_at(None, t(350)).await.unwrap().len(),
        2,
        "every network"
    );
}

/// A rescan that sees every service of a device again records it on the device (schema 15);
/// the services still read as seen then, and one missing from a later run is still gone.
pub(crate) async fn services_seen_again_as_a_whole_stay_current_and_can_go(store: &dyn Store) {
    let net = network(store).await;
    let probe = || NewScanRun {
        network: net,
        daemon: None,
        config: ScanConfig {
            ports: "22,80".parse().unwrap(),
            scanners: vec!["tcp".into()],
            ..ScanConfig::default()
        },
        targets: vec!["10.0.0.0/24".parse().unwrap()],
    };
    let scan = |ports: &'static [u16]| async move {
        let r = store.start_scan(probe()).await.unwrap();
        let at = Utc::now();
        let obs: Vec<Observation> = ports
            .iter()
            .map(|p| obs("10.0.0.5", at, port(*p)))
            .collect();
        store.apply_batch(r.id, Uuid::new_v4(), &obs).await.unwrap();
        let c = store.finish_scan(r.id, RunStatus::Done).await.unwrap();
        (at, c)
    };
    let (t1, _) = scan(&[22, 80]).await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    // Both seen again, unchanged: their last sighting moves to this run's.
    let (t2, c) = scan(&[22, 80]).await;
    assert!(c.services_gone.is_empty(), "{c:?}");
    let d = all(store).await.remove(0);
    assert_eq!(d.device.services.len(), 2);
    for s in &d.device.services {
        assert!(s.last_seen >= t2 && s.last_seen > t1, "{s:?}");
        assert!(s.first_seen <= t1 + Duration::seconds(1), "{s:?}");
    }
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    // Then only 22: 80 is gone, though the device had confirmed it as a whole before.
    let (t3, c) = scan(&[22]).await;
    let gone: Vec<u16> = c.services_gone.iter().map(|(_, p, _)| *p).collect();
    assert_eq!(gone, [80]);
    let d = all(store).await.remove(0);
    assert_eq!(d.device.services.len(), 1);
    assert!(d.device.services[0].last_seen >= t3);
    // And again both: 80 is back (a new row); nothing gone.
    let (t4, c) = scan(&[22, 80]).await;
    assert!(c.services_gone.is_empty());
    let d = all(store).await.remove(0);
    assert_eq!(d.device.services.len(), 2);
    let eighty = d.device.services.iter().find(|s| s.port == 80).unwrap();
    assert!(eighty.first_seen >= t4 - Duration::seconds(1), "{eighty:?}");
}
