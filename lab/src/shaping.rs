//! `[network]` latency, loss and duplication as `tc netem` on the switch's ports (each frame
//! leaves the switch by exactly one port, so it is delayed, lost or copied once per hop, like
//! one message in the simulator). The default parameters leave the LAN as it is: its own
//! sub-millisecond latency stands in for the simulator's default 1–10 ms.

use crate::netns::Lan;
use p2p_sync_scenario::scenario::NetworkParams;

/// The `netem` options for `params`, or `None` when they are the defaults.
pub fn netem(params: &NetworkParams) -> Option<Vec<String>> {
    if *params == NetworkParams::default() {
        return None;
    }
    let (low, high) = params.latency_ms;
    let mut options = vec!["delay".to_string(), format!("{}ms", (low + high) / 2)];
    if high > low {
        options.push(format!("{}ms", (high - low) / 2));
    }
    for (name, chance) in [("loss", params.loss), ("duplicate", params.duplicate)] {
        if chance > 0.0 {
            options.extend([name.to_string(), format!("{}%", chance * 100.0)]);
        }
    }
    Some(options)
}

/// Shapes every port of `lan`'s `hosts` hosts with `params` (or removes the shaping when they
/// are the defaults). An error means the kernel or `tc` lacks netem.
pub fn apply(lan: &Lan, hosts: usize, params: &NetworkParams) -> Result<(), String> {
    for host in 0..hosts {
        let port = Lan::port(host);
        match netem(params) {
            Some(options) => {
                let mut args = vec!["qdisc", "replace", "dev", &port, "root", "netem"];
                args.extend(options.iter().map(String::as_str));
                lan.in_switch("tc", &args, "")?;
            }
            // No qdisc of ours to delete is fine.
            None => drop(lan.in_switch("tc", &["qdisc", "del", "dev", &port, "root"], "")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_need_no_shaping_and_others_map_to_netem() {
        assert_eq!(netem(&NetworkParams::default()), None);
        let params = NetworkParams {
            latency_ms: (10, 30),
            loss: 0.05,
            duplicate: 0.0,
        };
        assert_eq!(netem(&params).unwrap().join(" "), "delay 20ms 10ms loss 5%");
    }
}
