//! Judges `expect` steps, once for every world: a world answers what it observes through
//! [`Observe`] (what a node holds, its counters, its connections, its traffic), [`check`]
//! decides whether the expectation holds and, when it does not, what the [`Mismatch`] says,
//! and [`Verdicts`] keeps the count of those that held and the failures of the others.

use crate::convergence::agree;
use crate::report::{Failure, Mismatch};
use crate::scenario::{Expectation, Step};
use p2p_sync_core::DropReason;
use std::collections::BTreeMap;

/// What a world observes of its honest nodes, by index (`n0` is 0). An `Err` is a node that
/// could not be asked, or an observation this world cannot make: the run is broken, not failed.
pub trait Observe {
    /// The value `node` holds for `key` (`None`: absent or deleted). A crashed node's store
    /// is read as it was left.
    fn value(&mut self, node: usize, key: &str) -> Result<Option<String>, String>;
    /// How many messages `node` dropped for each of `reasons`, in their order.
    fn dropped(&mut self, node: usize, reasons: &[DropReason]) -> Result<Vec<u64>, String>;
    /// The participants (honest nodes, then attackers) `node` is connected to, ascending.
    fn connected(&mut self, node: usize) -> Result<Vec<usize>, String>;
    /// Gossip and direct bytes `node` sent since t = 0.
    fn sent_bytes(&mut self, node: usize) -> Result<u64, String>;
    /// How many live keys `node` holds.
    fn live_keys(&mut self, node: usize) -> Result<u64, String>;
    /// What each honest node holds, as a digest equal exactly when two stores are (`None`: the
    /// node is down).
    fn holdings(&mut self) -> Result<Vec<Option<u64>>, String>;
    /// The history checker's verdict on every acknowledged write so far.
    fn history(&mut self) -> Result<Result<(), Mismatch>, String>;
}

/// The verdicts on a run's `expect` steps so far.
#[derive(Debug, Clone, Default)]
pub struct Verdicts {
    /// Expectations that held.
    pub passed: usize,
    /// Expectations that did not, in the order they were checked.
    pub failures: Vec<Failure>,
}

impl Verdicts {
    /// Checks the `expectation` of `step` at scenario time `at_ms` and keeps the verdict;
    /// returns the mismatch when it did not hold. The `Err` is an observation `world` could
    /// not make.
    pub fn judge(
        &mut self,
        step: &Step,
        expectation: &Expectation,
        at_ms: u64,
        world: &mut dyn Observe,
        names: &[String],
    ) -> Result<Option<&Mismatch>, String> {
        match check(expectation, world, names)? {
            Ok(()) => {
                self.passed += 1;
                Ok(None)
            }
            Err(mismatch) => {
                self.failures.push(Failure {
                    line: step.line,
                    at_ms,
                    mismatch,
                });
                Ok(self.failures.last().map(|failure| &failure.mismatch))
            }
        }
    }
}

/// Checks `expectation` against `world`; `names` names every participant, honest nodes first.
/// The outer `Err` is an observation the world could not make.
pub fn check(
    expectation: &Expectation,
    world: &mut dyn Observe,
    names: &[String],
) -> Result<Result<(), Mismatch>, String> {
    let mismatch = |node: usize, key: Option<&String>, expected: String, found: String| Mismatch {
        node: Some(names[node].clone()),
        key: key.cloned(),
        expected,
        found,
    };
    Ok(match expectation {
        Expectation::Converged(expected) => converged(*expected, &world.holdings()?, names),
        Expectation::History => world.history()?,
        Expectation::Value { node, key, value } => {
            let found = world.value(*node, key)?;
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
            let reasons: Vec<DropReason> = at_least.iter().map(|(reason, _)| *reason).collect();
            let counts = world.dropped(*node, &reasons)?;
            let short: Vec<String> = at_least
                .iter()
                .zip(&counts)
                .filter(|((_, least), count)| *count < least)
                .map(|((reason, _), count)| format!("{reason} = {count}"))
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
            let connected = world.connected(*node)?;
            let missing: Vec<usize> = peers
                .iter()
                .copied()
                .filter(|peer| !connected.contains(peer))
                .collect();
            if missing.is_empty() {
                Ok(())
            } else {
                let show = |list: &[usize]| {
                    let named: Vec<&str> = list.iter().map(|&i| names[i].as_str()).collect();
                    format!("[{}]", named.join(", "))
                };
                Err(mismatch(
                    *node,
                    None,
                    format!("connected to {}", show(peers)),
                    format!(
                        "connected to {}; not to {}",
                        show(&connected),
                        show(&missing)
                    ),
                ))
            }
        }
        Expectation::SentBytesAtMost { node, bytes } => {
            let sent = world.sent_bytes(*node)?;
            if sent <= *bytes {
                Ok(())
            } else {
                Err(mismatch(
                    *node,
                    None,
                    format!("at most {bytes} bytes sent"),
                    format!("{sent} bytes sent"),
                ))
            }
        }
        Expectation::Keys { node, count } => {
            let found = world.live_keys(*node)?;
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

/// Whether the live nodes agreeing (by [`agree`]) is `expected`, given what each holds.
pub fn converged(
    expected: bool,
    holdings: &[Option<u64>],
    names: &[String],
) -> Result<(), Mismatch> {
    let found = distinct(holdings, names);
    if agree(found.len()) == expected {
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
pub fn distinct(holdings: &[Option<u64>], names: &[String]) -> BTreeMap<u64, Vec<String>> {
    let mut stores: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for (holding, name) in holdings.iter().zip(names) {
        if let Some(digest) = holding {
            stores.entry(*digest).or_default().push(name.clone());
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
