//! The sans-IO node core: rules, state machine and wire formats, with no clock reads, sockets,
//! tasks or OS randomness.

pub mod clock;
pub mod config;
pub mod counters;
pub mod iblt;
pub mod membership;
pub mod node;
pub mod outbox;
pub mod rate_limit;
pub mod sync;
pub mod validate;
pub mod version;
pub mod wire;

pub use clock::{Clock, ManualClock};
pub use config::{Config, RateLimit};
pub use counters::{Counters, DropReason, Drops};
pub use membership::Membership;
pub use node::{CommandError, Event, NodeCore, Transport, Verdict};
pub use outbox::Outbox;
pub use version::{Hlc, Version, Write};

#[cfg(test)]
mod node_tests;
