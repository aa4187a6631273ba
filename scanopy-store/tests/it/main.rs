//! The store's conformance suite, written against the `Store` trait so that every backend runs
//! the same checks. SQLite runs here; PostgreSQL will run the same functions.

mod conformance;

use scanopy_store::{SqlStore, SqliteStore};

async fn sqlite() -> SqliteStore {
    SqliteStore::in_memory().await.expect("an in-memory store")
}

/// A fresh database on the PostgreSQL server in `SCANOPY_PG_URL` (CI starts one with
/// `testlan/postgres.sh up`), or `None` with a message when there is none and nobody promised
/// one (`SCANOPY_PG=1` makes a missing server fail the test).
async fn postgres(test: &str) -> Option<SqlStore> {
    postgres_url(test).await.map(|(s, _)| s)
}

async fn postgres_url(test: &str) -> Option<(SqlStore, String)> {
    let Ok(admin_url) = std::env::var("SCANOPY_PG_URL") else {
        assert!(
            std::env::var("SCANOPY_PG").map_or(true, |v| v != "1"),
            "{test}: SCANOPY_PG=1 but SCANOPY_PG_URL is not set (run `sudo testlan/postgres.sh up`)"
        );
        eprintln!(
            "SKIPPED {test} on PostgreSQL: set SCANOPY_PG_URL (sudo testlan/postgres.sh up; testlan/postgres.sh url)"
        );
        return None;
    };
    sqlx::any::install_default_drivers();
    let admin = sqlx::AnyPool::connect(&admin_url)
        .await
        .expect("the PostgreSQL server in SCANOPY_PG_URL answers");
    let db = format!("scanopy_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::raw_sql(&format!("CREATE DATABASE {db}"))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let base = admin_url
        .rsplit_once('/')
        .map(|(b, _)| b)
        .unwrap_or(&admin_url);
    let url = format!("{base}/{db}");
    let store = SqlStore::connect_postgres(&url)
        .await
        .expect("a store on the test database");
    Some((store, url))
}

macro_rules! on_postgres {
    ($($name:ident),* $(,)?) => {
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(store) = super::postgres(stringify!($name)).await {
                        super::conformance::$name(&store).await;
                    }
                }
            )*
        }
    };
}

on_postgres!(
    the_os_is_kept_and_only_stronger_evidence_replaces_it,
    renewals_without_progress_end_a_stalled_run,
    merge_rules_follow_the_core,
    a_batch_applied_twice_changes_nothing,
    devices_missed_by_scans_go_offline_not_away,
    deleted_devices_stay_deleted_unless_seen_again,
    user_edits_survive_scans,
    events_come_in_order_and_resume_from_a_cursor,
    pagination_visits_every_device_once,
    filters_narrow_the_list,
    concurrent_writers_lose_nothing,
    services_keep_their_best_identification,
    sightings_move_last_seen_on,
    job_claims_are_exclusive_under_contention,
    expired_leases_return_jobs_and_cancel_reaches_daemons,
    credentials_verify_expire_and_revoke,
    users_roles_disable_and_caps,
    an_address_answering_with_another_mac_is_an_event,
    the_map_as_it_was_at_a_time,
    services_seen_again_as_a_whole_stay_current_and_can_go,
    due_schedules_are_taken_once,
    an_address_gains_its_mac_without_a_duplicate,
    services_not_found_again_are_gone,
    job_results_come_only_from_the_lease_holder_while_running,
    job_results_keep_to_the_targets_and_the_window,
    job_results_over_a_cap_end_the_run_failed,
    a_refused_batch_makes_a_run_fail_not_miss,
    a_daemon_clock_behind_marks_nothing_missed,
    devices_seen_counts_distinct_devices,
    push_urls_are_approved_not_announced,
    local_daemons_are_one_per_instance,
    webhook_deliveries_are_claimed_once,
    listen_runs_mark_nothing_missed_and_are_never_claimed,
    a_device_heard_before_it_had_an_address_keeps_its_id,
    alert_rules_claim_each_event_once_and_keep_what_they_sent,
    the_audit_trail_is_read_newest_first_in_pages,
    a_switch_link_layer_is_kept_newest_first,
    snmp_credentials_are_kept_in_order_per_network,
    a_network_is_renamed_and_its_subnets_changed,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_stores_on_one_database_lose_nothing() {
    use scanopy_store::prelude::*;
    use scanopy_store::{DeviceFilter, NewScanRun};
    let Some((first, url)) = postgres_url("postgres_two_stores_on_one_database_lose_nothing").await
    else {
        return;
    };
    // A second store on the same database, as a second server would be.
    let second = SqlStore::connect_postgres(&url).await.unwrap();
    let net = first
        .create_network("shared", &["10.3.0.0/16".parse().unwrap()])
        .await
        .unwrap()
        .id;
    let run = second
        .start_scan(NewScanRun {
            network: net,
            daemon: None,
            config: Default::default(),
            targets: vec![],
        })
        .await
        .unwrap()
        .id;
    async fn writer(store: &SqlStore, run: uuid::Uuid, third: u8) {
        use scanopy_store::prelude::*;
        for i in 0..30u8 {
            // Both stores also see one shared MAC, at the same time.
            let o = [
                obs(&format!("10.3.{third}.{}", i + 1), "port"),
                obs("10.3.9.9", "mac"),
            ];
            store
                .apply_batch(run, uuid::Uuid::new_v4(), &o)
                .await
                .unwrap();
        }
    }
    tokio::join!(writer(&first, run, 1), writer(&second, run, 2));
    let devices = first
        .devices(&DeviceFilter::default(), 1000, None)
        .await
        .unwrap()
        .items;
    assert_eq!(devices.len(), 61, "60 hosts and one shared MAC, each once");
}

fn obs(ip: &str, what: &str) -> scanopy_core::Observation {
    use scanopy_core::{Fact, PortFact, PortState, Transport};
    let fact = match what {
        "mac" => Fact::Mac {
            mac: "00:11:32:09:09:09".parse().unwrap(),
        },
        _ => Fact::Port(PortFact::state(80, Transport::Tcp, PortState::Open)),
    };
    scanopy_core::Observation {
        ip: ip.parse().unwrap(),
        scanner: "t".into(),
        at: chrono::Utc::now(),
        fact,
    }
}

#[tokio::test]
async fn postgres_unreachable_is_unavailable_and_the_url_stays_secret() {
    let err = SqlStore::connect_postgres("postgres://scanopy:s3cret@127.0.0.1:1/nothing")
        .await
        .unwrap_err();
    assert!(
        matches!(err, scanopy_store::StoreError::Unavailable { .. }),
        "{err}"
    );
    assert!(!err.to_string().contains("s3cret"), "{err}");
}

/// A driver error is kept as the cause (for the log), outside the message (for the client),
/// and neither holds the URL's password.
#[tokio::test]
async fn a_store_error_keeps_its_cause_outside_its_message() {
    let err = SqlStore::connect_postgres("postgres://scanopy:s3cret@127.0.0.1:1/nothing")
        .await
        .unwrap_err();
    let cause = err.causes();
    assert!(std::error::Error::source(&err).is_some(), "{err}");
    assert!(
        !cause.is_empty() && !err.to_string().contains(&cause),
        "{err} / {cause}"
    );
    assert!(!cause.contains("s3cret"), "{cause}");
}

macro_rules! on_sqlite {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                conformance::$name(&sqlite().await).await;
            }
        )*
    };
}

on_sqlite!(
    the_os_is_kept_and_only_stronger_evidence_replaces_it,
    renewals_without_progress_end_a_stalled_run,
    merge_rules_follow_the_core,
    a_batch_applied_twice_changes_nothing,
    devices_missed_by_scans_go_offline_not_away,
    deleted_devices_stay_deleted_unless_seen_again,
    user_edits_survive_scans,
    events_come_in_order_and_resume_from_a_cursor,
    pagination_visits_every_device_once,
    filters_narrow_the_list,
    concurrent_writers_lose_nothing,
    services_keep_their_best_identification,
    sightings_move_last_seen_on,
    job_claims_are_exclusive_under_contention,
    expired_leases_return_jobs_and_cancel_reaches_daemons,
    credentials_verify_expire_and_revoke,
    users_roles_disable_and_caps,
    an_address_answering_with_another_mac_is_an_event,
    the_map_as_it_was_at_a_time,
    services_seen_again_as_a_whole_stay_current_and_can_go,
    due_schedules_are_taken_once,
    an_address_gains_its_mac_without_a_duplicate,
    services_not_found_again_are_gone,
    job_results_come_only_from_the_lease_holder_while_running,
    job_results_keep_to_the_targets_and_the_window,
    job_results_over_a_cap_end_the_run_failed,
    a_refused_batch_makes_a_run_fail_not_miss,
    a_daemon_clock_behind_marks_nothing_missed,
    devices_seen_counts_distinct_devices,
    push_urls_are_approved_not_announced,
    local_daemons_are_one_per_instance,
    webhook_deliveries_are_claimed_once,
    listen_runs_mark_nothing_missed_and_are_never_claimed,
    a_device_heard_before_it_had_an_address_keeps_its_id,
    alert_rules_claim_each_event_once_and_keep_what_they_sent,
    the_audit_trail_is_read_newest_first_in_pages,
    a_switch_link_layer_is_kept_newest_first,
    snmp_credentials_are_kept_in_order_per_network,
    a_network_is_renamed_and_its_subnets_changed,
);

#[tokio::test]
async fn sqlite_migrations_from_empty_and_a_newer_database_is_refused() {
    let dir = std::env::temp_dir().join(format!("scanopy-store-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("scanopy.db");
    {
        let s = SqliteStore::open(&path).await.unwrap();
        assert_eq!(
            s.schema_version().await.unwrap(),
            SqliteStore::supported_version()
        );
        conformance::merge_rules_follow_the_core(&s).await;
    }
    {
        // Reopening keeps the data and the version.
        let s = SqliteStore::open(&path).await.unwrap();
        use scanopy_store::prelude::*;
        assert_eq!(s.networks().await.unwrap().len(), 1);
    }
    {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        sqlx::raw_sql("INSERT INTO schema_version (version) VALUES (99)")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }
    let err = SqliteStore::open(&path).await.unwrap_err();
    assert!(err.to_string().contains("newer"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_servers_never_hand_one_job_to_two_daemons() {
    let Some((first, url)) =
        postgres_url("postgres_two_servers_never_hand_one_job_to_two_daemons").await
    else {
        return;
    };
    let second = SqlStore::connect_postgres(&url).await.unwrap();
    conformance::claims_across_two_stores(&first, &second).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_servers_claim_each_webhook_delivery_once() {
    use scanopy_store::prelude::*;
    let Some((first, url)) =
        postgres_url("postgres_two_servers_claim_each_webhook_delivery_once").await
    else {
        return;
    };
    let second = SqlStore::connect_postgres(&url).await.unwrap();
    let hook = first
        .create_webhook("http://127.0.0.1:9/h", "0123456789abcdef")
        .await
        .unwrap();
    conformance::claims_race(&first, &second, hook.id).await;
}

/// Upgrades from every earlier schema: a database at each older version, with data, opens,
/// reaches the current version and keeps its data.
#[tokio::test]
async fn sqlite_upgrades_from_every_earlier_schema() {
    for from in 1..SqliteStore::supported_version() {
        let dir = std::env::temp_dir().join(format!("scanopy-upgrade-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("scanopy.db");
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&format!("sqlite://{}?mode=rwc", path.display()))
            .await
            .unwrap();
        seed_old_schema(&pool, from, SQLITE_OLD).await;
        pool.close().await;
        let s = SqliteStore::open(&path).await.unwrap();
        check_upgraded(&s).await;
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[tokio::test]
async fn postgres_upgrades_from_every_earlier_schema() {
    for from in 1..SqlStore::supported_version() {
        let Some((fresh, url)) = postgres_url("postgres_upgrades_from_every_earlier_schema").await
        else {
            return;
        };
        // Start over in an empty database at the old version.
        drop(fresh);
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        sqlx::raw_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
            .execute(&pool)
            .await
            .unwrap();
        seed_old_schema(&pool, from, POSTGRES_OLD).await;
        pool.close().await;
        let s = SqlStore::connect_postgres(&url).await.unwrap();
        check_upgraded(&s).await;
    }
}

const SQLITE_OLD: &[&str] = &[
    include_str!("../../migrations/sqlite/0001_initial.sql"),
    include_str!("../../migrations/sqlite/0002_jobs_accounts.sql"),
];
const POSTGRES_OLD: &[&str] = &[
    include_str!("../../migrations/postgres/0001_initial.sql"),
    include_str!("../../migrations/postgres/0002_jobs_accounts.sql"),
];

/// Applies the first `version` migrations by hand and stores a network, a scan run and a device
/// the way that schema's program did.
async fn seed_old_schema(pool: &sqlx::AnyPool, version: i64, migrations: &[&str]) {
    sqlx::raw_sql("CREATE TABLE schema_version (version BIGINT NOT NULL)")
        .execute(pool)
        .await
        .unwrap();
    for (i, m) in migrations.iter().take(version as usize).enumerate() {
        sqlx::raw_sql(m).execute(pool).await.unwrap();
        sqlx::raw_sql(&format!(
            "INSERT INTO schema_version (version) VALUES ({})",
            i + 1
        ))
        .execute(pool)
        .await
        .unwrap();
    }
    let now = "2026-01-02T03:04:05.000000000Z";
    sqlx::raw_sql(&format!(
        "INSERT INTO networks (id, name, subnets, created_at) VALUES ('{NET}', 'old', '[\"10.0.0.0/24\"]', '{now}');\
         INSERT INTO scan_runs (id, network_id, daemon_id, config, targets, started_at, finished_at, status, devices_seen) \
           VALUES ('{RUN}', '{NET}', NULL, '{{}}', '[\"10.0.0.0/24\"]', '{now}', '{now}', 'done', 1);\
         INSERT INTO devices (id, network_id, device_type, first_seen, last_seen, sources, user_name) \
           VALUES ('{DEV}', '{NET}', 'server', '{now}', '{now}', '[\"arp\"]', 'kept');\
         INSERT INTO interfaces (device_id, network_id, ip, mac, subnet, first_seen, last_seen) \
           VALUES ('{DEV}', '{NET}', '10.0.0.5', '00:11:32:00:00:05', '10.0.0.0/24', '{now}', '{now}');"
    ))
    .execute(pool)
    .await
    .unwrap();
    if version >= 2 {
        // What schema 2's program wrote: the run's queue time, and a push daemon trusted at
        // the URL it announced.
        sqlx::raw_sql(&format!(
            "UPDATE scan_runs SET created_at = started_at WHERE created_at IS NULL;\
             INSERT INTO daemons (id, network_id, key_id, name, mode, url, capabilities, local, created_at, last_seen) \
               VALUES ('{DMN}', '{NET}', NULL, 'old local', 'push', 'http://10.0.0.9:60073', '{{}}', 1, '{now}', '{now}');\
             INSERT INTO users (id, username, password_hash, role, created_at) \
               VALUES ('{USR}', 'reader', 'not a hash', 'read', '{now}');\
             INSERT INTO credentials (id, kind, name, hash, role, user_id, created_at) \
               VALUES ('{USR_TOKEN}', 'api_token', 'grafana', '{}', 'read', '{USR}', '{now}');",
            old_token_digest()
        ))
        .execute(pool)
        .await
        .unwrap();
    }
}

const DMN: &str = "6d1e2b6e-0000-4000-8000-000000000004";
const USR: &str = "6d1e2b6e-0000-4000-8000-000000000005";
const USR_TOKEN: &str = "6d1e2b6e-0000-4000-8000-000000000006";
/// A token schema 2's program made for a `read` user.
const OLD_TOKEN: &str = "st_an-old-read-token-from-schema-two";

fn old_token_digest() -> String {
    use sha2::Digest;
    sha2::Sha256::digest(OLD_TOKEN.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
const NET: &str = "6d1e2b6e-0000-4000-8000-000000000001";
const RUN: &str = "6d1e2b6e-0000-4000-8000-000000000002";
const DEV: &str = "6d1e2b6e-0000-4000-8000-000000000003";

async fn check_upgraded(s: &SqlStore) {
    use scanopy_store::prelude::*;
    use scanopy_store::{DeviceFilter, RunStatus};
    assert_eq!(
        s.schema_version().await.unwrap(),
        SqlStore::supported_version()
    );
    let run = s.scan_run(NET_RUN()).await.unwrap().expect("the old run");
    assert_eq!(run.status, RunStatus::Done);
    assert_eq!(run.created_at, run.started_at, "created_at filled in");
    let d = s
        .devices(&DeviceFilter::default(), 10, None)
        .await
        .unwrap()
        .items;
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].user_name.as_deref(), Some("kept"));
    // The new tables work on the upgraded database.
    let net: uuid::Uuid = NET.parse().unwrap();
    let job = s
        .enqueue_scan(scanopy_store::NewScanRun {
            network: net,
            daemon: None,
            config: Default::default(),
            targets: vec![],
        })
        .await
        .unwrap();
    assert_eq!(job.status, RunStatus::Queued);
    // A `read` user and its token from before the three roles are a viewer's.
    let users = s.users().await.unwrap();
    if let Some(u) = users.iter().find(|u| u.username == "reader") {
        assert_eq!(u.role, scanopy_store::Role::Viewer);
        assert!(u.disabled_at.is_none());
        let t = s
            .verify_credential(scanopy_store::CredentialKind::ApiToken, OLD_TOKEN)
            .await
            .unwrap()
            .expect("the old token still works");
        assert_eq!(t.role, scanopy_store::Role::Viewer);
    }
    // A daemon from before approvals keeps what it announced, approved by nobody.
    for d in s.daemons().await.unwrap() {
        assert_eq!(d.announced_url.as_deref(), Some("http://10.0.0.9:60073"));
        assert_eq!(d.approved_url, None, "an upgrade approves nothing");
        assert_eq!(d.instance, None);
    }
}

#[allow(non_snake_case)]
fn NET_RUN() -> uuid::Uuid {
    RUN.parse().unwrap()
}

/// No secret reaches the database file: not a password, a token, a key or a session.
#[tokio::test]
async fn sqlite_keeps_secrets_only_as_hashes() {
    use scanopy_store::prelude::*;
    use scanopy_store::{CredentialKind, NewCredential, Role};
    let dir = std::env::temp_dir().join(format!("scanopy-secrets-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("scanopy.db");
    let s = SqliteStore::open(&path).await.unwrap();
    let password = "a very particular password 7d1f";
    s.create_user("admin", password, Role::Admin).await.unwrap();
    let net = s.create_network("n", &[]).await.unwrap().id;
    let mut secrets = vec![password.to_owned()];
    for (kind, network) in [
        (CredentialKind::ApiToken, None),
        (CredentialKind::Session, None),
        (CredentialKind::DaemonKey, Some(net)),
    ] {
        let (_, secret) = s
            .create_credential(NewCredential {
                kind,
                name: "x".into(),
                role: Role::Admin,
                network,
                user: None,
                expires_at: None,
            })
            .await
            .unwrap();
        secrets.push(secret);
    }
    drop(s);
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    for secret in &secrets {
        let needle = &secret.as_bytes()[secret.len() - 20..];
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "a secret was found in the database files"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Webhook claims older than a day are pruned as deliveries go on: the table does not grow
/// with every event forever, and a fresh claim is kept.
#[tokio::test]
async fn sqlite_prunes_old_webhook_claims() {
    use scanopy_store::prelude::*;
    let dir = std::env::temp_dir().join(format!("scanopy-claims-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("scanopy.db");
    let s = SqliteStore::open(&path).await.unwrap();
    let hook = s
        .create_webhook("http://127.0.0.1:9/h", "secret")
        .await
        .unwrap();
    assert!(s.claim_delivery(hook.id, 1, "a").await.unwrap());
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let count = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM webhook_claims")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    sqlx::raw_sql(&format!(
        "INSERT INTO webhook_claims (webhook_id, event_seq, claimed_by, claimed_at) \
         VALUES ('{}', 0, 'a', '2020-01-01T00:00:00.000000000Z')",
        hook.id
    ))
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(count().await, 2);
    assert!(s.claim_delivery(hook.id, 256, "a").await.unwrap());
    assert_eq!(
        count().await,
        2,
        "the old claim is gone, the two fresh ones stay"
    );
    let seqs: Vec<i64> =
        sqlx::query_scalar("SELECT event_seq FROM webhook_claims ORDER BY event_seq")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(seqs, vec![1, 256]);
    pool.close().await;
    std::fs::remove_dir_all(&dir).unwrap();
}
