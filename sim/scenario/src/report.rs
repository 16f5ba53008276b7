//! What every world reports the same way: an expectation's [`Mismatch`], a [`Failure`] and
//! its text (with the seed and the command that replays it), the digest of a node's live keys
//! and values ([`content_digest`]), and a run's [`Summary`] (text and JSON) for worlds that
//! count nothing more (the simulator's report adds its network and history counts).

use crate::convergence::ConvergenceReport;
use crate::duration::format_ms;
use crate::judge::Verdicts;
use serde::Serialize;
use std::fmt;

/// What an expectation found instead of what it expected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    /// The node concerned, if one.
    pub node: Option<String>,
    /// The key concerned, if one.
    pub key: Option<String>,
    /// What was expected.
    pub expected: String,
    /// What was found.
    pub found: String,
}

/// An expectation that did not hold.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// The step's line in the file.
    pub line: usize,
    /// The step's time (scenario ms).
    pub at_ms: u64,
    /// What was expected and found.
    #[serde(flatten)]
    pub mismatch: Mismatch,
}

/// The failures of a run of `file` with `seed`, each with the seed and the command `replay`
/// that plays it again (empty when all held). Every world prints its failures this way.
pub fn failure_text(file: &str, seed: u64, failures: &[Failure], replay: &str) -> String {
    let mut text = String::new();
    for failure in failures {
        let mismatch = &failure.mismatch;
        text += &format!(
            "FAILED: expect at line {} ({}) of {file}\n",
            failure.line,
            format_ms(failure.at_ms),
        );
        if let Some(node) = &mismatch.node {
            text += &format!("  node:     {node}\n");
        }
        if let Some(key) = &mismatch.key {
            text += &format!("  key:      {key}\n");
        }
        text += &format!("  expected: {}\n", mismatch.expected);
        text += &format!("  found:    {}\n", mismatch.found);
        text += &format!("  seed:     {seed}\n");
        text += &format!("  replay:   {replay}\n");
    }
    text
}

/// A digest of live `(key, value)` pairs in key order: equal digests mean equal `list` output.
pub fn content_digest(items: &[(String, String)]) -> u64 {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    for (key, value) in items {
        for part in [key, value] {
            hasher.update(&(part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
    }
    hasher.digest()
}

/// One honest node at the end of a run, as every world can tell.
#[derive(Debug, Clone, Serialize)]
pub struct NodeSummary {
    /// Its name, `n0`….
    pub name: String,
    /// Whether it runs.
    pub up: bool,
    /// Live keys (`None` when it is down).
    pub keys: Option<usize>,
    /// The digest of its live keys and values ([`content_digest`]; `None` when it is down).
    pub content: Option<u64>,
}

/// What a run of a scenario in one world came to. Times are scenario ms.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// The world that played it (`lan`, `turmoil`).
    pub world: String,
    /// The scenario's name.
    pub scenario: String,
    /// The file played.
    pub file: String,
    /// The seed of the run's own choices.
    pub seed: u64,
    /// When the last step ran.
    pub ended_at_ms: u64,
    /// Expectations that held.
    pub expectations_passed: usize,
    /// Expectations that did not.
    pub failures: Vec<Failure>,
    /// Convergence of the live honest nodes.
    pub convergence: ConvergenceReport,
    /// Every honest node.
    pub nodes: Vec<NodeSummary>,
}

impl Summary {
    /// The summary of a run of `scenario` in `world` with `seed`: its `verdicts`,
    /// `convergence` and `nodes`, the last step at `ended_at_ms`.
    pub fn new(
        world: &str,
        scenario: &crate::Scenario,
        seed: u64,
        ended_at_ms: u64,
        verdicts: Verdicts,
        convergence: ConvergenceReport,
        nodes: Vec<NodeSummary>,
    ) -> Self {
        Summary {
            world: world.to_string(),
            scenario: scenario.name.clone(),
            file: scenario.file.clone(),
            seed,
            ended_at_ms,
            expectations_passed: verdicts.passed,
            failures: verdicts.failures,
            convergence,
            nodes,
        }
    }

    /// Whether every expectation held.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    /// The summary as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a summary serializes")
    }

    /// The failures, each with the seed and the command `replay` that plays the run again.
    pub fn failure_text(&self, replay: &str) -> String {
        failure_text(&self.file, self.seed, &self.failures, replay)
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "scenario {} ({}) in the {} world, seed {}",
            self.scenario, self.file, self.world, self.seed
        )?;
        writeln!(
            f,
            "ran to {}; expectations: {} passed, {} failed",
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
            let keys = node
                .keys
                .map_or_else(|| "-".to_string(), |keys| keys.to_string());
            let content = node
                .content
                .map_or_else(|| "-".to_string(), |d| format!("{d:016x}"));
            let up = if node.up { "y" } else { "n" };
            writeln!(f, "{:<5} {up:>2} {keys:>6} {content:<16}", node.name)?;
        }
        Ok(())
    }
}
