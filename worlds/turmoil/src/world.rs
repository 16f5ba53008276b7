//! A turmoil world of honest hosts, each running the real node: start it, run it for virtual
//! time, put and report, partition and heal links, crash and bounce hosts.

use crate::clock;
use crate::host::{self, Command, Mailbox, Spec, View, PORT};
use crate::trace::Trace;
use libp2p::core::multiaddr::Protocol;
use libp2p::pnet::PreSharedKey;
use libp2p::{Multiaddr, PeerId};
use p2p_sync_core::Config;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;
use turmoil::Sim;

/// How a world is laid out.
#[derive(Clone)]
pub struct Layout {
    /// Hosts, named `n0`, `n1`, ….
    pub hosts: usize,
    /// The seed of everything random in the world (turmoil's network, identities, cores).
    pub seed: u64,
    /// How far simulated time moves per step.
    pub tick: Duration,
    /// The core's limits and intervals, on every node.
    pub config: Config,
    /// The private network's key, if the nodes run in one.
    pub psk: Option<PreSharedKey>,
    /// The hosts every node's allow-list names at the start, if one is in force.
    pub allow: Option<Vec<usize>>,
    /// Whom each host dials: `dials(i)` lists the indexes of hosts `i` dials (lower ones only).
    pub dials: fn(usize) -> Vec<usize>,
    /// Each message's latency: turmoil draws it between these bounds.
    pub latency: (Duration, Duration),
    /// The world's wall clock at t = 0.
    pub epoch: std::time::SystemTime,
    /// Whose data directory each host runs on: `dir_of(i)` is `i` unless two hosts share one
    /// (as two processes started on one directory would).
    pub dir_of: fn(usize) -> usize,
}

/// Every host dials the one before it and the first: a chain the nodes' Kademlia fills in.
pub fn chain_and_hub(index: usize) -> Vec<usize> {
    match index {
        0 => Vec::new(),
        1 => vec![0],
        _ => vec![0, index - 1],
    }
}

impl Layout {
    /// `hosts` hosts with the default config, a 1 ms tick, no network key.
    pub fn new(hosts: usize, seed: u64) -> Self {
        Layout {
            hosts,
            seed,
            tick: Duration::from_millis(1),
            config: Config::default(),
            psk: None,
            allow: None,
            dials: chain_and_hub,
            latency: (Duration::ZERO, Duration::from_millis(100)),
            epoch: clock::epoch(),
            dir_of: |index| index,
        }
    }
}

/// One host as the world keeps it.
struct Host {
    name: String,
    peer: PeerId,
    mailbox: Rc<RefCell<Mailbox>>,
    skew_ms: Arc<AtomicI64>,
}

/// A running world.
pub struct TurmoilWorld<'a> {
    sim: Sim<'a>,
    hosts: Vec<Host>,
    trace: Trace,
    tick: Duration,
    /// The process's virtual time when this world started (worlds run one after another
    /// continue it: it never goes back).
    clock_base: Duration,
    _dirs: TempDir,
}

impl<'a> TurmoilWorld<'a> {
    /// Builds the world and registers every host (their nodes start on the first step).
    pub fn new(layout: &Layout) -> std::io::Result<Self> {
        assert!(layout.hosts < 250, "at most 249 hosts");
        let dirs = tempfile::tempdir()?;
        let mut sim = turmoil::Builder::new()
            .tick_duration(layout.tick)
            .simulation_duration(Duration::from_secs(u64::MAX / 4))
            .epoch(layout.epoch)
            .min_message_latency(layout.latency.0)
            .max_message_latency(layout.latency.1)
            .rng_seed(layout.seed)
            .tcp_capacity(1 << 16)
            .build();
        let trace = Trace::default();
        let mut hosts: Vec<Host> = Vec::new();
        let mut addresses: Vec<Multiaddr> = Vec::new();
        let keys = host::ordered_keys(layout.hosts, layout.seed);
        let allow: Vec<PeerId> = layout
            .allow
            .iter()
            .flatten()
            .map(|&index| keys[index].public().to_peer_id())
            .collect();
        for index in 0..layout.hosts {
            let name = format!("n{index}");
            let data_dir = dirs.path().join(format!("n{}", (layout.dir_of)(index)));
            let key = &keys[(layout.dir_of)(index)];
            host::install_identity(&data_dir, key)?;
            let peer = key.public().to_peer_id();
            let dial = (layout.dials)(index)
                .into_iter()
                .filter_map(|to| addresses.get(to).cloned())
                .collect();
            let mailbox = Rc::new(RefCell::new(Mailbox::default()));
            let skew_ms = Arc::new(AtomicI64::new(0));
            // turmoil numbers hosts from 192.168.0.1 in the order they are registered.
            let ip = std::net::Ipv4Addr::new(192, 168, 0, 1 + index as u8);
            let spec = Spec {
                name: name.clone(),
                ip: ip.into(),
                data_dir,
                dial,
                psk: layout.psk,
                allow: allow.clone(),
                config: layout.config.clone(),
                seed: mix(layout.seed, index as u64, 2),
                skew_ms: skew_ms.clone(),
            };
            sim.host(
                name.as_str(),
                host::software(spec, mailbox.clone(), trace.clone()),
            );
            assert_eq!(
                sim.lookup(name.as_str()),
                std::net::IpAddr::from(ip),
                "turmoil's addresses"
            );
            addresses.push(
                Multiaddr::from(ip)
                    .with(Protocol::Tcp(PORT))
                    .with(Protocol::P2p(peer)),
            );
            hosts.push(Host {
                name,
                peer,
                mailbox,
                skew_ms,
            });
        }
        Ok(TurmoilWorld {
            sim,
            hosts,
            trace,
            tick: layout.tick,
            clock_base: clock::elapsed(),
            _dirs: dirs,
        })
    }

    /// Runs the world for `duration` of virtual time.
    pub fn run_for(&mut self, duration: Duration) -> turmoil::Result {
        let until = self.sim.elapsed() + duration;
        while self.sim.elapsed() < until {
            clock::set_elapsed(self.clock_base + self.sim.elapsed());
            self.sim.step()?;
        }
        clock::set_elapsed(self.clock_base + self.sim.elapsed());
        Ok(())
    }

    /// The trace so far.
    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// How many hosts the world has.
    pub fn len(&self) -> usize {
        self.hosts.len()
    }

    /// Whether the world has no host.
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }

    /// Registers a host running other `software` than a node (a foreign client, an attacker),
    /// named `name`; it gets the next address, 192.168.0.(hosts + 1) and up.
    pub fn add_host<F, Fut>(&mut self, name: &str, software: F)
    where
        F: Fn() -> Fut + 'a,
        Fut: std::future::Future<Output = turmoil::Result> + 'static,
    {
        self.sim.host(name, software);
    }

    /// Host `index`'s address to dial, with its PeerId.
    pub fn address(&self, index: usize) -> Multiaddr {
        Multiaddr::from(std::net::Ipv4Addr::new(192, 168, 0, 1 + index as u8))
            .with(Protocol::Tcp(PORT))
            .with(Protocol::P2p(self.hosts[index].peer))
    }

    /// Hands `command` to host `index`; traced as not delivered when its node is down.
    pub fn command(&mut self, index: usize, command: Command) {
        let host = &self.hosts[index];
        if !host.mailbox.borrow().send(command.clone()) {
            let line = format!("not running: {command:?} dropped");
            self.trace.log(self.sim.elapsed(), &host.name, line);
        }
    }

    /// Stores `key = value` on host `index`.
    pub fn put(&mut self, index: usize, key: &str, value: &str) {
        self.command(index, Command::Put(key.into(), value.into()));
    }

    /// Asks every running host for its list, peers and counters, and gives them a step to
    /// answer; returns what each host last reported.
    pub fn report(&mut self) -> turmoil::Result<Vec<View>> {
        for host in &self.hosts {
            host.mailbox.borrow().send(Command::Report);
        }
        self.run_for(self.tick)?;
        Ok(self.views())
    }

    /// Cuts the link from host `from` to host `to` only: what `from` sends is lost.
    pub fn partition_oneway(&mut self, from: usize, to: usize) {
        self.say_between(from, to, "one-way cut");
        self.sim
            .partition_oneway(self.hosts[from].name.as_str(), self.hosts[to].name.as_str());
    }

    /// Cuts the links between hosts `a` and `b`, both ways, losing what either sends until
    /// [`Self::repair`] (a cable pulled: not even a connection's close gets across, and what
    /// was lost stays lost).
    pub fn drop_between(&mut self, a: usize, b: usize) {
        self.say_between(a, b, "drop");
        self.sim
            .partition(self.hosts[a].name.as_str(), self.hosts[b].name.as_str());
    }

    /// Cuts the links between hosts `a` and `b`, both ways: what either sends waits on the
    /// link until [`Self::repair`], as TCP resends what a cut link dropped (connections that
    /// outlive the cut carry on; the node's ping may close them meanwhile).
    pub fn partition(&mut self, a: usize, b: usize) {
        self.say_between(a, b, "partition");
        self.sim
            .hold(self.hosts[a].name.as_str(), self.hosts[b].name.as_str());
    }

    /// Restores the links between hosts `a` and `b`, both ways.
    pub fn repair(&mut self, a: usize, b: usize) {
        self.say_between(a, b, "heal");
        let (a, b) = (self.hosts[a].name.as_str(), self.hosts[b].name.as_str());
        self.sim.release(a, b);
        self.sim.repair(a, b);
        self.sim.repair_oneway(a, b);
        self.sim.repair_oneway(b, a);
    }

    /// Asks every running host to update its [`View`] (untraced) without running the world:
    /// the answers arrive within the next step.
    pub fn observe(&self) {
        for host in &self.hosts {
            host.mailbox.borrow().send(Command::Observe);
        }
    }

    /// What every host last reported (crashed ones: what they reported before).
    pub fn views(&self) -> Vec<View> {
        self.hosts
            .iter()
            .map(|host| host.mailbox.borrow().view.clone())
            .collect()
    }

    /// Host `index`'s PeerId.
    pub fn peer_id(&self, index: usize) -> PeerId {
        self.hosts[index].peer
    }

    /// The index of the host whose node is `peer`, if any.
    pub fn index_of(&self, peer: &PeerId) -> Option<usize> {
        self.hosts.iter().position(|host| host.peer == *peer)
    }

    /// Crashes host `index`: its node stops at once; its data directory stays.
    pub fn crash(&mut self, index: usize) {
        let host = &self.hosts[index];
        self.trace.log(self.sim.elapsed(), &host.name, "crash");
        host.mailbox.borrow_mut().view.running = false;
        self.sim.crash(host.name.as_str());
    }

    /// Starts host `index`'s node again on its data directory.
    pub fn bounce(&mut self, index: usize) {
        let host = &self.hosts[index];
        self.trace.log(self.sim.elapsed(), &host.name, "restart");
        self.sim.bounce(host.name.as_str());
    }

    /// Sets how far host `index`'s wall clock runs ahead of the world's (negative: behind).
    pub fn set_skew_ms(&mut self, index: usize, skew_ms: i64) {
        let host = &self.hosts[index];
        self.trace
            .log(self.sim.elapsed(), &host.name, format!("skew {skew_ms} ms"));
        host.skew_ms.store(skew_ms, Ordering::SeqCst);
    }

    fn say_between(&self, a: usize, b: usize, what: &str) {
        let line = format!("{what} {}-{}", self.hosts[a].name, self.hosts[b].name);
        self.trace.log(self.sim.elapsed(), "net", line);
    }
}

/// A seed for one purpose (`kind`) of host `index`, from the world's `seed`.
fn mix(seed: u64, index: u64, kind: u64) -> u64 {
    let mut x =
        seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ kind.wrapping_mul(0xD6E8_FEB8_6659_FD93);
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^ (x >> 29)
}
