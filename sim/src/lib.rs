//! p2p-sync-sim: a deterministic multi-node simulator that runs the unchanged node core and plays
//! the scenario files of `scenarios/` (docs/scenario-format.md); the format, its timeline and
//! workloads, judging and convergence are the `p2p-sync-scenario` crate's.
//!
//! # Layout
//! - [`engine`]: the event loop — virtual time, one seeded rng, steps, gossip and direct delivery.
//! - [`queue`]: events ordered by (time, sequence number). [`clock`]: per-node skewed clocks.
//! - [`topology`]: who is connected (every pair on a LAN, or a degree). [`mesh`]: the Gossipsub
//!   mesh on those connections, repaired by heartbeats. [`network`]: connections, partitions, latency,
//!   loss, duplication, counts. [`node`]: a simulated node (core, parked store, seen cache).
//! - [`store`]: storage faults (a `Store` wrapper that fails, fills up or is slow).
//! - [`observe`]: what `expect` steps and convergence see of the nodes.
//! - [`checker`]: judges a run from the history of acknowledged writes.
//! - [`report`]: the summary (text and JSON). [`trace`]: one line per event.
//! - [`explore`]: runs generated from seeds, shrunk when they fail.
//!
//! Same scenario + same seed ⇒ the same report and trace, byte for byte: nothing reads a wall
//! clock or OS randomness, and nothing iterates a hash map.

#![warn(missing_docs, unreachable_pub)]

pub mod checker;
pub mod clock;
pub mod engine;
pub mod explore;
pub mod mesh;
pub mod network;
pub mod node;
pub mod observe;
pub mod queue;
pub mod report;
pub mod store;
pub mod topology;
pub mod trace;

pub use report::Report;

use p2p_sync_scenario::Scenario;
use std::io::Write;

/// Plays `scenario` with `seed` (its own when `None`), writing the trace to `trace` if given.
pub fn run<'a>(
    scenario: &'a Scenario,
    seed: Option<u64>,
    trace: Option<&'a mut dyn Write>,
) -> Report {
    engine::Simulation::new(scenario, seed.unwrap_or(scenario.seed), trace).run()
}
