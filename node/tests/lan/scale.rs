//! Measurements of a LAN of many nodes: how long until every node is connected to every other
//! and its Gossipsub mesh is within bounds, how long one write takes to reach every node (from
//! the log lines' timestamps), how many copies of a write each node receives (the first, logged
//! as `Got message`, plus Gossipsub's `Message already received` for every duplicate), the
//! bytes the switch carries, and the CPU an idle node uses.

use crate::driver::{poll, Node};
use crate::netns::Lan;
use p2p_sync_core::wire::parse_timestamp;
use p2p_sync_scenario::status::Status;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Gossipsub's debug line for a copy of a message the node already had.
pub const DUPLICATE_LINE: &str = "Message already received, ignoring";

/// The log filter for a measured run: the node's info lines plus Gossipsub's duplicates.
pub const LOG_FILTER: &str = "info,libp2p_kad=error,libp2p_gossipsub::behaviour=debug";

/// Milliseconds since the epoch, now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_millis() as u64
}

/// Whether `node`'s `status` shows `peers` connected peers and a mesh within `low..=high`.
pub fn meshed(node: &mut Node, peers: usize, low: usize, high: usize) -> bool {
    let status = Status::parse(&node.status());
    let mesh = status.mesh.map(|mesh| mesh as usize);
    status.connected.len() == peers && mesh.is_some_and(|mesh| (low..=high).contains(&mesh))
}

/// The time (ms since the epoch) of the first log line of `node` containing `needle`.
pub fn logged_at(node: &Node, needle: &str) -> Option<u64> {
    node.log_lines(needle)
        .first()
        .and_then(|line| line.split_whitespace().next().and_then(parse_timestamp))
}

/// Waits until every node in `others` logged `needle`; returns the latest of their times.
pub fn reached_all(others: &[&Node], needle: &str) -> u64 {
    poll(|| others.iter().all(|node| node.logged(needle)))
        .unwrap_or_else(|| panic!("{needle:?} did not reach every node"));
    others
        .iter()
        .map(|node| logged_at(node, needle).expect("a timestamped log line"))
        .max()
        .expect("at least one other node")
}

/// How many copies of gossip messages every node in `nodes` received so far: the duplicates
/// Gossipsub logged plus `firsts` (the first copies, one per write per node).
pub fn copies_received(nodes: &[Node], firsts: usize) -> usize {
    nodes
        .iter()
        .map(|node| node.log_lines(DUPLICATE_LINE).len())
        .sum::<usize>()
        + firsts
}

/// Bytes the switch has sent out of its ports so far (every frame delivered to a host).
pub fn switched_bytes(lan: &Lan) -> u64 {
    let output = std::process::Command::new("ip")
        .args(["-n", &lan.switch(), "-j", "-s", "link", "show"])
        .output()
        .expect("run ip");
    let links: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("ip -j prints JSON");
    links
        .as_array()
        .expect("a list of links")
        .iter()
        .filter(|link| {
            link["ifname"]
                .as_str()
                .is_some_and(|name| name.starts_with("port"))
        })
        .map(|link| link["stats64"]["tx"]["bytes"].as_u64().unwrap_or(0))
        .sum()
}

/// CPU time (user + system) process `pid` has used, in clock ticks.
pub fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc stat");
    // Fields after the command name (which ends with ')'): state is field 3, utime 14, stime 15.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .expect("a stat line")
        .1
        .split_whitespace()
        .collect();
    fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime")
}

/// The `p`-th percentile (0–100) of `values`, by nearest rank.
pub fn percentile(values: &[Duration], p: usize) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort();
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}
