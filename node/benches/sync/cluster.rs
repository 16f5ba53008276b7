//! Real p2p-sync processes on 127.0.0.1 for the benchmarks: start pairs and meshes, pipe bulk
//! input, poll key counts, read latencies off the nodes' log timestamps, memory from /proc.

use crate::driver::Node;
use crate::local::{free_port, start, Dialable};
use p2p_sync_scenario::status::Status;
use std::collections::HashMap;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant, SystemTime};
use tempfile::TempDir;

/// `count` entries with 64-byte keys (`prefix`, zero-padded index) and 100-byte values.
pub fn entries(prefix: &str, count: usize) -> Vec<(String, String)> {
    (0..count)
        .map(|i| {
            let key = format!("{prefix}-{i:0>width$}", width = 63 - prefix.len());
            let value = format!("{i:x<100}");
            (key, value)
        })
        .collect()
}

/// Bytes of the records without any protocol: key, value, HLC timestamp (12) and origin.
pub fn raw_bytes(entries: &[(String, String)], origin: &str) -> usize {
    entries
        .iter()
        .map(|(key, value)| key.len() + value.len() + 12 + origin.len())
        .sum()
}

fn temp_dir() -> TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// Starts `name` with `dir`, dialing `dial`, on a free port.
fn node(name: &str, dir: &Path, dial: &[String]) -> Node {
    start(name, dir, free_port(), dial)
}

/// Two connected nodes; keep the directories alive as long as the nodes.
pub fn pair() -> (Node, Node, [TempDir; 2]) {
    let dirs = [temp_dir(), temp_dir()];
    let a = node("a", dirs[0].path(), &[]);
    let b = node("b", dirs[1].path(), &[a.address()]);
    b.wait_for_log("Connection established with peer");
    (a, b, dirs)
}

/// Types `add key value` for every entry in one write to the node's input.
pub fn pipe_adds(node: &mut Node, entries: &[(String, String)]) {
    let lines: Vec<String> = entries
        .iter()
        .map(|(key, value)| format!("add {key} {value}"))
        .collect();
    node.send(&lines.join("\n"));
}

/// The live key count `status` reports.
fn live_keys(node: &mut Node) -> usize {
    let keys = Status::parse(&node.status()).live_keys;
    keys.map_or_else(
        || node.fail("status shows no key count"),
        |keys| keys as usize,
    )
}

/// Polls until `node` holds `count` live keys; returns how long that took since `started`.
pub fn wait_for_keys(node: &mut Node, count: usize, started: Instant, limit: Duration) -> Duration {
    while live_keys(node) < count {
        if started.elapsed() > limit {
            node.fail(&format!("did not reach {count} keys in {limit:?}"));
        }
        thread::sleep(Duration::from_millis(20));
    }
    started.elapsed()
}

/// Skips the `✓ Added` confirmations of `count` adds.
fn skip_confirmations(node: &mut Node, count: usize) {
    for _ in 0..count {
        node.line();
    }
}

/// The log time of a tracing line (`2026-11-24T13:40:01.123456Z  INFO …`).
fn log_time(line: &str) -> Option<SystemTime> {
    let stamp = line.split_whitespace().next()?;
    let time = chrono::DateTime::parse_from_rfc3339(stamp).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_micros(time.timestamp_micros().try_into().ok()?))
}

/// `nodes` nodes in a full mesh; node 0 writes one key every 100 ms, `writes` times. Returns,
/// per write, milliseconds from typing `add` to the last node logging that it applied it.
pub fn propagation_latencies(nodes: usize, writes: usize) -> Vec<f64> {
    let dirs: Vec<TempDir> = (0..nodes).map(|_| temp_dir()).collect();
    let mut mesh: Vec<Node> = Vec::new();
    for (i, dir) in dirs.iter().enumerate() {
        let dial: Vec<String> = mesh.iter().map(Dialable::address).collect();
        mesh.push(node(&format!("n{i}"), dir.path(), &dial));
    }
    for node in &mesh {
        let peers = nodes - 1;
        crate::driver::poll(|| node.log_lines("Connection established with peer").len() >= peers)
            .unwrap_or_else(|| node.fail("the mesh did not form"));
    }
    let mut typed = HashMap::new();
    for i in 0..writes {
        let key = format!("lat-{i}");
        typed.insert(key.clone(), SystemTime::now());
        mesh[0].send(&format!("add {key} v"));
        thread::sleep(Duration::from_millis(100));
    }
    skip_confirmations(&mut mesh[0], writes);
    let last = format!("Put {{ lat-{} = v }}", writes - 1);
    for node in &mesh[1..] {
        node.wait_for_log(&last);
    }
    let mut latest: HashMap<String, SystemTime> = HashMap::new();
    for node in &mesh[1..] {
        for line in node.log_lines("Got message from") {
            let Some(key) = line
                .split("Put { ")
                .nth(1)
                .and_then(|rest| rest.split(' ').next())
            else {
                continue;
            };
            let Some(time) = log_time(&line) else {
                continue;
            };
            let entry = latest.entry(key.to_string()).or_insert(time);
            *entry = (*entry).max(time);
        }
    }
    typed
        .iter()
        .map(|(key, at)| {
            let applied = latest
                .get(key)
                .unwrap_or_else(|| mesh[0].fail(&format!("{key} never arrived everywhere")));
            applied
                .duration_since(*at)
                .unwrap_or_default()
                .as_secs_f64()
                * 1000.0
        })
        .collect()
}

/// What catching up cost.
pub struct CatchUp {
    /// From B's restart until it held every key.
    pub elapsed: Duration,
    /// Reconciliation bytes B received.
    pub bytes_to_b: u64,
    /// Reconciliation bytes B sent.
    pub bytes_from_b: u64,
    /// A's PeerId, the origin of every record.
    pub origin: String,
}

/// The numbers in B's `Reconciliation: … (X bytes in, Y out)` status line.
fn sync_bytes(node: &mut Node) -> (u64, u64) {
    let line = node
        .status()
        .into_iter()
        .find(|line| line.starts_with("Reconciliation: "));
    let numbers = line.as_deref().and_then(|line| {
        let inside = line.split('(').nth(1)?;
        let mut words = inside.split_whitespace();
        let bytes_in = words.next()?.parse().ok()?;
        let bytes_out = words.nth(2)?.parse().ok()?;
        Some((bytes_in, bytes_out))
    });
    numbers.unwrap_or_else(|| node.fail("status shows no reconciliation bytes"))
}

/// A and B connected; B stops; A takes `entries`; B restarts on its data directory.
pub fn catch_up(entries: &[(String, String)]) -> CatchUp {
    let (mut a, b, dirs) = pair();
    b.quit();
    pipe_adds(&mut a, entries);
    skip_confirmations(&mut a, entries.len());
    let restarted = Instant::now();
    let mut b = node("b", dirs[1].path(), &[a.address()]);
    let elapsed = wait_for_keys(&mut b, entries.len(), restarted, Duration::from_secs(300));
    let (bytes_to_b, bytes_from_b) = sync_bytes(&mut b);
    let origin = a.peer_id.clone();
    a.quit();
    b.quit();
    CatchUp {
        elapsed,
        bytes_to_b,
        bytes_from_b,
        origin,
    }
}

/// Memory and disk of one node.
pub struct Footprint {
    /// Resident set of a fresh node with no peers, after it settled.
    pub idle_rss_kb: u64,
    /// Resident set after it stored the keys.
    pub loaded_rss_kb: u64,
    /// Database file plus its write-ahead log.
    pub database_bytes: u64,
}

fn rss_kb(node: &Node) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", node.pid())).unwrap_or_default();
    status
        .lines()
        .find_map(|line| {
            line.strip_prefix("VmRSS:")?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| node.fail("no VmRSS in /proc"))
}

/// One node, idle, then after `keys` adds.
pub fn footprint(keys: usize) -> Footprint {
    let dir = temp_dir();
    let mut alone = node("alone", dir.path(), &[]);
    thread::sleep(Duration::from_secs(2));
    let idle_rss_kb = rss_kb(&alone);
    for chunk in entries("fp", keys).chunks(100_000) {
        pipe_adds(&mut alone, chunk);
        skip_confirmations(&mut alone, chunk.len());
    }
    let loaded_rss_kb = rss_kb(&alone);
    alone.quit();
    let database_bytes = std::fs::read_dir(dir.path())
        .expect("data dir")
        .filter_map(Result::ok)
        .filter(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .starts_with("p2p-sync.db")
        })
        .map(|entry| entry.metadata().map(|m| m.len()).unwrap_or(0))
        .sum();
    Footprint {
        idle_rss_kb,
        loaded_rss_kb,
        database_bytes,
    }
}
