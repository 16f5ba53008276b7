//! The one definition of convergence, for every world and for the fidelity table's columns.
//!
//! The live honest nodes **agree** when they hold exactly one distinct store between them (no
//! live node at all is no agreement). A world observes what each node holds as a *holding*
//! (any value that is equal exactly when two nodes hold the same store: the simulator a store
//! summary, the LAN a digest of `list`) and gives it to [`Convergence::observe`] whenever it
//! may have changed (`None`: the node is down). The nodes have **converged since** the
//! observation at which they last came to agree. A heal or a restart is a **recovery**: the
//! time to converge is measured from the latest one (from t = 0 without one), and a recovery
//! does not end an agreement (nodes that agree through a heal converged 0 ms after it). The
//! `converged` expectation uses the same rule ([`agree`]).

use crate::duration::format_ms;
use crate::scenario::Action;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// Whether nodes holding `distinct` different stores between them agree: exactly one.
pub fn agree(distinct: usize) -> bool {
    distinct == 1
}

/// Whether `action` is a recovery (a heal or a restart): time to converge counts from the last.
pub fn is_recovery(action: &Action) -> bool {
    matches!(action, Action::Heal | Action::Restart(_))
}

/// Convergence of the live honest nodes over time, from what each holds (`H`).
#[derive(Debug)]
pub struct Convergence<H> {
    current: Vec<Option<H>>,
    stores: BTreeMap<H, usize>,
    converged_since: Option<u64>,
    last_recovery: Option<u64>,
}

impl<H: Ord + Clone> Convergence<H> {
    /// Tracking for `nodes` nodes, none live yet.
    pub fn new(nodes: usize) -> Self {
        Convergence {
            current: vec![None; nodes],
            stores: BTreeMap::new(),
            converged_since: None,
            last_recovery: None,
        }
    }

    /// Node `node` holds `holding` (`None`: it is down) at scenario time `now` (ms).
    pub fn observe(&mut self, node: usize, holding: Option<H>, now: u64) {
        if self.current[node] == holding {
            return;
        }
        if let Some(old) = self.current[node].take() {
            let count = self.stores.get_mut(&old).expect("tracked");
            *count -= 1;
            if *count == 0 {
                self.stores.remove(&old);
            }
        }
        if let Some(new) = &holding {
            *self.stores.entry(new.clone()).or_default() += 1;
        }
        self.current[node] = holding;
        match (agree(self.stores.len()), self.converged_since) {
            (true, None) => self.converged_since = Some(now),
            (false, _) => self.converged_since = None,
            (true, Some(_)) => {}
        }
    }

    /// A heal or restart happened at `now`: convergence is measured from the latest one.
    pub fn recovered(&mut self, now: u64) {
        self.last_recovery = Some(now);
    }

    /// The summary: whether and since when the nodes agree, and the last recovery.
    pub fn report(&self) -> ConvergenceReport {
        let since = self.converged_since;
        let after_recovery_ms = since
            .zip(self.last_recovery)
            .map(|(since, recovery)| since.saturating_sub(recovery));
        ConvergenceReport {
            converged: since.is_some(),
            since_ms: since,
            last_recovery_ms: self.last_recovery,
            after_recovery_ms,
        }
    }
}

/// When the live honest nodes converged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ConvergenceReport {
    /// Whether they hold the same store at the end.
    pub converged: bool,
    /// Since when (scenario ms), if converged.
    pub since_ms: Option<u64>,
    /// The last heal or restart (scenario ms), if any.
    pub last_recovery_ms: Option<u64>,
    /// How long after the last heal or restart they converged.
    pub after_recovery_ms: Option<u64>,
}

impl ConvergenceReport {
    /// How long after the last heal or restart (or after t = 0 without one) the nodes
    /// converged, if they did: the fidelity table's column in every world.
    pub fn time_to_converge_ms(&self) -> Option<u64> {
        let since = self.since_ms?;
        Some(since.saturating_sub(self.last_recovery_ms.unwrap_or(0)))
    }
}

impl fmt::Display for ConvergenceReport {
    /// `converged: yes, since 4.000s, 0.120s after the last heal or restart (at 3.880s)`, or
    /// `…; no heal or restart`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.since_ms, self.last_recovery_ms) {
            (Some(since), Some(recovery)) if since < recovery => write!(
                f,
                "converged: yes, since {}, before the last heal or restart (at {})",
                format_ms(since),
                format_ms(recovery)
            ),
            (Some(since), Some(recovery)) => write!(
                f,
                "converged: yes, since {}, {} after the last heal or restart (at {})",
                format_ms(since),
                format_ms(since.saturating_sub(recovery)),
                format_ms(recovery)
            ),
            (Some(since), None) => write!(
                f,
                "converged: yes, since {}; no heal or restart",
                format_ms(since)
            ),
            (None, Some(recovery)) => write!(
                f,
                "converged: no; last heal or restart at {}",
                format_ms(recovery)
            ),
            (None, None) => f.write_str("converged: no; no heal or restart"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converged_from_the_last_moment_all_stores_agree() {
        let mut convergence = Convergence::new(2);
        convergence.observe(0, Some(0), 0);
        convergence.observe(1, Some(0), 0);
        assert_eq!(convergence.report().since_ms, Some(0));
        convergence.observe(0, Some(1), 5);
        assert_eq!(convergence.report().since_ms, None);
        convergence.recovered(6);
        convergence.observe(1, Some(1), 9);
        let report = convergence.report();
        assert_eq!(report.since_ms, Some(9));
        assert_eq!(report.after_recovery_ms, Some(3));
        assert_eq!(report.time_to_converge_ms(), Some(3));
        convergence.observe(1, None, 10);
        assert_eq!(
            convergence.report().since_ms,
            Some(9),
            "a crash leaves one store"
        );
    }

    #[test]
    fn no_live_node_is_no_agreement_and_a_recovery_keeps_one() {
        let mut convergence = Convergence::<u64>::new(1);
        convergence.observe(0, Some(7), 3);
        convergence.recovered(8);
        assert_eq!(convergence.report().since_ms, Some(3));
        assert_eq!(convergence.report().time_to_converge_ms(), Some(0));
        convergence.observe(0, None, 9);
        assert!(!convergence.report().converged);
    }
}
