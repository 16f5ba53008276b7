//! The real-world driver: one [`NodeCore`] over SQLite and the system clock, one libp2p swarm,
//! and the glue between them. [`Node::step`] waits for the next swarm event, the core's
//! deadline or the driver's housekeeping, and
//! hands it to the core; the command methods (`put`, `get`, …) serve the CLI.

use super::allow::{AllowList, Entry};
use super::behaviour::{
    build_swarm, build_swarm_on, ping_shows_dead, remember_addresses, BehaviourEvent,
};
use super::clock::now;
use super::clock::SystemClock;
use super::dialer::Dialer;
use super::egress::HostEgress;
use super::guard::{
    MdnsDials, SlowPeers, MAX_MDNS_ADDRESSES_PER_PEER, MAX_MDNS_DISCOVERED, MAX_STRIKES,
};
use super::handshakes::FailedHandshakes;
use super::held::HeldAcks;
use super::identity;
use super::lock::{DataDirLock, LockError};
use super::metrics::SwarmMetrics;
use super::peers::{ip_of, Peers};
use super::private_files;
use super::transport::SwarmNet;
use super::world::World;
use crate::api::feed::WatchedStore;
use futures::{FutureExt, StreamExt};
use libp2p::gossipsub::{self, MessageAcceptance};
use libp2p::multiaddr::Protocol;
use libp2p::pnet::{Fingerprint, PreSharedKey};
use libp2p::request_response::{self, ResponseChannel};
use libp2p::swarm::{ConnectionId, ListenError, SwarmEvent};
use libp2p::{identify, kad, mdns, ping, Multiaddr, PeerId};
use p2p_sync_core::error::ValidationError;
use p2p_sync_core::store::{Store, StoreError};
use p2p_sync_core::{
    Clock, ClockAhead, CommandError, Config, Counters, Membership, NodeCore, Verdict, Write,
};
use p2p_sync_store::SqliteStore;
use std::collections::{HashMap, HashSet};
use std::io;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use thiserror::Error;
use tokio::time::{Interval, MissedTickBehavior};

/// How often the driver redials lost peers, retries gossip that waited for room, and expires
/// allow-list entries.
const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(1);

/// Most peers remembered as told of closing connections before they identify.
const MAX_REFUSED_HINTS: usize = 1024;

/// The SQLite database file inside the data directory.
pub const DATABASE_FILE: &str = "p2p-sync.db";

/// How long start-up waits for the listeners to report their addresses.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(3);

/// Everything needed to start a node.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where the database and the identity key live; created if missing.
    pub data_dir: PathBuf,
    /// The address to listen on (`0.0.0.0` for every interface).
    pub listen_ip: IpAddr,
    /// The TCP and UDP (QUIC) port; 0 picks free ports.
    pub port: u16,
    /// Peers to dial at start and redial forever.
    pub dial: Vec<Multiaddr>,
    /// Whether to discover peers by mDNS.
    pub mdns: bool,
    /// The private network's key: TCP inside pnet, no QUIC.
    pub psk: Option<PreSharedKey>,
    /// Peers allowed for this run (`--allow`), beside `allow.txt`.
    pub allow: Vec<PeerId>,
    /// The core's limits and intervals.
    pub config: Config,
    /// How far the node's wall clock runs ahead of the system's, in ms (negative: behind); 0
    /// except in tests that play a skewed clock.
    pub clock_offset_ms: i64,
    /// A simulated world's transport, core seed and wall clock; the default is the real world.
    pub world: World,
}

/// Why a node could not start. Each reads as one line.
#[derive(Debug, Error)]
pub enum StartError {
    /// The data directory or the identity key in it cannot be used.
    #[error("cannot use data directory {}: {source} (choose a writable one with --data-dir)", path.display())]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// What went wrong.
        source: io::Error,
    },
    /// Another process uses the data directory, or it cannot be locked.
    #[error(transparent)]
    Locked(#[from] LockError),
    /// The network key file cannot be read.
    #[error("cannot use the network key: {0}")]
    NetworkKey(io::Error),
    /// The database cannot be opened.
    #[error("cannot open database {}: {source}", path.display())]
    Store {
        /// The database file.
        path: PathBuf,
        /// What went wrong.
        source: StoreError,
    },
    /// The swarm cannot be built.
    #[error("cannot set up networking: {0}")]
    Network(String),
    /// A listener cannot be opened (port in use, address not local, …).
    #[error("cannot listen on {address}: {reason}")]
    Listen {
        /// The listen address.
        address: Multiaddr,
        /// What went wrong.
        reason: String,
    },
}

/// A connected peer as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerStatus {
    /// The peer.
    pub peer: PeerId,
    /// Whether it told us it subscribes to the topic.
    pub subscribed: bool,
    /// Whether it is in our Gossipsub mesh for the topic.
    pub mesh: bool,
    /// Whether Identify showed it is a p2p-sync node (speaks our reconciliation protocol): only such
    /// peers are reconciled with and get every message directly.
    pub p2p_sync: bool,
}

/// A snapshot of the node for the `status` command.
#[derive(Debug, Clone)]
pub struct Status {
    /// This node's PeerId.
    pub peer_id: PeerId,
    /// The addresses it listens on.
    pub listen_addresses: Vec<Multiaddr>,
    /// The peers it is connected to, sorted.
    pub peers: Vec<PeerStatus>,
    /// Live keys in the store.
    pub live_keys: u64,
    /// Keys in the store, tombstones included.
    pub stored_keys: u64,
    /// Gossip messages waiting for room in full send queues.
    pub pending_gossip: usize,
    /// What the core counted.
    pub counters: Counters,
    /// The network key's fingerprint (hex) when the node is in a private network.
    pub network_key: Option<String>,
    /// The allow-list's size when one is in force.
    pub allow_list: Option<usize>,
    /// The latest write refused as stamped too far ahead, and how long ago (ms).
    pub clock_ahead: Option<(ClockAhead<PeerId>, u64)>,
}

/// What the driver counts beside the core's [`Counters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DriverCounts {
    /// Gossip messages this node handed to Gossipsub to publish (its own writes).
    pub gossip_published: u64,
    /// Gossip messages received from peers.
    pub gossip_received: u64,
    /// Acknowledgements held back from peers that spent their direct budget.
    pub held_acks: usize,
    /// Bytes of direct messages waiting or on the wire, all peers together.
    pub direct_backlog_bytes: usize,
}

/// A running node.
pub struct Node {
    /// Held while the node runs: no other process opens the same database and identity.
    _lock: DataDirLock,
    core: NodeCore<WatchedStore, SystemClock, PeerId>,
    clock: SystemClock,
    net: SwarmNet,
    dialer: Dialer,
    peers: Peers,
    /// Peers connected at some point, to tell a reconnection from a first connection.
    seen: HashSet<PeerId>,
    housekeeping: Interval,
    /// Acknowledgements held from peers that spent their direct budget.
    held_acks: HeldAcks,
    /// The network key's fingerprint in a private network.
    network_key: Option<Fingerprint>,
    allow: AllowList,
    /// Failed incoming handshakes, logged once per address unless a connection followed.
    failed_handshakes: FailedHandshakes,
    /// Peers told of as closing connections before they identify (one line each).
    refused_hinted: HashSet<PeerId>,
    /// libp2p's own metrics, from every swarm event.
    swarm_metrics: SwarmMetrics,
    /// Gossip subscribers reported slow, disconnected once they stay slow.
    slow_peers: SlowPeers,
    /// Peers found by mDNS that may still be dialled in this window.
    mdns_dials: MdnsDials,
    /// Reconciliation bytes sent to each host this window.
    host_egress: HostEgress,
}

/// The address of `port` on `ip` for one transport.
fn listen_address(ip: IpAddr, port: u16, quic: bool) -> Multiaddr {
    let address = Multiaddr::from(ip);
    if quic {
        address.with(Protocol::Udp(port)).with(Protocol::QuicV1)
    } else {
        address.with(Protocol::Tcp(port))
    }
}

/// One line for a listen failure on `address`: what to do when its port is taken, else the
/// innermost cause.
fn listen_reason(error: &(dyn std::error::Error + 'static), address: &Multiaddr) -> String {
    if let Some(port) = port_in_use(address) {
        return port_taken(port);
    }
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

/// What to do when `port` is taken.
fn port_taken(port: u16) -> String {
    format!("port {port} is in use (another p2p-sync?): pick another with --port")
}

/// The transports a node listens on: TCP (or a world's stand-in), and QUIC outside a private
/// network and a simulated world (`quic` flags).
fn transports(tcp_only: bool) -> &'static [bool] {
    if tcp_only {
        &[false]
    } else {
        &[false, true]
    }
}

/// The port of `address` if another socket holds it, found by binding it once more (the
/// transports' errors do not all keep the `AddrInUse` kind along their chain).
fn port_in_use(address: &Multiaddr) -> Option<u16> {
    let mut ip = None;
    let mut socket = None;
    for protocol in address {
        match protocol {
            Protocol::Ip4(v4) => ip = Some(IpAddr::V4(v4)),
            Protocol::Ip6(v6) => ip = Some(IpAddr::V6(v6)),
            Protocol::Tcp(port) => socket = Some((port, false)),
            Protocol::Udp(port) => socket = Some((port, true)),
            _ => {}
        }
    }
    let (ip, (port, udp)) = (ip?, socket?);
    let bound = if udp {
        std::net::UdpSocket::bind((ip, port)).map(drop)
    } else {
        std::net::TcpListener::bind((ip, port)).map(drop)
    };
    match bound {
        Err(error) if port != 0 && error.kind() == io::ErrorKind::AddrInUse => Some(port),
        _ => None,
    }
}

impl Node {
    /// Opens the data directory (database and identity key), builds the swarm, listens on TCP
    /// and QUIC, dials `options.dial`, and returns once the listen addresses are known.
    pub async fn start(options: Options) -> Result<Node, StartError> {
        let data_dir = options.data_dir.clone();
        let data_dir_error = |source| StartError::DataDir {
            path: data_dir.clone(),
            source,
        };
        if data_dir.exists() && !data_dir.is_dir() {
            return Err(data_dir_error(io::ErrorKind::NotADirectory.into()));
        }
        let tcp_only = options.psk.is_some() || options.world.sockets.is_some();
        if !data_dir.exists() && options.world.sockets.is_none() {
            // A first start that cannot listen leaves no data directory or identity behind.
            for &quic in transports(tcp_only) {
                let address = listen_address(options.listen_ip, options.port, quic);
                if let Some(port) = port_in_use(&address) {
                    let reason = port_taken(port);
                    return Err(StartError::Listen { address, reason });
                }
            }
        }
        private_files::create_dir(&data_dir).map_err(data_dir_error)?;
        let lock = DataDirLock::acquire(&data_dir)?;
        let key = identity::load_or_create(&data_dir).map_err(data_dir_error)?;
        let allow = AllowList::load(&data_dir, options.allow.clone()).map_err(data_dir_error)?;
        let database = data_dir.join(DATABASE_FILE);
        private_files::restrict_file(&database).map_err(data_dir_error)?;
        let store = SqliteStore::open(&database).map_err(|source| StartError::Store {
            path: database,
            source,
        })?;
        let peer_id = key.public().to_peer_id();
        let store = WatchedStore::new(store, peer_id.to_string());
        let identity = identity::write_identity(&key).map_err(data_dir_error)?;
        let network_key = options.psk.map(|psk| psk.fingerprint());
        let swarm = match &options.world.sockets {
            Some(sockets) => build_swarm_on(key, &options.config, options.psk, sockets()),
            None => build_swarm(key, &options.config, options.mdns, options.psk),
        }
        .map_err(|error| StartError::Network(error.to_string()))?;
        let clock = SystemClock::with_offset_ms(options.clock_offset_ms)
            .with_wall(options.world.wall_clock.clone());
        let seed = options.world.core_seed.unwrap_or_else(rand::random);
        let core = NodeCore::new(
            peer_id,
            identity,
            options.config,
            store,
            clock.clone(),
            seed,
        );
        let mut housekeeping = tokio::time::interval(HOUSEKEEPING_INTERVAL);
        housekeeping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut node = Node {
            _lock: lock,
            core,
            clock,
            net: SwarmNet::new(swarm),
            dialer: Dialer::default(),
            peers: Peers::default(),
            seen: HashSet::new(),
            housekeeping,
            held_acks: HeldAcks::default(),
            network_key,
            allow,
            failed_handshakes: FailedHandshakes::default(),
            refused_hinted: HashSet::new(),
            swarm_metrics: SwarmMetrics::default(),
            slow_peers: SlowPeers::default(),
            mdns_dials: MdnsDials::default(),
            host_egress: HostEgress::default(),
        };
        node.enforce_allow_list();
        node.listen(options.listen_ip, options.port, tcp_only)
            .await?;
        node.dialer
            .dial_configured(&mut node.net.swarm, &options.dial);
        Ok(node)
    }

    /// Opens the TCP and (unless `tcp_only`) QUIC listeners and handles events until each
    /// reports an address.
    async fn listen(&mut self, ip: IpAddr, port: u16, tcp_only: bool) -> Result<(), StartError> {
        let mut listeners = HashSet::new();
        for &quic in transports(tcp_only) {
            let address = listen_address(ip, port, quic);
            let id =
                self.net
                    .swarm
                    .listen_on(address.clone())
                    .map_err(|error| StartError::Listen {
                        reason: listen_reason(&error, &address),
                        address,
                    })?;
            listeners.insert(id);
        }
        let deadline = tokio::time::Instant::now() + LISTEN_TIMEOUT;
        while !listeners.is_empty() {
            let event = tokio::time::timeout_at(deadline, self.net.swarm.select_next_some())
                .await
                .map_err(|_| StartError::Network("listeners did not start in time".into()))?;
            match &event {
                SwarmEvent::NewListenAddr { listener_id, .. } => {
                    listeners.remove(listener_id);
                }
                SwarmEvent::ListenerClosed {
                    addresses,
                    reason: Err(error),
                    ..
                } => {
                    let address = addresses.first().cloned().unwrap_or_else(Multiaddr::empty);
                    return Err(StartError::Listen {
                        reason: listen_reason(error, &address),
                        address,
                    });
                }
                _ => {}
            }
            self.handle(event);
        }
        // On an unspecified IP each listener reports one address per interface: take in those
        // already reported too, so that the banner lists every address.
        while let Some(Some(event)) = self.net.swarm.next().now_or_never() {
            self.handle(event);
        }
        Ok(())
    }

    /// This node's PeerId.
    pub fn peer_id(&self) -> PeerId {
        *self.net.swarm.local_peer_id()
    }

    /// The addresses the node listens on.
    pub fn listen_addresses(&self) -> Vec<Multiaddr> {
        self.net.swarm.listeners().cloned().collect()
    }

    /// Whether a connection to `peer` is open.
    pub fn is_connected(&self, peer: &PeerId) -> bool {
        self.net.swarm.is_connected(peer)
    }

    /// What the core counted so far.
    pub fn counters(&self) -> &Counters {
        self.core.counters()
    }

    /// The limits and intervals in force.
    pub fn config(&self) -> &Config {
        self.core.config()
    }

    /// The store, with the feed of the changes it applies (for the HTTP API).
    pub fn store(&self) -> &WatchedStore {
        self.core.store()
    }

    /// libp2p's own metrics (connections, Identify, Kademlia, Gossipsub, ping) as Prometheus
    /// text without the closing `# EOF`.
    pub fn swarm_metrics(&self, out: &mut String) -> std::fmt::Result {
        self.swarm_metrics.encode(out)
    }

    /// The driver's own counts and queues (for the HTTP API's status and metrics).
    pub fn driver_counts(&self) -> DriverCounts {
        DriverCounts {
            gossip_published: self.net.gossip_published,
            gossip_received: self.net.gossip_received,
            held_acks: self.held_acks.len(),
            direct_backlog_bytes: self.net.direct_backlog_bytes(),
        }
    }

    /// Stores every valid `key = value` in one transaction and publishes them in batches;
    /// returns each entry's verdict (its write, or the rule it breaks).
    pub fn put_many(
        &mut self,
        entries: &[(String, String)],
    ) -> Result<Vec<Result<Write, ValidationError>>, StoreError> {
        self.core.put_many(&mut self.net, entries)
    }

    /// Deletes `key` and publishes the delete; says whether it had a value here.
    pub fn delete(&mut self, key: &str) -> Result<bool, CommandError> {
        Ok(self.core.delete(&mut self.net, key)?.1)
    }

    /// The value of `key`, if it has one.
    pub fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.core.get(key)
    }

    /// Every live key and value, sorted by key.
    pub fn list(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.core.store().live()
    }

    /// A snapshot for the `status` command.
    pub fn status(&self) -> Result<Status, StoreError> {
        let gossipsub = &self.net.swarm.behaviour().gossipsub;
        let topic = self.net.topic();
        let mesh: HashSet<&PeerId> = gossipsub.mesh_peers(topic).collect();
        let subscribed: HashSet<&PeerId> = gossipsub
            .all_peers()
            .filter(|(_, topics)| topics.contains(&topic))
            .map(|(peer, _)| peer)
            .collect();
        let mut peers: Vec<PeerStatus> = self
            .net
            .swarm
            .connected_peers()
            .map(|peer| PeerStatus {
                peer: *peer,
                subscribed: subscribed.contains(peer),
                mesh: mesh.contains(peer),
                p2p_sync: self.peers.is_p2p_sync(peer),
            })
            .collect();
        peers.sort_by_key(|status| status.peer.to_string());
        Ok(Status {
            peer_id: self.peer_id(),
            listen_addresses: self.listen_addresses(),
            peers,
            live_keys: self.core.store().summary().live,
            stored_keys: self.core.store().summary().count,
            pending_gossip: self.net.pending(),
            counters: *self.core.counters(),
            network_key: self.network_key.map(|key| key.to_string()),
            allow_list: self.allow.is_closed().then(|| self.allow.entries().len()),
            clock_ahead: self
                .core
                .clock_ahead()
                .map(|(ahead, ago)| (ahead.clone(), ago)),
        })
    }

    /// The allow-list's entries (empty when none is in force).
    pub fn allow_entries(&self) -> Vec<Entry> {
        self.allow.entries()
    }

    /// Lists `peer` (for `for_ms` from now, if given) in `allow.txt` and puts the list in force.
    pub fn allow_add(
        &mut self,
        peer: PeerId,
        name: Option<String>,
        for_ms: Option<u64>,
    ) -> io::Result<()> {
        let until_ms = for_ms.map(|ms| self.clock.now_ms().saturating_add(ms));
        self.allow.add(Entry {
            peer,
            name,
            until_ms,
        })?;
        self.enforce_allow_list();
        Ok(())
    }

    /// Takes `peer` off the allow-list and closes its connections at once; its writes are
    /// refused from now on, those stored before stay. Says whether it was listed.
    pub fn allow_remove(&mut self, peer: &PeerId) -> io::Result<bool> {
        let listed = self.allow.remove(peer)?;
        self.enforce_allow_list();
        Ok(listed)
    }

    /// Gives the peers admitted now (entries expire) to the gate and the core, and closes the
    /// connections of peers no longer admitted. In a private network without a list every
    /// peer holds the key, so all are members.
    fn enforce_allow_list(&mut self) {
        let admitted = self.allow.admitted(self.clock.now_ms());
        let listed = admitted
            .as_ref()
            .map(|peers| peers.iter().map(PeerId::to_string));
        let membership = Membership::of_network(self.network_key.is_some(), listed);
        if membership == *self.core.membership() {
            return;
        }
        self.core.set_membership(membership);
        if let Some(peers) = &admitted {
            let refused: Vec<PeerId> = self
                .net
                .swarm
                .connected_peers()
                .filter(|peer| !peers.contains(peer))
                .copied()
                .collect();
            for peer in refused {
                tracing::info!("Closing the connection with peer {peer}: not on the allow-list");
                let _ = self.net.swarm.disconnect_peer_id(peer);
            }
        }
        self.net.swarm.behaviour_mut().gate.set(admitted);
    }

    /// Waits for the next swarm event, the core's deadline or housekeeping, and handles it.
    /// Cancel-safe: a step
    /// dropped while waiting loses nothing.
    pub async fn step(&mut self) {
        let deadline = self.clock.instant_at(self.core.poll_timeout());
        tokio::select! {
            event = self.net.swarm.select_next_some() => self.handle(event),
            _ = tokio::time::sleep_until(deadline) => {
                self.core.handle_timeout(&mut self.net);
            }
            _ = self.housekeeping.tick() => {
                self.enforce_allow_list();
                self.release_held_acks();
                self.dialer.on_tick(&mut self.net.swarm, now());
                self.net.retry_pending();
                self.log_failed_handshakes();
            }
        }
    }

    /// The address of `connection` when `peer`'s requests count on their host (`egress`):
    /// `None` for members of the node's network, which are not counted.
    fn counted_host(&self, peer: &PeerId, connection: ConnectionId) -> Option<IpAddr> {
        let member = self.core.membership().is_member(&peer.to_string());
        self.peers.ip_of_connection(connection).filter(|_| !member)
    }

    /// Counts a request of `bytes` from address `ip` on its host; returns when the window ends
    /// if the host was sent all it may be sent in this one: then the request is not handed to
    /// the core, and its acknowledgement is held until then (at most `held::MAX_HOLD`).
    fn host_spent(&mut self, peer: &PeerId, ip: IpAddr, bytes: usize) -> Option<Instant> {
        self.host_egress.request(ip, bytes as u64, now());
        let until = self.host_egress.spent_until(ip, now());
        if until.is_some() {
            tracing::debug!(%peer, %ip, "host's reconciliation answers spent; request held");
        }
        until
    }

    fn handle(&mut self, event: SwarmEvent<BehaviourEvent>) {
        self.swarm_metrics.record(&event);
        match event {
            SwarmEvent::Behaviour(event) => self.on_behaviour(event),
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                num_established,
                endpoint,
                ..
            } => {
                self.dialer.on_connected(peer_id, connection_id);
                let remote = endpoint.get_remote_address();
                self.peers.on_established(peer_id, connection_id, remote);
                if let Some(ip) = ip_of(remote) {
                    self.failed_handshakes.on_connected(ip, now());
                }
                // The core hears of the peer once Identify shows it speaks p2p-sync.
                if num_established.get() > 1 {
                    tracing::debug!(%peer_id, ?endpoint, "another connection");
                } else if self.seen.insert(peer_id) {
                    tracing::info!("Connection established with peer: {peer_id}");
                } else {
                    tracing::info!("Connection re-established with peer: {peer_id}");
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                connection_id,
                num_established,
                cause,
                endpoint,
                ..
            } => {
                let identified = self.peers.on_closed(connection_id);
                if num_established > 0 {
                    return;
                }
                // Only a connection this node opened: a peer that dials in and leaves is no
                // sign of being refused.
                if !identified && endpoint.is_dialer() {
                    self.hint_refused(peer_id);
                }
                match cause {
                    Some(cause) => {
                        tracing::info!("Connection closed with peer: {peer_id} ({cause})")
                    }
                    None => tracing::info!("Connection closed with peer: {peer_id}"),
                }
                self.net.forget(&peer_id);
                self.slow_peers.forget(&peer_id);
                self.core.handle_peer_down(&peer_id);
                let useful = self.peers.is_useful(&peer_id);
                self.dialer.on_disconnected(peer_id, useful, now());
            }
            SwarmEvent::OutgoingConnectionError {
                peer_id,
                connection_id,
                error,
            } => self
                .dialer
                .on_dial_failed(&self.net.swarm, peer_id, connection_id, &error, now()),
            SwarmEvent::IncomingConnectionError {
                send_back_addr,
                error,
                ..
            } => self.on_incoming_failed(&send_back_addr, &error),
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::debug!(%address, "listening");
            }
            SwarmEvent::ListenerError { error, .. } => {
                tracing::warn!("Listener error: {error}");
            }
            SwarmEvent::ListenerClosed {
                addresses, reason, ..
            } => tracing::warn!(?addresses, ?reason, "Listener closed"),
            other => tracing::trace!(?other, "swarm event"),
        }
    }

    /// Holds an incoming connection that failed before the peer was known, to be logged once
    /// per address unless a connection from it follows ([`FailedHandshakes`]): in a private
    /// network, most likely a node with another network key or none.
    fn on_incoming_failed(&mut self, remote: &Multiaddr, error: &ListenError) {
        if matches!(error, ListenError::Denied { .. }) {
            return; // the gate logged it
        }
        let hint = if self.network_key.is_some() {
            " (a node with another network key, or none?)"
        } else {
            " (a node in a private network?)"
        };
        let message =
            format!("Incoming connection from {remote} failed during the handshake{hint}: {error}");
        let held =
            ip_of(remote).is_some_and(|ip| self.failed_handshakes.on_failed(ip, message, now()));
        if !held {
            // Its address was logged already (or a flood fills the queue).
            tracing::debug!(%remote, %error, "incoming connection failed again");
        }
    }

    /// The last connection with `peer`, opened by this node, closed before Identify answered:
    /// said once per peer, since the likeliest cause is its allow-list, which does not say why
    /// it closes.
    fn hint_refused(&mut self, peer: PeerId) {
        if self.refused_hinted.len() >= MAX_REFUSED_HINTS {
            self.refused_hinted.clear();
        }
        if self.refused_hinted.insert(peer) {
            let us = self.peer_id();
            tracing::warn!(
                "Peer {peer} closed the connection before identifying itself: if it keeps an \
                 allow-list, this node is not on it (its owner can run `allow add {us}`)"
            );
        }
    }

    /// Logs the failed handshakes held long enough with no connection from their address.
    fn log_failed_handshakes(&mut self) {
        for message in self.failed_handshakes.due(now()) {
            tracing::warn!("{message}");
        }
    }

    /// Starts mDNS afresh once it holds more than [`MAX_MDNS_DISCOVERED`] addresses: a host
    /// announcing made-up peers would otherwise grow its list, and the linear search per
    /// insert in the swarm task, for ever. The real peers answer its new query at once.
    fn restart_mdns_if_full(&mut self) {
        let swarm = &mut self.net.swarm;
        let held = swarm
            .behaviour()
            .mdns
            .as_ref()
            .map_or(0, |mdns| mdns.discovered_nodes().len());
        if held <= MAX_MDNS_DISCOVERED {
            return;
        }
        tracing::warn!(
            "mDNS holds {held} announced peer addresses (more than {MAX_MDNS_DISCOVERED}): \
             someone on the LAN announces made-up peers; mDNS starts afresh"
        );
        let peer_id = *swarm.local_peer_id();
        let listening: Vec<Multiaddr> = swarm.listeners().cloned().collect();
        if let Err(error) = swarm.behaviour_mut().restart_mdns(peer_id, &listening) {
            tracing::warn!(
                "mDNS could not start again ({error}); peers are found by Kademlia and --dial"
            );
            swarm.behaviour_mut().mdns = None.into();
        }
    }

    fn on_behaviour(&mut self, event: BehaviourEvent) {
        match event {
            BehaviourEvent::Limits(never) => match never {},
            BehaviourEvent::Gossipsub(event) => self.on_gossipsub(event),
            BehaviourEvent::Direct(event) => self.on_direct(event),
            BehaviourEvent::Mdns(mdns::Event::Discovered(found)) => {
                let mut by_peer: HashMap<PeerId, Vec<Multiaddr>> = HashMap::new();
                for (peer, address) in found {
                    by_peer.entry(peer).or_default().push(address);
                }
                // Dialled, not put into Kademlia: it takes addresses from p2p-sync peers'
                // Identify alone (mDNS itself supplies them again for redials).
                // A few new peers per window (an announcer may name thousands), a few
                // addresses each.
                for (peer, mut addresses) in by_peer {
                    let connected = self.net.swarm.is_connected(&peer);
                    let host = addresses.first().and_then(ip_of);
                    if !connected && !self.mdns_dials.admit(host, now()) {
                        tracing::debug!(%peer, "mDNS dial budget spent; not dialling");
                        continue;
                    }
                    tracing::info!("Discovered peer by mDNS: {peer}");
                    addresses.truncate(MAX_MDNS_ADDRESSES_PER_PEER);
                    self.dialer.dial_peer(&mut self.net.swarm, peer, addresses);
                }
                self.restart_mdns_if_full();
            }
            BehaviourEvent::Mdns(mdns::Event::Expired(expired)) => {
                tracing::debug!(?expired, "mDNS records expired");
            }
            BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                connection_id,
                info,
            }) => self.on_identified(peer_id, connection_id, &info),
            BehaviourEvent::Kademlia(kad::Event::RoutingUpdated {
                peer,
                is_new_peer: true,
                ..
            }) => {
                self.dialer.dial_peer(&mut self.net.swarm, peer, Vec::new());
            }
            BehaviourEvent::Ping(ping::Event {
                peer,
                connection,
                result,
            }) => {
                if ping_shows_dead(&result) {
                    tracing::debug!(%peer, ?result, "ping failed; closing the connection");
                    self.net.swarm.close_connection(connection);
                } else if result.is_err() {
                    // A foreign client may speak Gossipsub alone: keep it, unpinged; over
                    // QUIC the idle timeout still finds its connection dead.
                    tracing::debug!(%peer, "peer does not speak ping; keeping the connection");
                }
            }
            BehaviourEvent::Identify(event) => tracing::trace!(?event, "identify"),
            BehaviourEvent::Kademlia(event) => tracing::trace!(?event, "kademlia"),
        }
    }

    /// Identify answered: a connection shown to speak p2p-sync starts a reconciliation (a peer
    /// that does not gets gossip only); the peer's own addresses go to Kademlia.
    fn on_identified(&mut self, peer: PeerId, connection: ConnectionId, info: &identify::Info) {
        self.dialer.on_identified(&peer, now());
        let identified = self.peers.on_identified(connection, info);
        let kademlia = &mut self.net.swarm.behaviour_mut().kademlia;
        remember_addresses(kademlia, &peer, &identified.routable);
        if identified.new_connection {
            self.core.handle_peer_up(&mut self.net, &peer);
        } else if !self.peers.is_p2p_sync(&peer) {
            tracing::debug!(%peer, agent = %crate::escape::printable(&info.agent_version), "not a p2p-sync node");
        }
    }

    fn on_gossipsub(&mut self, event: gossipsub::Event) {
        match event {
            gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            } => {
                self.net.gossip_received += 1;
                let author = message.source.unwrap_or(propagation_source);
                let verdict = self.core.handle_gossip(
                    &mut self.net,
                    &author,
                    &propagation_source,
                    &message.data,
                );
                let acceptance = match verdict {
                    Ok(Verdict::Accept) => {
                        self.peers.mark_useful(propagation_source);
                        MessageAcceptance::Accept
                    }
                    Ok(Verdict::Ignore) => MessageAcceptance::Ignore,
                    Ok(Verdict::Reject) => MessageAcceptance::Reject,
                    Err(error) => {
                        tracing::error!("Could not store a message from peer {author}: {error}");
                        MessageAcceptance::Ignore
                    }
                };
                self.net
                    .swarm
                    .behaviour_mut()
                    .gossipsub
                    .report_message_validation_result(&message_id, &propagation_source, acceptance);
                self.disconnect_forger(propagation_source);
            }
            gossipsub::Event::Subscribed { peer_id, topic } if &topic == self.net.topic() => {
                tracing::debug!(%peer_id, "peer subscribed to the topic");
                self.net.retry_pending();
            }
            gossipsub::Event::SlowPeer {
                peer_id,
                failed_messages,
            } => {
                tracing::debug!(%peer_id, ?failed_messages, "slow gossip peer");
                if self.slow_peers.on_slow(peer_id, now()) {
                    tracing::warn!(
                        "Closing the connection with peer {peer_id}: it has not taken its gossip for {} s",
                        super::guard::SLOW_FOR.as_secs()
                    );
                    let _ = self.net.swarm.disconnect_peer_id(peer_id);
                }
            }
            other => tracing::trace!(?other, "gossipsub"),
        }
    }

    /// Disconnects `peer` once it has sent [`MAX_STRIKES`] messages holding forged writes.
    fn disconnect_forger(&mut self, peer: PeerId) {
        if self.core.strikes(&peer) >= MAX_STRIKES && self.net.swarm.is_connected(&peer) {
            tracing::warn!(
                "Closing the connection with peer {peer}: it sent {} messages with forged writes",
                self.core.strikes(&peer)
            );
            let _ = self.net.swarm.disconnect_peer_id(peer);
        }
    }

    /// Tells the sender of a direct message that it may send its next one.
    fn acknowledge(&mut self, channel: ResponseChannel<Vec<u8>>) {
        let direct = &mut self.net.swarm.behaviour_mut().direct;
        if direct.send_response(channel, Vec::new()).is_err() {
            tracing::debug!("could not acknowledge a direct message (its stream is gone)");
        }
    }

    /// Sends the held acknowledgements whose time has come.
    fn release_held_acks(&mut self) {
        for channel in self.held_acks.due(now()) {
            self.acknowledge(channel);
        }
    }

    fn on_direct(&mut self, event: request_response::Event<Vec<u8>, Vec<u8>>) {
        match event {
            request_response::Event::Message {
                peer,
                connection_id,
                message:
                    request_response::Message::Request {
                        request, channel, ..
                    },
            } => {
                let host = self.counted_host(&peer, connection_id);
                if let Some(ip) = host {
                    if let Some(until) = self.host_spent(&peer, ip, request.len()) {
                        self.held_acks.hold(channel, now(), until);
                        return;
                    }
                }
                // What the core sends the peer while it handles the request is its answer.
                self.net.take_direct_sent();
                if let Err(error) = self.core.handle_direct(&mut self.net, &peer, &request) {
                    tracing::error!("Could not store writes from peer {peer}: {error}");
                }
                let answered = self.net.take_direct_sent().remove(&peer).unwrap_or(0);
                if let Some(ip) = host {
                    self.host_egress.answer(ip, answered, now());
                }
                self.disconnect_forger(peer);
                match self.core.direct_refused_until(&peer) {
                    Some(until) => {
                        let until = self.clock.instant_at(until);
                        self.held_acks.hold(channel, now(), until.into_std());
                    }
                    None => self.acknowledge(channel),
                }
            }
            request_response::Event::Message {
                peer,
                message: request_response::Message::Response { request_id, .. },
                ..
            } => {
                self.peers.mark_useful(peer);
                self.net.on_direct_done(peer, request_id);
            }
            request_response::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                tracing::debug!(%peer, %error, "direct message failed");
                self.net.on_direct_failed(peer, request_id);
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                tracing::debug!(%peer, %error, "inbound direct message failed");
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }
}
