//! Plays a scenario file (docs/scenario-format.md) in the turmoil world, step by step, and
//! judges its expectations with the same code as every other world (`p2p-sync-scenario`).
//!
//! - [`refuse`]: what turmoil cannot play, and why; [`observe`]: the judge's questions,
//!   answered from the nodes' reports.

pub mod observe;
pub mod refuse;

use crate::host::Command;
use crate::world::{Layout, TurmoilWorld};
use libp2p::pnet::PreSharedKey;
use observe::{holding, Reports};
use p2p_sync_scenario::convergence::{Convergence, ConvergenceReport};
use p2p_sync_scenario::report::Failure;
use p2p_sync_scenario::scenario::{Action, Scenario};
use p2p_sync_scenario::timeline::Timeline;
use p2p_sync_scenario::{judge, workload};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::time::{Duration, UNIX_EPOCH};

/// How often the world asks every node what it holds, for the time to converge (ms).
const OBSERVE_EVERY_MS: u64 = 100;

/// Virtual time before the scenario's t = 0 in which the nodes start and connect (the other
/// worlds start with every connection up); the wall clock reads the file's start time at t = 0.
const WARMUP: Duration = Duration::from_secs(3);

/// What a run of a scenario came to.
pub struct Outcome {
    /// The expectations that did not hold.
    pub failures: Vec<Failure>,
    /// When the live nodes converged.
    pub convergence: ConvergenceReport,
    /// Each node's final `list` (a crashed node's: its last report before the crash).
    pub lists: Vec<Vec<(String, String)>>,
    /// Whether each node runs at the end.
    pub up: Vec<bool>,
    /// The world's trace.
    pub trace: String,
}

/// Plays `scenario` with `seed`; `Err` is a file turmoil cannot play or a run that broke.
pub fn run(scenario: &Scenario, seed: u64) -> Result<Outcome, String> {
    if let Some(reason) = refuse::unplayable(scenario) {
        return Err(format!("turmoil cannot play {}: {reason}", scenario.file));
    }
    let mut world = TurmoilWorld::new(&layout(scenario, seed)).map_err(|e| e.to_string())?;
    world.run_for(WARMUP).map_err(|e| e.to_string())?;
    let mut player = Player {
        scenario,
        convergence: Convergence::new(scenario.nodes),
        rng: ChaCha8Rng::seed_from_u64(seed),
        failures: Vec::new(),
        now_ms: 0,
    };
    for due in Timeline::new(&scenario.steps) {
        player.advance(&mut world, due.at_ms)?;
        player.act(&mut world, due.step, due.repetition)?;
    }
    let views = world.report().map_err(|e| e.to_string())?;
    for (node, view) in views.iter().enumerate() {
        player
            .convergence
            .observe(node, holding(view), player.now_ms);
    }
    Ok(Outcome {
        failures: player.failures,
        convergence: player.convergence.report(),
        up: views.iter().map(|view| view.running).collect(),
        lists: views.into_iter().map(|view| view.list).collect(),
        trace: world.trace().text(),
    })
}

/// The world a scenario asks for: its nodes, config, network key, latency and start time,
/// every pair of nodes connected.
fn layout(scenario: &Scenario, seed: u64) -> Layout {
    let (low, high) = scenario.network.latency_ms;
    let psk = scenario.private.then(|| {
        let mut key = [0u8; 32];
        rand::RngCore::fill_bytes(&mut ChaCha8Rng::seed_from_u64(seed ^ 0x9E37), &mut key);
        PreSharedKey::new(key)
    });
    Layout {
        config: scenario.config.clone(),
        psk,
        allow: scenario.allow.clone(),
        dials: |index| (0..index).collect(),
        latency: (Duration::from_millis(low), Duration::from_millis(high)),
        epoch: UNIX_EPOCH + Duration::from_millis(scenario.start_ms) - WARMUP,
        ..Layout::new(scenario.nodes, seed)
    }
}

/// A run in progress.
struct Player<'s> {
    scenario: &'s Scenario,
    convergence: Convergence<u64>,
    rng: ChaCha8Rng,
    failures: Vec<Failure>,
    now_ms: u64,
}

impl Player<'_> {
    /// Runs the world to scenario time `until_ms`, observing what every node holds every
    /// [`OBSERVE_EVERY_MS`].
    fn advance(&mut self, world: &mut TurmoilWorld, until_ms: u64) -> Result<(), String> {
        while self.now_ms < until_ms {
            let next = (self.now_ms / OBSERVE_EVERY_MS + 1) * OBSERVE_EVERY_MS;
            let next = next.min(until_ms);
            world.observe();
            world
                .run_for(Duration::from_millis(next - self.now_ms))
                .map_err(|e| e.to_string())?;
            self.now_ms = next;
            for (node, view) in world.views().iter().enumerate() {
                self.convergence.observe(node, holding(view), self.now_ms);
            }
        }
        Ok(())
    }

    /// Does what step `index` says (its `repetition`-th time).
    fn act(
        &mut self,
        world: &mut TurmoilWorld,
        index: usize,
        repetition: u64,
    ) -> Result<(), String> {
        let step = &self.scenario.steps[index];
        match &step.action {
            Action::Put { node, key, value } => world.put(*node, key, value),
            Action::Delete { node, key } => world.command(*node, Command::Delete(key.clone())),
            Action::Partition(groups) => {
                heal(world);
                let group_of = |node: usize| groups.iter().position(|group| group.contains(&node));
                for a in 0..world.len() {
                    for b in a + 1..world.len() {
                        if group_of(a) != group_of(b) {
                            world.partition(a, b);
                        }
                    }
                }
            }
            Action::OneWay { from, to } => {
                for &a in from {
                    for &b in to {
                        world.partition_oneway(a, b);
                    }
                }
            }
            Action::Heal => {
                heal(world);
                self.convergence.recovered(self.now_ms);
            }
            Action::Crash(node) => world.crash(*node),
            Action::Restart(node) => {
                world.bounce(*node);
                self.convergence.recovered(self.now_ms);
            }
            Action::Skew { node, ms } => world.set_skew_ms(*node, *ms),
            Action::AllowAdd { node, peer } => {
                let peer = world.peer_id(*peer);
                world.command(*node, Command::AllowAdd(peer));
            }
            Action::AllowRemove { node, peer } => {
                let peer = world.peer_id(*peer);
                world.command(*node, Command::AllowRemove(peer));
            }
            Action::Writes(writes) => {
                let live = || {
                    let views = world.views();
                    (0..views.len()).filter(|&n| views[n].running).collect()
                };
                if let Some((node, entries)) =
                    workload::command(writes, repetition, live, &mut self.rng)
                {
                    world.command(node, Command::PutMany(entries));
                }
            }
            Action::Expect(expectation) => {
                let views = world.report().map_err(|e| e.to_string())?;
                let connected = views
                    .iter()
                    .map(|view| {
                        let mut peers: Vec<usize> = view
                            .peer_ids
                            .iter()
                            .filter_map(|p| world.index_of(p))
                            .collect();
                        peers.sort_unstable();
                        peers
                    })
                    .collect();
                let mut reports = Reports { views, connected };
                let names = self.scenario.names();
                match judge::check(expectation, &mut reports, &names)? {
                    Ok(()) => {}
                    Err(mismatch) => self.failures.push(Failure {
                        line: step.line,
                        at_ms: step.at_ms,
                        mismatch,
                    }),
                }
            }
            other => return Err(format!("line {}: not playable here: {other:?}", step.line)),
        }
        Ok(())
    }
}

/// Removes every partition and one-way cut.
fn heal(world: &mut TurmoilWorld) {
    for a in 0..world.len() {
        for b in a + 1..world.len() {
            world.repair(a, b);
        }
    }
}
