//! p2p-sync-lab: plays the scenario files of `scenarios/` (docs/scenario-format.md), unchanged, on real
//! `p2p-sync` processes in a LAN of network namespaces, and compares them with the simulator.
//!
//! # Layout
//! - [`netns`]: the namespaces, veths and bridge (shared with node/tests/lan).
//! - [`cuts`]: partitions and one-way cuts as nftables rules; [`shaping`]: `tc netem`.
//! - [`process`]: one real node driven through stdin/stdout; [`attacker`]: the hostile client;
//!   [`identity`]: node keys whose PeerIds sort like `n0 < n1 < …`.
//! - [`world`]: the LAN, its nodes and attackers, and what each step does to them.
//! - [`observe`]: what the scenario crate judges, read from `get`, `list` and `status`.
//! - [`player`]: the scenario's timeline in real time; [`report`]: its outcome.
//! - [`compare`]: both worlds side by side (the fidelity table).
//! - [`host`]: whether this machine can run it; [`interrupt`]: Ctrl-C ends a run cleanly.

#![warn(missing_docs, unreachable_pub)]

pub mod attacker;
pub mod compare;
pub mod cuts;
pub mod host;
pub mod identity;
pub mod interrupt;
pub mod netns;
pub mod observe;
pub mod player;
pub mod process;
pub mod report;
pub mod shaping;
pub mod world;
