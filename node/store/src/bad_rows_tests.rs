//! A database with rows that cannot be read back as writes (edited by hand, or by another
//! program) still opens: each bad row is reported with its key and skipped until a write for
//! its key replaces it.

use super::SqliteStore;
use p2p_sync_core::store::{Store, StoreError};
use p2p_sync_core::testkit;
use p2p_sync_core::write::Write;

fn put(key: &str, value: &str, wall_ms: u64) -> Write {
    testkit::write(key, Some(value), wall_ms, "a")
}

#[test]
fn bad_rows_are_skipped_named_and_replaced_by_the_next_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    {
        let mut store = SqliteStore::open(&path).unwrap();
        store
            .apply(&[put("a", "1", 1), put("b", "2", 2), put("c", "3", 3)])
            .unwrap();
    }
    let connection = rusqlite::Connection::open(&path).unwrap();
    connection
        .execute_batch(
            "UPDATE kv_store SET hlc_wall = -5 WHERE key = 'b';
             UPDATE kv_store SET value = x'00ff' WHERE key = 'c';",
        )
        .unwrap();
    drop(connection);

    let mut store = SqliteStore::open(&path).expect("a bad row must not refuse the database");
    assert_eq!((store.summary().count, store.summary().live), (1, 1));
    assert_eq!(store.live().unwrap(), vec![("a".into(), "1".into())]);
    let mut keys = Vec::new();
    store.for_each(&mut |write| keys.push(write.key)).unwrap();
    assert_eq!(keys, ["a"]);
    match store.get("b") {
        Err(StoreError::Corrupt { key, problem }) => {
            assert_eq!(key, "b");
            assert!(problem.contains("out of range"), "{problem}");
        }
        other => panic!("{other:?}"),
    }

    // Any write for the key repairs it, even one older than the bad row claimed to be.
    assert_eq!(store.apply(&[put("b", "new", 1)]).unwrap(), [true]);
    assert_eq!(store.get("b").unwrap(), Some(put("b", "new", 1)));
    assert_eq!((store.summary().count, store.summary().live), (2, 2));
}
