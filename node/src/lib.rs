//! p2p-sync: a key-value store kept in sync between machines on a LAN, with no server.
//!
//! # Layout
//! The rules live in the sans-IO crate `p2p_sync_core` (state machine, merge, budgets, wire
//! codec, reconciliation, the `Store` trait) and the SQLite store in `p2p_sync_store`; this
//! crate is the real world around them:
//! - [`net`]: the libp2p swarm (TCP/QUIC, Gossipsub, mDNS, Kademlia, Identify, the direct
//!   reconciliation protocol), the system clock, the identity key, and the [`net::Node`]
//!   driver that feeds the core its inputs and carries out its outputs.
//! - [`api`]: the local HTTP API — key-value, import, status, watch, metrics, status page.
//! - [`cli`]: the `p2p-sync` command line — arguments, start-up, and the interactive commands.
//! - [`escape`]: how text from peers is printed and logged.
//! - [`memory`]: large freed buffers go back to the system at once.

pub mod api;
pub mod cli;
pub mod escape;
pub mod memory;
pub mod net;
