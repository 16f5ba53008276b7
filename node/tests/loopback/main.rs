//! Real `p2p-sync` processes on 127.0.0.1 (no mDNS, peers given with `--dial`): the seed's user
//! story end to end — connect, add, get, delete, list, status, restart, reconnect — and the
//! command line's failures. Every wait is bounded; every process is killed when its test ends.

mod disk_full;
#[path = "../common/driver.rs"]
mod driver;
mod local;

use driver::Node;
use local::{free_port, run_to_exit, start, Dialable};
use std::time::{Duration, Instant};

#[test]
fn two_nodes_add_get_delete_and_list_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut a = start("A", &dir.path().join("a"), free_port(), &[]);
    let mut b = start("B", &dir.path().join("b"), free_port(), &[a.address()]);
    b.wait_for_log(&format!("Connection established with peer: {}", a.peer_id));
    a.wait_for_log(&format!("Connection established with peer: {}", b.peer_id));
    let connected = started.elapsed();

    a.add("hello", "big world");
    let synced = b.wait_for_value("hello", Some("big world"));
    b.wait_for_log(&format!(
        "Got message from {}: Put {{ hello = big world }}",
        a.peer_id
    ));
    assert_eq!(b.ask("delete hello"), "✓ Deleted: hello");
    let deleted = a.wait_for_value("hello", None);

    a.add("x", "1");
    b.add("y", "2");
    a.wait_for_value("y", Some("2"));
    b.wait_for_value("x", Some("1"));
    let big = "v".repeat(64 * 1024);
    b.add("big", &big);
    a.wait_for_value("big", Some(&big));
    assert_eq!(a.ask("delete big"), "✓ Deleted: big");
    b.wait_for_value("big", None);
    let items = vec!["  x = 1".to_string(), "  y = 2".to_string()];
    assert_eq!(a.list(), items);
    assert_eq!(b.list(), items);

    let status = b.status().join("\n");
    assert!(
        status.contains(&format!("Peer ID: {}", b.peer_id)),
        "{status}"
    );
    assert!(status.contains(&format!("  {} (", a.peer_id)), "{status}");
    assert!(status.contains("Keys: 2 (4 including deleted)"), "{status}");
    eprintln!(
        "two nodes: both started and connected after {connected:?}; \
         a put reached B {synced:?} after it was added, a delete reached A after {deleted:?}"
    );
}

#[test]
fn a_write_on_any_of_four_nodes_reaches_every_other() {
    let dir = tempfile::tempdir().unwrap();
    let a = start("A", &dir.path().join("a"), free_port(), &[]);
    let hub = [[a.address()], [a.address()], [a.quic_address()]];
    let mut nodes = vec![a];
    for (name, dial) in ["B", "C", "D (over QUIC)"].into_iter().zip(hub) {
        let node = start(name, &dir.path().join(name), free_port(), &dial);
        nodes.push(node);
    }
    for node in &nodes[1..] {
        node.wait_for_log(&format!(
            "Connection established with peer: {}",
            nodes[0].peer_id
        ));
    }
    let started = Instant::now();
    for (i, node) in nodes.iter_mut().enumerate() {
        node.add(&format!("from-{i}"), &format!("written on node {i}"));
    }
    for node in &mut nodes {
        for i in 0..4 {
            node.wait_for_value(&format!("from-{i}"), Some(&format!("written on node {i}")));
        }
    }
    eprintln!(
        "four nodes: every write on every node after {:?}",
        started.elapsed()
    );
    let lists: Vec<Vec<String>> = nodes.iter_mut().map(Node::list).collect();
    assert!(lists
        .iter()
        .all(|list| list == &lists[0] && list.len() == 4));
}

#[test]
fn a_restarted_node_keeps_its_peer_id_reconnects_and_catches_up() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = start("A", &dir.path().join("a"), free_port(), &[]);
    let (b_dir, b_port) = (dir.path().join("b"), free_port());
    let mut b = start("B", &b_dir, b_port, &[a.address()]);
    a.wait_for_log(&format!("Connection established with peer: {}", b.peer_id));
    b.add("before", "restart");
    a.wait_for_value("before", Some("restart"));
    let b_id = b.peer_id.clone();
    assert!(b.quit().success());
    a.wait_for_log(&format!("Connection closed with peer: {b_id}"));

    a.add("while", "away");
    let restarted = Instant::now();
    let mut b = start("B again", &b_dir, b_port, &[a.address()]);
    assert_eq!(b.peer_id, b_id, "the PeerId survives a restart");
    a.wait_for_log(&format!("Connection re-established with peer: {b_id}"));
    let reconnected = restarted.elapsed();
    assert_eq!(b.get("before").as_deref(), Some("restart"));
    b.wait_for_value("while", Some("away"));
    let caught_up = restarted.elapsed();

    a.add("after", "from A");
    b.add("after-b", "from B");
    b.wait_for_value("after", Some("from A"));
    a.wait_for_value("after-b", Some("from B"));
    eprintln!(
        "restart: reconnected {reconnected:?} and caught up {caught_up:?} after B started again"
    );
}

#[test]
fn a_node_away_for_1000_adds_and_100_deletes_lists_the_same_after_its_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = start("A", &dir.path().join("a"), free_port(), &[]);
    let b_dir = dir.path().join("b");
    let b = start("B", &b_dir, free_port(), &[a.address()]);
    a.wait_for_log(&format!("Connection established with peer: {}", b.peer_id));
    assert!(b.quit().success());

    let mut script: Vec<String> = (0..1000)
        .map(|i| format!("add key-{i:04} value {i}"))
        .collect();
    script.extend((0..1000).step_by(10).map(|i| format!("delete key-{i:04}")));
    a.send(&script.join("\n"));
    for _ in &script {
        a.line();
    }
    let expected = a.list();
    assert_eq!(expected.len(), 900);

    let restarted = Instant::now();
    let mut b = start("B again", &b_dir, free_port(), &[a.address()]);
    driver::poll(|| b.list() == expected).unwrap_or_else(|| b.fail("its list never matched A's"));
    eprintln!(
        "catch-up: B lists the same 900 items as A {:?} after its restart",
        restarted.elapsed()
    );
}

#[test]
fn a_node_redials_a_peer_that_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let (a_dir, a_port) = (dir.path().join("a"), free_port());
    let a = start("A", &a_dir, a_port, &[]);
    let mut b = start("B", &dir.path().join("b"), free_port(), &[a.address()]);
    b.wait_for_log(&format!("Connection established with peer: {}", a.peer_id));
    let a_id = a.peer_id.clone();
    assert!(a.quit().success());
    b.wait_for_log(&format!("Connection closed with peer: {a_id}"));
    b.add("queued", "while A was down");

    let mut a = start("A again", &a_dir, a_port, &[]);
    let back = b.wait_for_log(&format!("Connection re-established with peer: {a_id}"));
    a.wait_for_value("queued", Some("while A was down"));
    eprintln!("redial: B reconnected to A {back:?} after A came back (A dials nobody)");
}

#[test]
fn a_node_restarted_behind_a_stale_connection_is_caught_up_at_once() {
    // kill -9 leaves the peer's QUIC connection open until a ping fails, so the peer sees the
    // new incarnation as one more connection. That connection must start a reconciliation too
    // (A has the smaller id, so A opens it), and a request that went into the dead connection
    // is sent again on the live one. Without that, B waited for the 30 s anti-entropy round;
    // the bound below tells the two apart.
    let dir = tempfile::tempdir().unwrap();
    let stays = start("A", &dir.path().join("a"), free_port(), &[]);
    let dial = [stays.quic_address()];
    let (restarted_dir, port) = (dir.path().join("b"), free_port());
    let mut attempt = 0;
    let mut restarted = loop {
        let node = start("B", &restarted_dir.join(attempt.to_string()), port, &dial);
        if node.peer_id > stays.peer_id {
            break node;
        }
        attempt += 1;
    };
    let mut stays = stays;
    stays.wait_for_log(&format!(
        "Connection established with peer: {}",
        restarted.peer_id
    ));
    let id = restarted.peer_id.clone();
    drop(restarted);
    stays.add("written", "while B was down");
    let data_dir = restarted_dir.join(attempt.to_string());
    restarted = start("B again", &data_dir, port, &dial);
    assert_eq!(restarted.peer_id, id);
    let caught_up = restarted.wait_for_value("written", Some("while B was down"));
    assert!(
        caught_up < Duration::from_secs(10),
        "caught up only after {caught_up:?}"
    );
    eprintln!("stale connection: B caught up {caught_up:?} after its restart");
}

#[test]
fn invalid_input_stores_nothing_and_unknown_commands_get_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = start("A", dir.path(), free_port(), &[]);
    let long_key = "k".repeat(300);
    let reply = a.ask(&format!("add {long_key} value"));
    assert_eq!(
        reply,
        "✗ Invalid input: key is 300 bytes, the limit is 256 (nothing stored)"
    );
    let reply = a.ask(&format!("add key {}", "v".repeat(70_000)));
    assert!(
        reply.starts_with("✗ Invalid input: value is 70000 bytes"),
        "{reply}"
    );
    assert!(a
        .ask("frobnicate")
        .starts_with("Unknown command 'frobnicate'. Commands: add KEY VALUE"));
    assert_eq!(
        a.ask("add lonely"),
        "Usage: add KEY VALUE (the value is the rest of the line)"
    );
    assert_eq!(a.ask("get"), "Usage: get KEY");
    assert!(a.list().is_empty());
    assert!(a.quit().success());
}

#[test]
fn start_up_failures_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port().to_string();
    let data_dir = dir.path().join("a").display().to_string();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let file = file.display().to_string();
    let cases: [(&[&str], i32, &str); 3] = [
        (
            &["--port", &port, "--data-dir", &data_dir],
            1,
            "Error: cannot listen on /ip4/127.0.0.1/tcp/",
        ),
        (
            &["--port", "0", "--data-dir", &file],
            1,
            "Error: cannot use data directory",
        ),
        (
            &["--dial", "/ip4/127.0.0.1/udp/1", "--data-dir", &data_dir],
            2,
            "invalid value '/ip4/127.0.0.1/udp/1' for '--dial",
        ),
    ];
    for (args, code, message) in cases {
        let (status, stderr) = run_to_exit(args);
        assert_eq!(status.code(), Some(code), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    let (_, stderr) = run_to_exit(&["--port", &port, "--data-dir", &data_dir]);
    assert!(stderr.contains("already in use"), "{stderr}");
}
