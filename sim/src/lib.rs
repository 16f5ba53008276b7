//! p2p-sync-sim: a deterministic multi-node simulator that runs the unchanged node core and plays
//! the scenario files of `scenarios/` (docs/scenario-format.md).
//!
//! # Layout
//! - [`scenario`]: the checked scenario types; [`parse`]: TOML → scenario, errors with lines;
//!   [`duration`]: `"1.5s"` and friends.
//! - [`engine`]: the event loop — virtual time, one seeded rng, steps, gossip and direct delivery.
//! - [`queue`]: events ordered by (time, sequence number). [`clock`]: per-node skewed clocks.
//! - [`topology`]: who is connected (every pair on a LAN, or a degree). [`mesh`]: the Gossipsub
//!   mesh on those connections, repaired by heartbeats. [`network`]: connections, partitions, latency,
//!   loss, duplication, counts. [`node`]: a simulated node (core, parked store, seen cache).
//! - [`store`]: storage faults (a `Store` wrapper that fails, fills up or is slow).
//! - [`attack`]: hostile payloads.
//! - [`convergence`]: since when all live nodes agree. [`expect`]: `expect` steps.
//! - [`checker`]: judges a run from the history of acknowledged writes.
//! - [`report`]: the summary (text and JSON). [`trace`]: one line per event.
//! - [`emit`]: scenario → TOML. [`explore`]: runs generated from seeds, shrunk when they fail.
//!
//! Same scenario + same seed ⇒ the same report and trace, byte for byte: nothing reads a wall
//! clock or OS randomness, and nothing iterates a hash map.

pub mod attack;
pub mod checker;
pub mod clock;
pub mod convergence;
pub mod duration;
pub mod emit;
pub mod engine;
pub mod expect;
pub mod explore;
pub mod mesh;
pub mod network;
pub mod node;
pub mod parse;
pub mod queue;
pub mod report;
pub mod scenario;
pub mod store;
pub mod topology;
pub mod trace;

pub use parse::{parse, ScenarioError};
pub use report::Report;
pub use scenario::Scenario;

use std::io::Write;

/// Reads and checks the scenario file at `path`.
pub fn load(path: &str) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|error| ScenarioError {
        file: path.to_string(),
        line: None,
        problem: format!("cannot read it: {error}"),
    })?;
    parse(&text, path)
}

/// Plays `scenario` with `seed` (its own when `None`), writing the trace to `trace` if given.
pub fn run<'a>(
    scenario: &'a Scenario,
    seed: Option<u64>,
    trace: Option<&'a mut dyn Write>,
) -> Report {
    engine::Simulation::new(scenario, seed.unwrap_or(scenario.seed), trace).run()
}
