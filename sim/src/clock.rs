//! A node's clock in the simulation: shared virtual time, the scenario's start, and its own skew.

use p2p_sync_core::Clock;
use std::cell::Cell;
use std::rc::Rc;

/// Virtual time in ms since t = 0, shared by every node of one simulation.
pub type VirtualTime = Rc<Cell<u64>>;

/// The wall clock one node reads.
#[derive(Debug, Clone)]
pub struct SimClock {
    now: VirtualTime,
    start_ms: u64,
    skew_ms: Rc<Cell<i64>>,
}

impl SimClock {
    /// A clock at `start_ms` when virtual time is 0, offset by the shared `skew_ms`.
    pub fn new(now: VirtualTime, start_ms: u64, skew_ms: Rc<Cell<i64>>) -> Self {
        SimClock {
            now,
            start_ms,
            skew_ms,
        }
    }
}

impl Clock for SimClock {
    fn now_ms(&self) -> u64 {
        let wall = self.start_ms as i64 + self.now.get() as i64 + self.skew_ms.get();
        wall.max(0) as u64
    }

    /// Virtual time itself: skew moves a node's wall clock, not its sense of elapsed time.
    fn monotonic_ms(&self) -> u64 {
        self.now.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_virtual_time_plus_start_plus_skew() {
        let now = VirtualTime::default();
        let skew = Rc::new(Cell::new(0));
        let clock = SimClock::new(now.clone(), 1_000_000, skew.clone());
        now.set(500);
        assert_eq!(clock.now_ms(), 1_000_500);
        skew.set(-2_000);
        assert_eq!(clock.now_ms(), 998_500);
        assert_eq!(clock.monotonic_ms(), 500, "skew leaves elapsed time alone");
    }
}
