//! The same contract checked on every `Store` implementation, plus persistence of the SQLite file.

use super::*;
use p2p_sync_core::auth::LEGACY_ORIGIN;
use p2p_sync_core::store::{digest, MemoryStore};
use p2p_sync_core::testkit::write;
use p2p_sync_core::version::{Hlc, Version};

/// Applies one write; returns whether it superseded what was stored.
fn apply_one(store: &mut dyn Store, write: Write) -> Result<bool, StoreError> {
    Ok(store.apply(std::slice::from_ref(&write))?[0])
}

fn stores() -> Vec<(&'static str, Box<dyn Store>)> {
    vec![
        ("memory", Box::new(MemoryStore::new())),
        ("sqlite", Box::new(SqliteStore::open_in_memory().unwrap())),
    ]
}

#[test]
fn a_signature_is_kept_with_its_write() {
    let keys = p2p_sync_core::auth::NamedKeys::signing_key("n0");
    for (name, mut store) in stores() {
        let mut signed = write("k", Some("v"), 10, "n0");
        p2p_sync_core::auth::sign(&keys, &mut signed);
        store.apply(std::slice::from_ref(&signed)).unwrap();
        assert_eq!(store.get("k").unwrap(), Some(signed.clone()), "{name}");
        let unsigned = write("u", None, 10, "n0");
        store.apply(std::slice::from_ref(&unsigned)).unwrap();
        assert_eq!(store.get("u").unwrap(), Some(unsigned), "{name}");
    }
}

#[test]
fn a_lookup_by_id_loads_no_more_than_its_byte_budget() {
    let value = "v".repeat(1000);
    let writes: Vec<Write> = (0..10)
        .map(|i| write(&format!("k{i}"), Some(&value), 10, "a"))
        .collect();
    let ids: std::collections::HashSet<u64> = writes.iter().map(Write::id).collect();
    let size = p2p_sync_core::reconciliation::record_size(&writes[0]);
    for (name, mut store) in stores() {
        store.apply(&writes).unwrap();
        assert_eq!(
            store.writes_with_ids(&ids, 3 * size).unwrap().len(),
            3,
            "{name}"
        );
        assert_eq!(
            store.writes_with_ids(&ids, 1).unwrap().len(),
            1,
            "{name}: one always fits"
        );
        assert_eq!(
            store.writes_with_ids(&ids, usize::MAX).unwrap().len(),
            10,
            "{name}"
        );
    }
}

#[test]
fn newer_writes_apply_and_older_ones_are_ignored() {
    for (name, mut store) in stores() {
        assert!(
            apply_one(&mut *store, write("k", Some("v1"), 10, "a")).unwrap(),
            "{name}"
        );
        assert!(
            !apply_one(&mut *store, write("k", Some("old"), 5, "a")).unwrap(),
            "{name}"
        );
        assert!(
            apply_one(&mut *store, write("k", Some("v2"), 20, "a")).unwrap(),
            "{name}"
        );
        assert_eq!(
            store.get("k").unwrap().unwrap().value.as_deref(),
            Some("v2"),
            "{name}"
        );
    }
}

#[test]
fn applying_the_same_write_twice_changes_nothing() {
    for (name, mut store) in stores() {
        let w = write("k", Some("v"), 10, "a");
        assert!(apply_one(&mut *store, w.clone()).unwrap());
        let summary = store.summary();
        assert!(!apply_one(&mut *store, w).unwrap(), "{name}");
        assert_eq!(store.summary(), summary, "{name}");
    }
}

#[test]
fn a_tombstone_hides_the_key_and_blocks_older_puts() {
    for (name, mut store) in stores() {
        apply_one(&mut *store, write("k", Some("v"), 10, "a")).unwrap();
        apply_one(&mut *store, write("k", None, 20, "b")).unwrap();
        assert!(
            !apply_one(&mut *store, write("k", Some("late"), 15, "c")).unwrap(),
            "{name}"
        );
        assert_eq!(store.live().unwrap(), vec![], "{name}");
        assert!(store.get("k").unwrap().unwrap().is_delete(), "{name}");
        assert!(
            apply_one(&mut *store, write("k", Some("new"), 30, "c")).unwrap(),
            "{name}"
        );
        assert_eq!(
            store.live().unwrap(),
            vec![("k".into(), "new".into())],
            "{name}"
        );
    }
}

#[test]
fn list_is_sorted_and_the_summary_tracks_contents() {
    for (name, mut store) in stores() {
        let batch = [
            write("b", Some("2"), 1, "a"),
            write("a", Some("1"), 1, "a"),
            write("c", None, 1, "a"),
        ];
        assert_eq!(
            store.apply(&batch).unwrap(),
            vec![true, true, true],
            "{name}"
        );
        assert_eq!(
            store.live().unwrap(),
            vec![("a".into(), "1".into()), ("b".into(), "2".into())]
        );
        let summary = store.summary();
        assert_eq!((summary.count, summary.live), (3, 2));
        let expected = batch.iter().fold(0u64, |sum, w| sum.wrapping_add(w.id()));
        assert_eq!(summary.fingerprint, expected, "{name}");
        let mut keys = Vec::new();
        store.for_each(&mut |w| keys.push(w.key)).unwrap();
        assert_eq!(keys, ["a", "b", "c"], "{name}");
    }
}

#[test]
fn both_stores_give_the_same_digest_for_the_same_writes() {
    let digests: Vec<u64> = stores()
        .into_iter()
        .map(|(_, mut store)| {
            store
                .apply(&[write("x", Some("1"), 3, "a"), write("y", None, 4, "b")])
                .unwrap();
            digest(&*store).unwrap()
        })
        .collect();
    assert_eq!(digests[0], digests[1]);
}

#[test]
fn a_sqlite_file_keeps_every_acknowledged_write_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let writes: Vec<Write> = (0..500)
        .map(|i| write(&format!("key-{i:03}"), Some("v"), i, "a"))
        .collect();
    {
        let mut store = SqliteStore::open(&path).unwrap();
        for w in &writes[..250] {
            apply_one(&mut store, w.clone()).unwrap();
        }
        store.apply(&writes[250..]).unwrap();
        apply_one(&mut store, write("key-000", None, 1000, "b")).unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.live().unwrap().len(), 499);
    assert!(store.get("key-000").unwrap().unwrap().is_delete());
    assert_eq!((store.summary().count, store.summary().live), (500, 499));
    let mut reopened_store = SqliteStore::open(&path).unwrap();
    assert!(!apply_one(&mut reopened_store, write("key-001", Some("older"), 0, "a")).unwrap());
}

#[test]
fn the_sqlite_table_keeps_the_legacy_columns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let mut store = SqliteStore::open(&path).unwrap();
    apply_one(
        &mut store,
        write("hello", Some("world"), 1_736_000_000_000, "a"),
    )
    .unwrap();
    apply_one(&mut store, write("gone", None, 1_736_000_000_000, "a")).unwrap();
    drop(store);
    let connection = rusqlite::Connection::open(&path).unwrap();
    let (value, timestamp): (String, String) = connection
        .query_row(
            "SELECT value, timestamp FROM kv_store WHERE key = 'hello' AND deleted_at IS NULL",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (value.as_str(), timestamp.as_str()),
        ("world", "2025-01-04T14:13:20Z")
    );
    let deleted_at: String = connection
        .query_row(
            "SELECT deleted_at FROM kv_store WHERE key = 'gone'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(deleted_at, "2025-01-04T14:13:20Z");
}

fn random_writes() -> impl proptest::strategy::Strategy<Value = Vec<Write>> {
    use proptest::prelude::*;
    prop::collection::vec(
        (0..4u8, prop::option::of(0..3u8), 0..5u64, 0..2u32, 0..3u8),
        0..30,
    )
    .prop_map(|items| {
        items
            .into_iter()
            .map(|(key, value, wall_ms, counter, origin)| Write {
                key: format!("k{key}"),
                value: value.map(|v| format!("v{v}")),
                version: Version {
                    hlc: Hlc { wall_ms, counter },
                    origin: format!("n{origin}"),
                },
                signature: None,
            })
            .collect()
    })
}

proptest::proptest! {
    /// Whatever the order: each key ends with its greatest write, a second pass changes nothing,
    /// and a tombstone is never undone by an older put.
    #[test]
    fn every_store_keeps_the_greatest_write_per_key(writes in random_writes()) {
        for (name, mut store) in stores() {
            store.apply(&writes).unwrap();
            let before = digest(&*store).unwrap();
            let reapplied = store.apply(&writes).unwrap();
            proptest::prop_assert!(reapplied.iter().all(|applied| !applied), "{}", name);
            proptest::prop_assert_eq!(digest(&*store).unwrap(), before);
            let mut fresh = p2p_sync_core::store::Tally::default();
            store.for_each(&mut |write| fresh.replace(None, &write)).unwrap();
            proptest::prop_assert_eq!(store.tally(), &fresh, "{}: the tally follows every replace", name);
            let ids: std::collections::HashSet<u64> = writes.iter().map(Write::id).collect();
            let mut found: Vec<u64> = store.writes_with_ids(&ids, usize::MAX).unwrap().iter().map(Write::id).collect();
            let mut held = Vec::new();
            store.for_each(&mut |write| if ids.contains(&write.id()) { held.push(write.id()) }).unwrap();
            found.sort();
            held.sort();
            proptest::prop_assert_eq!(found, held, "{}: lookup by id finds exactly the held ones", name);
            for write in &writes {
                let stored = store.get(&write.key).unwrap().unwrap();
                proptest::prop_assert!(stored == *write || stored.supersedes(write), "{}: {:?} kept over {:?}", name, stored, write);
                if stored.is_delete() {
                    proptest::prop_assert!(!store.live().unwrap().iter().any(|(key, _)| *key == write.key));
                }
            }
        }
    }
}

#[test]
fn a_database_of_the_original_app_is_upgraded_with_every_item_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("legacy.db");
    {
        let connection = rusqlite::Connection::open(&path).unwrap();
        connection
            .execute_batch(
                "CREATE TABLE kv_store (key TEXT PRIMARY KEY, value TEXT NOT NULL, timestamp TEXT NOT NULL, deleted_at TEXT);
                 INSERT INTO kv_store VALUES ('hello', 'world', '2025-01-04T08:30:15Z', NULL);
                 INSERT INTO kv_store VALUES ('gone', '', '2025-01-04T08:31:00+00:00', '2025-01-04T08:32:00Z');",
            )
            .unwrap();
    }
    let mut store = SqliteStore::open(&path).unwrap();
    assert_eq!(
        store.live().unwrap(),
        vec![("hello".into(), "world".into())]
    );
    let hello = store.get("hello").unwrap().unwrap();
    assert_eq!(
        hello.version.hlc.wall_ms,
        p2p_sync_core::wire::parse_timestamp("2025-01-04T08:30:15Z").unwrap()
    );
    assert_eq!(hello.version.origin, LEGACY_ORIGIN);
    assert!(store.get("gone").unwrap().unwrap().is_delete());
    assert!(!apply_one(&mut store, write("hello", Some("older"), 1, "a")).unwrap());
    assert!(apply_one(
        &mut store,
        write("hello", Some("newer"), 1_800_000_000_000, "a")
    )
    .unwrap());
    drop(store);
    assert_eq!(
        SqliteStore::open(&path).unwrap().summary().count,
        2,
        "reopening migrates nothing twice"
    );
}

#[test]
fn a_database_without_write_ids_is_indexed_when_it_opens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("older.db");
    let kept = write("k", Some("v"), 10, "a");
    {
        let mut store = SqliteStore::open(&path).unwrap();
        apply_one(&mut store, kept.clone()).unwrap();
        store
            .connection
            .execute_batch(
                "DROP INDEX kv_store_write_id; ALTER TABLE kv_store DROP COLUMN write_id;",
            )
            .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    let ids = std::collections::HashSet::from([kept.id()]);
    assert_eq!(store.writes_with_ids(&ids, usize::MAX).unwrap(), vec![kept]);
    let mut fresh = p2p_sync_core::store::Tally::default();
    store
        .for_each(&mut |write| fresh.replace(None, &write))
        .unwrap();
    assert_eq!(store.tally(), &fresh);
}

#[test]
fn a_live_page_keeps_to_its_prefix_starts_after_its_cursor_and_skips_tombstones() {
    let mut store = SqliteStore::open_in_memory().unwrap();
    let keys = ["a", "p/1", "p/2", "p/3", "p/4", "p0", "q"];
    let writes: Vec<Write> = keys
        .iter()
        .map(|key| write(key, Some("v"), 10, "n0"))
        .collect();
    store.apply(&writes).unwrap();
    store.apply(&[write("p/3", None, 20, "n0")]).unwrap();
    let page = |prefix: &str, after: &str, limit: usize| -> Vec<String> {
        let page = store.live_page(prefix, after, limit).unwrap();
        page.into_iter().map(|write| write.key).collect()
    };
    assert_eq!(page("p/", "", 2), ["p/1", "p/2"]);
    assert_eq!(
        page("p/", "p/2", 2),
        ["p/4"],
        "the tombstone of p/3 is skipped"
    );
    assert_eq!(page("p/", "p/4", 10), Vec::<String>::new());
    assert_eq!(page("", "p0", 10), ["q"]);
    assert_eq!(page("", "", 100).len(), 6);
}
