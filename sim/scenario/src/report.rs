//! What every world reports the same way: an expectation's [`Mismatch`], a [`Failure`] and
//! its text (with the seed and the command that replays it), and the digest of a node's live
//! keys and values ([`content_digest`]). The convergence summary is
//! [`crate::convergence::ConvergenceReport`].

use crate::duration::format_ms;
use serde::Serialize;

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
