//! The outcome of a run: per node store digest, keys, counters and traffic; convergence;
//! the network's counts; failed expectations. Printed as text or JSON, byte-identical for the
//! same file and seed.

use crate::checker::HistoryReport;
use crate::network::NetStats;
use p2p_sync_core::Counters;
use p2p_sync_scenario::convergence::ConvergenceReport;
use p2p_sync_scenario::duration::format_ms;
use p2p_sync_scenario::report::{failure_text, Failure};
use serde::Serialize;
use std::fmt;

/// Everything a run produced.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The scenario's name.
    pub scenario: String,
    /// The file played.
    pub file: String,
    /// The seed used.
    pub seed: u64,
    /// Virtual time when the last step ran, in ms.
    pub ended_at_ms: u64,
    /// Events processed.
    pub events: u64,
    /// Expectations that held.
    pub expectations_passed: usize,
    /// Expectations that did not.
    pub failures: Vec<Failure>,
    /// Convergence of the live honest nodes.
    pub convergence: ConvergenceReport,
    /// Every honest node.
    pub nodes: Vec<NodeReport>,
    /// Every attacker's traffic.
    pub attackers: Vec<Traffic>,
    /// The network's counts.
    pub network: NetStats,
    /// Transmissions of honest nodes' gossip received per write per other honest node,
    /// duplicates included: about the mesh degree with a mesh, N − 1 with flooding.
    pub gossip_per_write_per_node: Option<f64>,
    /// What the history checker counted.
    pub history: HistoryReport,
}

/// One honest node at the end of the run.
#[derive(Debug, Clone, Serialize)]
pub struct NodeReport {
    /// Its name.
    pub name: String,
    /// Whether it runs (not crashed).
    pub up: bool,
    /// Its connections (to honest nodes and attackers), up or down.
    pub peers: usize,
    /// Its Gossipsub mesh peers at the end.
    pub mesh: usize,
    /// The digest of its whole store, tombstones included (hex).
    pub digest: String,
    /// The digest of its live keys and values only, as `list` shows them (hex; see
    /// [`p2p_sync_scenario::report::content_digest`]): comparable with a real node's.
    pub content: String,
    /// Live keys.
    pub keys: usize,
    /// Stored writes, tombstones included.
    pub writes: u64,
    /// Commits its disk refused (storage faults).
    pub store_refused: u64,
    /// The core's counters.
    pub counters: Counters,
    /// Traffic it sent.
    pub traffic: Traffic,
}

/// Messages and bytes one participant put on the wire.
#[derive(Debug, Clone, Serialize)]
pub struct Traffic {
    /// Who.
    pub name: String,
    /// Messages (gossip counted once per peer).
    pub messages: u64,
    /// Bytes.
    pub bytes: u64,
}

/// The one command that replays a run.
pub fn replay_command(file: &str, seed: u64) -> String {
    format!("p2p-sync-sim run {file} --seed {seed} --trace")
}

impl Report {
    /// Whether every expectation held.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report serializes")
    }

    /// The failures, each with the seed and the replay command (empty when all held).
    pub fn failure_text(&self) -> String {
        failure_text(
            &self.file,
            self.seed,
            &self.failures,
            &replay_command(&self.file, self.seed),
        )
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "scenario {} ({}), seed {}",
            self.scenario, self.file, self.seed
        )?;
        writeln!(
            f,
            "ran to {} in {} events; expectations: {} passed, {} failed",
            format_ms(self.ended_at_ms),
            self.events,
            self.expectations_passed,
            self.failures.len()
        )?;
        writeln!(f, "{}", self.convergence)?;
        writeln!(
            f,
            "{:<5} {:>2} {:>5} {:>4} {:<16} {:>6} {:>6} {:>7} {:>7} {:>7} {:>6} {:>5} {:>5} {:>5} {:>5} {:>5} {:>5} {:>5} {:>5} {:>7} {:>7} {:>8} {:>10}",
            "node", "up", "peers", "mesh", "digest", "keys", "writes", "refused", "applied",
            "ignored", "rate", "large", "malf", "inval", "futur", "forg", "deny", "unsol", "recon",
            "rec_in", "rec_out", "msgs", "bytes"
        )?;
        for node in &self.nodes {
            let c = &node.counters;
            let d = &c.dropped;
            writeln!(
                f,
                "{:<5} {:>2} {:>5} {:>4} {:<16} {:>6} {:>6} {:>7} {:>7} {:>7} {:>6} {:>5} {:>5} {:>5} {:>5} {:>5} {:>5} {:>5} {:>5} {:>7} {:>7} {:>8} {:>10}",
                node.name,
                if node.up { "y" } else { "n" },
                node.peers,
                node.mesh,
                node.digest,
                node.keys,
                node.writes,
                node.store_refused,
                c.applied,
                c.ignored_older,
                d.rate_limited,
                d.too_large,
                d.malformed,
                d.invalid,
                d.future_timestamp,
                d.forged,
                d.not_allowed,
                d.unsolicited,
                c.reconciliations_started,
                c.reconciled_writes_received,
                c.reconciled_writes_sent,
                node.traffic.messages,
                node.traffic.bytes
            )?;
        }
        f.write_str(LEGEND)?;
        for attacker in &self.attackers {
            writeln!(
                f,
                "{:<5} sent {} messages, {} bytes",
                attacker.name, attacker.messages, attacker.bytes
            )?;
        }
        let n = &self.network;
        writeln!(
            f,
            "gossip: sent {}, delivered {}, duplicates suppressed {}, copies made {}",
            n.gossip_sent, n.gossip_delivered, n.gossip_duplicates, n.gossip_copies
        )?;
        let per_node = self
            .gossip_per_write_per_node
            .map_or_else(|| "-".to_string(), |copies| format!("{copies:.2}"));
        writeln!(
            f,
            "gossip per write: {} published, {per_node} copies received per other node; \
             mesh: {} grafts, {} prunes",
            n.gossip_published, n.mesh_grafts, n.mesh_prunes
        )?;
        writeln!(
            f,
            "direct: sent {}, delivered {}",
            n.direct_sent, n.direct_delivered
        )?;
        writeln!(
            f,
            "dropped by the network: loss {}, one-way cut {}, disconnected {}",
            n.dropped_loss, n.dropped_oneway, n.dropped_disconnected
        )?;
        let h = &self.history;
        writeln!(
            f,
            "history: {} writes acknowledged to users, {} committed by the stores ({} bytes), {} \
             bytes sent by honest nodes, at most {} events queued",
            h.acknowledged, h.committed, h.committed_bytes, h.honest_bytes, h.peak_queue
        )
    }
}

/// What the columns of the node table mean.
const LEGEND: &str =
    "columns: up: running (y) or crashed (n); peers: its connections; mesh: its Gossipsub mesh
  peers; digest: hash of its whole store; keys: live keys; writes: stored writes, deletes
  included; refused: commits its disk refused; applied / ignored: remote writes newer / not
  newer than what it held; dropped messages by reason: rate (over a budget), large,
  malf(ormed), inval(id), futur(e timestamp), forg(ed), deny (not on the allow-list),
  unsol(icited reconciliation);
  recon: reconciliations it started; rec_in / rec_out: writes it received / sent by them;
  msgs / bytes: what it put on the wire (gossip counted once per peer)
";
