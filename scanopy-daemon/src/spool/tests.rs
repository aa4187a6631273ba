use super::*;
use scanopy_core::protocol::{JobOutcome, ProgressSnapshot};

fn batch(n: usize) -> Entry {
    Entry::Results {
        job: Uuid::nil(),
        batch: ResultsBatch {
            batch_id: Uuid::new_v4(),
            observations: (0..n)
                .map(|i| {
                    scanopy_core::Observation::now(
                        std::net::IpAddr::from([127, 0, 0, 1]),
                        "tcp",
                        scanopy_core::Fact::Alive {
                            method: format!("test-{i}"),
                            rtt_us: None,
                        },
                    )
                })
                .collect(),
        },
    }
}

fn finish() -> Entry {
    Entry::Finish {
        job: Uuid::nil(),
        finish: FinishRequest {
            outcome: JobOutcome::Done,
            error: None,
            warnings: Vec::new(),
            progress: ProgressSnapshot::default(),
        },
    }
}

#[test]
fn entries_come_back_in_the_order_they_went_in() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path(), u64::MAX).unwrap();
    let entries: Vec<Entry> = (1..=12).map(batch).chain([finish()]).collect();
    for e in &entries {
        spool.append(e).unwrap();
    }
    assert_eq!(spool.len(), entries.len());
    let mut out = Vec::new();
    while let Some((seq, e)) = spool.oldest() {
        out.push(e);
        spool.remove(seq);
    }
    assert_eq!(out, entries);
    assert!(spool.is_empty());
    assert_eq!(spool.bytes(), 0);
}

#[test]
fn a_restart_finds_what_was_left_in_order_and_numbers_on() {
    let dir = tempfile::tempdir().unwrap();
    let first: Vec<Entry> = (1..=5).map(batch).collect();
    {
        let spool = Spool::open(dir.path(), u64::MAX).unwrap();
        for e in &first {
            spool.append(e).unwrap();
        }
        // The first one was acknowledged before the "crash".
        let (seq, _) = spool.oldest().unwrap();
        spool.remove(seq);
    }
    let spool = Spool::open(dir.path(), u64::MAX).unwrap();
    assert_eq!(spool.len(), 4);
    let later = finish();
    let seq = spool.append(&later).unwrap();
    assert_eq!(seq, 6, "numbering goes on after the last entry left");
    let mut out = Vec::new();
    while let Some((seq, e)) = spool.oldest() {
        out.push(e);
        spool.remove(seq);
    }
    let mut expected = first[1..].to_vec();
    expected.push(later);
    assert_eq!(out, expected);
}

#[test]
fn a_full_spool_refuses_results_but_takes_the_end_of_a_job() {
    let dir = tempfile::tempdir().unwrap();
    let one = serde_json::to_vec(&batch(3)).unwrap().len() as u64;
    let spool = Spool::open(dir.path(), one * 2 + one / 2).unwrap();
    spool.append(&batch(3)).unwrap();
    spool.append(&batch(3)).unwrap();
    match spool.append(&batch(3)) {
        Err(SpoolError::Full {
            entries, max_bytes, ..
        }) => {
            assert_eq!(entries, 2);
            assert_eq!(max_bytes, one * 2 + one / 2);
        }
        other => panic!("expected a full spool, got {other:?}"),
    }
    let msg = spool.append(&batch(3)).unwrap_err().to_string();
    assert!(msg.contains("spool is full"), "{msg}");
    spool.append(&finish()).unwrap();
    assert_eq!(spool.len(), 3, "nothing was dropped, the end was kept");
    // Once the server took one, there is room again.
    let (seq, _) = spool.oldest().unwrap();
    spool.remove(seq);
    spool.append(&batch(3)).unwrap();
}

#[test]
fn a_torn_temporary_file_is_ignored_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    {
        let spool = Spool::open(dir.path(), u64::MAX).unwrap();
        spool.append(&batch(1)).unwrap();
    }
    // A crash between create and rename leaves half an entry behind.
    std::fs::write(
        dir.path().join(format!("{:020}.tmp", 2)),
        b"{\"kind\":\"results\",\"jo",
    )
    .unwrap();
    let spool = Spool::open(dir.path(), u64::MAX).unwrap();
    assert_eq!(spool.len(), 1);
    assert!(!dir.path().join(format!("{:020}.tmp", 2)).exists());
    assert_eq!(spool.append(&finish()).unwrap(), 2);
    let (seq, e) = spool.oldest().unwrap();
    assert!(matches!(e, Entry::Results { .. }));
    spool.remove(seq);
    assert!(matches!(spool.oldest(), Some((2, Entry::Finish { .. }))));
}

#[test]
fn a_damaged_entry_is_set_aside_not_lost_and_does_not_block_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path(), u64::MAX).unwrap();
    let s1 = spool.append(&batch(1)).unwrap();
    spool.append(&finish()).unwrap();
    std::fs::write(dir.path().join(entry_name(s1)), b"not json").unwrap();
    assert!(matches!(spool.oldest(), Some((_, Entry::Finish { .. }))));
    assert!(dir.path().join(format!("damaged-{s1:020}.json")).exists());
}

#[tokio::test]
async fn appending_wakes_a_waiting_sender() {
    let dir = tempfile::tempdir().unwrap();
    let spool = std::sync::Arc::new(Spool::open(dir.path(), u64::MAX).unwrap());
    let waiter = {
        let spool = std::sync::Arc::clone(&spool);
        tokio::spawn(async move {
            spool.appended().await;
            spool.len()
        })
    };
    tokio::task::yield_now().await;
    spool.append_async(batch(1)).await.unwrap();
    assert_eq!(waiter.await.unwrap(), 1);
}

#[test]
fn the_spool_folder_is_0700_its_entries_0600_and_looser_ones_are_tightened() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    let dir = data.join("spool");
    let spool = Spool::open(&dir, u64::MAX).unwrap();
    assert_eq!(mode(&data), 0o700, "the data directory made on the way");
    assert_eq!(mode(&dir), 0o700);
    let seq = spool.append(&batch(3)).unwrap();
    let entry = dir.join(entry_name(seq));
    assert_eq!(mode(&entry), 0o600);
    drop(spool);
    // A spool left by an older daemon (0755, 0644) is tightened at open.
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(&entry, fs::Permissions::from_mode(0o644)).unwrap();
    let spool = Spool::open(&dir, u64::MAX).unwrap();
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&entry), 0o600);
    assert_eq!(spool.len(), 1, "nothing lost");
}
