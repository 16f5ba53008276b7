//! The libp2p behaviour of a node and the swarm built around it: TCP and QUIC with Noise and
//! Yamux (in a private network: TCP only, wrapped in pnet); connection limits; the
//! allow-list gate; Gossipsub with signed, strictly validated messages and peer scoring;
//! mDNS; Kademlia in server mode for finding peers only (it stores no record and no provider
//! from the network); Identify; Ping; and the direct request-response protocol that
//! reconciliation uses.

use super::codec::{DirectCodec, RECONCILE_PROTOCOL};
use super::gate::Gate;
use super::limits::{connection_limits, IpLimits};
use super::world::{Socket, Sockets};
use libp2p::core::muxing::StreamMuxerBox;
use libp2p::core::transport::{Boxed, ListenerId};
use libp2p::core::upgrade::Version;
use libp2p::core::Transport as _;
use libp2p::identity::Keypair;
use libp2p::pnet::{PnetConfig, PreSharedKey};
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::behaviour::{FromSwarm, NewListenAddr};
use libp2p::swarm::NetworkBehaviour;
use libp2p::{connection_limits as limits, gossipsub, identify, kad, mdns, noise, ping};
use libp2p::{request_response, tcp, yamux};
use libp2p::{Multiaddr, PeerId, StreamProtocol, Swarm, SwarmBuilder};
use p2p_sync_core::Config;
use std::collections::HashSet;
use std::error::Error;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// The Gossipsub topic every write is published on.
pub const TOPIC: &str = "p2p-sync";

/// Our own Kademlia protocol name, so p2p-sync nodes never join the public IPFS DHT.
pub const KAD_PROTOCOL: StreamProtocol = StreamProtocol::new("/p2p-sync/kad/1.0.0");

/// The protocol version nodes announce through Identify.
pub const IDENTIFY_VERSION: &str = "/p2p-sync/1.0.0";

/// Direct-protocol streams open at once on one connection, both ways. A node sends its peer
/// one direct message at a time (`direct::DirectQueue`), so two are busy in honest use; the
/// default of 100 let each peer make the node buffer 100 frames of up to 1 MiB at once.
const MAX_DIRECT_STREAMS: usize = 4;

/// How long a connection with no open streams stays up. Long, so quiet peers stay connected.
pub const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(60 * 60);

/// How often each connection is pinged, and how long a ping may take. After two failed pings
/// in a row (libp2p forgives the first) the node closes the connection as dead: a peer killed
/// or unplugged otherwise leaves one that lingers (QUIC's idle timeout, TCP's for ever).
/// A peer that does not speak ping is not pinged and stays connected; over QUIC its
/// connection is still found dead by [`QUIC_IDLE_TIMEOUT_MS`].
pub const PING_INTERVAL: Duration = Duration::from_secs(1);
/// See [`PING_INTERVAL`].
pub const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// How often QUIC sends a keep-alive on a quiet connection.
const QUIC_KEEP_ALIVE: Duration = Duration::from_secs(1);
/// How long a QUIC connection may hear nothing before it is closed as dead.
pub const QUIC_IDLE_TIMEOUT_MS: u32 = 3_000;

/// How long a direct message may wait for its acknowledgement before it is sent again (on the
/// peer's next connection, if it has several: one may be a dead one a restarted peer left).
/// A 1 MiB message needs under a second even on slow Wi-Fi.
const DIRECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Every protocol a node speaks.
#[derive(NetworkBehaviour)]
pub struct Behaviour {
    /// Refuses connections over the limits of [`super::limits`]; first, so a refused
    /// connection reaches no other protocol.
    pub limits: limits::Behaviour,
    /// Refuses incoming connections from an IP address that has too many already
    /// ([`super::limits::MAX_INCOMING_PER_IP`]).
    pub ip_limits: IpLimits,
    /// Closes connections from peers off the allow-list before any protocol runs; right
    /// after the limits, so no other behaviour sees them.
    pub gate: Gate,
    /// Broadcasts writes on [`TOPIC`]; the application validates every message.
    pub gossipsub: gossipsub::Behaviour,
    /// Finds peers on the local network; absent with `--no-mdns`.
    pub mdns: Toggle<mdns::tokio::Behaviour>,
    /// Remembers peers' addresses and finds peers of peers; stores nothing else.
    pub kademlia: kad::Behaviour<kad::store::MemoryStore>,
    /// Exchanges listen addresses and supported protocols; tells p2p-sync nodes from others.
    pub identify: identify::Behaviour,
    /// Carries reconciliation messages, one acknowledged frame at a time.
    pub direct: request_response::Behaviour<DirectCodec>,
    /// Checks every connection is alive; the node closes one whose ping times out or fails
    /// (but keeps one whose peer does not speak ping).
    pub ping: ping::Behaviour,
}

/// Whether a ping outcome shows the connection dead (a timeout or another failure), so the
/// node closes it. A peer that does not speak ping is not dead: it is kept, unpinged.
pub fn ping_shows_dead(result: &Result<Duration, ping::Failure>) -> bool {
    !matches!(result, Ok(_) | Err(ping::Failure::Unsupported))
}

/// The largest Gossipsub frame accepted: one message at the limit plus room for its envelope
/// (signature, key, sequence number, topic) and control messages riding along. Nothing larger
/// is read: a peer cannot make the node buffer more than this per frame.
pub fn max_gossip_frame_bytes(config: &Config) -> usize {
    config.max_message_bytes + 64 * 1024
}

/// Most messages one Gossipsub frame may carry (the library's default is 5,000): a node of
/// ours sends one per frame; other implementations batch a few.
pub const MAX_GOSSIP_MESSAGES_PER_RPC: usize = 16;

/// Most frames queued for one peer's connection (the library's default is 5,000, each up to
/// a frame of [`max_gossip_frame_bytes`], copied per peer: gigabytes for a peer that stops
/// reading). A peer that does not read fills it, and what does not fit counts as failed: the
/// driver disconnects a peer that stays slow. The node's own bulk import waits for room
/// (`transport::SwarmNet` retries), 128 messages of up to 128 writes a second and more.
pub const GOSSIP_QUEUE_LEN: usize = 128;

/// Addresses Kademlia keeps for one peer, and so sends in an answer for each of the at most
/// k = 20 peers it names (the library keeps any number).
pub const MAX_KAD_ADDRESSES_PER_PEER: usize = 4;

/// Peers on one IP address beyond which Gossipsub scores each further one down (the IP
/// colocation factor): a few nodes may share a machine, a crowd of identities from one host
/// is one attacker. Loopback is exempt (tests run many nodes there; no LAN peer comes from it).
const GOSSIP_PEERS_PER_IP: f64 = 3.0;

/// Gossipsub v1.1 peer scoring, penalties only: no score rises by delivering messages or
/// staying in the mesh, so no peer can bank credit to spend on bad behaviour later, and honest
/// peers of a quiet network score 0. Each counter decays by `decay` a second.
///
/// - Invalid messages (P4, what the core rejects: forged, malformed, oversized, invalid
///   writes): -10 × count². One costs -10, two -40, three -90: below the graylist threshold.
///   Decays by 0.9 a second (half in ~7 s), so an honest relay that once forwarded a write its
///   clock saw differently is back to 0 within a minute.
/// - IP colocation (P6): -10 × (peers on the IP − 3)²; a 6th identity from one IP is graylisted.
/// - Behaviour (P7: GRAFT during backoff, IWANT promises broken): -10 × (count − 4)²
///   past four; decays by 0.9 a second.
/// - Slow peer: not scored (the node's own bulk import fills honest peers' queues for a
///   while); a peer that stays slow is disconnected instead (`guard::SlowPeers`).
///
/// Thresholds: below -10 no gossip (IHAVE/IWANT) is exchanged with the peer; below -50 the
/// node's own writes are not published to it; below -80 (graylisted) every frame it sends is
/// dropped unread.
pub fn peer_score(
    topic: gossipsub::TopicHash,
) -> (gossipsub::PeerScoreParams, gossipsub::PeerScoreThresholds) {
    let topic_params = gossipsub::TopicScoreParams {
        topic_weight: 1.0,
        time_in_mesh_weight: 0.0,
        first_message_deliveries_weight: 0.0,
        mesh_message_deliveries_weight: 0.0,
        mesh_failure_penalty_weight: 0.0,
        invalid_message_deliveries_weight: -10.0,
        invalid_message_deliveries_decay: 0.9,
        ..gossipsub::TopicScoreParams::default()
    };
    let params = gossipsub::PeerScoreParams {
        topics: [(topic, topic_params)].into_iter().collect(),
        app_specific_weight: 0.0,
        ip_colocation_factor_weight: -10.0,
        ip_colocation_factor_threshold: GOSSIP_PEERS_PER_IP,
        ip_colocation_factor_whitelist: HashSet::from([
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ]),
        behaviour_penalty_weight: -10.0,
        behaviour_penalty_threshold: 4.0,
        behaviour_penalty_decay: 0.9,
        slow_peer_weight: 0.0,
        ..gossipsub::PeerScoreParams::default()
    };
    let thresholds = gossipsub::PeerScoreThresholds {
        gossip_threshold: -10.0,
        publish_threshold: -50.0,
        graylist_threshold: -80.0,
        ..gossipsub::PeerScoreThresholds::default()
    };
    (params, thresholds)
}

/// Gives Kademlia `addresses` of `peer` (confirmed by Identify: see
/// `peers::routable_addresses`) and keeps at most [`MAX_KAD_ADDRESSES_PER_PEER`] of its
/// addresses: the newest first, older ones dropped. So no peer can grow the node's routing
/// table, or its answers to FIND_NODE, by announcing address after address.
pub fn remember_addresses(
    kademlia: &mut kad::Behaviour<kad::store::MemoryStore>,
    peer: &PeerId,
    addresses: &[Multiaddr],
) {
    let addresses = &addresses[..addresses.len().min(MAX_KAD_ADDRESSES_PER_PEER)];
    for address in addresses {
        kademlia.add_address(peer, address.clone());
    }
    let held: Vec<Multiaddr> = kademlia
        .kbucket(*peer)
        .and_then(|bucket| {
            bucket
                .iter()
                .find(|entry| entry.node.key.preimage() == peer)
                .map(|entry| entry.node.value.iter().cloned().collect())
        })
        .unwrap_or_default();
    let fresh: Vec<Multiaddr> = addresses
        .iter()
        .filter_map(|address| address.clone().with_p2p(*peer).ok())
        .collect();
    let mut excess = held.len().saturating_sub(MAX_KAD_ADDRESSES_PER_PEER);
    for address in held.iter().filter(|address| !fresh.contains(address)) {
        if excess == 0 {
            break;
        }
        kademlia.remove_address(peer, address);
        excess -= 1;
    }
}

/// The largest direct frame accepted: the message limit plus headroom.
pub fn max_direct_frame_bytes(config: &Config) -> usize {
    config.max_message_bytes + 64 * 1024
}

/// Gossipsub as every node runs it: messages signed by `key`, strictly validated, each held
/// until the application reports on it, frames up to [`max_gossip_frame_bytes`]; a mesh of
/// degree `config.mesh_n` (between `mesh_n_low` and `mesh_n_high`) repaired every
/// `config.gossip_heartbeat_ms`; own messages flood-published to every subscribed peer, others'
/// forwarded through the mesh only; IDONTWANT (Gossipsub v1.2) for large messages, also on
/// publish; subscribed to [`TOPIC`]. (The benchmarks measure it bare, as the network stack's limit.)
pub fn gossip(
    key: &Keypair,
    config: &Config,
) -> Result<gossipsub::Behaviour, Box<dyn Error + Send + Sync>> {
    let gossip_config = gossipsub::ConfigBuilder::default()
        .validation_mode(gossipsub::ValidationMode::Strict)
        .validate_messages()
        .max_transmit_size(max_gossip_frame_bytes(config))
        .max_publish_messages(MAX_GOSSIP_MESSAGES_PER_RPC)
        .connection_handler_queue_len(GOSSIP_QUEUE_LEN)
        .mesh_n(config.mesh_n)
        .mesh_n_low(config.mesh_n_low)
        .mesh_n_high(config.mesh_n_high)
        .heartbeat_interval(Duration::from_millis(config.gossip_heartbeat_ms))
        .flood_publish(true)
        .idontwant_on_publish(true)
        .build()?;
    let mut gossipsub = gossipsub::Behaviour::new(
        gossipsub::MessageAuthenticity::Signed(key.clone()),
        gossip_config,
    )?;
    let topic = gossipsub::IdentTopic::new(TOPIC);
    let (params, thresholds) = peer_score(topic.hash());
    gossipsub.with_peer_score(params, thresholds)?;
    gossipsub.subscribe(&topic)?;
    Ok(gossipsub)
}

impl Behaviour {
    /// The behaviour of a node with identity `key`, limits from `config`, mDNS on or off.
    pub fn new(
        key: &Keypair,
        config: &Config,
        mdns: bool,
    ) -> Result<Self, Box<dyn Error + Send + Sync>> {
        let peer_id = key.public().to_peer_id();
        let gossipsub = gossip(key, config)?;
        let mdns = if mdns {
            Some(local_discovery(peer_id)?)
        } else {
            None
        };
        let mut kademlia = kad::Behaviour::with_config(peer_id, empty_store(peer_id), kad_config());
        kademlia.set_mode(Some(kad::Mode::Server));
        // No address cache: a peer's announced addresses reach dials only through Kademlia,
        // which takes them from p2p-sync peers alone (see `peers::routable_addresses`).
        let identify = identify::Behaviour::new(
            identify::Config::new(IDENTIFY_VERSION.into(), key.public())
                .with_agent_version(format!("p2p-sync/{}", env!("CARGO_PKG_VERSION")))
                .with_cache_size(0),
        );
        let direct = request_response::Behaviour::with_codec(
            DirectCodec::new(max_direct_frame_bytes(config)),
            [(RECONCILE_PROTOCOL, request_response::ProtocolSupport::Full)],
            request_response::Config::default()
                .with_request_timeout(DIRECT_TIMEOUT)
                .with_max_concurrent_streams(MAX_DIRECT_STREAMS),
        );
        let ping = ping::Behaviour::new(
            ping::Config::new()
                .with_interval(PING_INTERVAL)
                .with_timeout(PING_TIMEOUT),
        );
        Ok(Behaviour {
            limits: connection_limits(),
            ip_limits: IpLimits::default(),
            gate: Gate::default(),
            gossipsub,
            mdns: mdns.into(),
            kademlia,
            identify,
            direct,
            ping,
        })
    }

    /// Starts mDNS afresh, if it is on, forgetting every peer it found (libp2p-mdns keeps
    /// them in a list with no cap; see `guard::MAX_MDNS_DISCOVERED`). It asks the LAN again
    /// at once, and answers with the addresses in `listening`.
    pub fn restart_mdns<'a>(
        &mut self,
        peer_id: PeerId,
        listening: impl IntoIterator<Item = &'a Multiaddr>,
    ) -> io::Result<()> {
        let Some(mdns) = self.mdns.as_mut() else {
            return Ok(());
        };
        *mdns = local_discovery(peer_id)?;
        for addr in listening {
            mdns.on_swarm_event(FromSwarm::NewListenAddr(NewListenAddr {
                listener_id: ListenerId::next(),
                addr,
            }));
        }
        Ok(())
    }
}

/// mDNS, with libp2p's defaults.
fn local_discovery(peer_id: PeerId) -> io::Result<mdns::tokio::Behaviour> {
    mdns::tokio::Behaviour::new(mdns::Config::default(), peer_id)
}

/// Kademlia for finding peers only. The node uses no records and no providers, so it stores
/// none a peer sends (`FilterBoth` hands them to the driver, which drops them) and publishes
/// none; it answers FIND_NODE (and the closer peers part of any query) from its routing
/// table. Served all the same: other nodes find peers of peers through it.
pub fn kad_config() -> kad::Config {
    let mut config = kad::Config::new(KAD_PROTOCOL);
    config
        .set_record_filtering(kad::StoreInserts::FilterBoth)
        .set_replication_interval(None)
        .set_publication_interval(None)
        .set_provider_publication_interval(None);
    config
}

/// A record store that holds nothing, should anything reach it.
fn empty_store(peer_id: PeerId) -> kad::store::MemoryStore {
    kad::store::MemoryStore::with_config(
        peer_id,
        kad::store::MemoryStoreConfig {
            max_records: 0,
            max_value_bytes: 0,
            max_providers_per_key: 0,
            max_provided_keys: 0,
        },
    )
}

/// Builds the swarm of a node with identity `key`: TCP and QUIC transports, or with a network
/// key `psk` TCP alone inside pnet (pnet encrypts a byte stream; QUIC brings its own encryption
/// and cannot be wrapped, so a private node speaks no QUIC); [`Behaviour`]; and a long
/// idle-connection timeout. Must run inside a tokio runtime.
pub fn build_swarm(
    key: Keypair,
    config: &Config,
    mdns: bool,
    psk: Option<PreSharedKey>,
) -> Result<Swarm<Behaviour>, Box<dyn Error + Send + Sync>> {
    let builder = SwarmBuilder::with_existing_identity(key).with_tokio();
    let behaviour = |key: &Keypair| Behaviour::new(key, config, mdns);
    let swarm_config =
        |swarm: libp2p::swarm::Config| swarm.with_idle_connection_timeout(IDLE_CONNECTION_TIMEOUT);
    Ok(match psk {
        Some(psk) => builder
            .with_other_transport(|key| {
                let tcp = tcp::tokio::Transport::new(tcp_config())
                    .map(|socket, _| Box::new(socket) as Box<dyn Socket>)
                    .boxed();
                secure(tcp, Some(psk), key)
            })?
            .with_behaviour(behaviour)?
            .with_swarm_config(swarm_config)
            .build(),
        None => builder
            .with_tcp(tcp_config(), noise::Config::new, yamux::Config::default)?
            .with_quic_config(|mut quic| {
                // A peer gone without a word (killed, unplugged) must not leave a connection
                // that swallows streams for QUIC's default 10 s: keep-alives every second,
                // dead after 3 s.
                quic.keep_alive_interval = QUIC_KEEP_ALIVE;
                quic.max_idle_timeout = QUIC_IDLE_TIMEOUT_MS;
                quic
            })
            .with_behaviour(behaviour)?
            .with_swarm_config(swarm_config)
            .build(),
    })
}

/// Builds the swarm of a node with identity `key` on a world's byte streams `sockets` instead
/// of TCP and QUIC: wrapped as TCP is (pnet with a network key `psk`, then Noise and Yamux);
/// [`Behaviour`] without mDNS; the same idle-connection timeout. Must run inside a tokio
/// runtime.
pub fn build_swarm_on(
    key: Keypair,
    config: &Config,
    psk: Option<PreSharedKey>,
    sockets: Sockets,
) -> Result<Swarm<Behaviour>, Box<dyn Error + Send + Sync>> {
    Ok(SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_other_transport(|key| secure(sockets, psk, key))?
        .with_behaviour(|key: &Keypair| Behaviour::new(key, config, false))?
        .with_swarm_config(|swarm| swarm.with_idle_connection_timeout(IDLE_CONNECTION_TIMEOUT))
        .build())
}

/// Byte streams made connections: inside pnet with a network key `psk`, then Noise with `key`
/// and Yamux.
fn secure(
    sockets: Sockets,
    psk: Option<PreSharedKey>,
    key: &Keypair,
) -> Result<Boxed<(PeerId, StreamMuxerBox)>, Box<dyn Error + Send + Sync>> {
    let sockets = match psk {
        Some(psk) => sockets
            .and_then(move |socket, _| PnetConfig::new(psk).handshake(socket))
            .map(|socket, _| Box::new(socket) as Box<dyn Socket>)
            .boxed(),
        None => sockets,
    };
    Ok(sockets
        .upgrade(Version::V1Lazy)
        .authenticate(noise::Config::new(key)?)
        .multiplex(yamux::Config::default())
        .map(|(peer, muxer), _| (peer, StreamMuxerBox::new(muxer)))
        .boxed())
}

fn tcp_config() -> tcp::Config {
    tcp::Config::default().nodelay(true)
}
