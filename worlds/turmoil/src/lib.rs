//! The real node in a deterministic world: every honest host of a [turmoil] simulation runs
//! `p2p_sync::net::Node` — the same driver and libp2p stack (Noise, Yamux, Gossipsub,
//! request-response, Identify, ping, Kademlia, pnet) — over turmoil's simulated TCP, on its own
//! SQLite file that survives a crash and a restart. See docs/turmoil.md.
//!
//! - [`tcp`]: the libp2p transport on turmoil's TCP.
//! - [`host`]: one host's node and its mailbox; [`world`]: the hosts and the network.
//! - [`clock`]: the virtual time the binary's clock stand-in serves the whole process.
//! - [`trace`]: what happened, line by line, for the determinism check.
//! - [`play`]: a scenario file played step by step, judged as in every world; [`compare`]:
//!   the fidelity table against the simulator.
//! - [`spike`]: two nodes through put/get, a partition and a crash; [`timing`]: the speed table.

pub mod clock;
pub mod compare;
pub mod host;
pub mod play;
pub mod spike;
pub mod tcp;
pub mod timing;
pub mod trace;
pub mod world;
