//! The libp2p behaviour of a node and the swarm built around it: TCP and QUIC with Noise and
//! Yamux (in a private network: TCP only, wrapped in pnet); connection limits; the
//! allow-list gate; Gossipsub with signed, strictly validated messages; mDNS; Kademlia in
//! server mode; Identify; Ping; and the direct request-response protocol that reconciliation
//! uses.

use super::codec::{DirectCodec, RECONCILE_PROTOCOL};
use super::gate::Gate;
use super::limits::connection_limits;
use libp2p::core::upgrade::Version;
use libp2p::core::Transport as _;
use libp2p::identity::Keypair;
use libp2p::pnet::{PnetConfig, PreSharedKey};
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::NetworkBehaviour;
use libp2p::{connection_limits as limits, gossipsub, identify, kad, mdns, noise, ping};
use libp2p::{request_response, tcp, yamux};
use libp2p::{StreamProtocol, Swarm, SwarmBuilder};
use p2p_sync_core::Config;
use std::error::Error;
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
    /// Closes connections from peers off the allow-list before any protocol runs; right
    /// after the limits, so no other behaviour sees them.
    pub gate: Gate,
    /// Broadcasts writes on [`TOPIC`]; the application validates every message.
    pub gossipsub: gossipsub::Behaviour,
    /// Finds peers on the local network; absent with `--no-mdns`.
    pub mdns: Toggle<mdns::tokio::Behaviour>,
    /// Remembers peers' addresses and finds peers of peers.
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

/// The largest Gossipsub frame accepted: twice the message limit plus room for the envelope,
/// so a message somewhat over the limit still reaches the core, which counts and logs it.
pub fn max_gossip_frame_bytes(config: &Config) -> usize {
    2 * config.max_message_bytes + 64 * 1024
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
    gossipsub.subscribe(&gossipsub::IdentTopic::new(TOPIC))?;
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
            Some(mdns::tokio::Behaviour::new(
                mdns::Config::default(),
                peer_id,
            )?)
        } else {
            None
        };
        let mut kademlia = kad::Behaviour::with_config(
            peer_id,
            kad::store::MemoryStore::new(peer_id),
            kad::Config::new(KAD_PROTOCOL),
        );
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
            gate: Gate::default(),
            gossipsub,
            mdns: mdns.into(),
            kademlia,
            identify,
            direct,
            ping,
        })
    }
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
            .with_other_transport(|key| -> Result<_, Box<dyn Error + Send + Sync>> {
                Ok(tcp::tokio::Transport::new(tcp_config())
                    .and_then(move |socket, _| PnetConfig::new(psk).handshake(socket))
                    .upgrade(Version::V1Lazy)
                    .authenticate(noise::Config::new(key)?)
                    .multiplex(yamux::Config::default()))
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

fn tcp_config() -> tcp::Config {
    tcp::Config::default().nodelay(true)
}
