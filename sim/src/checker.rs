//! The history checker: judges a run from the writes users were told succeeded, not from the
//! nodes' own view of themselves.
//!
//! As the run goes it sees every acknowledged write (a `put`, `delete` or batch that returned
//! success), every write any store commits (with the write it replaced) and every message a
//! node drops. It notes the first broken rule:
//! - no older write ever replaces a newer one on any node (a put replacing a newer delete is
//!   a resurrection);
//! - no node commits a write an honest node never acknowledged (a refused write must vanish);
//! - honest traffic is never dropped as too large, malformed, invalid or from the future
//!   (rate limiting is allowed: reconciliation makes up for it).
//!
//! An `expect = { history = true }` step then also checks that every live honest node holds the
//! same store (but for keys holding an attacker's unsigned legacy-form write, which no node can
//! prove to another: see [`converged_where_provable`]), that for every key written it holds the greatest acknowledged write in the total
//! order (a delete leaves the key absent), and that the run's cost stayed within
//! [`COPIES_PER_WRITE`], [`IDLE_BYTES_PER_NODE_MINUTE`] and [`QUEUE_PER_PARTICIPANT`].

use crate::node::SimNode;
use crate::observe::holdings_where;
use crate::store::Replaced;
use p2p_sync_core::auth::LEGACY_ORIGIN;
use p2p_sync_core::store::Store;
use p2p_sync_core::{DropReason, Write};
use p2p_sync_scenario::judge;
use p2p_sync_scenario::report::Mismatch;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};

/// Copies of each write a store commits that its node may send: gossip to each of its
/// connections (an author floods its own writes to every peer: at most 23 in the largest
/// explored runs, where every pair of nodes is connected), and as much again for
/// reconciliation.
pub const COPIES_PER_WRITE: u64 = 2 * 24;
/// A write's size on the wire beyond its key and value (JSON envelope, timestamp, origin).
pub const WRITE_OVERHEAD_BYTES: u64 = 128;
/// Bytes each honest node may send per virtual minute with nothing to say (anti-entropy hellos,
/// probes after partitions, reconciliations after rate-limit drops).
pub const IDLE_BYTES_PER_NODE_MINUTE: u64 = 32 * 1024;
/// Events the engine may hold at once per participant (messages in flight, timers, repeats).
pub const QUEUE_PER_PARTICIPANT: usize = 2_000;

/// What the checker counted, for the summary.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct HistoryReport {
    /// Writes users were told succeeded.
    pub acknowledged: u64,
    /// Writes committed by any store (local and remote).
    pub committed: u64,
    /// Their size: keys, values and [`WRITE_OVERHEAD_BYTES`] each.
    pub committed_bytes: u64,
    /// Bytes the honest nodes sent.
    pub honest_bytes: u64,
    /// The most events the engine held at once.
    pub peak_queue: usize,
}

/// Whether every live node holds the same store, leaving out the keys where some node holds an
/// unsigned write of another origin (an attacker's legacy-form put accepted from its author on
/// gossip): no node can prove such a write to a peer, so reconciliation does not carry it and a
/// node that missed its gossip never gets it (a limit the README states).
fn converged_where_provable(nodes: &[SimNode], names: &[String]) -> Result<(), Mismatch> {
    let mut unprovable = HashSet::new();
    for core in nodes.iter().filter_map(|node| node.core.as_ref()) {
        core.store()
            .for_each(&mut |write| {
                if write.signature.is_none() && write.version.origin != LEGACY_ORIGIN {
                    unprovable.insert(write.key);
                }
            })
            .expect("the store reads");
    }
    let holdings = holdings_where(nodes, &|write| !unprovable.contains(&write.key));
    let stores = judge::distinct(&holdings, names);
    if stores.len() <= 1 {
        return Ok(());
    }
    Err(Mismatch {
        node: None,
        key: None,
        expected: format!(
            "every live node holds the same writes (leaving out {} keys of unsigned foreign writes)",
            unprovable.len()
        ),
        found: judge::describe(&stores),
    })
}

/// The checker's record of one run.
#[derive(Debug)]
pub struct Checker {
    honest: usize,
    greatest: BTreeMap<String, Write>,
    acknowledged_ids: HashSet<u64>,
    first_violation: Option<Mismatch>,
    counts: HistoryReport,
}

/// `a` comes after `b` in the total order: timestamp, then origin, then value (a delete
/// before any value).
fn newer(a: &Write, b: &Write) -> bool {
    (&a.version, &a.value) > (&b.version, &b.value)
}

fn describe(write: Option<&Write>) -> String {
    match write {
        None => "absent (never written)".into(),
        Some(write) => {
            let what = match &write.value {
                Some(value) => format!("{value:?}"),
                None => "deleted".into(),
            };
            let hlc = write.version.hlc;
            format!(
                "{what} by {} at {}.{}",
                write.version.origin, hlc.wall_ms, hlc.counter
            )
        }
    }
}

impl Checker {
    /// A checker for a run whose honest nodes are `n0..n{honest - 1}`.
    pub fn new(honest: usize) -> Self {
        Checker {
            honest,
            greatest: BTreeMap::new(),
            acknowledged_ids: HashSet::new(),
            first_violation: None,
            counts: HistoryReport::default(),
        }
    }

    fn is_honest(&self, name: &str) -> bool {
        name.strip_prefix('n')
            .and_then(|digits| digits.parse::<usize>().ok())
            .is_some_and(|index| index < self.honest)
    }

    fn violation(&mut self, node: &str, key: Option<&str>, expected: String, found: String) {
        if self.first_violation.is_none() {
            self.first_violation = Some(Mismatch {
                node: Some(node.to_string()),
                key: key.map(str::to_string),
                expected,
                found,
            });
        }
    }

    /// A user was told these writes succeeded.
    pub fn acknowledged(&mut self, writes: &[Write]) {
        for write in writes {
            self.counts.acknowledged += 1;
            self.acknowledged_ids.insert(write.id());
            let greatest = self.greatest.get(&write.key);
            if greatest.is_none_or(|greatest| newer(write, greatest)) {
                self.greatest.insert(write.key.clone(), write.clone());
            }
        }
    }

    /// `node`'s store committed a write at virtual time `now_ms`.
    pub fn committed(&mut self, node: &str, replaced: &Replaced, now_ms: u64) {
        let new = &replaced.new;
        self.counts.committed += 1;
        let value = new.value.as_ref().map_or(0, String::len);
        self.counts.committed_bytes += (new.key.len() + value) as u64 + WRITE_OVERHEAD_BYTES;
        if let Some(old) = replaced.old.as_ref().filter(|old| !newer(new, old)) {
            let what = if old.is_delete() && !new.is_delete() {
                "resurrected"
            } else {
                "replaced by an older write"
            };
            self.violation(
                node,
                Some(&new.key),
                format!("never an older write over {}", describe(Some(old))),
                format!("{what}: {} at {}ms", describe(Some(new)), now_ms),
            );
        }
        if self.is_honest(&new.version.origin) && !self.acknowledged_ids.contains(&new.id()) {
            self.violation(
                node,
                Some(&new.key),
                "only writes that were acknowledged".into(),
                format!("committed {} at {now_ms}ms", describe(Some(new))),
            );
        }
    }

    /// `node` dropped a message from `from` at virtual time `now_ms`.
    pub fn dropped(&mut self, node: &str, from: &str, reason: DropReason, detail: &str, now: u64) {
        if reason != DropReason::RateLimited && self.is_honest(from) {
            self.violation(
                node,
                None,
                format!("no honest message dropped (from {from})"),
                format!("dropped as {reason} at {now}ms: {detail}"),
            );
        }
    }

    /// The engine holds `events` events now.
    pub fn queue(&mut self, events: usize) {
        self.counts.peak_queue = self.counts.peak_queue.max(events);
    }

    /// The counts so far, with the honest nodes' traffic.
    pub fn report(&self, nodes: &[SimNode]) -> HistoryReport {
        HistoryReport {
            honest_bytes: nodes.iter().map(|node| node.bytes_sent).sum(),
            ..self.counts
        }
    }

    /// The verdict of an `expect = { history = true }` at virtual time `now_ms`, for `nodes`
    /// (named by `names`) among `participants`.
    pub fn verdict(
        &self,
        nodes: &[SimNode],
        names: &[String],
        participants: usize,
        now_ms: u64,
    ) -> Result<(), Mismatch> {
        if let Some(violation) = &self.first_violation {
            return Err(violation.clone());
        }
        converged_where_provable(nodes, names)?;
        for (node, name) in nodes.iter().zip(names) {
            if node.core.is_none() {
                continue;
            }
            for (key, greatest) in &self.greatest {
                let found = node.store().get(key).expect("the store reads");
                if found.as_ref() != Some(greatest) {
                    return Err(Mismatch {
                        node: Some(name.clone()),
                        key: Some(key.clone()),
                        expected: format!(
                            "the greatest acknowledged write: {}",
                            describe(Some(greatest))
                        ),
                        found: describe(found.as_ref()),
                    });
                }
            }
        }
        self.cost(nodes, participants, now_ms)
    }

    fn cost(&self, nodes: &[SimNode], participants: usize, now_ms: u64) -> Result<(), Mismatch> {
        let counts = self.report(nodes);
        let node_minutes = (nodes.len() as u64 * now_ms).div_ceil(60_000);
        let bytes_bound =
            COPIES_PER_WRITE * counts.committed_bytes + IDLE_BYTES_PER_NODE_MINUTE * node_minutes;
        if counts.honest_bytes > bytes_bound {
            return Err(Mismatch {
                node: None,
                key: None,
                expected: format!(
                    "honest nodes send at most {COPIES_PER_WRITE} copies of the writes they \
                     commit ({} bytes) + {IDLE_BYTES_PER_NODE_MINUTE} bytes per node-minute \
                     ({node_minutes}) = {bytes_bound} bytes",
                    counts.committed_bytes
                ),
                found: format!("{} bytes", counts.honest_bytes),
            });
        }
        let queue_bound = QUEUE_PER_PARTICIPANT * participants;
        if counts.peak_queue > queue_bound {
            return Err(Mismatch {
                node: None,
                key: None,
                expected: format!("at most {queue_bound} events queued at once"),
                found: format!("{} events", counts.peak_queue),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p2p_sync_core::testkit::write;

    #[test]
    fn an_older_put_over_a_delete_is_a_resurrection() {
        let mut checker = Checker::new(2);
        let delete = write("k", None, 20, "n1");
        let put = write("k", Some("v"), 10, "n0");
        checker.acknowledged(&[put.clone(), delete.clone()]);
        let newer_over_older = Replaced {
            old: Some(put.clone()),
            new: delete.clone(),
        };
        checker.committed("n0", &newer_over_older, 5);
        assert!(checker.first_violation.is_none());
        let older_over_newer = Replaced {
            old: Some(delete),
            new: put,
        };
        checker.committed("n1", &older_over_newer, 6);
        let violation = checker.first_violation.expect("a violation");
        assert_eq!(violation.node.as_deref(), Some("n1"));
        assert!(violation.found.starts_with("resurrected"), "{violation:?}");
    }

    #[test]
    fn an_unacknowledged_honest_write_and_honest_drops_are_violations() {
        let mut checker = Checker::new(2);
        let attacker = write("a", Some("x"), 1, "a0");
        checker.committed(
            "n0",
            &Replaced {
                old: None,
                new: attacker,
            },
            1,
        );
        checker.dropped("n0", "a0", DropReason::Malformed, "junk", 1);
        checker.dropped("n0", "n1", DropReason::RateLimited, "busy", 1);
        assert!(
            checker.first_violation.is_none(),
            "attackers may write and be dropped"
        );
        checker.dropped("n0", "n1", DropReason::Invalid, "bad key", 2);
        assert!(checker.first_violation.is_some());
        let mut checker = Checker::new(2);
        let phantom = write("k", Some("v"), 1, "n1");
        checker.committed(
            "n0",
            &Replaced {
                old: None,
                new: phantom,
            },
            3,
        );
        let violation = checker.first_violation.expect("a violation");
        assert!(violation.expected.contains("acknowledged"), "{violation:?}");
    }
}
