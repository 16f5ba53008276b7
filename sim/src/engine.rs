//! The discrete-event engine: one thread, virtual time, one seeded ChaCha rng, and the real node
//! core for every honest node. It plays a scenario's steps and carries out what the cores ask:
//! connections as the real node makes them, a node's own gossip flood-published to every
//! connected peer, others' gossip forwarded on Accept through the Gossipsub mesh only (kept by
//! heartbeats, de-duplicated by message id), and direct messages over connections. A private
//! network keeps attackers without the key off every connection; allow-lists refuse
//! connections (and the cores refuse writes) from unlisted participants.

use crate::checker::Checker;
use crate::clock::VirtualTime;
use crate::mesh::Mesh;
use crate::network::{Loss, Network, Route};
use crate::node::{Setup, SimNode};
use crate::observe::{holding, SimView};
use crate::queue::Queue;
use crate::report::{NodeReport, Report, Traffic};
use crate::topology;
use crate::trace::Trace;
use p2p_sync_core::store::{digest, Store};
use p2p_sync_core::{
    CommandError, Event as CoreEvent, Membership, Outbox, Verdict, Write as StoreWrite,
};
use p2p_sync_scenario::attack::{self, Attacker, Packet};
use p2p_sync_scenario::convergence::{is_recovery, Convergence};
use p2p_sync_scenario::judge::Verdicts;
use p2p_sync_scenario::report::content_digest;
use p2p_sync_scenario::scenario::{Action, Attack, Scenario, Writes};
use p2p_sync_scenario::timeline::repetitions;
use p2p_sync_scenario::{emit, workload};
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
    /// A node's deadline (`NodeCore::poll_timeout`) is due.
    Wake(usize),
    /// A node's Gossipsub heartbeat (mesh repair).
    Heartbeat(usize),
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
    setup: Setup,
    queue: Queue<Event>,
    rng: ChaCha8Rng,
    names: Vec<String>,
    ids: HashMap<String, usize>,
    nodes: Vec<SimNode>,
    attackers: Vec<Traffic>,
    net: Network,
    mesh: Mesh,
    outbox: Outbox,
    trace: Trace<'a>,
    convergence: Convergence<(u64, u64)>,
    checker: Checker,
    next_message_id: u64,
    steps_left: usize,
    events: u64,
    verdicts: Verdicts,
}

impl<'a> Simulation<'a> {
    /// Sets up `scenario` with `seed`: the connections, the nodes (connected at t = 0, the mesh
    /// forming as they subscribe), their timers and heartbeats, and the steps; every line of
    /// trace goes to `trace` if given.
    pub fn new(scenario: &'a Scenario, seed: u64, trace: Option<&'a mut dyn Write>) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let setup = Setup {
            config: scenario.config.clone(),
            keys: Rc::default(),
            now: VirtualTime::default(),
            start_ms: scenario.start_ms,
        };
        let names = scenario.names();
        let honest = scenario.nodes;
        let mut edges = topology::connections(honest, scenario.connections, &mut rng);
        if !scenario.private || scenario.attackers_have_key {
            for attacker in honest..names.len() {
                edges.extend((0..honest).map(|node| (node, attacker)));
            }
        }
        let mut nodes: Vec<SimNode> = (0..honest)
            .map(|i| {
                let seed = rng.random();
                SimNode::start(&names[i], &setup, seed)
            })
            .collect();
        // Members as the real node makes them: the allow-list's, else a private network's all.
        let listed = scenario
            .allow
            .as_ref()
            .map(|allow| allow.iter().map(|&index| names[index].clone()));
        let members = Membership::of_network(scenario.private, listed);
        for node in &mut nodes {
            node.set_membership(members.clone());
        }
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
            setup,
            queue: Queue::default(),
            rng,
            ids: names.iter().cloned().zip(0..).collect(),
            net: Network::new(names.len(), edges, scenario.network),
            mesh: Mesh::new(honest, &scenario.config),
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
            verdicts: Verdicts::default(),
        };
        for node in 0..honest {
            sim.touch(node);
            if scenario.allow.is_some() {
                sim.gate(node);
            }
        }
        sim.relink();
        let heartbeat_ms = sim.setup.config.gossip_heartbeat_ms.max(1);
        for node in 0..honest {
            sim.schedule_wake(node);
            let phase = sim.rng.random_range(0..heartbeat_ms);
            sim.queue.push(phase, Event::Heartbeat(node));
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
            if self.events.is_multiple_of(PROGRESS_EVERY) {
                progress(Progress {
                    now_ms: self.now(),
                    end_ms: end_ms.unwrap_or(0),
                    events: self.events,
                });
            }
            let Some((time, event)) = self.queue.pop() else {
                break;
            };
            self.setup.now.set(time);
            self.events += 1;
            self.checker.queue(self.queue.len());
            match event {
                Event::Step(index) => {
                    self.step(index);
                    self.steps_left -= 1;
                }
                Event::Repeat { step, index } => self.repeat(step, index),
                Event::Wake(node) => self.wake(node),
                Event::Heartbeat(node) => self.heartbeat(node),
                Event::Gossip(gossip) => self.deliver_gossip(*gossip),
                Event::Direct(direct) => self.deliver_direct(*direct),
            }
        }
        self.report()
    }

    fn now(&self) -> u64 {
        self.setup.now.get()
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
                self.nodes[*node].restart(name, &self.setup, seed);
                self.schedule_wake(*node);
                self.net.set_alive(*node, true);
                self.touch(*node);
                self.relink();
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
            Action::AllowAdd { node, peer } | Action::AllowRemove { node, peer } => {
                let mut membership = self.nodes[*node].membership().clone();
                let name = self.names[*peer].clone();
                if matches!(step.action, Action::AllowAdd { .. }) {
                    membership.insert(name);
                } else {
                    membership.remove(&name);
                }
                self.nodes[*node].set_membership(membership);
                self.gate(*node);
                self.relink();
            }
            Action::Expect(expectation) => {
                let mut view = SimView {
                    nodes: &self.nodes,
                    names: &self.names,
                    net: &self.net,
                    checker: &self.checker,
                    now_ms: now,
                };
                let verdict = self
                    .verdicts
                    .judge(step, expectation, now, &mut view, &self.names);
                let verdict = verdict.expect("the simulator observes everything");
                if let Some(mismatch) = verdict {
                    self.trace.line(now, format_args!("FAILED {mismatch:?}"));
                }
            }
        }
        if is_recovery(&step.action) {
            self.convergence.recovered(now);
        }
    }

    /// Repetition `index` of a `writes` or attack step; schedules the next one.
    fn repeat(&mut self, step: usize, index: u64) {
        let action = &self.scenario.steps[step].action;
        match action {
            Action::Writes(writes) => self.writes(writes, index),
            Action::Attack(attack) => self.attack(attack, index),
            _ => unreachable!("only writes and attacks repeat"),
        }
        let (count, interval_ms) = repetitions(action).expect("writes and attacks repeat");
        if index + 1 < count {
            let next = Event::Repeat {
                step,
                index: index + 1,
            };
            self.queue.push(self.now() + interval_ms, next);
        }
    }

    fn writes(&mut self, writes: &Writes, index: u64) {
        let nodes = &self.nodes;
        let live = || {
            (0..nodes.len())
                .filter(|&node| nodes[node].core.is_some())
                .collect()
        };
        let Some((node, entries)) = workload::command(writes, index, live, &mut self.rng) else {
            return;
        };
        self.command(node, |core, out| match entries.as_slice() {
            [(key, value)] => core.put(out, key, value).map(|write| vec![write]),
            // Writes made by the simulator follow the key rules: every verdict is a write.
            _ => core
                .put_many(out, &entries)
                .map(|verdicts| verdicts.into_iter().flatten().collect())
                .map_err(CommandError::from),
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
        let targets: Vec<(usize, Route)> = self
            .net
            .peers(from)
            .filter(|&(peer, _)| attack.to.is_none_or(|to| to == peer))
            .collect();
        let attacker = Attacker::named(&self.names[from]);
        for packet in attack::packets(&attack.kind, &attacker, index, wall_ms) {
            match packet {
                Packet::Gossip(bytes) => {
                    let payload: Rc<[u8]> = bytes.into();
                    let id = self.new_message_id();
                    self.send_gossip(from, from, id, &payload, targets.clone(), 0);
                }
                Packet::Direct(bytes) => {
                    let honest = self.nodes.len();
                    for &(to, _) in targets.iter().filter(|&&(to, _)| to < honest) {
                        let peer = self.names[to].clone();
                        self.send_direct(from, &peer, bytes.clone(), 0);
                    }
                }
            }
        }
    }

    /// A scheduled wake-up: if it is the node's current one, the core handles its timeout
    /// (and `flush` schedules the next); a wake-up that was superseded does nothing.
    fn wake(&mut self, node: usize) {
        let now = self.now();
        if self.nodes[node].wake_at != Some(now) {
            return;
        }
        self.nodes[node].wake_at = None;
        if let Some(core) = self.nodes[node].core.as_mut() {
            core.handle_timeout(&mut self.outbox);
            self.flush(node);
        }
    }

    /// Schedules a wake-up of `node` at its core's deadline, unless one is already due by then.
    fn schedule_wake(&mut self, node: usize) {
        let Some(core) = self.nodes[node].core.as_ref() else {
            return;
        };
        let due = core.poll_timeout().max(self.now());
        if self.nodes[node].wake_at.is_none_or(|at| due < at) {
            self.nodes[node].wake_at = Some(due);
            self.queue.push(due, Event::Wake(node));
        }
    }

    /// A Gossipsub heartbeat of `node`: repairs its mesh if it is out of bounds.
    fn heartbeat(&mut self, node: usize) {
        if self.nodes[node].core.is_some() && self.mesh.needs_repair(node) {
            let connected = self.connected_honest(node);
            let repair = self.mesh.heartbeat(node, &connected, &mut self.rng);
            self.net.stats.mesh_grafts += repair.grafted.len() as u64;
            self.net.stats.mesh_prunes += repair.pruned.len() as u64;
            let now = self.now();
            let name = &self.names[node];
            for (what, peers) in [("grafted", &repair.grafted), ("pruned", &repair.pruned)] {
                for &peer in peers {
                    let line = format_args!("{name} {what} {}", self.names[peer]);
                    self.trace.line(now, line);
                }
            }
        }
        self.queue.push(
            self.now() + self.setup.config.gossip_heartbeat_ms,
            Event::Heartbeat(node),
        );
    }

    /// The honest peers `node` is connected to now.
    fn connected_honest(&self, node: usize) -> Vec<usize> {
        let honest = self.nodes.len();
        self.net
            .peers(node)
            .map(|(peer, _)| peer)
            .filter(|&peer| peer < honest)
            .collect()
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
                CoreEvent::Reconciled {
                    peer,
                    applied,
                    sent,
                } => self.trace.line(
                    now,
                    format_args!("{name} reconciled with {peer}: applied {applied}, sent {sent}"),
                ),
            }
        }
        for payload in out.published.drain(..) {
            let id = self.new_message_id();
            self.nodes[node].seen.insert(id);
            self.net.stats.gossip_published += 1;
            self.flood(node, id, payload.into(), delay);
        }
        for (peer, payload) in out.sent.drain(..) {
            self.send_direct(node, &peer, payload, delay);
        }
        self.outbox = out;
        self.schedule_wake(node);
        delay
    }

    /// Publishes `node`'s own gossip message `id` as Gossipsub's flood publishing does: to every
    /// connected honest peer, mesh or not, `delay` ms from now (a slow disk holds it back).
    fn flood(&mut self, node: usize, id: u64, payload: Rc<[u8]>, delay: u64) {
        let honest = self.nodes.len();
        let targets: Vec<(usize, Route)> = self
            .net
            .peers(node)
            .filter(|&(peer, _)| peer < honest)
            .collect();
        self.send_gossip(node, node, id, &payload, targets, delay);
    }

    /// Forwards gossip message `id`, accepted by `node`, to its mesh peers except the one it
    /// came `from` and the author, `delay` ms from now.
    fn forward(
        &mut self,
        node: usize,
        author: usize,
        id: u64,
        payload: Rc<[u8]>,
        from: usize,
        delay: u64,
    ) {
        let mesh = self.mesh.peers(node);
        let targets: Vec<(usize, Route)> = self
            .net
            .peers(node)
            .filter(|&(peer, _)| mesh.contains(&peer) && peer != author && peer != from)
            .collect();
        self.send_gossip(node, author, id, &payload, targets, delay);
    }

    /// Transmits gossip message `id` by `author` from `node` to each of `targets`, `delay` ms
    /// from now.
    fn send_gossip(
        &mut self,
        node: usize,
        author: usize,
        id: u64,
        payload: &Rc<[u8]>,
        targets: Vec<(usize, Route)>,
        delay: u64,
    ) {
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
        if gossip.author < self.nodes.len() {
            self.net.stats.gossip_received += 1;
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
        let verdict = core.handle_gossip(
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
            self.forward(to, author, id, payload, from, delay);
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
        if let Err(error) = core.handle_direct(&mut self.outbox, &self.names[from], &direct.payload)
        {
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
            let honest = self.nodes.len();
            if a < honest && b < honest {
                if change.up {
                    self.mesh.connected(a, b);
                } else {
                    self.mesh.disconnected(a, b);
                }
            }
            for (node, peer) in [(a, b), (b, a)] {
                let Some(core) = self.nodes.get_mut(node).and_then(|n| n.core.as_mut()) else {
                    continue;
                };
                if change.up {
                    core.handle_peer_up(&mut self.outbox, &self.names[peer]);
                    self.flush(node);
                } else {
                    core.handle_peer_down(&self.names[peer]);
                }
            }
        }
    }

    /// Refuses or admits every connection of honest `node` by its allow-list and the other
    /// end's (attackers hold no list).
    fn gate(&mut self, node: usize) {
        let admits = |by: usize, whom: usize| {
            self.nodes
                .get(by)
                .is_none_or(|n| n.membership().admits(&self.names[whom]))
        };
        let refused: Vec<(usize, bool)> = (0..self.names.len())
            .filter(|&other| other != node)
            .map(|other| (other, !admits(node, other) || !admits(other, node)))
            .collect();
        for (other, refused) in refused {
            self.net.set_refused(node, other, refused);
        }
    }

    /// Records that `node`'s store may have changed.
    fn touch(&mut self, node: usize) {
        let summary = self.nodes[node].live_summary();
        self.convergence
            .observe(node, summary.map(holding), self.now());
    }

    fn report(self) -> Report {
        let nodes = self
            .nodes
            .iter()
            .enumerate()
            .map(|(index, node)| {
                let store = node.store();
                let live = store.live().expect("the store reads");
                NodeReport {
                    name: self.names[index].clone(),
                    up: node.core.is_some(),
                    peers: self.net.degree(index),
                    mesh: self.mesh.peers(index).len(),
                    digest: format!("{:016x}", digest(store).expect("the store reads")),
                    content: format!("{:016x}", content_digest(&live)),
                    keys: live.len(),
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
        let stats = self.net.stats;
        let others = self.nodes.len().saturating_sub(1) as u64;
        let gossip_per_write_per_node = (stats.gossip_published > 0 && others > 0)
            .then(|| stats.gossip_received as f64 / (stats.gossip_published * others) as f64);
        Report {
            scenario: self.scenario.name.clone(),
            file: self.scenario.file.clone(),
            seed: self.seed,
            ended_at_ms: self.now(),
            events: self.events,
            expectations_passed: self.verdicts.passed,
            failures: self.verdicts.failures,
            convergence: self.convergence.report(),
            nodes,
            history: self.checker.report(&self.nodes),
            attackers: self.attackers,
            network: stats,
            gossip_per_write_per_node,
        }
    }
}
