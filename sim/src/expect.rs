//! Checks an `expect` step against the simulated nodes and describes any mismatch.

use crate::network::Network;
use crate::node::SimNode;
use crate::scenario::Expectation;
use p2p_sync_core::store::{digest_where, Store};
use p2p_sync_core::Write;
use serde::Serialize;
use std::collections::BTreeMap;

/// What an expectation found instead of what it expected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    /// The node concerned, if one.
    pub node: Option<String>,
    /// The key concerned, if one.
    pub key: Option<String>,
    /// What was expected.
    pub expected: String,
    /// What was found.
    pub found: String,
}

/// Checks `expectation` against `nodes` (the honest nodes) and their connections in `net`;
/// `names` names every participant, honest nodes first. `history` gives the checker's verdict
/// for `expect = { history = true }`.
pub fn check(
    expectation: &Expectation,
    nodes: &[SimNode],
    names: &[String],
    net: &Network,
    history: impl FnOnce() -> Result<(), Mismatch>,
) -> Result<(), Mismatch> {
    match expectation {
        Expectation::Converged(expected) => converged(*expected, nodes, names),
        Expectation::History => history(),
        Expectation::Value { node, key, value } => {
            let found = nodes[*node]
                .store()
                .get(key)
                .expect("the in-memory store reads")
                .and_then(|write| write.value);
            if found == *value {
                return Ok(());
            }
            let show = |value: &Option<String>| match value {
                Some(value) => format!("{value:?}"),
                None => "absent".to_string(),
            };
            Err(Mismatch {
                node: Some(names[*node].clone()),
                key: Some(key.clone()),
                expected: show(value),
                found: show(&found),
            })
        }
        Expectation::Dropped { node, at_least } => {
            let dropped = nodes[*node].counters().dropped;
            let short: Vec<String> = at_least
                .iter()
                .filter(|(reason, count)| dropped.get(*reason) < *count)
                .map(|(reason, _)| format!("{reason} = {}", dropped.get(*reason)))
                .collect();
            if short.is_empty() {
                return Ok(());
            }
            let expected: Vec<String> = at_least
                .iter()
                .map(|(reason, count)| format!("{reason} >= {count}"))
                .collect();
            Err(Mismatch {
                node: Some(names[*node].clone()),
                key: None,
                expected: format!("dropped {}", expected.join(", ")),
                found: format!("dropped {}", short.join(", ")),
            })
        }
        Expectation::ConnectedTo { node, peers } => {
            let connected = net.connected(*node);
            let missing: Vec<usize> = peers
                .iter()
                .copied()
                .filter(|peer| !connected.contains(peer))
                .collect();
            if missing.is_empty() {
                return Ok(());
            }
            let show = |list: &mut dyn Iterator<Item = usize>| {
                let named: Vec<String> = list.map(|index| names[index].clone()).collect();
                format!("[{}]", named.join(", "))
            };
            Err(Mismatch {
                node: Some(names[*node].clone()),
                key: None,
                expected: format!("connected to {}", show(&mut peers.iter().copied())),
                found: format!(
                    "connected to {}; not to {}",
                    show(&mut connected.into_iter()),
                    show(&mut missing.into_iter())
                ),
            })
        }
        Expectation::SentBytesAtMost { node, bytes } => {
            let sent = nodes[*node].bytes_sent;
            if sent <= *bytes {
                return Ok(());
            }
            Err(Mismatch {
                node: Some(names[*node].clone()),
                key: None,
                expected: format!("at most {bytes} bytes sent"),
                found: format!("{sent} bytes sent"),
            })
        }
        Expectation::Keys { node, count } => {
            let found = nodes[*node].store().live().expect("the store reads").len() as u64;
            if found == *count {
                return Ok(());
            }
            Err(Mismatch {
                node: Some(names[*node].clone()),
                key: None,
                expected: format!("{count} live keys"),
                found: format!("{found} live keys"),
            })
        }
    }
}

/// Whether every live node holds the same store is `expected`.
pub fn converged(expected: bool, nodes: &[SimNode], names: &[String]) -> Result<(), Mismatch> {
    let found = stores(nodes, names);
    if (found.len() == 1) == expected {
        return Ok(());
    }
    Err(Mismatch {
        node: None,
        key: None,
        expected: format!("converged = {expected}"),
        found: describe(&found),
    })
}

/// The distinct stores of the live nodes: digest → the nodes holding it.
fn stores(nodes: &[SimNode], names: &[String]) -> BTreeMap<u64, Vec<String>> {
    stores_where(nodes, names, &|_| true)
}

/// Like [`stores`], comparing only the writes `keep` selects.
pub fn stores_where(
    nodes: &[SimNode],
    names: &[String],
    keep: &dyn Fn(&Write) -> bool,
) -> BTreeMap<u64, Vec<String>> {
    let mut stores: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for (node, name) in nodes.iter().zip(names) {
        if let Some(core) = &node.core {
            let digest = digest_where(core.store(), keep).expect("the store reads");
            stores.entry(digest).or_default().push(name.clone());
        }
    }
    stores
}

/// `stores` (digest → the nodes holding it) as an expectation's `found` text, e.g.
/// `2 distinct stores: {n0,n1} digest 00…; {n2} digest 01…`.
pub fn describe(stores: &BTreeMap<u64, Vec<String>>) -> String {
    let groups: Vec<String> = stores
        .iter()
        .map(|(digest, nodes)| format!("{{{}}} digest {digest:016x}", nodes.join(",")))
        .collect();
    format!("{} distinct stores: {}", stores.len(), groups.join("; "))
}
