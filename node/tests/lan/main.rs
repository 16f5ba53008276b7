//! A real LAN on one machine: `p2p-sync` processes in network namespaces joined by a bridge,
//! each on its own address, started as users start them (default port, every interface, no
//! `--dial`) so that they find each other by mDNS alone. Checks, each with a deadline:
//! discovery of everyone by everyone, a write seen everywhere, a cable pulled and plugged back,
//! a `kill -9` and restart, and a newcomer with a new identity catching up. A second LAN runs a
//! private network: members with one key connect and sync, a stranger with another key is
//! found by mDNS but never connects, and that is logged once. Needs root and
//! iproute2; elsewhere it says `SKIPPED` on stderr, and in CI (`CI=true`) it fails instead.

#[path = "../common/driver.rs"]
mod driver;
#[allow(dead_code)] // shared with the LAN scenario runner, which uses more of it
#[path = "../../../lab/src/netns.rs"]
mod netns;
mod run;

use netns::Lan;
use run::Run;
use std::io::Write;
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

/// Writes `line` to standard error past the test harness's capture, so that the measurements
/// and a skip show in every `cargo test` run (CI's log included), not only with `--nocapture`.
fn report(line: &str) {
    let _ = writeln!(std::io::stderr(), "lan: {line}");
}

/// The LAN, or `None` after saying why the test is skipped; in CI a missing capability fails.
fn lan_or_skip(hosts: usize) -> Option<Lan> {
    match Lan::create("lan", hosts) {
        Ok(lan) => Some(lan),
        Err(reason) if std::env::var("CI").is_ok_and(|ci| ci == "true") => {
            panic!("CI must run the LAN test, but it cannot build its namespaces: {reason}")
        }
        Err(reason) => {
            report(&format!(
                "SKIPPED: the test needs root and iproute2 ({reason})"
            ));
            None
        }
    }
}

#[test]
fn nodes_on_a_lan_find_each_other_by_mdns_and_converge() {
    let Some(lan) = lan_or_skip(HOSTS) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut run = Run::new(&lan, dir.path());
    discovery(&mut run);
    a_write_reaches_everyone(&mut run);
    cable_pull(&mut run, &lan);
    kill_and_restart(&mut run);
    newcomer(&mut run);
    for node in run.nodes.drain(..) {
        assert!(node.quit().success());
    }
    drop(run);
    let prefix = lan.prefix().to_string();
    drop(lan);
    assert_eq!(Lan::leftovers(&prefix), Vec::<String>::new());
}

#[test]
fn a_private_network_on_a_lan_ignores_strangers_with_another_key() {
    let Some(lan) = lan_or_skip(3) else { return };
    let dir = tempfile::tempdir().unwrap();
    let (key, other_key) = (dir.path().join("swarm.key"), dir.path().join("other.key"));
    for file in [&key, &other_key] {
        let (code, text) = driver::keygen_psk(file);
        assert_eq!(code, Some(0), "{text}");
    }
    let mut run = Run::new(&lan, dir.path());
    let started = Instant::now();
    run.nodes = vec![
        run.start_with(0, 0, Some(&key)),
        run.start_with(1, 1, Some(&key)),
    ];
    let mut stranger = run.start_with(2, 2, Some(&other_key));
    run.wait_for_mesh();
    let meshed = started.elapsed();
    run.add(0, "members", "only");
    run.wait_for_convergence();
    let stranger_ip = format!("/ip4/{}/", lan.address(2));
    driver::poll(|| {
        run.nodes
            .iter()
            .any(|node| node.logged(&format!("Incoming connection from {stranger_ip}")))
    })
    .expect("a member logs the stranger's failed handshake");
    let refused = started.elapsed();
    assert!(
        run.nodes
            .iter()
            .any(|node| node.logged(&format!("Discovered peer by mDNS: {}", stranger.peer_id)))
            || run
                .nodes
                .iter()
                .any(|node| stranger.logged(&format!("Discovered peer by mDNS: {}", node.peer_id))),
        "mDNS still finds peers across keys"
    );
    stranger.add("stranger", "x");
    std::thread::sleep(PULLED);
    for node in &mut run.nodes {
        let lines = node.log_lines(&format!("Incoming connection from {stranger_ip}"));
        assert!(lines.len() <= 1, "logged once per address: {lines:?}");
        assert_eq!(node.get("stranger"), None);
        assert!(!node.logged(&format!("with peer: {}", stranger.peer_id)));
    }
    assert_eq!(stranger.get("members"), None);
    report(&format!(
        "private network: 2 members connected to each other {meshed:?} after they started; \
         a member logged the failed handshake of the stranger with another key {refused:?} \
         after the start, once"
    ));
    for node in run.nodes.drain(..).chain([stranger]) {
        assert!(node.quit().success());
    }
    drop(run);
    let prefix = lan.prefix().to_string();
    drop(lan);
    assert_eq!(Lan::leftovers(&prefix), Vec::<String>::new());
}

/// Check 1: nodes started together all connect to each other, found by mDNS alone.
fn discovery(run: &mut Run) {
    let started = Instant::now();
    run.nodes = (0..FIRST).map(|host| run.start(host, host)).collect();
    let launched = started.elapsed();
    let meshed = run.wait_for_mesh();
    run.wait_for_discovery();
    report(&format!(
        "discovery: {FIRST} nodes started in {launched:?}; every node connected to every \
         other by mDNS {:?} after the first started ({meshed:?} after the last)",
        started.elapsed()
    ));
}

/// Check 2: a write on one node is seen by `get` and `list` on all others.
fn a_write_reaches_everyone(run: &mut Run) {
    run.add(0, "hello", "world from h0");
    let mut slowest = Duration::ZERO;
    for node in &mut run.nodes[1..] {
        slowest = slowest.max(node.wait_for_value("hello", Some("world from h0")));
    }
    run.wait_for_convergence();
    report(&format!(
        "write: a write on h0 reached every other node within {slowest:?}"
    ));
}

/// Check 3: a host's cable is pulled, both sides write (one deletes), the cable goes back in: the
/// cut is real while it lasts and every store converges afterwards. A pull this short may or
/// may not outlast the pings (two failures, 1 s apart, 2 s each) that close a dead connection;
/// either way the stores must converge, by the surviving connection or by a reconnection.
fn cable_pull(run: &mut Run, lan: &Lan) {
    let (cut, other) = (UNPLUGGED, 0);
    lan.plug(cut, false);
    let pulled = Instant::now();
    run.add(cut, "cut-side", "written on the unplugged node");
    run.add(other, "main-side", "written on the rest");
    run.delete(other, "hello");
    for (_, node) in run.nodes.iter_mut().enumerate().filter(|(i, _)| *i != cut) {
        node.wait_for_value("hello", None);
        node.wait_for_value("main-side", Some("written on the rest"));
    }
    std::thread::sleep(PULLED.saturating_sub(pulled.elapsed()));
    for (i, node) in run.nodes.iter_mut().enumerate() {
        let leaked = if i == cut { "main-side" } else { "cut-side" };
        assert_eq!(node.get(leaked), None, "h{i} got {leaked} across the cut");
    }
    assert_eq!(
        run.nodes[cut].get("hello").as_deref(),
        Some("world from h0")
    );
    let unplugged = pulled.elapsed();
    lan.plug(cut, true);
    let converged = run.wait_for_convergence();
    run.wait_for_mesh();
    report(&format!(
        "heal: h{cut} unplugged for {unplugged:?} (writes on both sides); all {FIRST} stores \
         converged {converged:?} after its cable was plugged back in"
    ));
}

/// Check 4: a node killed with SIGKILL and started again on its data directory keeps its PeerId,
/// finds the others again and catches up on what was written while it was down.
fn kill_and_restart(run: &mut Run) {
    let id = run.nodes[RESTARTED].peer_id.clone();
    drop(run.nodes.remove(RESTARTED));
    run.add(0, "while-down", "written while a node was killed");
    let restarted = Instant::now();
    let node = run.start(RESTARTED, RESTARTED);
    assert_eq!(node.peer_id, id, "the PeerId survives kill -9");
    run.nodes.insert(RESTARTED, node);
    run.wait_for_discovery_by(RESTARTED);
    run.wait_for_mesh();
    let rediscovered = restarted.elapsed();
    run.wait_for_convergence();
    report(&format!(
        "restart: h{RESTARTED} killed with SIGKILL and started again with the same PeerId: \
         connected to all {rediscovered:?} and converged {:?} after the restart",
        restarted.elapsed()
    ));
}

/// Check 5: a newcomer with a new identity joins and receives everything.
fn newcomer(run: &mut Run) {
    let joined = Instant::now();
    let node = run.start(FIRST, FIRST);
    assert!(run.nodes.iter().all(|other| other.peer_id != node.peer_id));
    run.nodes.push(node);
    run.wait_for_discovery_by(FIRST);
    run.wait_for_mesh();
    run.wait_for_convergence();
    report(&format!(
        "newcomer: h{FIRST} (new identity) connected to all and holds every item {:?} after \
         it started",
        joined.elapsed()
    ));
}
