//! The outcome of one scenario on the LAN: the scenario crate's [`Summary`] (expectations,
//! convergence, each node's final list; failures read exactly as the simulator's) and how long
//! the LAN took to set up.

use p2p_sync_scenario::report::Summary;
use std::fmt;

/// Everything a LAN run produced.
#[derive(Debug, Clone)]
pub struct LanReport {
    /// The run, as every world sums it up (times are real time divided by the time scale).
    pub summary: Summary,
    /// How long building the LAN and waiting for the nodes to connect took, in real ms.
    pub setup_ms: u64,
}

/// The command that plays a file on the LAN again.
pub fn replay_command(file: &str, seed: u64) -> String {
    format!("p2p-sync-lab run {file} --seed {seed}")
}

impl LanReport {
    /// The failures, as the simulator prints them, with the LAN's replay command.
    pub fn failure_text(&self) -> String {
        let summary = &self.summary;
        summary.failure_text(&replay_command(&summary.file, summary.seed))
    }
}

impl fmt::Display for LanReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.summary)?;
        writeln!(f, "nodes connected after {} ms of setup", self.setup_ms)
    }
}
