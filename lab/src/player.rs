//! Plays a scenario's timeline on a [`World`] in real time: each step at its `at` (times the
//! time scale) from the moment every node is connected, `writes` and attacks repeated at their
//! rate, expectations judged when due. Between steps it samples what every live node holds
//! (its `list`) for the scenario crate's convergence.

use crate::host;
use crate::interrupt::{self, Interrupted};
use crate::observe::{self, LanView};
use crate::report::LanReport;
use crate::world::{Binaries, BuildError, World};
use p2p_sync_scenario::convergence::{is_recovery, Convergence, ConvergenceReport};
use p2p_sync_scenario::judge::Verdicts;
use p2p_sync_scenario::report::{content_digest, NodeSummary, Summary};
use p2p_sync_scenario::scenario::{Action, AttackKind, Scenario};
use p2p_sync_scenario::timeline::Timeline;
use std::time::{Duration, Instant};

/// How often convergence is sampled while no step is due.
const SAMPLE: Duration = Duration::from_millis(250);

/// How a run is played.
#[derive(Debug, Clone)]
pub struct Options {
    /// Overrides the file's seed.
    pub seed: Option<u64>,
    /// Real seconds per scenario second.
    pub time_scale: f64,
    /// The programs.
    pub binaries: Binaries,
    /// Keep the data directories and logs (their path goes to stderr).
    pub keep: bool,
}

/// What became of a run that could start.
#[derive(Debug)]
pub enum Outcome {
    /// It was played.
    Played(LanReport),
    /// The file says the LAN cannot play it; the reason.
    Skipped(String),
}

/// Why a run did not produce a report.
#[derive(Debug)]
pub enum RunError {
    /// This machine cannot run the LAN world (not root, no iproute2, nftables or netem).
    CannotRun(String),
    /// The run broke: a node did not start, connect or answer.
    Broken(String),
    /// Ctrl-C or SIGTERM.
    Interrupted,
}

impl From<Interrupted> for RunError {
    fn from(_: Interrupted) -> Self {
        RunError::Interrupted
    }
}

/// Tells `convergence` what every honest node holds at scenario time `now`.
fn sample(convergence: &mut Convergence<u64>, world: &mut World, now: u64) -> Result<(), String> {
    for (node, holding) in observe::holdings(world)?.into_iter().enumerate() {
        convergence.observe(node, holding, now);
    }
    Ok(())
}

/// Plays `scenario` on a fresh LAN.
pub fn play(scenario: &Scenario, options: &Options) -> Result<Outcome, RunError> {
    if !scenario.plays_in("lan") {
        return Ok(Outcome::Skipped(format!(
            "{} declares worlds = {:?} (see the comment at its top for why)",
            scenario.file, scenario.worlds
        )));
    }
    if let Some(reason) = unsupported(scenario) {
        return Ok(Outcome::Skipped(format!(
            "{}: the LAN runner does not play {reason} yet",
            scenario.file
        )));
    }
    if let Some(reason) = host::cannot_run(scenario) {
        return Err(RunError::CannotRun(reason));
    }
    for binary in [&options.binaries.node, &options.binaries.hostile] {
        if !binary.is_file() {
            return Err(RunError::CannotRun(format!(
                "{} is missing: build it first (cargo build -p p2p-sync -p p2p-sync-lab)",
                binary.display()
            )));
        }
    }
    interrupt::install();
    let seed = options.seed.unwrap_or(scenario.seed);
    let setup = Instant::now();
    // A signal also ends the nodes (they share the terminal's process group), so any error
    // after one is the interruption.
    let interrupted = |error| match interrupt::check() {
        Err(Interrupted) => RunError::Interrupted,
        Ok(()) => error,
    };
    let mut world = World::build(scenario, options.binaries.clone(), seed).map_err(|e| {
        interrupted(match e {
            BuildError::Host(reason) => RunError::CannotRun(reason),
            BuildError::Nodes(reason) => RunError::Broken(reason),
        })
    })?;
    let setup_ms = setup.elapsed().as_millis() as u64;
    if options.keep {
        world.keep_files();
        eprintln!(
            "keeping the data directories and logs in {}",
            world.dir().display()
        );
    }
    let result = steps(scenario, options.time_scale, &mut world);
    let (verdicts, convergence, ended_at_ms) = match result {
        Ok(done) => done,
        Err(error) => return Err(interrupted(error)),
    };
    let names = scenario.names();
    let mut nodes = Vec::new();
    for (index, name) in names.iter().take(scenario.nodes).enumerate() {
        let list = world
            .live()
            .find(|(i, _)| *i == index)
            .map(|(_, node)| node.list());
        let list = list.transpose().map_err(RunError::Broken)?;
        nodes.push(NodeSummary {
            name: name.clone(),
            up: list.is_some(),
            keys: list.as_ref().map(Vec::len),
            content: list.as_deref().map(content_digest),
        });
    }
    let summary = Summary::new(
        "LAN",
        scenario,
        seed,
        ended_at_ms,
        verdicts,
        convergence,
        nodes,
    );
    Ok(Outcome::Played(LanReport { summary, setup_ms }))
}

/// The vocabulary of `scenario` the LAN runner cannot play yet, if any: private networks,
/// allow-lists, `[config]` (real nodes take no such options from the runner), storage faults
/// and attacks on the reconciliation protocol. A file using any of it is skipped, never played
/// in part; such files say so with `worlds = ["sim"]` (a test checks every file does).
pub fn unsupported(scenario: &Scenario) -> Option<&'static str> {
    let any = |wanted: fn(&Action) -> bool| scenario.steps.iter().any(|step| wanted(&step.action));
    if scenario.private {
        Some("private networks (`private = true`)")
    } else if scenario.allow.is_some()
        || any(|action| matches!(action, Action::AllowAdd { .. } | Action::AllowRemove { .. }))
    {
        Some("allow-lists")
    } else if scenario.config != Default::default() {
        Some("a `[config]` table")
    } else if any(|action| {
        matches!(
            action,
            Action::StoreFail { .. }
                | Action::DiskFull(_)
                | Action::DiskOk(_)
                | Action::StoreSlow { .. }
        )
    }) {
        Some("storage faults")
    } else if any(|action| match action {
        Action::Attack(attack) => attack_is_direct(&attack.kind),
        _ => false,
    }) {
        Some("attacks on the reconciliation protocol")
    } else {
        None
    }
}

/// Whether an attack sends reconciliation messages (the hostile client speaks gossip only).
fn attack_is_direct(kind: &AttackKind) -> bool {
    matches!(
        kind,
        AttackKind::EstimateBomb
            | AttackKind::WantFlood { .. }
            | AttackKind::RecordsFlood { .. }
            | AttackKind::Forge {
                by_reconciliation: true,
                ..
            }
    )
}

type Played = (Verdicts, ConvergenceReport, u64);

/// Plays the timeline.
fn steps(scenario: &Scenario, scale: f64, world: &mut World) -> Result<Played, RunError> {
    let names = scenario.names();
    let mut verdicts = Verdicts::default();
    let mut convergence = Convergence::new(scenario.nodes);
    let start = Instant::now();
    let now_ms = || (start.elapsed().as_secs_f64() * 1000.0 / scale) as u64;
    let mut next_sample = start;
    let mut ended_at_ms = 0;
    for due in Timeline::new(&scenario.steps) {
        let at_ms = due.at_ms;
        let deadline = start + Duration::from_secs_f64(at_ms as f64 * scale / 1000.0);
        while Instant::now() < deadline {
            if Instant::now() >= next_sample {
                sample(&mut convergence, world, now_ms()).map_err(RunError::Broken)?;
                next_sample = Instant::now() + SAMPLE;
            }
            interrupt::sleep_until(deadline.min(next_sample))?;
        }
        interrupt::check()?;
        ended_at_ms = at_ms;
        let step = &scenario.steps[due.step];
        if let Action::Expect(expectation) = &step.action {
            let mut view = LanView {
                world: &mut *world,
                names: &names,
            };
            verdicts
                .judge(step, expectation, at_ms, &mut view, &names)
                .map_err(RunError::Broken)?;
        } else {
            world
                .act(&step.action, due.repetition)
                .map_err(RunError::Broken)?;
        }
        if is_recovery(&step.action) {
            convergence.recovered(at_ms);
        }
    }
    sample(&mut convergence, world, now_ms()).map_err(RunError::Broken)?;
    Ok((verdicts, convergence.report(), ended_at_ms))
}
