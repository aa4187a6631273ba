//! The store's conformance suite, written against the `Store` trait so that every backend runs
//! the same checks. SQLite runs here; PostgreSQL will run the same functions.

mod conformance;

use scanopy_store::SqliteStore;

async fn sqlite() -> SqliteStore {
    SqliteStore::in_memory().await.expect("an in-memory store")
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
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        sqlx::raw_sql("PRAGMA user_version = 99")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }
    let err = SqliteStore::open(&path).await.unwrap_err();
    assert!(err.to_string().contains("newer"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
