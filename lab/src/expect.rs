//! Checks an `expect` step against real nodes, reading what a user would: `get` for a value,
//! `list` for convergence (every live node's full list, compared by digest), `status` for
//! live keys and dropped messages. Mismatches read as in the simulator.

use crate::world::{connected, World};
use p2p_sync_sim::expect::{describe, Mismatch};
use p2p_sync_sim::report::content_digest;
use p2p_sync_sim::scenario::Expectation;
use std::collections::BTreeMap;

/// The distinct `list`s of the live nodes: content digest → the nodes showing it.
pub fn stores(world: &mut World, names: &[String]) -> Result<BTreeMap<u64, Vec<String>>, String> {
    let mut stores: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for (node, process) in world.live() {
        let digest = content_digest(&process.list()?);
        stores.entry(digest).or_default().push(names[node].clone());
    }
    Ok(stores)
}

/// Checks `expectation`; the outer `Err` is a node that could not be asked.
pub fn check(
    world: &mut World,
    expectation: &Expectation,
    names: &[String],
) -> Result<Result<(), Mismatch>, String> {
    let mismatch = |node: usize, key: Option<&String>, expected: String, found: String| Mismatch {
        node: Some(names[node].clone()),
        key: key.cloned(),
        expected,
        found,
    };
    Ok(match expectation {
        Expectation::Converged(expected) => {
            let found = stores(world, names)?;
            if (found.len() == 1) == *expected {
                Ok(())
            } else {
                Err(Mismatch {
                    node: None,
                    key: None,
                    expected: format!("converged = {expected}"),
                    found: describe(&found),
                })
            }
        }
        Expectation::Value { node, key, value } => {
            let found = world.ask(*node, |process| process.get(key))?;
            let show = |value: &Option<String>| match value {
                Some(value) => format!("{value:?}"),
                None => "absent".to_string(),
            };
            if found == *value {
                Ok(())
            } else {
                Err(mismatch(*node, Some(key), show(value), show(&found)))
            }
        }
        Expectation::Dropped { node, at_least } => {
            let dropped = dropped(&world.ask(*node, |process| process.status())?);
            let count = |reason: String| dropped.get(&reason).copied().unwrap_or(0);
            let short: Vec<String> = at_least
                .iter()
                .filter(|(reason, least)| count(reason.to_string()) < *least)
                .map(|(reason, _)| format!("{reason} = {}", count(reason.to_string())))
                .collect();
            if short.is_empty() {
                Ok(())
            } else {
                let expected: Vec<String> = at_least
                    .iter()
                    .map(|(reason, least)| format!("{reason} >= {least}"))
                    .collect();
                Err(mismatch(
                    *node,
                    None,
                    format!("dropped {}", expected.join(", ")),
                    format!("dropped {}", short.join(", ")),
                ))
            }
        }
        Expectation::ConnectedTo { node, peers } => {
            let connected = connected(&world.ask(*node, |process| process.status())?);
            let is_connected = |peer: &usize| connected.iter().any(|id| id == world.peer_id(*peer));
            let missing: Vec<usize> = peers.iter().copied().filter(|p| !is_connected(p)).collect();
            if missing.is_empty() {
                Ok(())
            } else {
                let show = |list: &[usize]| {
                    let named: Vec<&str> = list.iter().map(|&i| names[i].as_str()).collect();
                    format!("[{}]", named.join(", "))
                };
                let here: Vec<usize> = (0..names.len()).filter(is_connected).collect();
                Err(mismatch(
                    *node,
                    None,
                    format!("connected to {}", show(peers)),
                    format!("connected to {}; not to {}", show(&here), show(&missing)),
                ))
            }
        }
        Expectation::History => {
            return Err("`history` is checked only in the simulator so far".into())
        }
        Expectation::SentBytesAtMost { .. } => {
            return Err("`sent_bytes_at_most` is checked only in the simulator so far".into())
        }
        Expectation::Keys { node, count } => {
            let status = world.ask(*node, |process| process.status())?;
            let found = live_keys(&status)
                .ok_or_else(|| format!("{}: status has no `Keys:` line", names[*node]))?;
            if found == *count {
                Ok(())
            } else {
                Err(mismatch(
                    *node,
                    None,
                    format!("{count} live keys"),
                    format!("{found} live keys"),
                ))
            }
        }
    })
}

/// `Keys: 3 (4 including deleted)` → 3.
fn live_keys(status: &[String]) -> Option<u64> {
    status
        .iter()
        .find_map(|line| line.strip_prefix("Keys: "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|count| count.parse().ok())
}

/// `Dropped messages: 3 (rate_limited 0, too_large 2, …)` → reason → count.
fn dropped(status: &[String]) -> BTreeMap<String, u64> {
    let line = status
        .iter()
        .find_map(|line| line.strip_prefix("Dropped messages: "))
        .unwrap_or_default();
    let inside = line
        .split_once('(')
        .and_then(|(_, rest)| rest.strip_suffix(')'))
        .unwrap_or_default();
    inside
        .split(", ")
        .filter_map(|pair| pair.rsplit_once(' '))
        .filter_map(|(reason, count)| Some((reason.to_string(), count.parse().ok()?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_give_keys_and_drops() {
        let status: Vec<String> = [
            "Peer ID: x",
            "Keys: 3 (4 including deleted)",
            "Dropped messages: 3 (rate_limited 0, too_large 2, malformed 1)",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(live_keys(&status), Some(3));
        let dropped = dropped(&status);
        assert_eq!(dropped["too_large"], 2);
        assert_eq!(dropped["malformed"], 1);
        assert_eq!(dropped.get("invalid"), None);
    }
}
