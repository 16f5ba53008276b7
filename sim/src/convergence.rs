//! Tracks, event by event, whether every live honest node holds the same store, and since when.
//!
//! Store summaries (count and fingerprint of every write) are compared, which costs O(log n)
//! per store change; the final digests in the report confirm it.

use p2p_sync_core::store::Summary;
use std::collections::BTreeMap;

type Key = (u64, u64);

/// Convergence of the live honest nodes over time.
#[derive(Debug, Default)]
pub struct Convergence {
    current: Vec<Option<Key>>,
    stores: BTreeMap<Key, usize>,
    converged_since: Option<u64>,
    last_recovery: Option<u64>,
}

impl Convergence {
    /// Tracking for `nodes` nodes, none live yet.
    pub fn new(nodes: usize) -> Self {
        Convergence {
            current: vec![None; nodes],
            ..Convergence::default()
        }
    }

    /// Node `node` now holds a store with `summary` (`None`: it is down) at virtual time `now`.
    pub fn update(&mut self, node: usize, summary: Option<Summary>, now: u64) {
        let key = summary.map(|summary| (summary.count, summary.fingerprint));
        if self.current[node] == key {
            return;
        }
        if let Some(old) = self.current[node] {
            let count = self.stores.get_mut(&old).expect("tracked");
            *count -= 1;
            if *count == 0 {
                self.stores.remove(&old);
            }
        }
        if let Some(new) = key {
            *self.stores.entry(new).or_default() += 1;
        }
        self.current[node] = key;
        match (self.stores.len() == 1, self.converged_since) {
            (true, None) => self.converged_since = Some(now),
            (false, _) => self.converged_since = None,
            (true, Some(_)) => {}
        }
    }

    /// A heal or restart happened at `now`: convergence is measured from the latest one.
    pub fn recovered(&mut self, now: u64) {
        self.last_recovery = Some(now);
    }

    /// Since when every live node has held the same store, if it does now.
    pub fn converged_since(&self) -> Option<u64> {
        self.converged_since
    }

    /// The last heal or restart, if any.
    pub fn last_recovery(&self) -> Option<u64> {
        self.last_recovery
    }

    /// How long after the last recovery the nodes converged (0 if they already were).
    pub fn after_recovery(&self) -> Option<u64> {
        let since = self.converged_since?;
        let recovery = self.last_recovery?;
        Some(since.saturating_sub(recovery))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(count: u64) -> Option<Summary> {
        Some(Summary {
            count,
            fingerprint: count * 7,
            ..Summary::default()
        })
    }

    #[test]
    fn converged_from_the_last_moment_all_stores_agree() {
        let mut convergence = Convergence::new(2);
        convergence.update(0, summary(0), 0);
        convergence.update(1, summary(0), 0);
        assert_eq!(convergence.converged_since(), Some(0));
        convergence.update(0, summary(1), 5);
        assert_eq!(convergence.converged_since(), None);
        convergence.recovered(6);
        convergence.update(1, summary(1), 9);
        assert_eq!(convergence.converged_since(), Some(9));
        assert_eq!(convergence.after_recovery(), Some(3));
        convergence.update(1, None, 10);
        assert_eq!(
            convergence.converged_since(),
            Some(9),
            "a crash leaves one store"
        );
    }
}
