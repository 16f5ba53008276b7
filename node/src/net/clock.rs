//! The real world's clock: the operating system's wall clock and its monotonic clock.

use p2p_sync_core::Clock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Reads the system wall clock (a clock set before 1970 reads as the epoch) and measures
/// intervals on the monotonic clock, from when it was made.
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    started: Instant,
}

impl SystemClock {
    /// A clock whose monotonic time starts at 0 now.
    pub fn new() -> Self {
        SystemClock {
            started: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_millis() as u64)
    }

    fn monotonic_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }
}

impl SystemClock {
    /// The instant at which this clock's monotonic time reads `monotonic_ms`: turns a core
    /// deadline into something to sleep until.
    pub fn instant_at(&self, monotonic_ms: u64) -> Instant {
        self.started + std::time::Duration::from_millis(monotonic_ms)
    }
}
