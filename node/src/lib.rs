//! p2p-sync: a key-value store kept in sync between machines on a LAN, with no server.
//!
//! # Layout
//! - [`core`]: the sans-IO node — validation, rate limiting, hybrid logical clock ordering,
//!   last-writer-wins merge, gossip wire codec and set reconciliation. It reads time only
//!   through [`core::Clock`] and talks only through [`core::Transport`], so the same code runs
//!   on libp2p and inside the deterministic simulator (`p2p-sync-sim`).
//! - [`store`]: the [`store::Store`] trait with SQLite (on disk, or in memory for the simulator)
//!   and plain in-memory implementations.
//! - [`net`]: the real world around the core — the libp2p swarm (TCP/QUIC, Gossipsub, mDNS,
//!   Kademlia, Identify, direct request-response), the system clock, the identity key, and the
//!   [`net::Node`] driver.
//! - [`cli`]: the `p2p-sync` command line — arguments, start-up, and the interactive commands.
//! - [`escape`]: how text from peers is printed and logged.

pub mod cli;
pub mod core;
pub mod escape;
pub mod net;
pub mod store;
