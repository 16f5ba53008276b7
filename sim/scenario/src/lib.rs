//! p2p-sync-scenario: the scenario format of `scenarios/` (docs/scenario-format.md), and the
//! one place a run of it is judged, whatever world plays it (the simulator, the LAN lab, …).
//!
//! # Playing a scenario in a world
//! 1. **Parse**: [`load`] (or [`parse()`]) gives a checked [`Scenario`], or a [`ScenarioError`]
//!    naming the file, the line and what is wrong.
//! 2. **Timeline**: [`timeline::Timeline`] gives the steps in the order they run, each
//!    repetition of a `writes` or attack step included ([`timeline::Due`]). The world does
//!    what each non-`expect` step says: [`workload::command`] makes a `writes` step's keys and
//!    values, [`attack::packets`] an attack's bytes.
//! 3. **Observe**: the world only observes. It tells a [`convergence::Convergence`] what each
//!    node holds whenever that may have changed (and of every heal or restart,
//!    [`convergence::is_recovery`]), and answers [`judge::Observe`] (values, counters,
//!    connections, traffic) when an `expect` step is due.
//! 4. **Judge**: [`judge::Verdicts::judge`] (through [`judge::check`]) decides each
//!    expectation once for every world, counting those that held and keeping a
//!    [`report::Failure`] for each that did not.
//! 5. **Report**: [`report::Summary`] (text and JSON) sums a run up the same in every world:
//!    the verdicts, [`convergence::ConvergenceReport`] (the fidelity table's "time to
//!    converge") and each node's list digest; its failure text names the seed and the command
//!    that replays the run. A world adds what only it counts.
//!
//! ```ignore
//! let scenario = p2p_sync_scenario::load(file)?;
//! let names = scenario.names();
//! let (mut convergence, mut verdicts) = (Convergence::new(scenario.nodes), Verdicts::default());
//! for due in Timeline::new(&scenario.steps) {
//!     world.run_until(due.at_ms, &mut convergence); // observing what each node holds meanwhile
//!     let step = &scenario.steps[due.step];
//!     match &step.action {
//!         Action::Expect(expectation) => {
//!             verdicts.judge(step, expectation, due.at_ms, &mut world, &names)?;
//!         }
//!         action => world.act(action, due.repetition), // writes: workload::command
//!     }
//!     if is_recovery(&step.action) {
//!         convergence.recovered(due.at_ms);
//!     }
//! }
//! let summary = Summary::new("turmoil", &scenario, seed, end_ms, verdicts, convergence.report(), nodes);
//! ```
//!
//! # Layout
//! - [`scenario`]: the checked scenario types; [`parse`](mod@parse): TOML → scenario, errors
//!   with lines; [`duration`]: `"1.5s"` and friends; [`emit`]: scenario → TOML.
//! - [`timeline`]: steps in time order and their repetitions; [`workload`]: the `writes`
//!   workload's commands; [`attack`]: hostile payloads.
//! - [`convergence`]: the one definition of convergence; [`judge`]: `expect` steps judged from
//!   what a world observes; [`report`]: mismatches, failures, the content digest, a run's
//!   summary.
//! - [`status`]: the real node's `status` text as a world reads it.

#![warn(missing_docs, unreachable_pub)]

pub mod attack;
pub mod convergence;
pub mod duration;
pub mod emit;
pub mod judge;
pub mod parse;
pub mod report;
pub mod scenario;
pub mod status;
pub mod timeline;
pub mod workload;

pub use parse::{parse, ScenarioError};
pub use scenario::Scenario;

/// Reads and checks the scenario file at `path`.
pub fn load(path: &str) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|error| ScenarioError {
        file: path.to_string(),
        line: None,
        problem: format!("cannot read it: {error}"),
    })?;
    parse(&text, path)
}
