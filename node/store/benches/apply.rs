//! The store's apply-if-newer against raw SQLite, in one run: 100,000 signed-size writes of new
//! keys (and then the same keys again, each newer), on a file in WAL mode with
//! `synchronous=NORMAL` and the page cache as the node runs it. The limits: plain prepared INSERTs of the same
//! rows into the same table in one transaction, with and without the `write_id` index.
//! `SqliteStore::apply` reads, compares, writes and updates its in-memory tally, in the node's
//! batches of 4,096.
//!
//! Run: `cargo bench -p p2p-sync-store --bench apply` (add `-- --quick` for 10,000 writes).

use p2p_sync_core::store::Store;
use p2p_sync_core::version::{Hlc, Version};
use p2p_sync_core::wire::format_timestamp;
use p2p_sync_core::write::{Signature, Write};
use p2p_sync_store::{SqliteStore, PAGE_CACHE_KIB};
use std::path::Path;
use std::time::Instant;

/// Writes the node commits together: the CLI's input batch.
const BATCH: usize = 4096;
/// Where the bench's clock starts.
const START: u64 = 1_736_000_000_000;
/// A PeerId-sized origin, so rows are as large as on the network.
const ORIGIN: &str = "12D3KooWBa1JqQ7gGq6G3pM6n4x5pB7dYwq3k9s6f2u1r8t0v4aA";

/// `count` signed-size writes of keys `k0…`, made `round` (later rounds are newer).
fn writes(count: usize, round: u32) -> Vec<Write> {
    (0..count)
        .map(|i| Write {
            key: format!("k{i}"),
            value: Some(format!("value {i} of round {round}")),
            version: Version {
                hlc: Hlc {
                    wall_ms: START + u64::from(round) * 1_000,
                    counter: i as u32,
                },
                origin: ORIGIN.into(),
            },
            signature: Some(Signature([7; 64])),
        })
        .collect()
}

/// Rows per second of prepared INSERTs of `writes` in one transaction into the store's own
/// table (the schema made by `SqliteStore::open`), with its `write_id` index or without it.
fn raw_insert_rate(path: &Path, writes: &[Write], index: bool) -> f64 {
    drop(SqliteStore::open(path).expect("create the schema"));
    let mut connection = rusqlite::Connection::open(path).expect("open");
    connection
        .pragma_update(None, "synchronous", "NORMAL")
        .expect("synchronous");
    connection
        .pragma_update(None, "cache_size", -PAGE_CACHE_KIB)
        .expect("cache size");
    if !index {
        connection
            .execute_batch("DROP INDEX kv_store_write_id")
            .expect("drop the index");
    }
    let started = Instant::now();
    let transaction = connection.transaction().expect("begin");
    {
        let mut insert = transaction
            .prepare(
                "INSERT INTO kv_store (key, value, timestamp, hlc_wall, hlc_counter, origin, \
                 deleted_at, signature, write_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, ?7, ?8)",
            )
            .expect("prepare");
        for write in writes {
            let wall = write.version.hlc.wall_ms;
            insert
                .execute(rusqlite::params![
                    write.key,
                    write.value,
                    format_timestamp(wall),
                    wall as i64,
                    write.version.hlc.counter,
                    write.version.origin,
                    write.signature.as_ref().map(|s| &s.0[..]),
                    write.id() as i64,
                ])
                .expect("insert");
        }
    }
    transaction.commit().expect("commit");
    writes.len() as f64 / started.elapsed().as_secs_f64()
}

/// Writes per second through `SqliteStore::apply`, in batches of [`BATCH`].
fn apply_rate(store: &mut SqliteStore, writes: &[Write]) -> f64 {
    let started = Instant::now();
    for batch in writes.chunks(BATCH) {
        let applied = store.apply(batch).expect("apply");
        assert!(applied.iter().all(|&a| a), "every write is newer");
    }
    writes.len() as f64 / started.elapsed().as_secs_f64()
}

/// Runs of every measurement, interleaved; the table shows each one's best (the machine is
/// shared and noisy: the best run is the one least disturbed).
const RUNS: usize = 5;

/// One run of every measurement, on fresh files: raw with and without the index, apply of new
/// keys, apply of newer writes of the same keys.
fn run(first: &[Write], second: &[Write]) -> [f64; 4] {
    let dir = tempfile::tempdir().expect("temp dir");
    let raw = raw_insert_rate(&dir.path().join("raw.db"), first, true);
    let raw_no_index = raw_insert_rate(&dir.path().join("raw-no-index.db"), first, false);
    let mut store = SqliteStore::open(&dir.path().join("store.db")).expect("open");
    let new_keys = apply_rate(&mut store, first);
    let newer = apply_rate(&mut store, second);
    [raw, raw_no_index, new_keys, newer]
}

fn main() {
    let count = if std::env::args().any(|a| a == "--quick") {
        10_000
    } else {
        100_000
    };
    let (first, second) = (writes(count, 1), writes(count, 2));
    let mut best = [0f64; 4];
    for _ in 0..RUNS {
        for (best, rate) in best.iter_mut().zip(run(&first, &second)) {
            *best = best.max(rate);
        }
    }
    let [raw, raw_no_index, new_keys, newer] = best;
    println!(
        "{count} writes, best of {RUNS} interleaved runs (writes/s; ratio to raw INSERTs of the \
         same rows)"
    );
    println!("| path | writes/s | × raw | × raw without the id index |");
    println!("|---|---:|---:|---:|");
    let row = |name: &str, rate: f64| {
        println!(
            "| {name} | {rate:.0} | {:.2} | {:.2} |",
            rate / raw,
            rate / raw_no_index
        );
    };
    row("raw INSERT, one transaction, with the write_id index", raw);
    row(
        "raw INSERT, one transaction, no write_id index",
        raw_no_index,
    );
    row("SqliteStore::apply, new keys (tally included)", new_keys);
    row(
        "SqliteStore::apply, every key newer (tally included)",
        newer,
    );
}
