//! How many connections a node keeps, so a stranger on the LAN cannot exhaust its memory, file
//! descriptors or handshake CPU by opening connections (libp2p's `connection_limits`). A
//! connection over a limit is refused as it opens; the node's own state is untouched.

use libp2p::connection_limits::{Behaviour, ConnectionLimits};

/// Most established connections: every node of a LAN of about a hundred machines (mDNS
/// connects each to all), with room to spare.
pub const MAX_ESTABLISHED: u32 = 128;
/// Most established incoming connections: three quarters of [`MAX_ESTABLISHED`], so a flood of
/// incoming connections leaves room for the node's own dials (`--dial`, mDNS).
pub const MAX_ESTABLISHED_INCOMING: u32 = 96;
/// Most connections to one peer: both sides dialling at once (mDNS finds each side), plus the
/// old connection a peer killed and restarted leaves until its pings fail.
pub const MAX_ESTABLISHED_PER_PEER: u32 = 3;
/// Most incoming connections in their handshake (each costs a Noise key exchange): a few LAN
/// peers arriving at once pass, a connection flood waits its turn or is refused.
pub const MAX_PENDING_INCOMING: u32 = 32;
/// Most outgoing dials in progress: a whole LAN found by mDNS at once, but not an unbounded
/// number of addresses a peer might make the node dial.
pub const MAX_PENDING_OUTGOING: u32 = 64;

/// The `connection_limits` behaviour with the limits above.
pub fn connection_limits() -> Behaviour {
    Behaviour::new(
        ConnectionLimits::default()
            .with_max_established(Some(MAX_ESTABLISHED))
            .with_max_established_incoming(Some(MAX_ESTABLISHED_INCOMING))
            .with_max_established_per_peer(Some(MAX_ESTABLISHED_PER_PEER))
            .with_max_pending_incoming(Some(MAX_PENDING_INCOMING))
            .with_max_pending_outgoing(Some(MAX_PENDING_OUTGOING)),
    )
}
