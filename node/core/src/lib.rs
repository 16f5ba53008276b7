//! The sans-IO core of p2p-sync: every rule of the system as a state machine with no clock
//! reads, sockets, tasks, database or OS randomness. The node (`p2p-sync`, over libp2p, tokio
//! and SQLite) and the simulator (`p2p-sync-sim`, in virtual time) both drive this same code.
//!
//! # Glossary
//! - **write**: one put or delete of a key, with its [`Version`]; a delete is a *tombstone*.
//! - **version**: a write's place in the total order: hybrid logical clock ([`Hlc`]) timestamp,
//!   then the origin's id.
//! - **origin**: the node that made a write. **author**: the peer that signed a gossip message.
//!   **forwarder**: the peer a gossip message arrived from.
//! - **gossip**: writes broadcast on the Gossipsub topic `p2p-sync`.
//! - **reconciliation**: two peers comparing their stores over the direct protocol and sending
//!   each other what the other lacks (the only word for it here; catch-up after a partition or a
//!   restart, and the periodic anti-entropy round, are reconciliations).
//! - **legacy**: the original app this project replaces; its wire form and database are read.
//! - **seed**: only ever the number a random generator starts from.
//! - **deadline**: the monotonic time at which the core next needs [`NodeCore::handle_timeout`].
//!
//! # Layout
//! - [`auth`]: signing writes and checking their signatures; [`verify`]: the one rule
//!   (ZIP-215) for single and batch checks.
//! - [`node`]: the state machine ([`NodeCore`]) and what it asks of its world ([`Transport`]).
//! - [`timers`]: every deadline of a node in one table; [`want`]: the writes a node asks one
//!   peer for in a reconciliation.
//! - [`config`]: every limit and interval, with defaults.
//! - [`validate`]: the rules a key and a value must follow, for every path a write takes;
//!   [`error`]: every refusal and the reason it is counted under; [`timestamp`]: RFC 3339 text.
//! - [`write`](mod@write): one write, its id and the bytes its origin signs; [`version`]: the total order
//!   of writes; [`wire`]: the gossip JSON codec (it only decodes: [`node`] checks every remote
//!   write in one place).
//! - [`legacy`]: the original app's signed envelope (read, checked, and written).
//! - [`reconciliation`] and [`iblt`]: the reconciliation messages and the sketches they carry.
//! - [`rate_limit`], [`counters`]: budgets per peer, and what was applied and dropped.
//! - [`store`]: the `Store` trait, its summary and an in-memory store.
//! - [`clock`]: the `Clock` trait; [`outbox`]: a recording `Transport`; [`testkit`]: helpers
//!   for tests, benches and the simulator.

#![warn(missing_docs, unreachable_pub)]

pub mod auth;
pub mod clock;
pub mod config;
pub mod counters;
pub mod error;
pub mod iblt;
pub mod legacy;
pub mod membership;
pub mod node;
pub mod outbox;
pub mod rate_limit;
pub mod reconciliation;
pub mod store;
pub mod testkit;
pub mod timers;
pub mod timestamp;
pub mod validate;
pub mod verify;
pub mod version;
pub mod want;
pub mod wire;
pub mod write;

pub use clock::{Clock, ManualClock};
pub use config::{Config, RateLimit};
pub use counters::{Counters, DropReason, Drops};
pub use membership::Membership;
pub use node::{ClockAhead, CommandError, Event, NodeCore, PeerId, Transport, Verdict};
pub use outbox::Outbox;
pub use store::{Store, StoreError, Summary};
pub use version::{Hlc, Version};
pub use write::Write;

#[cfg(test)]
mod node_tests;
