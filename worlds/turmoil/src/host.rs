//! One honest host: the real [`Node`] on turmoil's TCP over its own SQLite file, taking the
//! world's commands from a mailbox. turmoil calls [`software`] again on every bounce: the node
//! starts anew on the same data directory, as a restarted process would.

use crate::tcp::TurmoilTcp;
use crate::trace::Trace;
use libp2p::core::Transport as _;
use libp2p::identity::Keypair;
use libp2p::pnet::PreSharedKey;
use libp2p::{Multiaddr, PeerId};
use p2p_sync::net::identity::IDENTITY_FILE;
use p2p_sync::net::world::{Socket, SocketsFactory, WallClock};
use p2p_sync::net::{Node, Options, World};
use p2p_sync_core::{Config, Counters};
use std::cell::RefCell;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

/// The TCP port every node listens on.
pub const PORT: u16 = 4001;

/// What the world asks of a host.
#[derive(Debug, Clone)]
pub enum Command {
    /// Store `key = value`.
    Put(String, String),
    /// Store every `key = value` in one command.
    PutMany(Vec<(String, String)>),
    /// Delete `key`.
    Delete(String),
    /// Put the node's list, peers and counters in the trace and in [`View`].
    Report,
    /// Put them in [`View`] only.
    Observe,
    /// List `peer` in the node's allow-list (putting the list in force).
    AllowAdd(PeerId),
    /// Take `peer` off the node's allow-list, closing its connections.
    AllowRemove(PeerId),
}

/// What the world last heard from a host.
#[derive(Debug, Clone, Default)]
pub struct View {
    /// Whether the node is running (started and not crashed since).
    pub running: bool,
    /// The live keys and values at the last report.
    pub list: Vec<(String, String)>,
    /// Connected peers at the last report.
    pub peers: usize,
    /// Their PeerIds, sorted.
    pub peer_ids: Vec<PeerId>,
    /// What the core counted, at the last report.
    pub counters: Counters,
}

/// How to start one host's node; the same on every bounce.
#[derive(Clone)]
pub struct Spec {
    /// The host's name in the world and the trace.
    pub name: String,
    /// The host's address.
    pub ip: IpAddr,
    /// Its data directory (database, identity, lock), kept across crashes.
    pub data_dir: PathBuf,
    /// Peers to dial at start and redial.
    pub dial: Vec<Multiaddr>,
    /// The private network's key, if any.
    pub psk: Option<PreSharedKey>,
    /// The allow-list at the start (empty: none in force).
    pub allow: Vec<PeerId>,
    /// The core's limits and intervals.
    pub config: Config,
    /// The core's seed.
    pub seed: u64,
    /// How far the node's wall clock runs ahead of the world's, in ms; the world may change it.
    pub skew_ms: Arc<AtomicI64>,
}

/// A host's side of the world: where commands go and what it reports.
#[derive(Default)]
pub struct Mailbox {
    sender: Option<UnboundedSender<Command>>,
    /// What the host last reported.
    pub view: View,
}

impl Mailbox {
    /// Hands `command` to the running node; false when none runs.
    pub fn send(&self, command: Command) -> bool {
        self.sender
            .as_ref()
            .is_some_and(|sender| sender.send(command).is_ok())
    }
}

/// `count` identity keys drawn from `seed`, sorted by PeerId: node `i` gets the `i`-th, so
/// writes that tie on timestamp break by origin in node order, as in the simulator (and the
/// LAN lab), and every run has the same PeerIds.
pub fn ordered_keys(count: usize, seed: u64) -> Vec<Keypair> {
    let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(seed);
    let mut keys: Vec<Keypair> = (0..count)
        .map(|_| {
            let mut secret = [0u8; 32];
            rand::RngCore::fill_bytes(&mut rng, &mut secret);
            Keypair::ed25519_from_bytes(secret).expect("32 bytes are an Ed25519 secret")
        })
        .collect();
    keys.sort_by_key(|key| key.public().to_peer_id().to_string());
    keys
}

/// Writes `key` as the identity of the node on `data_dir` (made if missing).
pub fn install_identity(data_dir: &Path, key: &Keypair) -> std::io::Result<()> {
    std::fs::create_dir_all(data_dir)?;
    let bytes = key.to_protobuf_encoding().map_err(std::io::Error::other)?;
    std::fs::write(data_dir.join(IDENTITY_FILE), bytes)
}

/// The host's software for turmoil: each call starts the node anew.
pub fn software(
    spec: Spec,
    mailbox: Rc<RefCell<Mailbox>>,
    trace: Trace,
) -> impl Fn() -> std::pin::Pin<Box<dyn Future<Output = turmoil::Result>>> {
    move || Box::pin(run(spec.clone(), mailbox.clone(), trace.clone()))
}

/// The node's options in the world: its TCP, seed and wall clock.
fn options(spec: &Spec) -> Options {
    let ip = spec.ip;
    let sockets: SocketsFactory = Arc::new(move || {
        TurmoilTcp::new(ip)
            .map(|socket, _| socket as Box<dyn Socket>)
            .boxed()
    });
    let skew = spec.skew_ms.clone();
    let wall_clock: WallClock = Arc::new(move || {
        let now = turmoil::since_epoch().unwrap_or_default().as_millis() as u64;
        now.saturating_add_signed(skew.load(Ordering::SeqCst))
    });
    Options {
        data_dir: spec.data_dir.clone(),
        listen_ip: Ipv4Addr::UNSPECIFIED.into(),
        port: PORT,
        dial: spec.dial.clone(),
        mdns: false,
        psk: spec.psk,
        allow: spec.allow.clone(),
        config: spec.config.clone(),
        clock_offset_ms: 0,
        world: World {
            sockets: Some(sockets),
            core_seed: Some(spec.seed),
            wall_clock: Some(wall_clock),
        },
    }
}

/// Starts the node and serves it and its mailbox until the host crashes.
async fn run(spec: Spec, mailbox: Rc<RefCell<Mailbox>>, trace: Trace) -> turmoil::Result {
    let (sender, receiver) = unbounded_channel();
    mailbox.borrow_mut().sender = Some(sender);
    let node = match Node::start(options(&spec)).await {
        Ok(node) => node,
        Err(error) => {
            trace.log(
                turmoil::sim_elapsed().unwrap_or_default(),
                &spec.name,
                format!("refused to start: {error}"),
            );
            mailbox.borrow_mut().sender = None;
            return Ok(());
        }
    };
    trace.log(
        turmoil::sim_elapsed().unwrap_or_default(),
        &spec.name,
        "started",
    );
    mailbox.borrow_mut().view.running = true;
    serve(node, receiver, &spec.name, &mailbox, &trace).await;
    Ok(())
}

/// Steps the node, and carries out each command as it comes.
async fn serve(
    mut node: Node,
    mut commands: UnboundedReceiver<Command>,
    name: &str,
    mailbox: &Rc<RefCell<Mailbox>>,
    trace: &Trace,
) {
    loop {
        tokio::select! {
            biased;
            command = commands.recv() => match command {
                Some(command) => obey(&mut node, command, name, mailbox, trace),
                None => return,
            },
            () = node.step() => {}
        }
    }
}

/// Carries out one command and traces its outcome.
fn obey(
    node: &mut Node,
    command: Command,
    name: &str,
    mailbox: &Rc<RefCell<Mailbox>>,
    trace: &Trace,
) {
    let at = turmoil::sim_elapsed().unwrap_or_default();
    if let Command::Observe = command {
        observe(node, mailbox);
        return;
    }
    let line = match command {
        Command::Put(key, value) => put(node, vec![(key, value)]),
        Command::PutMany(entries) => put(node, entries),
        Command::AllowAdd(peer) => match node.allow_add(peer, None, None) {
            Ok(()) => format!("allow add {peer}"),
            Err(error) => format!("allow add {peer} failed: {error}"),
        },
        Command::AllowRemove(peer) => match node.allow_remove(&peer) {
            Ok(listed) => format!("allow remove {peer} (was listed: {listed})"),
            Err(error) => format!("allow remove {peer} failed: {error}"),
        },
        Command::Delete(key) => match node.delete(&key) {
            Ok(had) => format!("delete {key} (had a value: {had})"),
            Err(error) => format!("delete {key} failed: {error}"),
        },
        Command::Report | Command::Observe => {
            let view = observe(node, mailbox);
            let list: Vec<String> = view.list.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!(
                "list [{}] peers {} {:?}",
                list.join(" "),
                view.peers,
                view.counters
            )
        }
    };
    trace.log(at, name, line);
}

/// Stores `entries` in one command; the trace line says what each became.
fn put(node: &mut Node, entries: Vec<(String, String)>) -> String {
    let shown: Vec<String> = entries.iter().map(|(k, v)| format!("{k}={v}")).collect();
    match node.put_many(&entries) {
        Ok(verdicts) => {
            let refused: Vec<String> = verdicts
                .iter()
                .filter_map(|verdict| verdict.as_ref().err().map(ToString::to_string))
                .collect();
            if refused.is_empty() {
                format!("put {}", shown.join(" "))
            } else {
                format!("put {} refused: {}", shown.join(" "), refused.join("; "))
            }
        }
        Err(error) => format!("put {} failed: {error}", shown.join(" ")),
    }
}

/// Reads the node's list, peers and counters into its [`View`]; returns the view.
fn observe(node: &Node, mailbox: &Rc<RefCell<Mailbox>>) -> View {
    let status = node.status().ok();
    let peer_ids: Vec<PeerId> = status
        .as_ref()
        .map(|status| status.peers.iter().map(|peer| peer.peer).collect())
        .unwrap_or_default();
    let mut mailbox = mailbox.borrow_mut();
    let view = &mut mailbox.view;
    view.list = node.list().unwrap_or_default();
    view.peers = peer_ids.len();
    view.peer_ids = peer_ids;
    view.counters = status.map(|status| status.counters).unwrap_or_default();
    view.clone()
}
