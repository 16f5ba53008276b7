//! The nodes running on a [`Lan`] and what every store must hold: start a node on a host, write
//! and remember, and wait (with deadlines) for discovery, connections and convergence.

use crate::driver::{poll, start_command, Node};
use crate::netns::Lan;
use p2p_sync_scenario::status::Status;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// The port every node listens on (the default, as on separate machines).
const PORT: &str = "4002";

/// The running nodes of one test.
pub struct Run<'a> {
    /// The hosts.
    lan: &'a Lan,
    /// Holds one data directory per host, `h<host>`.
    dir: &'a Path,
    /// The running nodes, in the order the test keeps them.
    pub nodes: Vec<Node>,
    /// Every live key and its value, as `list` must show them on every node.
    expected: BTreeMap<&'static str, &'static str>,
}

impl<'a> Run<'a> {
    /// No nodes yet on `lan`; data directories go under `dir`.
    pub fn new(lan: &'a Lan, dir: &'a Path) -> Self {
        Run {
            lan,
            dir,
            nodes: Vec::new(),
            expected: BTreeMap::new(),
        }
    }

    /// Starts a node in `host`'s namespace on data directory `h<data>`; checks that its banner
    /// lists its LAN address for TCP and QUIC (what a user on another machine would `--dial`).
    pub fn start(&self, host: usize, data: usize) -> Node {
        self.start_with(host, data, None)
    }

    /// Like [`Run::start`], in the private network of key file `psk` if given (TCP only).
    pub fn start_with(&self, host: usize, data: usize, psk: Option<&Path>) -> Node {
        self.start_configured(host, data, psk, None)
    }

    /// Starts a node as [`Run::start`] does on data directory `h<host>`, logging with `filter`.
    pub fn start_logging(&self, host: usize, filter: &str) -> Node {
        self.start_configured(host, host, None, Some(filter))
    }

    fn start_configured(
        &self,
        host: usize,
        data: usize,
        psk: Option<&Path>,
        filter: Option<&str>,
    ) -> Node {
        let namespace = self.lan.namespace(host);
        let mut command = start_command(&["ip", "netns", "exec", &namespace]);
        command
            .arg("--data-dir")
            .arg(self.dir.join(format!("h{data}")));
        if let Some(psk) = psk {
            command.arg("--psk-file").arg(psk);
        }
        if let Some(filter) = filter {
            command.env("RUST_LOG", filter);
        }
        let node = Node::start(&format!("h{host}"), command);
        let (ip, id) = (self.lan.address(host), &node.peer_id);
        let mut expected = vec![format!("/ip4/{ip}/tcp/{PORT}/p2p/{id}")];
        if psk.is_none() {
            expected.push(format!("/ip4/{ip}/udp/{PORT}/quic-v1/p2p/{id}"));
        }
        for address in expected {
            assert!(
                node.listening.contains(&address),
                "h{host}'s banner lacks {address}: {:?}",
                node.listening
            );
        }
        node
    }

    /// `add key value` on node `node`, remembered as expected everywhere.
    pub fn add(&mut self, node: usize, key: &'static str, value: &'static str) {
        self.nodes[node].add(key, value);
        self.expected.insert(key, value);
    }

    /// `delete key` on node `node`, remembered as expected everywhere.
    pub fn delete(&mut self, node: usize, key: &'static str) {
        let reply = self.nodes[node].ask(&format!("delete {key}"));
        assert_eq!(reply, format!("✓ Deleted: {key}"));
        self.expected.remove(key);
    }

    /// Waits until every pair of nodes found each other by mDNS from at least one side. (A
    /// node that starts finds every node already running, as they answer its query; they find
    /// it only when it answers a later query.)
    pub fn wait_for_discovery(&self) {
        for (i, a) in self.nodes.iter().enumerate() {
            for b in &self.nodes[i + 1..] {
                poll(|| discovered(a, b) || discovered(b, a)).unwrap_or_else(|| {
                    panic!(
                        "neither {} nor {} found the other by mDNS",
                        a.peer_id, b.peer_id
                    )
                });
            }
        }
    }

    /// Waits until node `newest`, the last started, found every other node by mDNS.
    pub fn wait_for_discovery_by(&self, newest: usize) {
        let node = &self.nodes[newest];
        for other in self
            .nodes
            .iter()
            .filter(|other| other.peer_id != node.peer_id)
        {
            node.wait_for_log(&discovery_line(other));
        }
    }

    /// Waits until every node lists every other as connected; returns how long that took.
    pub fn wait_for_mesh(&mut self) -> Duration {
        let ids: Vec<String> = self.nodes.iter().map(|node| node.peer_id.clone()).collect();
        let mut missing = String::new();
        let took = poll(|| {
            missing.clear();
            for node in &mut self.nodes {
                let peers = connected(node);
                for id in ids.iter().filter(|id| **id != node.peer_id) {
                    if !peers.contains(id) {
                        missing.push_str(&format!("\n{} is not connected to {id}", node.peer_id));
                    }
                }
            }
            missing.is_empty()
        });
        took.unwrap_or_else(|| panic!("the nodes did not all connect:{missing}"))
    }

    /// Waits until `list` on every node shows exactly what is expected; returns how long that
    /// took.
    pub fn wait_for_convergence(&mut self) -> Duration {
        let expected: Vec<String> = self
            .expected
            .iter()
            .map(|(key, value)| format!("  {key} = {value}"))
            .collect();
        let mut lists = Vec::new();
        let took = poll(|| {
            lists = self.nodes.iter_mut().map(Node::list).collect();
            lists.iter().all(|list| *list == expected)
        });
        took.unwrap_or_else(|| panic!("the stores did not converge to {expected:?}: {lists:#?}"))
    }
}

/// The log line of a node that found `other` by mDNS.
fn discovery_line(other: &Node) -> String {
    format!("Discovered peer by mDNS: {}", other.peer_id)
}

/// Whether `node` logged finding `other` by mDNS.
fn discovered(node: &Node, other: &Node) -> bool {
    node.logged(&discovery_line(other))
}

/// The PeerIds `status` lists under `Connected peers`.
fn connected(node: &mut Node) -> Vec<String> {
    Status::parse(&node.status()).connected
}
