//! Who belongs, with real processes on 127.0.0.1: a private network (same key: writes flow; another
//! key: no connection, logged once), the allow-list (listed: writes flow; not listed: refused), and
//! revocation with `allow remove` while the node runs.

use crate::driver::{self, keygen_psk as keygen, Node};
use crate::local::{free_port, start, start_with, Dialable};
use std::path::Path;
use std::thread;
use std::time::Duration;

fn status_line(node: &mut Node, prefix: &str) -> String {
    let status = node.status();
    status
        .iter()
        .find(|line| line.starts_with(prefix))
        .cloned()
        .unwrap_or_else(|| node.fail(&format!("no {prefix:?} line in {status:?}")))
}

#[test]
fn nodes_with_the_same_key_sync_and_one_with_another_key_cannot_connect() {
    let dir = tempfile::tempdir().unwrap();
    let (key, other_key) = (dir.path().join("swarm.key"), dir.path().join("other.key"));
    let (code, text) = keygen(&key);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("--psk-file"), "{text}");
    let fingerprint = text
        .split("(fingerprint ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .expect("keygen-psk prints the fingerprint")
        .to_string();
    let before = std::fs::read(&key).unwrap();
    let (code, text) = keygen(&key);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("exists already"), "{text}");
    assert_eq!(std::fs::read(&key).unwrap(), before, "never overwritten");
    assert_eq!(keygen(&other_key).0, Some(0));

    let psk = |file: &Path| ["--psk-file".to_string(), file.display().to_string()];
    let [flag, same] = psk(&key);
    let options = [flag.as_str(), same.as_str()];
    // A logs at debug what it logs only once at info, to see that it happened again.
    let verbose = [
        &options[..],
        &["--log-level", "info,p2p_sync::net::node=debug"],
    ]
    .concat();
    let mut a = start_with("A", &dir.path().join("a"), free_port(), &[], &verbose);
    assert!(
        a.listening.iter().all(|address| !address.contains("quic")),
        "no QUIC with a network key: {:?}",
        a.listening
    );
    let mut b = start_with(
        "B",
        &dir.path().join("b"),
        free_port(),
        &[a.address()],
        &options,
    );
    a.wait_for_log(&format!("Connection established with peer: {}", b.peer_id));
    a.add("shared", "secret");
    b.wait_for_value("shared", Some("secret"));
    // The key's fingerprint is shown where a user checks why nodes do not connect.
    let mode = status_line(&mut b, "Mode: ");
    let shown = format!("Mode: private network, key fingerprint {fingerprint} ");
    assert!(mode.starts_with(&shown), "{mode}");

    let [flag, other] = psk(&other_key);
    let mut c = start_with(
        "C (another key)",
        &dir.path().join("c"),
        free_port(),
        &[a.address()],
        &[flag.as_str(), other.as_str()],
    );
    a.wait_for_log("failed during the handshake (a node with another network key, or none?)");
    c.wait_for_log(&format!("Could not connect to {}", a.peer_id));
    c.wait_for_log(&format!("Redialing peer {}", a.peer_id));
    // C retries with backoff; each attempt fails at A again, and is logged once all the same.
    a.wait_for_log("incoming connection failed again");
    assert_eq!(a.log_lines("failed during the handshake").len(), 1);
    assert_eq!(c.log_lines("Could not connect to").len(), 1);
    assert!(!a.logged(&format!("with peer: {}", c.peer_id)));
    c.add("intruder", "x");
    thread::sleep(Duration::from_secs(1));
    assert_eq!(a.get("intruder"), None);
    assert_eq!(b.get("intruder"), None);
}

#[test]
fn an_allow_listed_node_syncs_and_one_not_listed_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = start("A", &dir.path().join("a"), free_port(), &[]);
    let mut b = start("B", &dir.path().join("b"), free_port(), &[]);
    let listed = a.ask(&format!("allow add {} --name bee --for 1h", b.peer_id));
    assert!(
        listed.starts_with(&format!("✓ Allowed: {}", b.peer_id)),
        "{listed}"
    );
    assert_eq!(status_line(&mut a, "Mode: "), "Mode: allow-list (1 peer)");
    let entry = a.ask("allow list");
    assert!(
        entry.starts_with(&format!("{}  bee  until ", b.peer_id)),
        "{entry}"
    );
    let file = std::fs::read_to_string(dir.path().join("a/allow.txt")).unwrap();
    assert!(
        file.contains(&format!("{}  bee  until=", b.peer_id)),
        "{file}"
    );

    b.send(&format!("allow add {}", a.peer_id)); // B lists A too, and dials it
    b.line();
    let c_started = std::time::Instant::now();
    let mut c = start(
        "C (not listed)",
        &dir.path().join("c"),
        free_port(),
        &[a.address()],
    );
    a.wait_for_log(&format!("Refused a connection with peer {}", c.peer_id));
    let mut b = restart_dialing(b, dir.path(), &a);
    a.wait_for_log(&format!("Connection established with peer: {}", b.peer_id));
    b.add("from-b", "listed");
    a.wait_for_value("from-b", Some("listed"));
    c.add("from-c", "stranger");
    a.add("after", "c");
    b.wait_for_value("after", Some("c"));
    assert_eq!(a.get("from-c"), None);
    assert!(!a.logged(&format!("Connection established with peer: {}", c.peer_id)));
    assert_eq!(
        a.log_lines(&format!("Refused a connection with peer {}", c.peer_id))
            .len(),
        1,
        "one line, whatever C's redials"
    );
    // C is told why, once, and backs off (1, 2, 4, 8 s...) instead of redialling every ~2 s.
    c.wait_for_log(&format!(
        "Peer {} closed the connection before identifying itself: if it keeps an allow-list, \
         this node is not on it (its owner can run `allow add {}`)",
        a.peer_id, c.peer_id
    ));
    std::thread::sleep(Duration::from_secs(12).saturating_sub(c_started.elapsed()));
    let cycles = c.log_lines(&format!(
        "Connection re-established with peer: {}",
        a.peer_id
    ));
    assert!(cycles.len() <= 4, "C redials too often: {cycles:#?}");
    assert_eq!(
        c.log_lines("closed the connection before identifying")
            .len(),
        1
    );
}

/// Quits `node` (data directory `dir/b`) and starts it again dialing `target`.
fn restart_dialing(node: Node, dir: &Path, target: &Node) -> Node {
    assert!(node.quit().success());
    start("B again", &dir.join("b"), free_port(), &[target.address()])
}

#[test]
fn after_allow_remove_the_removed_nodes_new_writes_reach_no_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = start("A", &dir.path().join("a"), free_port(), &[]);
    let mut b = start("B", &dir.path().join("b"), free_port(), &[a.address()]);
    let mut c = start(
        "C",
        &dir.path().join("c"),
        free_port(),
        &[a.address(), b.address()],
    );
    let ids = [a.peer_id.clone(), b.peer_id.clone(), c.peer_id.clone()];
    for (node, others) in [(&mut a, [&ids[1], &ids[2]]), (&mut b, [&ids[0], &ids[2]])] {
        for peer in others {
            let reply = node.ask(&format!("allow add {peer}"));
            assert!(reply.starts_with("✓ Allowed"), "{reply}");
        }
    }
    a.wait_for_log(&format!("Connection established with peer: {}", c.peer_id));
    b.wait_for_log(&format!("Connection established with peer: {}", c.peer_id));
    c.add("before", "kept");
    a.wait_for_value("before", Some("kept"));
    b.wait_for_value("before", Some("kept"));

    for node in [&mut a, &mut b] {
        let reply = node.ask(&format!("allow remove {}", c.peer_id));
        assert!(
            reply.starts_with(&format!("✓ Removed: {}", c.peer_id)),
            "{reply}"
        );
        node.wait_for_log(&format!("Closing the connection with peer {}", c.peer_id));
    }
    c.add("after", "refused");
    thread::sleep(Duration::from_secs(1));
    a.add("still", "syncing");
    b.wait_for_value("still", Some("syncing"));
    b.add("and", "back");
    a.wait_for_value("and", Some("back"));
    // C redials both (it named A and B with --dial); each refuses it.
    driver::poll(|| a.logged(&format!("Refused a connection with peer {}", c.peer_id)))
        .unwrap_or_else(|| a.fail("C's redial was not refused"));
    for node in [&mut a, &mut b] {
        assert_eq!(node.get("after"), None);
        assert_eq!(
            node.get("before").as_deref(),
            Some("kept"),
            "old writes stay"
        );
        let peers = node.status().join("\n");
        assert!(!peers.contains(&format!("  {} (", c.peer_id)), "{peers}");
    }
}

#[test]
fn an_entry_that_expires_closes_the_connection_and_keeps_the_node_closed() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = start("A", &dir.path().join("a"), free_port(), &[]);
    let b = start("B", &dir.path().join("b"), free_port(), &[a.address()]);
    a.wait_for_log(&format!("Connection established with peer: {}", b.peer_id));
    let listed = a.ask(&format!("allow add {} --for 2s", b.peer_id));
    assert!(listed.starts_with("✓ Allowed"), "{listed}");
    let expired = a.wait_for_log(&format!("Closing the connection with peer {}", b.peer_id));
    assert!(
        expired > Duration::from_secs(1),
        "closed after {expired:?}, before the expiry"
    );
    a.wait_for_log(&format!("Refused a connection with peer {}", b.peer_id));
    assert_eq!(status_line(&mut a, "Mode: "), "Mode: allow-list (1 peer)");
    let entry = a.ask("allow list");
    assert!(entry.contains("  -  expired "), "{entry}");
}
