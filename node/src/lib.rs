//! p2p-sync: a key-value store kept in sync between machines on a LAN, with no server.
//!
//! # Layout
//! - [`core`]: the sans-IO node — validation, rate limiting, hybrid logical clock ordering,
//!   last-writer-wins merge, gossip wire codec and set reconciliation. It reads time only
//!   through [`core::Clock`] and talks only through [`core::Transport`], so the same code runs
//!   on libp2p and inside the deterministic simulator (`p2p-sync-sim`).
//! - [`store`]: the [`store::Store`] trait with SQLite (on disk, or in memory for the simulator)
//!   and plain in-memory implementations.

pub mod core;
pub mod store;
