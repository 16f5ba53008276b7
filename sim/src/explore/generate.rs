//! One seed → one whole run: how many nodes and attackers, the writes (puts, deletes, batches,
//! hot and cold keys) and a mix of faults from every step of the scenario vocabulary.
//!
//! Swarm testing: each seed first draws which kinds of fault it enables and how hard, so a run
//! has a few kinds at full strength rather than every kind thinly, and rare combinations get
//! their turn. The safety phase plays the faults; [`Run::scenario`] appends the liveness phase.

use p2p_sync_core::wire::format_timestamp;
use p2p_sync_core::Config;
use p2p_sync_scenario::scenario::{
    Action, Attack, AttackKind, NetworkParams, NetworkPatch, Step, Writes,
};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::ops::RangeInclusive;

/// What the explorer may generate.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Honest nodes per run, drawn from this range.
    pub nodes: RangeInclusive<usize>,
    /// Virtual length of the safety phase, in ms.
    pub safety_ms: u64,
}

/// The virtual wall clock at t = 0 of every generated run.
pub const START_MS: u64 = 1_735_689_600_000; // 2025-01-01T00:00:00Z

/// A generated run: its participants, the network at t = 0 and the safety phase's steps (in
/// time order). The liveness phase is derived from them, so a shrunk run gets a fitting one.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// Honest nodes.
    pub nodes: usize,
    /// Attackers.
    pub attackers: usize,
    /// The network at t = 0.
    pub network: NetworkParams,
    /// When the safety phase ends, in virtual ms.
    pub safety_ms: u64,
    /// The safety phase.
    pub steps: Vec<Step>,
}

/// The faults one seed enables, each with its strength (swarm testing).
#[derive(Debug, Default)]
struct Swarm {
    partitions: u32,
    oneway_cuts: u32,
    crashes: u32,
    network_changes: u32,
    loss: f64,
    duplicate: f64,
    latency_ms: u64,
    skews: u32,
    attacks: u32,
    store_failures: u32,
    disk_fulls: u32,
    slow_stores: u32,
}

impl Swarm {
    fn draw(rng: &mut ChaCha8Rng) -> Swarm {
        let mut on = |most: u32| {
            if rng.random_bool(0.5) {
                rng.random_range(1..=most)
            } else {
                0
            }
        };
        let mut swarm = Swarm {
            partitions: on(4),
            oneway_cuts: on(3),
            crashes: on(4),
            network_changes: on(4),
            skews: on(4),
            attacks: on(8),
            store_failures: on(3),
            disk_fulls: on(3),
            slow_stores: on(2),
            ..Swarm::default()
        };
        if swarm.network_changes > 0 {
            swarm.loss = rng.random_range(0.0..0.6);
            swarm.duplicate = rng.random_range(0.0..0.5);
            swarm.latency_ms = rng.random_range(10..3_000);
        }
        swarm
    }
}

/// Builds the steps of one run.
struct Generator<'o> {
    rng: ChaCha8Rng,
    options: &'o Options,
    nodes: usize,
    attackers: usize,
    hot_keys: u64,
    steps: Vec<Step>,
}

impl Run {
    /// The run of `seed`.
    pub fn generate(seed: u64, options: &Options) -> Run {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let swarm = Swarm::draw(&mut rng);
        let nodes = rng.random_range(options.nodes.clone());
        let attackers = if swarm.attacks > 0 {
            rng.random_range(1..=2)
        } else {
            0
        };
        let hot_keys = rng.random_range(1..=4);
        let mut generator = Generator {
            rng,
            options,
            nodes,
            attackers,
            hot_keys,
            steps: Vec::new(),
        };
        let network = generator.initial_network(&swarm);
        generator.writes();
        generator.faults(&swarm);
        let mut steps = generator.steps;
        steps.sort_by_key(|step| step.at_ms);
        Run {
            nodes,
            attackers,
            network,
            safety_ms: options.safety_ms,
            steps,
        }
    }
}

impl Generator<'_> {
    fn at(&mut self) -> u64 {
        self.rng.random_range(0..self.options.safety_ms)
    }

    fn push(&mut self, at_ms: u64, action: Action) {
        self.steps.push(Step {
            at_ms,
            line: 0,
            action,
        });
    }

    fn node(&mut self) -> usize {
        self.rng.random_range(0..self.nodes)
    }

    fn attacker(&mut self) -> usize {
        self.nodes + self.rng.random_range(0..self.attackers)
    }

    fn initial_network(&mut self, swarm: &Swarm) -> NetworkParams {
        let mut network = NetworkParams::default();
        if swarm.network_changes > 0 && self.rng.random_bool(0.5) {
            network.loss = swarm.loss;
            network.duplicate = swarm.duplicate;
        }
        network
    }

    /// Puts and deletes on hot keys (shared by every writer) and cold keys (written once or
    /// twice), single and batched.
    fn writes(&mut self) {
        let commands = self.rng.random_range(5..40);
        for number in 0..commands {
            let at = self.at();
            let node = self.node();
            let key = if self.rng.random_bool(0.6) {
                format!("hot-{}", self.rng.random_range(0..self.hot_keys))
            } else {
                format!("cold-{}", self.rng.random_range(0..commands))
            };
            let action = match self.rng.random_range(0..10) {
                0..=5 => Action::Put {
                    node,
                    key,
                    value: format!("v{number}"),
                },
                6..=7 => Action::Delete { node, key },
                _ => self.batch(at, number),
            };
            self.push(at, action);
        }
    }

    /// A `writes` step that ends within the safety phase.
    fn batch(&mut self, at: u64, number: u64) -> Action {
        let batch = self.rng.random_range(1..=8);
        let count = batch * self.rng.random_range(1..=6);
        let room = (self.options.safety_ms - at) / (count / batch).max(1);
        let hot = self.rng.random_bool(0.5);
        Action::Writes(Writes {
            node: self.rng.random_bool(0.7).then(|| self.node()),
            count,
            batch,
            interval_ms: self.rng.random_range(0..=room.min(5_000)),
            prefix: if hot {
                "hot-".into()
            } else {
                format!("cold-w{number}-")
            },
            keys: hot.then_some(self.hot_keys),
        })
    }

    fn faults(&mut self, swarm: &Swarm) {
        for _ in 0..swarm.partitions {
            self.partition();
        }
        for _ in 0..swarm.oneway_cuts {
            self.oneway();
        }
        for _ in 0..swarm.crashes {
            let (at, node) = (self.at(), self.node());
            self.push(at, Action::Crash(node));
            if self.rng.random_bool(0.7) {
                let back = self.rng.random_range(at..=self.options.safety_ms);
                self.push(back, Action::Restart(node));
            }
        }
        for _ in 0..swarm.network_changes {
            let at = self.at();
            let patch = NetworkPatch {
                latency_ms: self
                    .rng
                    .random_bool(0.5)
                    .then(|| (1, self.rng.random_range(1..=swarm.latency_ms))),
                loss: self
                    .rng
                    .random_bool(0.5)
                    .then(|| self.rng.random_range(0.0..=swarm.loss)),
                duplicate: self
                    .rng
                    .random_bool(0.5)
                    .then(|| self.rng.random_range(0.0..=swarm.duplicate)),
            };
            self.push(at, Action::Network(patch));
        }
        // Within the bound: two nodes at opposite extremes stay under it, with room for latency.
        let most = (Config::default().max_clock_ahead_ms / 2).saturating_sub(1_000) as i64;
        for _ in 0..swarm.skews {
            let (at, node) = (self.at(), self.node());
            let ms = self.rng.random_range(-most..=most);
            self.push(at, Action::Skew { node, ms });
        }
        if self.attackers > 0 {
            for _ in 0..swarm.attacks {
                self.attack();
            }
        }
        self.storage(swarm);
    }

    fn partition(&mut self) {
        let mut everyone: Vec<usize> = (0..self.nodes + self.attackers).collect();
        everyone.shuffle(&mut self.rng);
        let groups = self.rng.random_range(2..=3).min(everyone.len());
        let mut split: Vec<Vec<usize>> = vec![Vec::new(); groups];
        for (index, member) in everyone.into_iter().enumerate() {
            let group = if index < groups {
                index
            } else {
                self.rng.random_range(0..groups)
            };
            split[group].push(member);
        }
        for group in &mut split {
            group.sort();
        }
        let at = self.at();
        self.push(at, Action::Partition(split));
        if self.rng.random_bool(0.6) {
            let heal = self.rng.random_range(at..=self.options.safety_ms);
            self.push(heal, Action::Heal);
        }
    }

    fn oneway(&mut self) {
        let everyone = self.nodes + self.attackers;
        let mut from = Vec::new();
        let mut to = Vec::new();
        for participant in 0..everyone {
            match self.rng.random_range(0..3) {
                0 => from.push(participant),
                1 => to.push(participant),
                _ => {}
            }
        }
        if from.is_empty() || to.is_empty() {
            return;
        }
        let at = self.at();
        self.push(at, Action::OneWay { from, to });
    }

    /// One hostile step of any kind the vocabulary has.
    fn attack(&mut self) {
        let at = self.at();
        let from = self.attacker();
        let to = self.rng.random_bool(0.3).then(|| self.node());
        let kind = match self.rng.random_range(0..5) {
            0 => AttackKind::Flood,
            1 => AttackKind::Oversized(self.rng.random_range(100..=2 * 1024 * 1024)),
            2 => AttackKind::Malformed,
            3 => AttackKind::Invalid {
                key_bytes: self.rng.random_range(0..=400),
                value_bytes: self.rng.random_range(0..=70_000),
            },
            _ => AttackKind::Raw(self.raw_payload(from)),
        };
        let (count, interval_ms) = match kind {
            AttackKind::Flood => (
                self.rng.random_range(1..=300),
                self.rng.random_range(1..=200),
            ),
            _ => (1, 0),
        };
        self.push(
            at,
            Action::Attack(Attack {
                from,
                to,
                count,
                interval_ms,
                kind,
            }),
        );
    }

    /// Hand-made hostile bytes: seed-format writes of the attacker's own keys (valid, far in the
    /// future, or with a bad key), and things that are not quite messages.
    fn raw_payload(&mut self, from: usize) -> Vec<u8> {
        let key = format!("raw-a{}", from - self.nodes);
        let now = format_timestamp(START_MS + self.options.safety_ms / 2);
        let payloads = [
            format!(r#"{{"Put":{{"key":"{key}","value":"x","timestamp":"{now}"}}}}"#),
            format!(r#"{{"Delete":{{"key":"{key}","timestamp":"2099-01-01T00:00:00Z"}}}}"#),
            format!(r#"{{"Batch":[{{"Put":{{"key":"","value":"x","timestamp":"{now}"}}}}]}}"#),
            r#"{"Put":{}}"#.to_string(),
            "null".to_string(),
            String::new(),
        ];
        payloads[self.rng.random_range(0..payloads.len())]
            .clone()
            .into_bytes()
    }

    fn storage(&mut self, swarm: &Swarm) {
        for _ in 0..swarm.store_failures {
            let (at, node) = (self.at(), self.node());
            let rate = self.rng.random_range(0.05..=1.0);
            self.push(at, Action::StoreFail { node, rate });
            if self.rng.random_bool(0.5) {
                let end = self.rng.random_range(at..=self.options.safety_ms);
                self.push(end, Action::StoreFail { node, rate: 0.0 });
            }
        }
        for _ in 0..swarm.disk_fulls {
            let (at, node) = (self.at(), self.node());
            self.push(at, Action::DiskFull(node));
            if self.rng.random_bool(0.5) {
                let end = self.rng.random_range(at..=self.options.safety_ms);
                self.push(end, Action::DiskOk(node));
            }
        }
        for _ in 0..swarm.slow_stores {
            let (at, node) = (self.at(), self.node());
            let ms = self.rng.random_range(1..=500);
            self.push(at, Action::StoreSlow { node, ms });
        }
    }
}
