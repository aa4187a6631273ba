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
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_stores_on_one_database_lose_nothing() {
    use scanopy_store::{DeviceFilter, NewScanRun, Store};
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
        use scanopy_store::Store;
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
        matches!(err, scanopy_store::StoreError::Unavailable(_)),
        "{err}"
    );
    assert!(!err.to_string().contains("s3cret"), "{err}");
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
        use scanopy_store::Store;
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
