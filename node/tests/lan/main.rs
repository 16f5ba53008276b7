//! A real LAN on one machine: `p2p-sync` processes in network namespaces joined by a bridge,
//! each on its own address, started as users start them (default port, every interface, no
//! `--dial`) so that they find each other by mDNS alone. Checks, each with a deadline:
//! discovery of everyone by everyone, a write seen everywhere, a cable pulled and plugged back,
//! a `kill -9` and restart, and a newcomer with a new identity catching up. Needs root and
//! iproute2; elsewhere it says `SKIPPED` on stderr, and in CI (`CI=true`) it fails instead.

#[path = "../common/driver.rs"]
mod driver;
mod netns;

use driver::{poll, start_command, Node};
use netns::Lan;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

/// Hosts on the switch: nodes run on the first [`FIRST`], the last is for the newcomer.
const HOSTS: usize = 5;

/// Hosts whose nodes start together.
const FIRST: usize = 4;

/// The host whose cable is pulled.
const UNPLUGGED: usize = 2;

/// The host whose node is killed and restarted.
const RESTARTED: usize = 3;

/// How long the cable stays pulled after both sides have written: many times what a gossip
/// message takes to cross the LAN, so a write that leaked across the cut would show.
const PULLED: Duration = Duration::from_secs(2);

/// The port every node listens on (the default, as on separate machines).
const PORT: &str = "4002";

/// The LAN, or `None` after saying why the test is skipped; in CI a missing capability fails.
fn lan_or_skip() -> Option<Lan> {
    match Lan::create(HOSTS) {
        Ok(lan) => Some(lan),
        Err(reason) if std::env::var("CI").is_ok_and(|ci| ci == "true") => {
            panic!("CI must run the LAN test, but it cannot build its namespaces: {reason}")
        }
        Err(reason) => {
            eprintln!("SKIPPED: the LAN test needs root and iproute2 ({reason})");
            None
        }
    }
}

/// Starts a node in `host`'s namespace with `data_dir`; checks that its banner lists its LAN
/// address for both TCP and QUIC (what a user on another machine would `--dial`).
fn start(lan: &Lan, host: usize, data_dir: &Path) -> Node {
    let namespace = lan.namespace(host);
    let mut command = start_command(&["ip", "netns", "exec", &namespace]);
    command.arg("--data-dir").arg(data_dir);
    let node = Node::start(&format!("h{host}"), command);
    let (ip, id) = (lan.address(host), &node.peer_id);
    for address in [
        format!("/ip4/{ip}/tcp/{PORT}/p2p/{id}"),
        format!("/ip4/{ip}/udp/{PORT}/quic-v1/p2p/{id}"),
    ] {
        assert!(
            node.listening.contains(&address),
            "h{host}'s banner lacks {address}: {:?}",
            node.listening
        );
    }
    node
}

/// The PeerIds `status` lists under `Connected peers`.
fn connected(node: &mut Node) -> Vec<String> {
    node.status()
        .iter()
        .skip_while(|line| !line.starts_with("Connected peers ("))
        .skip(1)
        .map_while(|line| line.strip_prefix("  "))
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// Whether `node` logged finding `other` by mDNS. (A node that starts finds every node already
/// running, which answer its query; those find it only when it answers a later query.)
fn discovered(node: &Node, other: &Node) -> bool {
    node.logged(&format!("Discovered peer by mDNS: {}", other.peer_id))
}

/// Waits until node `newest`, the last started, has found every other node by mDNS.
fn wait_for_discovery_by(nodes: &[Node], newest: usize) {
    for other in nodes
        .iter()
        .filter(|other| other.peer_id != nodes[newest].peer_id)
    {
        nodes[newest].wait_for_log(&format!("Discovered peer by mDNS: {}", other.peer_id));
    }
}

/// Waits until every node lists every other as connected; returns how long that took.
fn wait_for_mesh(nodes: &mut [Node]) -> Duration {
    let ids: Vec<String> = nodes.iter().map(|node| node.peer_id.clone()).collect();
    let mut missing = String::new();
    let took = poll(|| {
        missing.clear();
        for node in nodes.iter_mut() {
            let peers = connected(node);
            for id in ids.iter().filter(|id| **id != node.peer_id) {
                if !peers.contains(id) {
                    missing.push_str(&format!("\n{} is not connected to {id}", node.peer_id));
                }
            }
        }
        missing.is_empty()
    });
    took.unwrap_or_else(|| panic!("the nodes did not all connect by mDNS:{missing}"))
}

/// Waits until `list` on every node shows exactly `expected`; returns how long that took.
fn wait_for_convergence(nodes: &mut [Node], expected: &BTreeMap<&str, &str>) -> Duration {
    let expected: Vec<String> = expected
        .iter()
        .map(|(k, v)| format!("  {k} = {v}"))
        .collect();
    let mut lists = Vec::new();
    let took = poll(|| {
        lists = nodes.iter_mut().map(Node::list).collect();
        lists.iter().all(|list| *list == expected)
    });
    took.unwrap_or_else(|| panic!("the stores did not converge to {expected:?}: {lists:#?}"))
}

/// `add key value` on `node`, recorded in `expected`.
fn add<'a>(
    node: &mut Node,
    expected: &mut BTreeMap<&'a str, &'a str>,
    key: &'a str,
    value: &'a str,
) {
    node.add(key, value);
    expected.insert(key, value);
}

#[test]
fn nodes_on_a_lan_find_each_other_by_mdns_and_converge() {
    let Some(lan) = lan_or_skip() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data_dir = |host: usize| dir.path().join(format!("h{host}"));
    let mut expected = BTreeMap::new();

    // 1. Discovery by mDNS alone.
    let started = Instant::now();
    let mut nodes: Vec<Node> = (0..FIRST).map(|h| start(&lan, h, &data_dir(h))).collect();
    let launched = started.elapsed();
    let meshed = wait_for_mesh(&mut nodes);
    for (i, a) in nodes.iter().enumerate() {
        for b in &nodes[i + 1..] {
            poll(|| discovered(a, b) || discovered(b, a)).unwrap_or_else(|| {
                panic!(
                    "neither {} nor {} found the other by mDNS",
                    a.peer_id, b.peer_id
                )
            });
        }
    }
    eprintln!(
        "lan: discovery: {FIRST} nodes started in {launched:?}; every node connected to every \
         other by mDNS {:?} after the first started ({meshed:?} after the last)",
        started.elapsed()
    );

    // 2. A write on one node is seen by `get` and `list` on all others.
    add(&mut nodes[0], &mut expected, "hello", "world from h0");
    let mut slowest = Duration::ZERO;
    for node in &mut nodes[1..] {
        slowest = slowest.max(node.wait_for_value("hello", Some("world from h0")));
    }
    wait_for_convergence(&mut nodes, &expected);
    eprintln!("lan: a write on h0 reached every other node within {slowest:?}");

    // 3. Pull one node's cable, write on both sides, plug it back in. A pull this short leaves
    // the TCP connections open (nothing probes them); what must hold is that the cut is real
    // while it lasts and that every store converges afterwards, deletes included.
    let (cut, other) = (UNPLUGGED, 0);
    lan.plug(cut, false);
    let pulled = Instant::now();
    add(
        &mut nodes[cut],
        &mut expected,
        "cut-side",
        "written on the unplugged node",
    );
    add(
        &mut nodes[other],
        &mut expected,
        "main-side",
        "written on the rest",
    );
    assert_eq!(nodes[other].ask("delete hello"), "✓ Deleted: hello");
    expected.remove("hello");
    for node in nodes
        .iter_mut()
        .enumerate()
        .filter(|(i, _)| *i != cut)
        .map(|(_, n)| n)
    {
        node.wait_for_value("hello", None);
        node.wait_for_value("main-side", Some("written on the rest"));
    }
    std::thread::sleep(PULLED.saturating_sub(pulled.elapsed()));
    for (i, node) in nodes.iter_mut().enumerate() {
        let leaked = if i == cut { "main-side" } else { "cut-side" };
        assert_eq!(node.get(leaked), None, "h{i} got {leaked} across the cut");
    }
    assert_eq!(nodes[cut].get("hello").as_deref(), Some("world from h0"));
    let unplugged = pulled.elapsed();
    lan.plug(cut, true);
    let converged = wait_for_convergence(&mut nodes, &expected);
    wait_for_mesh(&mut nodes);
    eprintln!(
        "lan: heal: h{cut} unplugged for {unplugged:?} (writes on both sides); all {FIRST} stores \
         converged {converged:?} after its cable was plugged back in"
    );

    // 4. kill -9 a node and start it again on the same data directory.
    let id = nodes[RESTARTED].peer_id.clone();
    drop(nodes.remove(RESTARTED));
    add(
        &mut nodes[0],
        &mut expected,
        "while-down",
        "written while a node was killed",
    );
    let restarted = Instant::now();
    nodes.insert(RESTARTED, start(&lan, RESTARTED, &data_dir(RESTARTED)));
    assert_eq!(nodes[RESTARTED].peer_id, id, "the PeerId survives kill -9");
    wait_for_discovery_by(&nodes, RESTARTED);
    wait_for_mesh(&mut nodes);
    let rediscovered = restarted.elapsed();
    wait_for_convergence(&mut nodes, &expected);
    eprintln!(
        "lan: restart: h{RESTARTED} killed with SIGKILL and started again with the same PeerId: \
         connected to all {rediscovered:?} and converged {:?} after the restart",
        restarted.elapsed()
    );

    // 5. A newcomer with a new identity joins and receives everything.
    let joined = Instant::now();
    nodes.push(start(&lan, FIRST, &data_dir(FIRST)));
    let newcomer = nodes[FIRST].peer_id.clone();
    assert!(nodes[..FIRST].iter().all(|node| node.peer_id != newcomer));
    wait_for_discovery_by(&nodes, FIRST);
    wait_for_mesh(&mut nodes);
    wait_for_convergence(&mut nodes, &expected);
    eprintln!(
        "lan: newcomer: h4 (new identity) connected to all and holds every item {:?} after it \
         started",
        joined.elapsed()
    );

    for node in nodes {
        assert!(node.quit().success());
    }
    let prefix = lan.prefix().to_string();
    drop(lan);
    assert_eq!(Lan::leftovers(&prefix), Vec::<String>::new());
}
