//! The original app where it is today (docs/legacy-protocol.md, "Changed since the diagrams"):
//! a client written from its description speaks its signed envelope over real Gossipsub to a
//! real `p2p-sync` process, and its `sync.db` is imported with `p2p-sync import-legacy`.

#[allow(dead_code)] // this target uses part of the shared driver
#[path = "../common/driver.rs"]
mod driver;
#[path = "../loopback/foreign.rs"]
mod foreign;
#[allow(dead_code)] // this target starts nodes but never runs one to its exit
#[path = "../loopback/local.rs"]
mod local;
mod original;

use driver::{Node, BIN, DEADLINE};
use local::{free_port, start, start_with, Dialable};
use original::{envelope, key_distribution, open, Data, Original};
use p2p_sync_scenario::status::Status;
use std::process::Command;
use std::time::Instant;

/// A timestamp as the original app writes it (chrono, `Z`, nanoseconds), `offset_s` from now.
fn timestamp(offset_s: i64, nanos: u32) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let second = now.as_secs() as i64 + offset_s;
    let time = chrono::DateTime::from_timestamp(second, 0).unwrap();
    format!("{}.{nanos:09}Z", time.format("%Y-%m-%dT%H:%M:%S"))
}

/// The count of `reason` in the node's `Dropped messages:` line.
fn dropped(node: &mut Node, reason: &str) -> u64 {
    let status = Status::parse(&node.status());
    let count = status.dropped.get(reason).copied();
    count.unwrap_or_else(|| panic!("status names no {reason}: {:?}", status.dropped))
}

/// Polls the node's status until `reason` was counted `count` times.
fn wait_dropped(node: &mut Node, reason: &str, count: u64) {
    if driver::poll(|| dropped(node, reason) == count).is_none() {
        node.fail(&format!("{reason} never reached {count}"));
    }
}

#[test]
fn the_original_apps_envelope_is_read_checked_and_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = start_with(
        "N",
        &dir.path().join("n"),
        free_port(),
        &[],
        &["--legacy-envelope"],
    );
    let app = Original::dial(&node.address(), [7; 32]);
    if !app.wait_subscribed(&node.peer_id, DEADLINE) {
        node.fail("the original app never saw the node subscribe");
    }

    // Its put, with a nanosecond timestamp, then its delete of another key.
    let started = Instant::now();
    app.send(&Data::Put(
        "from-original".into(),
        "hello ✓".into(),
        timestamp(-2, 123_456_789),
    ));
    node.wait_for_value("from-original", Some("hello ✓"));
    let applied = started.elapsed();
    node.wait_for_log(&format!(
        "Got message from {}: Put {{ from-original = hello ✓ }}",
        app.peer_id
    ));
    app.send(&Data::Put(
        "to-delete".into(),
        "soon gone".into(),
        timestamp(-2, 5),
    ));
    node.wait_for_value("to-delete", Some("soon gone"));
    app.send(&Data::Delete(
        "to-delete".into(),
        timestamp(-1, 999_999_999),
    ));
    node.wait_for_value("to-delete", None);

    // Our writes, in its envelope, verify as it verifies them.
    node.add("ours", "from p2p-sync");
    let node_id: libp2p::PeerId = node.peer_id.parse().unwrap();
    let is_envelope_of = |key: &'static str| move |bytes: &[u8], source: &libp2p::PeerId| matches!(open(bytes, source), Ok(Some(Data::Put(k, _, _) | Data::Delete(k, _))) if k == key);
    let (bytes, source) = app
        .wait_for(DEADLINE, is_envelope_of("ours"))
        .unwrap_or_else(|| node.fail("no verifiable envelope of our put"));
    assert_eq!(source, node_id);
    match open(&bytes, &source) {
        Ok(Some(Data::Put(_, value, timestamp))) => {
            assert_eq!(value, "from p2p-sync");
            assert!(timestamp.ends_with('Z'), "{timestamp}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(node.ask("delete ours"), "✓ Deleted: ours");
    let (bytes, _) = app
        .wait_for(DEADLINE, is_envelope_of("ours"))
        .unwrap_or_else(|| node.fail("no verifiable envelope of our delete"));
    assert!(matches!(open(&bytes, &node_id), Ok(Some(Data::Delete(..)))));

    // A wrong signature: signed over another value.
    let honest = Data::Put("forged".into(), "real".into(), timestamp(-1, 1));
    let tampered = Data::Put("forged".into(), "tampered".into(), timestamp(-1, 1));
    app.publish(envelope(
        &tampered,
        &honest,
        &app.key,
        &app.peer_id.to_string(),
    ));
    wait_dropped(&mut node, "forged", 1);
    // A signer that is not the gossip author: validly signed by another key, sent by the app.
    let other = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let other_id = libp2p::identity::Keypair::ed25519_from_bytes([9; 32])
        .unwrap()
        .public()
        .to_peer_id()
        .to_string();
    let put = Data::Put("not-the-author".into(), "x".into(), timestamp(-1, 2));
    app.publish(envelope(&put, &put, &other, &other_id));
    wait_dropped(&mut node, "forged", 2);
    // Key distribution: counted apart, quietly.
    app.publish(key_distribution(&app.key, &app.peer_id.to_string()));
    wait_dropped(&mut node, "key_distribution", 1);
    assert_eq!(dropped(&mut node, "malformed"), 0);
    assert_eq!(node.get("forged"), None);
    assert_eq!(node.get("not-the-author"), None);
    assert!(!node.logged("key distribution"), "logged quietly");

    let status = node.status().join("\n");
    assert!(
        status.contains("Original app's envelope (--legacy-envelope): 2 writes published, 0 not"),
        "{status}"
    );

    // A p2p-sync node that was not there gets the original app's write by reconciliation, and
    // checks its envelope signature again.
    let mut late = start(
        "late",
        &dir.path().join("late"),
        free_port(),
        &[node.address()],
    );
    late.wait_for_value("from-original", Some("hello ✓"));
    assert_eq!(late.get("to-delete"), None);
    assert_eq!(dropped(&mut late, "forged"), 0);
    eprintln!("the original app's put was applied {applied:?} after it was published");
}

/// The original app's database: `kv_store(key TEXT PRIMARY KEY, value TEXT NOT NULL,
/// timestamp INTEGER NOT NULL)`, Unix seconds.
fn original_database(path: &std::path::Path, rows: &[(String, String, i64)]) {
    let connection = rusqlite::Connection::open(path).unwrap();
    connection
        .execute_batch(
            "CREATE TABLE kv_store (key TEXT PRIMARY KEY, value TEXT NOT NULL, \
             timestamp INTEGER NOT NULL);",
        )
        .unwrap();
    let transaction = connection.unchecked_transaction().unwrap();
    {
        let mut insert = transaction
            .prepare("INSERT INTO kv_store (key, value, timestamp) VALUES (?1, ?2, ?3)")
            .unwrap();
        for (key, value, timestamp) in rows {
            insert.execute((key, value, timestamp)).unwrap();
        }
    }
    transaction.commit().unwrap();
}

fn import(source: &std::path::Path, data_dir: &std::path::Path) -> String {
    let output = Command::new(BIN)
        .arg("import-legacy")
        .arg(source)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .expect("run p2p-sync import-legacy");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn ten_thousand_rows_of_its_database_import_once_and_reach_a_peer() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("sync.db");
    // Ten rows share each timestamp.
    let mut rows: Vec<(String, String, i64)> = (0..10_000)
        .map(|i| {
            (
                format!("key-{i:05}"),
                format!("value {i} ✓"),
                1_754_000_000 + i / 10,
            )
        })
        .collect();
    let good = rows.clone();
    rows.push(("bad\u{1}key".into(), "v".into(), 1_754_000_000));
    rows.push(("from-the-future".into(), "v".into(), 99_999_999_999));
    original_database(&source, &rows);
    let data_dir = dir.path().join("a");

    let started = Instant::now();
    let first = import(&source, &data_dir);
    let took = started.elapsed();
    assert!(
        first.contains(": 10000 imported, 0 already up to date, 2 refused"),
        "{first}"
    );
    assert!(first.contains("✗ Refused bad\\u{1}key: "), "{first}");
    assert!(first.contains("✗ Refused from-the-future: "), "{first}");
    let second = import(&source, &data_dir);
    assert!(
        second.contains(": 0 imported, 10000 already up to date, 2 refused"),
        "{second}"
    );

    let expected: Vec<String> = good
        .iter()
        .map(|(key, value, _)| format!("  {key} = {value}"))
        .collect();
    let mut a = start("A", &data_dir, free_port(), &[]);
    assert!(a.list() == expected, "A's list differs from the source");
    // Imported as A's own signed writes: a peer takes them by reconciliation.
    let mut b = start("B", &dir.path().join("b"), free_port(), &[a.address()]);
    let all = "Keys: 10000 (10000 including deleted)".to_string();
    let caught_up = driver::poll(|| b.status().contains(&all))
        .unwrap_or_else(|| b.fail("never held the 10,000 imported rows"));
    assert!(b.list() == expected, "B's list differs from the source");
    assert_eq!(dropped(&mut b, "forged") + dropped(&mut b, "invalid"), 0);
    eprintln!(
        "import of 10,000 rows: {took:?}; a new peer held them all {caught_up:?} after it started"
    );
}
