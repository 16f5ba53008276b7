//! The LAN world of one run: a [`Lan`] with one host per participant (honest nodes first, then
//! attackers), a real `p2p-sync` process per honest node on a data directory that outlives
//! crashes, a hostile client per attacker, and what each non-`expect` step does to them.
//!
//! Dropping the world kills every process, then deletes the namespaces (links, qdiscs and
//! filter rules go with them), then the data directories.

use crate::attacker::Attacker;
use crate::cuts::Cuts;
use crate::identity;
use crate::netns::Lan;
use crate::process::NodeProcess;
use crate::shaping;
use p2p_sync_scenario::attack::{self, packets, Packet};
use p2p_sync_scenario::scenario::{Action, Attack, NetworkParams, Scenario, Writes};
use p2p_sync_scenario::status::Status;
use p2p_sync_scenario::workload;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The port every node listens on (the default, as on separate machines).
const PORT: u16 = 4002;

/// The longest the nodes may take to find and connect to each other at the start.
const MESH_DEADLINE: Duration = Duration::from_secs(30);

/// Where the programs are.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// `p2p-sync`.
    pub node: PathBuf,
    /// `p2p-sync-hostile`.
    pub hostile: PathBuf,
}

/// Why a world could not be built.
#[derive(Debug)]
pub enum BuildError {
    /// This machine lacks something (namespaces, netem): the run cannot happen here.
    Host(String),
    /// The nodes did not start or connect.
    Nodes(String),
}

/// A run's LAN and everything on it. Field order is drop order: processes first.
pub struct World<'a> {
    nodes: Vec<Option<NodeProcess>>,
    attackers: Vec<Attacker>,
    lan: Lan,
    dir: tempfile::TempDir,
    scenario: &'a Scenario,
    binaries: Binaries,
    /// Each node's clock offset: the scenario's start time minus the real one, plus its skew.
    offsets: Vec<i64>,
    /// Each honest node's PeerId (its identity is fixed before its first start).
    ids: Vec<String>,
    /// The scenario's start time minus the real time when the world was built.
    base_offset: i64,
    cuts: Cuts,
    network: NetworkParams,
    rng: ChaCha8Rng,
}

/// The real wall clock in ms since the epoch.
fn real_now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as i64)
}

impl<'a> World<'a> {
    /// Builds the LAN for `scenario`, starts its nodes (skews at 0 s included) and waits until
    /// they all connected to each other by mDNS, then starts its attackers. `Err` says what
    /// failed; nothing is left behind.
    pub fn build(
        scenario: &'a Scenario,
        binaries: Binaries,
        seed: u64,
    ) -> Result<Self, BuildError> {
        let hosts = scenario.nodes + scenario.attackers;
        let lan = Lan::create("lab", hosts).map_err(BuildError::Host)?;
        // Stores live in memory when the machine has a tmpfs, as in the simulator: the LAN world
        // is about the network, and fsync on a busy disk would pace every write.
        let shm = std::path::Path::new("/dev/shm");
        let parent = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        let dir = tempfile::Builder::new()
            .prefix("p2p-sync-lab-")
            .tempdir_in(parent)
            .map_err(|error| BuildError::Host(format!("cannot make a directory: {error}")))?;
        let base_offset = scenario.start_ms as i64 - real_now_ms();
        let mut offsets = vec![base_offset; scenario.nodes];
        for step in scenario.steps.iter().filter(|step| step.at_ms == 0) {
            if let Action::Skew { node, ms } = step.action {
                offsets[node] = base_offset + ms;
            }
        }
        let mut world = World {
            nodes: (0..scenario.nodes).map(|_| None).collect(),
            attackers: Vec::new(),
            lan,
            dir,
            scenario,
            binaries,
            offsets,
            ids: Vec::new(),
            base_offset,
            cuts: Cuts::default(),
            network: scenario.network,
            rng: ChaCha8Rng::seed_from_u64(seed),
        };
        for (node, key) in identity::ordered_keys(scenario.nodes, &mut world.rng)
            .iter()
            .enumerate()
        {
            identity::install(key, &world.data_dir(node)).map_err(BuildError::Host)?;
            world.ids.push(key.public().to_peer_id().to_string());
        }
        shaping::apply(&world.lan, hosts, &world.network)
            .map_err(|error| BuildError::Host(format!("cannot shape the network: {error}")))?;
        let started = (0..scenario.nodes).try_for_each(|node| world.start_node(node));
        started
            .and_then(|()| world.wait_for_mesh())
            .and_then(|()| world.start_attackers())
            .map_err(BuildError::Nodes)?;
        Ok(world)
    }

    /// Where this run keeps data directories and logs.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// The PeerId of participant `index` (an attacker: the identity it sends to every node).
    pub fn peer_id(&self, index: usize) -> &str {
        match self.ids.get(index) {
            Some(id) => id,
            None => self.attackers[index - self.scenario.nodes].identity(None),
        }
    }

    /// Leaves the data directories and logs in place when the world drops (`--keep`).
    pub fn keep_files(&mut self) {
        self.dir.disable_cleanup(true);
    }

    fn command(&self, node: usize, isolated: bool) -> Command {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", &self.lan.namespace(node)])
            .arg(&self.binaries.node)
            .arg("start")
            .arg("--data-dir")
            .arg(self.data_dir(node))
            .arg(format!("--clock-offset-ms={}", self.offsets[node]))
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            );
        if isolated {
            command.args(["--no-mdns", "--port", "0", "--listen-ip", "127.0.0.1"]);
        } else {
            command.args(["--port", &PORT.to_string()]);
        }
        command
    }

    fn data_dir(&self, node: usize) -> PathBuf {
        self.dir.path().join(format!("n{node}"))
    }

    fn log(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.log"))
    }

    fn start_node(&mut self, node: usize) -> Result<(), String> {
        let name = self.scenario.name_of(node);
        let process = NodeProcess::start(&name, self.command(node, false), &self.log(&name))?;
        self.nodes[node] = Some(process);
        Ok(())
    }

    fn start_attackers(&mut self) -> Result<(), String> {
        let peers: Vec<String> = (0..self.scenario.nodes)
            .map(|node| format!("/ip4/{}/tcp/{PORT}", self.lan.address(node)))
            .collect();
        let mut solos: Vec<usize> = Vec::new();
        for step in &self.scenario.steps {
            if let Action::Attack(Attack { to: Some(to), .. }) = step.action {
                if !solos.contains(&to) {
                    solos.push(to);
                }
            }
        }
        for attacker in self.scenario.nodes..self.scenario.nodes + self.scenario.attackers {
            let name = self.scenario.name_of(attacker);
            let namespace = self.lan.namespace(attacker);
            let log = self.log(&name);
            let process =
                Attacker::start(&self.binaries.hostile, &namespace, &peers, &solos, &log)?;
            self.attackers.push(process);
        }
        Ok(())
    }

    /// Waits until every node lists every other node as connected.
    fn wait_for_mesh(&mut self) -> Result<(), String> {
        let ids: Vec<String> = self.live().map(|(_, node)| node.peer_id.clone()).collect();
        let started = Instant::now();
        loop {
            let mut missing = Vec::new();
            for (index, node) in self.nodes.iter_mut().enumerate() {
                let Some(node) = node else { continue };
                let peers = Status::parse(&node.status()?).connected;
                let lacking = ids
                    .iter()
                    .filter(|id| **id != node.peer_id && !peers.contains(id));
                missing.extend(lacking.map(|id| format!("n{index} lacks {id}")));
            }
            if missing.is_empty() {
                return Ok(());
            }
            if started.elapsed() > MESH_DEADLINE {
                return Err(format!(
                    "the nodes did not all connect by mDNS: {}",
                    missing.join("; ")
                ));
            }
            crate::interrupt::sleep_until(Instant::now() + Duration::from_millis(100))
                .map_err(|_| "interrupted".to_string())?;
        }
    }

    /// How many honest nodes the world has.
    pub fn honest(&self) -> usize {
        self.nodes.len()
    }

    /// The running nodes and their numbers.
    pub fn live(&mut self) -> impl Iterator<Item = (usize, &mut NodeProcess)> {
        self.nodes
            .iter_mut()
            .enumerate()
            .filter_map(|(index, node)| node.as_mut().map(|node| (index, node)))
    }

    /// Runs `ask` on node `node`; a crashed node is asked through a copy started on its data
    /// directory with no network at all (its store survives a crash), then stopped.
    pub fn ask<T>(
        &mut self,
        node: usize,
        ask: impl FnOnce(&mut NodeProcess) -> Result<T, String>,
    ) -> Result<T, String> {
        if let Some(process) = self.nodes[node].as_mut() {
            return ask(process);
        }
        let name = format!("{}-inspected", self.scenario.name_of(node));
        let mut process = NodeProcess::start(&name, self.command(node, true), &self.log(&name))?;
        let answer = ask(&mut process);
        process.quit();
        answer
    }

    /// Does what `action` (any step but `expect`) says; `repetition` numbers the messages of
    /// a `writes` or attack step.
    pub fn act(&mut self, action: &Action, repetition: u64) -> Result<(), String> {
        let hosts = self.scenario.nodes + self.scenario.attackers;
        match action {
            Action::Put { node, key, value } => {
                self.type_in(*node, &[format!("add {key} {value}")])
            }
            Action::Delete { node, key } => self.type_in(*node, &[format!("delete {key}")]),
            Action::Partition(groups) => {
                self.cuts.partition(groups);
                self.cuts.apply(&self.lan, hosts)
            }
            Action::OneWay { from, to } => {
                self.cuts.oneway(from, to);
                self.cuts.apply(&self.lan, hosts)
            }
            Action::Heal => {
                self.cuts.heal();
                self.cuts.apply(&self.lan, hosts)
            }
            Action::Crash(node) => {
                if let Some(process) = self.nodes[*node].take() {
                    process.kill();
                }
                Ok(())
            }
            Action::Restart(node) => match self.nodes[*node] {
                Some(_) => Ok(()),
                None => self.start_node(*node),
            },
            Action::Skew { node, ms } => {
                let offset = self.base_offset + ms;
                if self.offsets[*node] == offset {
                    return Ok(()); // given at start
                }
                // A running process cannot change its clock: restart it with the new one.
                self.offsets[*node] = offset;
                if let Some(process) = self.nodes[*node].take() {
                    process.quit();
                    self.start_node(*node)?;
                }
                Ok(())
            }
            Action::Network(patch) => {
                self.network = patch.apply(self.network);
                shaping::apply(&self.lan, hosts, &self.network)
            }
            Action::Writes(writes) => self.writes(writes, repetition),
            Action::Attack(attack) => self.attack(attack, repetition),
            Action::AllowAdd { .. } | Action::AllowRemove { .. } => {
                Err("the LAN runner does not play allow-lists".into())
            }
            Action::StoreFail { .. }
            | Action::DiskFull(_)
            | Action::DiskOk(_)
            | Action::StoreSlow { .. } => {
                Err("storage faults are played only in the simulator so far".into())
            }
            Action::Expect(_) => unreachable!("the player checks expectations"),
        }
    }

    /// Types `lines` into node `node` if it runs (a crashed node's user types nothing).
    fn type_in(&mut self, node: usize, lines: &[String]) -> Result<(), String> {
        let Some(process) = self.nodes[node].as_mut() else {
            return Ok(());
        };
        for reply in process.ask_all(lines)? {
            if !reply.starts_with('✓') {
                return Err(format!("n{node} refused a command: {reply}"));
            }
        }
        Ok(())
    }

    /// Command `index` of a `writes` step ([`workload::command`]); the node (when not given)
    /// and the drawn keys come from this run's own random stream.
    fn writes(&mut self, writes: &Writes, index: u64) -> Result<(), String> {
        let live: Vec<usize> = self.live().map(|(node, _)| node).collect();
        let Some((node, entries)) = workload::command(writes, index, || live, &mut self.rng) else {
            return Ok(());
        };
        let lines: Vec<String> = entries
            .iter()
            .map(|(key, value)| format!("add {key} {value}"))
            .collect();
        self.type_in(node, &lines)
    }

    /// Message `index` of an attack, stamped with the scenario's wall clock like the nodes'.
    fn attack(&mut self, attack: &Attack, index: u64) -> Result<(), String> {
        let name = self.scenario.name_of(attack.from);
        let wall_ms = (real_now_ms() + self.base_offset).max(0) as u64;
        let attacker = &mut self.attackers[attack.from - self.scenario.nodes];
        // The hostile client signs gossip with its own libp2p key; the writes inside go in
        // the legacy unsigned form, which nodes accept on gossip from their author.
        let identity = attack::Attacker {
            name,
            origin: attacker.identity(attack.to).to_string(),
            key: None,
        };
        for packet in packets(&attack.kind, &identity, index, wall_ms) {
            match packet {
                Packet::Gossip(bytes) => attacker.publish(attack.to, &bytes)?,
                Packet::Direct(_) => {
                    return Err("attacks on the reconciliation protocol are played only in \
                                the simulator so far"
                        .into())
                }
            }
        }
        Ok(())
    }
}
