//! Whether this machine can run the LAN world: root (namespaces), iproute2, nftables for
//! scenarios that cut the network, and netem for scenarios that shape it.

use crate::netns::run;
use p2p_sync_scenario::scenario::{Action, NetworkParams, Scenario};
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
    let shapes = scenario.network != NetworkParams::default()
        || scenario
            .steps
            .iter()
            .any(|step| matches!(step.action, Action::Network(_)));
    if shapes {
        if let Err(error) = probe_netem() {
            return Some(format!("network shaping needs tc with netem: {error}"));
        }
    }
    None
}

/// Whether `tc` can add a netem qdisc, tried on the loopback of a namespace made for it alone
/// (and removed), so that a file that shapes its network mid-run is refused before it starts
/// rather than broken half-way.
fn probe_netem() -> Result<(), String> {
    let namespace = format!("p2psync-lab-{}-netem-probe", std::process::id());
    run("ip", &["netns", "add", &namespace], "")?;
    let tried = run(
        "ip",
        &[
            "netns", "exec", &namespace, "tc", "qdisc", "add", "dev", "lo", "root", "netem",
            "delay", "1ms",
        ],
        "",
    );
    let _ = run("ip", &["netns", "del", &namespace], "");
    tried.map(drop)
}
