//! What the node refuses: counting every drop, logging each (peer, reason) at most once per
//! interval, striking peers that send forged writes, and forgetting all of it in time.

use super::{ClockAhead, Event, NodeCore, PeerId, Transport};
use crate::clock::{Clock, Now};
use crate::counters::DropReason;
use crate::error::Refusal;
use crate::store::Store;
use crate::timers::Timer;
use std::collections::BTreeMap;

/// What the node remembers of its drops (monotonic ms throughout).
#[derive(Debug)]
pub(super) struct DropLog<P> {
    /// When each (peer, reason) was last logged.
    logged: BTreeMap<(P, DropReason), u64>,
    /// Peers that sent messages holding forged writes: how many, and when the last came.
    strikes: BTreeMap<P, (u32, u64)>,
    /// The latest write refused for a timestamp too far ahead: its peer's clock (or this
    /// node's) is off, which the user should hear about.
    pub(super) clock_ahead: Option<ClockAhead<P>>,
}

impl<P> Default for DropLog<P> {
    fn default() -> Self {
        DropLog {
            logged: BTreeMap::new(),
            strikes: BTreeMap::new(),
            clock_ahead: None,
        }
    }
}

impl<P: Ord + Clone> DropLog<P> {
    /// Whether a drop for `reason` from `from` is logged at `monotonic_ms`: not if one was
    /// within `interval`. Remembers it when it is.
    fn logs(&mut self, from: &P, reason: DropReason, monotonic_ms: u64, interval: u64) -> bool {
        let key = (from.clone(), reason);
        if let Some(&logged) = self.logged.get(&key) {
            if monotonic_ms.saturating_sub(logged) < interval {
                return false;
            }
        }
        self.logged.insert(key, monotonic_ms);
        true
    }

    /// Counts a strike against `peer` at `monotonic_ms`.
    fn strike(&mut self, peer: &P, monotonic_ms: u64) {
        let entry = self
            .strikes
            .entry(peer.clone())
            .or_insert((0, monotonic_ms));
        *entry = (entry.0.saturating_add(1), monotonic_ms);
    }

    /// Strikes against `peer` not forgotten yet.
    pub(super) fn strikes(&self, peer: &P) -> u32 {
        self.strikes.get(peer).map_or(0, |&(count, _)| count)
    }

    /// Forgets the logged drops and strikes older than `interval` at `monotonic_ms`.
    fn forget_expired(&mut self, monotonic_ms: u64, interval: u64) {
        self.logged
            .retain(|_, at| monotonic_ms.saturating_sub(*at) < interval);
        self.strikes
            .retain(|_, (_, at)| monotonic_ms.saturating_sub(*at) < interval);
    }
}

impl<S: Store, C: Clock, P: PeerId> NodeCore<S, C, P> {
    /// Forgets expired rate windows and drop-log entries, at most once per drop-log interval,
    /// so memory stays bounded by the peers heard from recently.
    pub(super) fn sweep(&mut self, monotonic_ms: u64) {
        if self
            .timers
            .get(&Timer::Sweep)
            .is_some_and(|at| at > monotonic_ms)
        {
            return;
        }
        let interval = self.config.drop_log_interval_ms;
        self.timers.set(Timer::Sweep, monotonic_ms + interval);
        self.budgets.forget_expired(monotonic_ms);
        self.drop_log.forget_expired(monotonic_ms, interval);
    }

    /// Counts a drop of something `from` sent, for `reason`, and reports it as an
    /// [`Event::Dropped`] unless the same was reported within the drop-log interval.
    pub(super) fn drop_message(
        &mut self,
        net: &mut dyn Transport<P>,
        now: Now,
        from: &P,
        reason: DropReason,
        detail: String,
    ) {
        self.counters.dropped.count(reason);
        self.sweep(now.monotonic_ms);
        let interval = self.config.drop_log_interval_ms;
        if !self.drop_log.logs(from, reason, now.monotonic_ms, interval) {
            return;
        }
        net.notify(Event::Dropped {
            from: from.clone(),
            reason,
            detail,
        });
    }

    /// Drops what `from` sent for `error` ([`NodeCore::drop_message`]); a timestamp too far
    /// ahead is remembered for `status` ([`NodeCore::clock_ahead`]).
    pub(super) fn drop_error(
        &mut self,
        net: &mut dyn Transport<P>,
        now: Now,
        from: &P,
        error: Refusal,
    ) {
        if let Refusal::FutureTimestamp { ahead_ms, .. } = error {
            self.drop_log.clock_ahead = Some(ClockAhead {
                peer: from.clone(),
                ahead_ms,
                at_ms: now.monotonic_ms,
            });
        }
        self.drop_message(net, now, from, error.reason(), error.to_string());
    }

    /// Counts a message holding a forged write against `peer`, the one that sent it here (an
    /// honest node checks before it forwards, so never sends one).
    pub(super) fn strike(&mut self, now: Now, peer: &P) {
        self.drop_log.strike(peer, now.monotonic_ms);
    }
}
