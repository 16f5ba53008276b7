//! What a world other than the real one hands a node: the byte streams its connections run on,
//! the seed of its core, and its wall clock. The real world leaves all three unset (the
//! operating system's TCP and QUIC, a random seed, the system clock); a deterministic world
//! (the `p2p-sync-turmoil` crate) sets them, and the node runs the same driver and libp2p
//! stack on top.

use futures::{AsyncRead, AsyncWrite};
use libp2p::core::transport::Boxed;
use std::fmt;
use std::sync::Arc;

/// A byte stream a connection runs on (a TCP socket, or a world's stand-in for one).
pub trait Socket: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Socket for T {}

/// A transport of raw byte streams: the node wraps it as it wraps TCP (pnet in a private
/// network, then Noise and Yamux).
pub type Sockets = Boxed<Box<dyn Socket>>;

/// Makes a fresh [`Sockets`] transport for each swarm the node builds.
pub type SocketsFactory = Arc<dyn Fn() -> Sockets + Send + Sync>;

/// Reads a wall clock in ms since the Unix epoch (a world's virtual clock, skew included).
pub type WallClock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// A world's seams into the node; the default is the real world.
#[derive(Clone, Default)]
pub struct World {
    /// The connections' byte streams instead of TCP and QUIC: the node then listens and dials
    /// on this transport alone (no QUIC, no mDNS, no probing of OS ports).
    pub sockets: Option<SocketsFactory>,
    /// The core's random seed (anti-entropy jitter, peer choice) instead of a random one.
    pub core_seed: Option<u64>,
    /// The wall clock the node stamps writes and expires allow-list entries with, instead of
    /// the system's (the node's `clock_offset_ms` still applies on top).
    pub wall_clock: Option<WallClock>,
}

impl fmt::Debug for World {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("World")
            .field("sockets", &self.sockets.as_ref().map(|_| "world's"))
            .field("core_seed", &self.core_seed)
            .field("wall_clock", &self.wall_clock.as_ref().map(|_| "world's"))
            .finish()
    }
}
