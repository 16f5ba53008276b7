//! The explorer (`p2p-sync-sim explore`): every seed generates a whole run ([`generate`]), faults
//! included, which is played in two phases as TigerBeetle's VOPR does: a safety phase with
//! faults, then a liveness phase that heals every partition, restores the network, cuts the
//! attackers off, restarts every crashed node, repairs every disk and waits [`LIVENESS_MS`]
//! before the history checker (`expect = { history = true }`, see `checker`) judges it.
//!
//! A run is played exactly as `p2p-sync-sim run` plays a file: it is written as scenario text
//! and parsed back first. A failing run is shrunk ([`shrink`]) and written as an ordinary
//! scenario file that replays byte for byte.

pub mod generate;
pub mod shrink;

pub use generate::{Options, Run};

use crate::report::Report;
use p2p_sync_core::Config;
use p2p_sync_scenario::emit::emit;
use p2p_sync_scenario::scenario::{
    Action, Connections, Expectation, NetworkParams, NetworkPatch, Scenario, Step,
};
use std::collections::BTreeSet;

/// How long the liveness phase waits, healed and fault-free, before the checker judges.
pub const LIVENESS_MS: u64 = 120_000;

impl Run {
    /// The whole run as a scenario: the safety phase, then the liveness phase.
    pub fn scenario(&self, seed: u64) -> Scenario {
        let mut steps = self.steps.clone();
        steps.extend(self.liveness());
        Scenario {
            file: format!("explore-seed-{seed}.toml"),
            name: format!("explore-seed-{seed}"),
            seed,
            start_ms: generate::START_MS,
            nodes: self.nodes,
            attackers: self.attackers,
            network: self.network,
            steps,
            worlds: Vec::new(),
            private: false,
            attackers_have_key: false,
            allow: None,
            connections: Connections::All,
            config: Config::default(),
        }
    }

    /// Heals, restores the network, cuts the attackers off (a partition of their own), restarts
    /// what is down and repairs every disk the safety phase left broken; then the checker's
    /// verdict.
    fn liveness(&self) -> Vec<Step> {
        let [mut crashed, mut full, mut failing, mut slow] = <[BTreeSet<usize>; 4]>::default();
        for step in &self.steps {
            match step.action {
                Action::Crash(node) => crashed.insert(node),
                Action::Restart(node) => crashed.remove(&node),
                Action::DiskFull(node) => full.insert(node),
                Action::DiskOk(node) => full.remove(&node),
                Action::StoreFail { node, rate } if rate > 0.0 => failing.insert(node),
                Action::StoreFail { node, .. } => failing.remove(&node),
                Action::StoreSlow { node, ms } if ms > 0 => slow.insert(node),
                Action::StoreSlow { node, .. } => slow.remove(&node),
                _ => false,
            };
        }
        let defaults = NetworkParams::default();
        let mut actions = vec![
            Action::Heal,
            Action::Network(NetworkPatch {
                latency_ms: Some(defaults.latency_ms),
                loss: Some(defaults.loss),
                duplicate: Some(defaults.duplicate),
            }),
        ];
        if self.attackers > 0 {
            let attackers = (self.nodes..self.nodes + self.attackers).collect();
            actions.push(Action::Partition(vec![attackers]));
        }
        actions.extend(crashed.into_iter().map(Action::Restart));
        actions.extend(full.into_iter().map(Action::DiskOk));
        actions.extend(
            failing
                .into_iter()
                .map(|node| Action::StoreFail { node, rate: 0.0 }),
        );
        actions.extend(
            slow.into_iter()
                .map(|node| Action::StoreSlow { node, ms: 0 }),
        );
        let heal_at = self.safety_ms;
        let mut steps: Vec<Step> = actions
            .into_iter()
            .map(|action| Step {
                at_ms: heal_at,
                line: 0,
                action,
            })
            .collect();
        steps.push(Step {
            at_ms: heal_at + LIVENESS_MS,
            line: 0,
            action: Action::Expect(Expectation::History),
        });
        steps
    }

    /// Plays the run of `seed` as `run` would play its file; returns the file's text (opening
    /// with `comment`) and the report.
    pub fn play(&self, seed: u64, comment: &str) -> (String, Report) {
        let scenario = self.scenario(seed);
        let text = emit(&scenario, comment);
        let parsed = p2p_sync_scenario::parse(&text, &scenario.file)
            .unwrap_or_else(|error| panic!("a generated run reads back: {error}\n{text}"));
        (text, crate::run(&parsed, None, None))
    }
}

/// What kind of failure a report shows, so shrinking keeps to the same one: the first failed
/// expectation's wording without its numbers.
pub fn signature(report: &Report) -> Option<String> {
    let failure = report.failures.first()?;
    let words: String = failure
        .mismatch
        .expected
        .chars()
        .filter(|c| !c.is_ascii_digit())
        .take(32)
        .collect();
    Some(words)
}

/// A seed whose run failed, shrunk.
#[derive(Debug)]
pub struct Found {
    /// The seed.
    pub seed: u64,
    /// The generated run, as it was.
    pub original: Run,
    /// The smallest run found that fails the same way.
    pub shrunk: Run,
    /// The shrunk run's report.
    pub report: Report,
    /// Runs played while shrinking.
    pub tries: usize,
}

/// What one seed gave: its events when it passed, or the failure found.
pub fn investigate(seed: u64, options: &Options) -> Result<u64, Box<Found>> {
    let run = Run::generate(seed, options);
    let (_, report) = run.play(seed, "");
    if report.passed() {
        return Ok(report.events);
    }
    let (shrunk, tries) = shrink::shrink(&run, seed);
    let (_, report) = shrunk.play(seed, "");
    Err(Box::new(Found {
        seed,
        original: run,
        shrunk,
        report,
        tries,
    }))
}

impl Found {
    /// The scenario file of the shrunk run, to be saved at `path`; it says what it proves.
    pub fn file(&self, path: &str) -> String {
        let failure = self.report.failures.first();
        let what = failure.map_or_else(String::new, |failure| {
            let m = &failure.mismatch;
            let place: Vec<String> = [("node", &m.node), ("key", &m.key)]
                .iter()
                .filter_map(|(name, value)| value.as_ref().map(|v| format!("{name} {v}")))
                .collect();
            format!(
                "expected {}\nfound {}{}",
                m.expected,
                m.found,
                if place.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", place.join(", "))
                }
            )
        });
        let comment = format!(
            "Found by `p2p-sync-sim explore`, seed {seed}; shrunk from {} nodes, {} attackers and \
             {} steps.\nIt fails the history check:\n{what}\nSafety phase until {}ms, then heal, attackers cut off, \
             network defaults, restarts and repaired disks; checked {}ms later.\n\
             Replay: p2p-sync-sim run {path} --trace",
            self.original.nodes,
            self.original.attackers,
            self.original.steps.len(),
            self.shrunk.safety_ms,
            LIVENESS_MS,
            seed = self.seed,
        );
        let mut scenario = self.shrunk.scenario(self.seed);
        scenario.file = path.to_string();
        emit(&scenario, &comment)
    }
}
