//! A real LAN on one machine: `p2p-sync` processes in network namespaces joined by a bridge,
//! each on its own address, started as users start them (default port, every interface, no
//! `--dial`) so that they find each other by mDNS alone. Checks, each with a deadline:
//! discovery of everyone by everyone, a write seen everywhere, a cable pulled and plugged back,
//! a `kill -9` and restart, and a newcomer with a new identity catching up. A second LAN runs a
//! private network: members with one key connect and reconcile, a stranger with another key is
//! found by mDNS but never connects, and that is logged once. A third test runs [`MANY`]
//! nodes on one switch and measures the Gossipsub mesh at LAN scale. Needs root and
//! iproute2; elsewhere it says `SKIPPED` on stderr, and in CI (`CI=true`) it fails instead.

mod announcer;
#[path = "../common/driver.rs"]
mod driver;
#[allow(dead_code)] // shared with the LAN scenario runner, which uses more of it
#[path = "../../../lab/src/netns.rs"]
mod netns;
mod run;
mod scale;

use announcer::Announcer;
use netns::Lan;
use p2p_sync_core::Config;
use run::Run;
use std::io::Write;
use std::sync::{Mutex, PoisonError};
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

/// Nodes on the switch of the measured run. 30 is the aim; on a shared two-core CI machine 30
/// debug-build nodes (870 connections) starve each other of CPU until pings time out and
/// connections churn, so the run uses as many as such a machine fits.
const MANY: usize = 12;

/// How long [`MANY`] nodes may take to connect to each other and mesh: every node dials
/// every other, so on a loaded two-core CI machine this takes far longer than a real LAN would.
const MESH_DEADLINE: Duration = Duration::from_secs(180);

/// How long the measured run watches its idle nodes' CPU use.
const IDLE: Duration = Duration::from_secs(10);

/// How often the mDNS flood sends a packet of made-up peers.
const FLOOD_EVERY: Duration = Duration::from_millis(50);

/// The LAN tests take turns: the nodes of two LANs at once overload a small CI machine until
/// pings time out and connections churn.
static TURN: Mutex<()> = Mutex::new(());

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
    let _turn = TURN.lock().unwrap_or_else(PoisonError::into_inner);
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
    let _turn = TURN.lock().unwrap_or_else(PoisonError::into_inner);
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
    // Nodes that find each other dial each other at once over TCP and QUIC; the attempts
    // libp2p drops are not the failed handshakes of a stranger, so nothing is logged for them
    // (a failure is logged only when no connection from its address follows within 3 s).
    std::thread::sleep(Duration::from_secs(5));
    for node in &run.nodes {
        let failed = node.log_lines("failed during the handshake");
        assert!(failed.is_empty(), "a warning on a normal start: {failed:?}");
    }
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

/// [`MANY`] nodes found by mDNS alone, one write each, measured: time until every node is
/// connected to every other and meshed, p50/p99 time for a write to reach every node, copies
/// received per write per node (about the mesh degree, where flooding gives `MANY` - 1),
/// bytes on the switch per write, and idle CPU per node.
#[test]
fn many_nodes_on_a_lan_form_a_gossip_mesh_and_deliver_every_write() {
    let _turn = TURN.lock().unwrap_or_else(PoisonError::into_inner);
    let Some(lan) = lan_or_skip(MANY) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut run = Run::new(&lan, dir.path());
    let config = Config::default();
    let started = Instant::now();
    run.nodes = (0..MANY)
        .map(|host| run.start_logging(host, scale::LOG_FILTER))
        .collect();
    let mut waiting: Vec<usize> = (0..MANY).collect();
    while !waiting.is_empty() {
        if started.elapsed() > MESH_DEADLINE {
            let first = run.nodes[waiting[0]].status().join("\n");
            panic!("nodes {waiting:?} never got connected to all and meshed; the first:\n{first}");
        }
        waiting.retain(|&i| {
            let node = &mut run.nodes[i];
            !scale::meshed(node, MANY - 1, config.mesh_n_low, config.mesh_n_high)
        });
        std::thread::sleep(Duration::from_millis(100));
    }
    let meshed = started.elapsed();

    let duplicates_before = scale::copies_received(&run.nodes, 0);
    let bytes_before = scale::switched_bytes(&lan);
    let writing = Instant::now();
    let mut delivery = Vec::new();
    for author in 0..MANY {
        let needle = format!(": Put {{ k{author} = from h{author} }}");
        let sent = scale::now_ms();
        run.nodes[author].add(&format!("k{author}"), &format!("from h{author}"));
        let others: Vec<&driver::Node> = run
            .nodes
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != author)
            .map(|(_, node)| node)
            .collect();
        let reached = scale::reached_all(&others, &needle);
        delivery.push(Duration::from_millis(reached.saturating_sub(sent)));
    }
    // Late duplicates still on their way.
    std::thread::sleep(Duration::from_secs(1));
    let copies = scale::copies_received(&run.nodes, MANY * (MANY - 1)) - duplicates_before;
    let (bytes, written) = (
        scale::switched_bytes(&lan) - bytes_before,
        writing.elapsed(),
    );
    let per_node = copies as f64 / (MANY * (MANY - 1)) as f64;

    let pids: Vec<u32> = run.nodes.iter().map(driver::Node::pid).collect();
    let before: Vec<u64> = pids.iter().map(|&pid| scale::cpu_ticks(pid)).collect();
    let idle_before = scale::switched_bytes(&lan);
    std::thread::sleep(IDLE);
    // Pings, mDNS, Identify and Gossipsub heartbeats flow all the time; small writes add
    // little to them, so both rates are shown rather than a difference lost in their noise.
    let background = (scale::switched_bytes(&lan) - idle_before) as f64 / IDLE.as_secs_f64();
    let while_writing = bytes as f64 / written.as_secs_f64();
    let ticks: u64 = pids
        .iter()
        .zip(&before)
        .map(|(&pid, before)| scale::cpu_ticks(pid) - before)
        .sum();
    // Linux reports CPU time in ticks of 1/100 s.
    let idle_cpu = ticks as f64 / 100.0 / IDLE.as_secs_f64() / MANY as f64 * 100.0;

    report(&format!(
        "{MANY} nodes: all connected to all and meshed (D = {}, {}..{}) {meshed:?} after the \
         first started; a write reached every node in p50 {:?}, p99 {:?}; {per_node:.2} \
         copies received per write per node (flooding: {}); the switch carried \
         {while_writing:.0} bytes/s while writing, {background:.0} bytes/s idle; idle CPU \
         {idle_cpu:.2}% of a core per node",
        config.mesh_n,
        config.mesh_n_low,
        config.mesh_n_high,
        scale::percentile(&delivery, 50),
        scale::percentile(&delivery, 99),
        MANY - 1,
    ));
    // Flooding gives every node a copy from every peer (MANY - 1); the mesh about D.
    assert!(
        per_node < (MANY - 1) as f64 && per_node <= config.mesh_n_high as f64,
        "{per_node:.2} copies per write per node: the node floods"
    );
    for node in run.nodes.drain(..) {
        assert!(node.quit().success());
    }
    drop(run);
    let prefix = lan.prefix().to_string();
    drop(lan);
    assert_eq!(Lan::leftovers(&prefix), Vec::<String>::new());
}

/// A host multicasting mDNS responses for thousands of made-up peers (a minimal announcer of
/// the test's own) gets a few of them dialled per window, not the node's whole dial budget,
/// and cannot grow libp2p-mdns's list without bound: past 1,024 addresses the node starts
/// mDNS afresh, whose new query finds a real node that started during the flood.
#[test]
fn a_host_announcing_made_up_peers_by_mdns_crowds_out_no_real_peer() {
    let _turn = TURN.lock().unwrap_or_else(PoisonError::into_inner);
    let Some(lan) = lan_or_skip(3) else { return };
    let dir = tempfile::tempdir().unwrap();
    let run = Run::new(&lan, dir.path());
    let mut node = run.start(0, 0);
    let flooding = Instant::now();
    // 12 made-up peers every 50 ms: about 240 a second.
    let announcer = Announcer::start(&lan.namespace(2), &lan.address(2), 12, FLOOD_EVERY);
    node.wait_for_log("mDNS starts afresh");
    let real = run.start(1, 1);
    let found = node.wait_for_log(&format!("Discovered peer by mDNS: {}", real.peer_id));
    let announced = announcer.stop();
    let flooded = flooding.elapsed();
    let dialled = node.log_lines("Discovered peer by mDNS: ").len() - 1;
    let restarts = node.log_lines("mDNS starts afresh").len();
    let windows = flooded.as_secs() / 10 + 1;
    report(&format!(
        "mDNS flood: {announced} made-up peers announced from one host in {flooded:?}; the node \
         dialled {dialled} of them, started mDNS afresh {restarts} times, and found a real \
         node started during the flood {found:?} after it started"
    ));
    assert!(
        dialled as u64 <= 4 * windows,
        "{dialled} made-up peers of one host dialled in {windows} windows"
    );
    assert!(!node.status().is_empty(), "the node still answers");
    for node in [node, real] {
        assert!(node.quit().success());
    }
    drop(run);
    let prefix = lan.prefix().to_string();
    drop(lan);
    assert_eq!(Lan::leftovers(&prefix), Vec::<String>::new());
}
