//! The real world around the core: libp2p networking, the system clock, the identity key.
//!
//! - [`behaviour`]: the libp2p protocols of a node and the swarm built from them.
//! - [`codec`]: length-prefixed raw frames for the direct (reconciliation) protocol.
//! - [`direct`]: per-peer, one-at-a-time, acknowledged direct sends.
//! - [`held`]: acknowledgements held back from peers that spent their direct budget.
//! - [`egress`]: the reconciliation bytes sent to each host, whatever identities it shows.
//! - [`pending`]: gossip waiting for room in full send queues.
//! - [`transport`]: the core's `Transport` on the swarm.
//! - [`dialer`] and [`redial`]: whom to dial, and backoff for lost peers.
//! - [`peers`]: which connections are p2p-sync nodes, and which peers proved useful.
//! - [`report`]: the log lines for the core's events.
//! - [`identity`], [`clock`]: the persistent key and the system clock.
//! - [`metrics`]: libp2p's own metrics of the swarm's events.
//! - [`lock`]: one process per data directory; [`private_files`]: the directory and database
//!   readable by their owner alone.
//! - [`limits`]: how many connections a node keeps.
//! - [`psk`], [`allow`], [`gate`]: who belongs — the private network's key, the allow-list
//!   file, and the behaviour that closes connections from peers off the list.
//! - [`handshakes`]: failed incoming handshakes, logged once and only when nothing connected.
//! - [`verifier`]: signature checks in batches on every core.
//! - [`node`]: the driver that ties the core and the swarm together.
//! - [`world`]: what a simulated world hands a node instead of the real one's sockets, seed and
//!   clock.

pub mod allow;
pub mod behaviour;
pub mod clock;
pub mod codec;
pub mod dialer;
pub mod direct;
pub mod egress;
pub mod gate;
pub mod guard;
pub mod handshakes;
pub mod held;
pub mod identity;
pub mod limits;
pub mod lock;
pub mod metrics;
pub mod node;
pub mod peers;
pub mod pending;
pub mod private_files;
pub mod psk;
pub mod redial;
pub mod report;
pub mod transport;
pub mod verifier;
pub mod world;

pub use clock::SystemClock;
pub use node::{DriverCounts, Node, Options, PeerStatus, StartError, Status};
pub use world::World;
