//! Whether this machine can run the LAN world: root (namespaces), iproute2, and nftables for
//! scenarios that cut the network.

use crate::netns::run;
use p2p_sync_sim::scenario::{Action, Scenario};
use std::os::unix::fs::MetadataExt;

/// Pretends the runner has this user id (tests check the "cannot run here" path as root).
pub const UID_OVERRIDE: &str = "P2P_SYNC_LAB_UID";

/// The effective user id (of `/proc/self`), unless [`UID_OVERRIDE`] says otherwise.
fn uid() -> u32 {
    std::env::var(UID_OVERRIDE)
        .ok()
        .and_then(|uid| uid.parse().ok())
        .or_else(|| std::fs::metadata("/proc/self").ok().map(|meta| meta.uid()))
        .unwrap_or(u32::MAX)
}

/// Why `scenario` cannot be played on this machine, if it cannot.
pub fn cannot_run(scenario: &Scenario) -> Option<String> {
    if uid() != 0 {
        return Some("the LAN world needs root (it creates network namespaces)".into());
    }
    if let Err(error) = run("ip", &["-V"], "") {
        return Some(format!("the LAN world needs iproute2: {error}"));
    }
    let cuts = scenario
        .steps
        .iter()
        .any(|step| matches!(step.action, Action::Partition(_) | Action::OneWay { .. }));
    if cuts {
        if let Err(error) = run("nft", &["--version"], "") {
            return Some(format!("partitions need nftables: {error}"));
        }
    }
    None
}
