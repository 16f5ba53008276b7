//! Every deadline of a node in one table (quinn-proto's `TimerTable`): the world asks for the
//! earliest ([`TimerTable::next_deadline`], behind [`crate::NodeCore::poll_timeout`]) and the
//! core handles what expired ([`TimerTable::expired`]), so no deadline is kept anywhere else and
//! none is missed.

use std::collections::BTreeMap;

/// Something the node must do at a given monotonic time (ms, see
/// [`crate::Clock::monotonic_ms`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Timer<P> {
    /// The periodic anti-entropy round with one random peer.
    AntiEntropy,
    /// Forgetting expired rate windows, drop-log entries and strikes.
    Sweep,
    /// A reconciliation with the peer, due once no session of this node with it is open.
    Reconcile(P),
    /// The end of the reconciliation session this node opened with the peer: a session
    /// quiet for the session timeout is over.
    Session(P),
    /// The end of the exchange with the peer, whichever side opened it, once it is quiet for
    /// the session timeout.
    Exchange(P),
}

/// When each running [`Timer`] fires.
#[derive(Debug, Clone)]
pub struct TimerTable<P> {
    deadlines: BTreeMap<Timer<P>, u64>,
}

impl<P> Default for TimerTable<P> {
    fn default() -> Self {
        TimerTable {
            deadlines: BTreeMap::new(),
        }
    }
}

impl<P: Ord + Clone> TimerTable<P> {
    /// Starts `timer` to fire at `at`, or moves it there.
    pub fn set(&mut self, timer: Timer<P>, at: u64) {
        self.deadlines.insert(timer, at);
    }

    /// Starts `timer` to fire at `at` unless it is running already (then it keeps its time).
    pub fn set_unless_running(&mut self, timer: Timer<P>, at: u64) {
        self.deadlines.entry(timer).or_insert(at);
    }

    /// When `timer` fires, if it is running.
    pub fn get(&self, timer: &Timer<P>) -> Option<u64> {
        self.deadlines.get(timer).copied()
    }

    /// Whether `timer` is running.
    pub fn is_running(&self, timer: &Timer<P>) -> bool {
        self.deadlines.contains_key(timer)
    }

    /// Stops `timer`; says whether it was running.
    pub fn stop(&mut self, timer: &Timer<P>) -> bool {
        self.deadlines.remove(timer).is_some()
    }

    /// When the next timer fires: the earliest deadline, where a [`Timer::Reconcile`] waits
    /// for the [`Timer::Session`] with its peer to end. `None` while no timer runs.
    pub fn next_deadline(&self) -> Option<u64> {
        self.deadlines
            .iter()
            .map(|(timer, &at)| self.effective(timer, at))
            .min()
    }

    /// The timers that fire by `now` (their deadlines as [`TimerTable::next_deadline`] counts
    /// them), in the table's order; they keep running until stopped or set again.
    pub fn expired(&self, now: u64) -> Vec<Timer<P>> {
        self.deadlines
            .iter()
            .filter(|&(timer, &at)| self.effective(timer, at) <= now)
            .map(|(timer, _)| timer.clone())
            .collect()
    }

    /// When `timer`, set to `at`, is due: a reconciliation not before its peer's session ends.
    fn effective(&self, timer: &Timer<P>, at: u64) -> u64 {
        match timer {
            Timer::Reconcile(peer) => self
                .get(&Timer::Session(peer.clone()))
                .map_or(at, |session_ends| at.max(session_ends)),
            _ => at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(timers: &[(Timer<&'static str>, u64)]) -> TimerTable<&'static str> {
        let mut table = TimerTable::default();
        for (timer, at) in timers {
            table.set(timer.clone(), *at);
        }
        table
    }

    #[test]
    fn the_next_deadline_is_the_earliest_of_every_timer() {
        assert_eq!(TimerTable::<&str>::default().next_deadline(), None);
        let timers = table(&[
            (Timer::AntiEntropy, 30_000),
            (Timer::Sweep, 60_000),
            (Timer::Exchange("a"), 12_000),
            (Timer::Session("b"), 15_000),
        ]);
        assert_eq!(timers.next_deadline(), Some(12_000));
        assert_eq!(timers.expired(11_999), Vec::<Timer<&str>>::new());
        assert_eq!(
            timers.expired(15_000),
            [Timer::Session("b"), Timer::Exchange("a")]
        );
    }

    #[test]
    fn a_reconciliation_waits_for_the_session_with_its_peer() {
        let mut timers = table(&[
            (Timer::AntiEntropy, 30_000),
            (Timer::Reconcile("a"), 1_000),
            (Timer::Session("a"), 10_000),
        ]);
        assert_eq!(timers.next_deadline(), Some(10_000));
        assert_eq!(
            timers.expired(10_000),
            [Timer::Reconcile("a"), Timer::Session("a")]
        );
        assert!(timers.stop(&Timer::Session("a")));
        assert_eq!(timers.next_deadline(), Some(1_000));
        // Another peer's session holds nothing up.
        timers.set(Timer::Session("b"), 20_000);
        assert_eq!(timers.expired(1_000), [Timer::Reconcile("a")]);
    }

    #[test]
    fn set_moves_a_timer_and_set_unless_running_keeps_it() {
        let mut timers = TimerTable::default();
        timers.set_unless_running(Timer::Reconcile("a"), 5_000);
        timers.set_unless_running(Timer::Reconcile("a"), 9_000);
        assert_eq!(timers.get(&Timer::Reconcile("a")), Some(5_000));
        timers.set(Timer::Reconcile("a"), 9_000);
        assert_eq!(timers.get(&Timer::Reconcile("a")), Some(9_000));
        assert!(timers.is_running(&Timer::Reconcile("a")));
        assert!(timers.stop(&Timer::Reconcile("a")));
        assert!(!timers.stop(&Timer::Reconcile("a")));
        assert_eq!(timers.next_deadline(), None);
    }
}
