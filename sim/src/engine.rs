//! The discrete-event engine: one thread, virtual time, one seeded ChaCha rng, and the real node
//! core for every honest node. It plays a scenario's steps and carries out what the cores ask:
//! gossip over a bounded-degree mesh (forwarded on Accept, de-duplicated by message id) and
//! direct messages over connections.

use crate::attack;
use crate::checker::Checker;
use crate::clock::VirtualTime;
use crate::convergence::Convergence;
use crate::emit;
use crate::expect;
use crate::network::{Loss, Network, Route};
use crate::node::SimNode;
use crate::queue::Queue;
use crate::report::{ConvergenceReport, Failure, NodeReport, Report, Traffic};
use crate::scenario::{Action, Attack, Scenario, Writes};
use crate::topology;
use crate::trace::Trace;
use p2p_sync::core::{Event as CoreEvent, Outbox, Verdict, Write as StoreWrite};
use p2p_sync::store::{digest, Store};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;
use std::io::Write;
use std::rc::Rc;

/// A gossip message on its way to one peer.
struct Gossip {
    from: usize,
    to: usize,
    author: usize,
    id: u64,
    payload: Rc<[u8]>,
    route: Route,
}

/// A direct message on its way over a connection.
struct Direct {
    from: usize,
    to: usize,
    payload: Vec<u8>,
    route: Route,
}

/// Something scheduled to happen at a virtual time.
enum Event {
    /// Run step `index` of the scenario.
    Step(usize),
    /// Run repetition `index` of a `writes` or attack step.
    Repeat { step: usize, index: u64 },
    /// A node's timer (`on_tick`).
    Tick(usize),
    /// A gossip message arrives.
    Gossip(Box<Gossip>),
    /// A direct message arrives.
    Direct(Box<Direct>),
}

/// How often (in events) a run reports its progress.
pub const PROGRESS_EVERY: u64 = 1 << 16;

/// How far a run has got.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Virtual time now.
    pub now_ms: u64,
    /// The time of the last step.
    pub end_ms: u64,
    /// Events played so far.
    pub events: u64,
}

/// One run of one scenario with one seed.
pub struct Simulation<'a> {
    scenario: &'a Scenario,
    seed: u64,
    now: VirtualTime,
    queue: Queue<Event>,
    rng: ChaCha8Rng,
    names: Vec<String>,
    ids: HashMap<String, usize>,
    nodes: Vec<SimNode>,
    attackers: Vec<Traffic>,
    net: Network,
    outbox: Outbox,
    trace: Trace<'a>,
    convergence: Convergence,
    checker: Checker,
    next_message_id: u64,
    steps_left: usize,
    events: u64,
    passed: usize,
    failures: Vec<Failure>,
}

impl<'a> Simulation<'a> {
    /// Sets up `scenario` with `seed`: the mesh, the nodes (connected at t = 0), their timers and
    /// the steps; every line of trace goes to `trace` if given.
    pub fn new(scenario: &'a Scenario, seed: u64, trace: Option<&'a mut dyn Write>) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let now = VirtualTime::default();
        let names = scenario.names();
        let honest = scenario.nodes;
        let mut edges = topology::mesh(honest, &mut rng);
        for attacker in honest..names.len() {
            edges.extend((0..honest).map(|node| (node, attacker)));
        }
        let nodes = (0..honest)
            .map(|i| SimNode::start(&names[i], &now, scenario.start_ms, rng.random()))
            .collect();
        let attackers = names[honest..]
            .iter()
            .map(|name| Traffic {
                name: name.clone(),
                messages: 0,
                bytes: 0,
            })
            .collect();
        let mut sim = Simulation {
            scenario,
            seed,
            now,
            queue: Queue::default(),
            rng,
            ids: names.iter().cloned().zip(0..).collect(),
            net: Network::new(names.len(), edges, scenario.network),
            names,
            nodes,
            attackers,
            outbox: Outbox::default(),
            trace: Trace::new(trace),
            convergence: Convergence::new(honest),
            checker: Checker::new(honest),
            next_message_id: 0,
            steps_left: scenario.steps.len(),
            events: 0,
            passed: 0,
            failures: Vec::new(),
        };
        for node in 0..honest {
            sim.touch(node);
        }
        sim.relink();
        let tick_ms = p2p_sync::core::Config::default().tick_ms;
        for node in 0..honest {
            let phase = sim.rng.random_range(0..tick_ms);
            sim.queue.push(phase, Event::Tick(node));
        }
        for (index, step) in scenario.steps.iter().enumerate() {
            sim.queue.push(step.at_ms, Event::Step(index));
        }
        sim
    }

    /// Plays every step and returns the report.
    pub fn run(self) -> Report {
        self.run_observed(&mut |_| {})
    }

    /// Plays every step, calling `progress` every [`PROGRESS_EVERY`] events, and returns the
    /// report.
    pub fn run_observed(mut self, progress: &mut dyn FnMut(Progress)) -> Report {
        let end_ms = self.scenario.steps.iter().map(|step| step.at_ms).max();
        while self.steps_left > 0 {
            if self.events % PROGRESS_EVERY == 0 {
                progress(Progress {
                    now_ms: self.now(),
                    end_ms: end_ms.unwrap_or(0),
                    events: self.events,
                });
            }
            let Some((time, event)) = self.queue.pop() else {
                break;
            };
            self.now.set(time);
            self.events += 1;
            self.checker.queue(self.queue.len());
            match event {
                Event::Step(index) => {
                    self.step(index);
                    self.steps_left -= 1;
                }
                Event::Repeat { step, index } => self.repeat(step, index),
                Event::Tick(node) => self.tick(node),
                Event::Gossip(gossip) => self.deliver_gossip(*gossip),
                Event::Direct(direct) => self.deliver_direct(*direct),
            }
        }
        self.report()
    }

    fn now(&self) -> u64 {
        self.now.get()
    }

    fn step(&mut self, index: usize) {
        let scenario = self.scenario;
        let step = &scenario.steps[index];
        let now = self.now();
        self.trace.line(
            now,
            format_args!(
                "step line {}: {}",
                step.line,
                emit::action(&step.action, &self.names)
            ),
        );
        match &step.action {
            Action::Put { node, key, value } => {
                self.command(*node, |core, out| {
                    core.put(out, key, value).map(|w| vec![w])
                });
            }
            Action::Delete { node, key } => {
                self.command(*node, |core, out| {
                    core.delete(out, key).map(|(w, _)| vec![w])
                });
            }
            Action::Partition(groups) => {
                self.net.partition(groups);
                self.relink();
            }
            Action::OneWay { from, to } => self.net.cut_oneway(from, to),
            Action::Heal => {
                self.net.heal();
                self.relink();
                self.convergence.recovered(now);
            }
            Action::Crash(node) => {
                self.nodes[*node].crash();
                self.net.set_alive(*node, false);
                self.relink();
                self.touch(*node);
            }
            Action::Restart(node) => {
                let seed = self.rng.random();
                let name = &self.names[*node];
                self.nodes[*node].restart(name, &self.now, scenario.start_ms, seed);
                self.net.set_alive(*node, true);
                self.touch(*node);
                self.relink();
                self.convergence.recovered(now);
            }
            Action::Skew { node, ms } => self.nodes[*node].skew_ms.set(*ms),
            Action::Network(patch) => self.net.params = patch.apply(self.net.params),
            Action::StoreFail { node, rate } => {
                let rng = &mut self.rng;
                let mut disk = self.nodes[*node].disk.borrow_mut();
                disk.set_fail_rate(*rate, || rng.random());
            }
            Action::DiskFull(node) => self.nodes[*node].disk.borrow_mut().set_full(true),
            Action::DiskOk(node) => self.nodes[*node].disk.borrow_mut().set_full(false),
            Action::StoreSlow { node, ms } => self.nodes[*node].disk.borrow_mut().set_slow_ms(*ms),
            Action::Writes(_) | Action::Attack(_) => self.repeat(index, 0),
            Action::Expect(expectation) => {
                let honest = &self.names[..self.nodes.len()];
                let participants = self.names.len();
                let history = || self.checker.verdict(&self.nodes, honest, participants, now);
                match expect::check(expectation, &self.nodes, honest, history) {
                    Ok(()) => self.passed += 1,
                    Err(mismatch) => {
                        self.trace.line(now, format_args!("FAILED {mismatch:?}"));
                        self.failures.push(Failure {
                            line: step.line,
                            at_ms: now,
                            mismatch,
                        });
                    }
                }
            }
        }
    }

    /// Repetition `index` of a `writes` or attack step; schedules the next one.
    fn repeat(&mut self, step: usize, index: u64) {
        let (count, interval_ms) = match &self.scenario.steps[step].action {
            Action::Writes(writes) => {
                self.writes(writes, index);
                (writes.count.div_ceil(writes.batch), writes.interval_ms)
            }
            Action::Attack(attack) => {
                self.attack(attack, index);
                (attack.count, attack.interval_ms)
            }
            _ => unreachable!("only writes and attacks repeat"),
        };
        if index + 1 < count {
            let next = Event::Repeat {
                step,
                index: index + 1,
            };
            self.queue.push(self.now() + interval_ms, next);
        }
    }

    fn writes(&mut self, writes: &Writes, index: u64) {
        let node = match writes.node {
            Some(node) => node,
            None => {
                let live: Vec<usize> = (0..self.nodes.len())
                    .filter(|&node| self.nodes[node].core.is_some())
                    .collect();
                if live.is_empty() {
                    return;
                }
                live[self.rng.random_range(0..live.len())]
            }
        };
        let first = index * writes.batch;
        let entries: Vec<(String, String)> = (first..writes.count.min(first + writes.batch))
            .map(|number| {
                let key = match writes.keys {
                    Some(keys) => self.rng.random_range(0..keys),
                    None => number,
                };
                (format!("{}{key}", writes.prefix), format!("v{number}"))
            })
            .collect();
        self.command(node, |core, out| match entries.as_slice() {
            [(key, value)] => core.put(out, key, value).map(|write| vec![write]),
            _ => core.put_many(out, &entries),
        });
    }

    /// Runs a user command on `node` if it is up, tells the checker the writes it acknowledged,
    /// then carries out what it asked for.
    fn command<E: std::fmt::Display>(
        &mut self,
        node: usize,
        run: impl FnOnce(&mut crate::node::Core, &mut Outbox) -> Result<Vec<StoreWrite>, E>,
    ) {
        let now = self.now();
        let Some(core) = self.nodes[node].core.as_mut() else {
            self.trace.line(
                now,
                format_args!("{} is down: command skipped", self.names[node]),
            );
            return;
        };
        match run(core, &mut self.outbox) {
            Ok(writes) => self.checker.acknowledged(&writes),
            Err(error) => self
                .trace
                .line(now, format_args!("{} refused: {error}", self.names[node])),
        }
        self.flush(node);
        self.touch(node);
    }

    fn attack(&mut self, attack: &Attack, index: u64) {
        let from = attack.from;
        let wall_ms = self.scenario.start_ms + self.now();
        let payload: Rc<[u8]> =
            attack::payload(&attack.kind, &self.names[from], index, wall_ms).into();
        let id = self.new_message_id();
        let targets: Vec<(usize, Route)> = self
            .net
            .peers(from)
            .filter(|&(peer, _)| attack.to.is_none_or(|to| to == peer))
            .collect();
        for (to, route) in targets {
            let gossip = Gossip {
                from,
                to,
                author: from,
                id,
                payload: payload.clone(),
                route,
            };
            self.transmit(gossip, 0);
        }
    }

    fn tick(&mut self, node: usize) {
        if let Some(core) = self.nodes[node].core.as_mut() {
            core.on_tick(&mut self.outbox);
            self.flush(node);
        }
        let tick_ms = p2p_sync::core::Config::default().tick_ms;
        self.queue.push(self.now() + tick_ms, Event::Tick(node));
    }

    fn new_message_id(&mut self) -> u64 {
        self.next_message_id += 1;
        self.next_message_id
    }

    /// Carries out what node `node`'s core asked for in its last call, after the time its
    /// commits took (returned), and shows the checker what its store committed.
    fn flush(&mut self, node: usize) -> u64 {
        let mut out = std::mem::take(&mut self.outbox);
        let now = self.now();
        let (delay, committed) = self.nodes[node].disk.borrow_mut().collect();
        for replaced in &committed {
            self.checker.committed(&self.names[node], replaced, now);
        }
        for event in out.events.drain(..) {
            let name = &self.names[node];
            match event {
                CoreEvent::Applied { from, writes } => {
                    for write in writes {
                        let line = format_args!("{name} applied {write} from {from}");
                        self.trace.line(now, line);
                    }
                }
                CoreEvent::Dropped {
                    from,
                    reason,
                    detail,
                } => {
                    self.checker.dropped(name, &from, reason, &detail, now);
                    self.trace.line(
                        now,
                        format_args!("{name} dropped from {from}: {reason}: {detail}"),
                    );
                }
                CoreEvent::Synced {
                    peer,
                    applied,
                    sent,
                } => self.trace.line(
                    now,
                    format_args!("{name} synced with {peer}: applied {applied}, sent {sent}"),
                ),
            }
        }
        for payload in out.published.drain(..) {
            let id = self.new_message_id();
            self.nodes[node].seen.insert(id);
            self.forward(node, node, id, payload.into(), None, delay);
        }
        for (peer, payload) in out.sent.drain(..) {
            self.send_direct(node, &peer, payload, delay);
        }
        self.outbox = out;
        delay
    }

    /// Sends gossip message `id` from `node` to every honest mesh peer except `except` and the
    /// author, `delay` ms from now.
    fn forward(
        &mut self,
        node: usize,
        author: usize,
        id: u64,
        payload: Rc<[u8]>,
        except: Option<usize>,
        delay: u64,
    ) {
        let honest = self.nodes.len();
        let targets: Vec<(usize, Route)> = self
            .net
            .peers(node)
            .filter(|&(peer, _)| peer < honest && peer != author && Some(peer) != except)
            .collect();
        for (to, route) in targets {
            let gossip = Gossip {
                from: node,
                to,
                author,
                id,
                payload: payload.clone(),
                route,
            };
            self.transmit(gossip, delay);
        }
    }

    /// Puts one gossip transmission on the wire `delay` ms from now: counted, then lost,
    /// delivered, or delivered twice.
    fn transmit(&mut self, gossip: Gossip, delay: u64) {
        self.count_sent(gossip.from, gossip.payload.len());
        self.net.stats.gossip_sent += 1;
        let params = self.net.params;
        let lost = self.rng.random_bool(params.loss);
        let copied = self.rng.random_bool(params.duplicate);
        if lost {
            self.net.stats.count(Loss::Random);
            let now = self.now();
            self.trace.line(
                now,
                format_args!(
                    "gossip #{} {}->{} lost",
                    gossip.id, self.names[gossip.from], self.names[gossip.to]
                ),
            );
            return;
        }
        if copied {
            self.net.stats.gossip_copies += 1;
            let copy = Gossip {
                payload: gossip.payload.clone(),
                ..gossip
            };
            let at = self.now() + delay + self.net.latency(&mut self.rng);
            self.queue.push(at, Event::Gossip(Box::new(copy)));
        }
        let at = self.now() + delay + self.net.latency(&mut self.rng);
        self.queue.push(at, Event::Gossip(Box::new(gossip)));
    }

    fn count_sent(&mut self, from: usize, bytes: usize) {
        let honest = self.nodes.len();
        let (messages, total) = match self.nodes.get_mut(from) {
            Some(node) => (&mut node.messages_sent, &mut node.bytes_sent),
            None => {
                let attacker = &mut self.attackers[from - honest];
                (&mut attacker.messages, &mut attacker.bytes)
            }
        };
        *messages += 1;
        *total += bytes as u64;
    }

    fn send_direct(&mut self, from: usize, peer: &str, payload: Vec<u8>, delay: u64) {
        let to = self.ids[peer];
        self.count_sent(from, payload.len());
        let Some(route) = self.net.route(from, to) else {
            self.net.stats.count(Loss::Disconnected);
            return;
        };
        if to >= self.nodes.len() {
            return;
        }
        self.net.stats.direct_sent += 1;
        let at = self
            .net
            .direct_arrival(route, from, self.now() + delay, &mut self.rng);
        let direct = Direct {
            from,
            to,
            payload,
            route,
        };
        self.queue.push(at, Event::Direct(Box::new(direct)));
    }

    fn deliver_gossip(&mut self, gossip: Gossip) {
        let now = self.now();
        let (from, to) = (gossip.from, gossip.to);
        if let Err(loss) = self.net.admit(gossip.route, from, to) {
            self.net.stats.count(loss);
            self.trace.line(
                now,
                format_args!(
                    "gossip #{} {}->{} {loss:?}",
                    gossip.id, self.names[from], self.names[to]
                ),
            );
            return;
        }
        let node = &mut self.nodes[to];
        if !node.seen.insert(gossip.id) {
            self.net.stats.gossip_duplicates += 1;
            self.trace.line(
                now,
                format_args!(
                    "gossip #{} {}->{} duplicate",
                    gossip.id, self.names[from], self.names[to]
                ),
            );
            return;
        }
        self.net.stats.gossip_delivered += 1;
        let core = node
            .core
            .as_mut()
            .expect("a connection that is up ends at a live node");
        let verdict = core.on_gossip(
            &mut self.outbox,
            &self.names[gossip.author],
            &self.names[from],
            &gossip.payload,
        );
        self.trace.line(
            now,
            format_args!(
                "gossip #{} {}->{} author {} {} bytes: {}",
                gossip.id,
                self.names[from],
                self.names[to],
                self.names[gossip.author],
                gossip.payload.len(),
                match &verdict {
                    Ok(verdict) => format!("{verdict:?}"),
                    Err(error) => format!("not stored ({error}): Ignore"),
                }
            ),
        );
        let delay = self.flush(to);
        if let Ok(Verdict::Accept) = verdict {
            let (author, id, payload) = (gossip.author, gossip.id, gossip.payload);
            self.forward(to, author, id, payload, Some(from), delay);
        }
        self.touch(to);
    }

    fn deliver_direct(&mut self, direct: Direct) {
        let now = self.now();
        let (from, to) = (direct.from, direct.to);
        if let Err(loss) = self.net.admit(direct.route, from, to) {
            self.net.stats.count(loss);
            self.trace.line(
                now,
                format_args!("direct {}->{} {loss:?}", self.names[from], self.names[to]),
            );
            return;
        }
        self.net.stats.direct_delivered += 1;
        self.trace.line(
            now,
            format_args!(
                "direct {}->{} {} bytes",
                self.names[from],
                self.names[to],
                direct.payload.len()
            ),
        );
        let core = self.nodes[to]
            .core
            .as_mut()
            .expect("a connection that is up ends at a live node");
        if let Err(error) = core.on_direct(&mut self.outbox, &self.names[from], &direct.payload) {
            let to = &self.names[to];
            self.trace.line(
                now,
                format_args!("{to} could not store what it received: {error}"),
            );
        }
        self.flush(to);
        self.touch(to);
    }

    /// Brings connections in line with partitions and crashes, telling the cores.
    fn relink(&mut self) {
        let now = self.now();
        for change in self.net.refresh() {
            let (a, b) = (change.a, change.b);
            self.trace.line(
                now,
                format_args!(
                    "connection {}-{} {}",
                    self.names[a],
                    self.names[b],
                    if change.up { "up" } else { "down" }
                ),
            );
            for (node, peer) in [(a, b), (b, a)] {
                let Some(core) = self.nodes.get_mut(node).and_then(|n| n.core.as_mut()) else {
                    continue;
                };
                if change.up {
                    core.on_peer_up(&mut self.outbox, &self.names[peer]);
                    self.flush(node);
                } else {
                    core.on_peer_down(&self.names[peer]);
                }
            }
        }
    }

    /// Records that `node`'s store may have changed.
    fn touch(&mut self, node: usize) {
        let summary = self.nodes[node].live_summary();
        self.convergence.update(node, summary, self.now());
    }

    fn report(self) -> Report {
        let nodes = self
            .nodes
            .iter()
            .enumerate()
            .map(|(index, node)| {
                let store = node.store();
                NodeReport {
                    name: self.names[index].clone(),
                    up: node.core.is_some(),
                    peers: self.net.degree(index),
                    digest: format!("{:016x}", digest(store).expect("the store reads")),
                    keys: store.live().expect("the store reads").len(),
                    writes: store.summary().count,
                    store_refused: node.disk.borrow().refused(),
                    counters: node.counters(),
                    traffic: Traffic {
                        name: self.names[index].clone(),
                        messages: node.messages_sent,
                        bytes: node.bytes_sent,
                    },
                }
            })
            .collect();
        let since = self.convergence.converged_since();
        Report {
            scenario: self.scenario.name.clone(),
            file: self.scenario.file.clone(),
            seed: self.seed,
            ended_at_ms: self.now(),
            events: self.events,
            expectations_passed: self.passed,
            failures: self.failures,
            convergence: ConvergenceReport {
                converged: since.is_some(),
                since_ms: since,
                last_recovery_ms: self.convergence.last_recovery(),
                after_recovery_ms: self.convergence.after_recovery(),
            },
            nodes,
            history: self.checker.report(&self.nodes),
            attackers: self.attackers,
            network: self.net.stats,
        }
    }
}
