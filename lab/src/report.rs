//! The outcome of one scenario on the LAN: expectations, convergence, each node's final list,
//! printed like the simulator's summary; failures read exactly as the simulator's.

use p2p_sync_scenario::convergence::ConvergenceReport;
use p2p_sync_scenario::duration::format_ms;
use p2p_sync_scenario::report::{failure_text, Failure};
use std::fmt;

/// One honest node at the end of a run.
#[derive(Debug, Clone)]
pub struct NodeSummary {
    /// Its name, `n0`….
    pub name: String,
    /// Whether its process runs.
    pub up: bool,
    /// Live keys (`None` when it is down).
    pub keys: Option<usize>,
    /// The digest of its `list` (`None` when it is down).
    pub content: Option<u64>,
}

/// Everything a LAN run produced. Times are scenario ms (real time divided by the time scale).
#[derive(Debug, Clone)]
pub struct LanReport {
    /// The scenario's name.
    pub scenario: String,
    /// The file played.
    pub file: String,
    /// The seed of the run's own choices (writers and drawn keys).
    pub seed: u64,
    /// How long building the LAN and waiting for the nodes to connect took, in real ms.
    pub setup_ms: u64,
    /// When the last step ran.
    pub ended_at_ms: u64,
    /// Expectations that held.
    pub expectations_passed: usize,
    /// Expectations that did not.
    pub failures: Vec<Failure>,
    /// Convergence of the live nodes (what they hold sampled every 250 ms).
    pub convergence: ConvergenceReport,
    /// Every honest node.
    pub nodes: Vec<NodeSummary>,
}

/// The command that plays a file on the LAN again.
pub fn replay_command(file: &str, seed: u64) -> String {
    format!("p2p-sync-lab run {file} --seed {seed}")
}

impl LanReport {
    /// Whether every expectation held.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    /// The failures, as the simulator prints them, with the LAN's replay command.
    pub fn failure_text(&self) -> String {
        let replay = replay_command(&self.file, self.seed);
        failure_text(&self.file, self.seed, &self.failures, &replay)
    }
}

impl fmt::Display for LanReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "scenario {} ({}) on the LAN, seed {}",
            self.scenario, self.file, self.seed
        )?;
        writeln!(
            f,
            "nodes connected after {} ms of setup; ran to {}; expectations: {} passed, {} failed",
            self.setup_ms,
            format_ms(self.ended_at_ms),
            self.expectations_passed,
            self.failures.len()
        )?;
        writeln!(f, "{}", self.convergence)?;
        writeln!(
            f,
            "{:<5} {:>2} {:>6} {:<16}",
            "node", "up", "keys", "list digest"
        )?;
        for node in &self.nodes {
            writeln!(
                f,
                "{:<5} {:>2} {:>6} {:<16}",
                node.name,
                if node.up { "y" } else { "n" },
                node.keys
                    .map_or_else(|| "-".to_string(), |keys| keys.to_string()),
                node.content
                    .map_or_else(|| "-".to_string(), |digest| format!("{digest:016x}")),
            )?;
        }
        Ok(())
    }
}
