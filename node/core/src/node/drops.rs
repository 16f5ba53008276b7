//! What the node refuses: counting every drop, logging each (peer, reason) at most once per
//! interval, striking peers that send forged writes, and forgetting all of it in time.

use super::{ClockAhead, Event, NodeCore, PeerId, Transport};
use crate::clock::{Clock, Now};
use crate::counters::DropReason;
use crate::error::Refusal;
use crate::store::Store;
use crate::timers::Timer;

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
        self.author_limiter.forget_expired(monotonic_ms);
        self.forwarder_limiter.forget_expired(monotonic_ms);
        self.direct_limiter.forget_expired(monotonic_ms);
        self.scan_limiter.forget_expired(monotonic_ms);
        self.answer_limiter.forget_expired(monotonic_ms);
        self.last_drop_log
            .retain(|_, at| monotonic_ms.saturating_sub(*at) < interval);
        self.strikes
            .retain(|_, (_, at)| monotonic_ms.saturating_sub(*at) < interval);
    }

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
        let key = (from.clone(), reason);
        let interval = self.config.drop_log_interval_ms;
        if let Some(&logged) = self.last_drop_log.get(&key) {
            if now.monotonic_ms.saturating_sub(logged) < interval {
                return;
            }
        }
        self.last_drop_log.insert(key, now.monotonic_ms);
        net.notify(Event::Dropped {
            from: from.clone(),
            reason,
            detail,
        });
    }

    pub(super) fn drop_error(
        &mut self,
        net: &mut dyn Transport<P>,
        now: Now,
        from: &P,
        error: Refusal,
    ) {
        if let Refusal::FutureTimestamp { ahead_ms, .. } = error {
            self.clock_ahead = Some(ClockAhead {
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
        let entry = self
            .strikes
            .entry(peer.clone())
            .or_insert((0, now.monotonic_ms));
        *entry = (entry.0.saturating_add(1), now.monotonic_ms);
    }
}
