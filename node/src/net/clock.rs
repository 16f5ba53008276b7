//! The real world's clock: the operating system's wall clock and its monotonic clock.

use p2p_sync_core::Clock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Reads the system wall clock (a clock set before 1970 reads as the epoch), shifted by a fixed
/// offset that tests use to play a skewed clock, and measures intervals on the monotonic
/// clock, from when it was made.
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    started: Instant,
    offset_ms: i64,
}

impl SystemClock {
    /// A clock whose monotonic time starts at 0 now.
    pub fn new() -> Self {
        Self::with_offset_ms(0)
    }

    /// A clock whose wall time runs `offset_ms` ahead of the system's (negative: behind).
    pub fn with_offset_ms(offset_ms: i64) -> Self {
        SystemClock {
            started: Instant::now(),
            offset_ms,
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
        let system = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_millis() as u64);
        system.saturating_add_signed(self.offset_ms)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offset_shifts_wall_time_only() {
        let (plain, ahead) = (SystemClock::new(), SystemClock::with_offset_ms(600_000));
        let gap = ahead.now_ms() as i64 - plain.now_ms() as i64;
        assert!((599_000..=601_000).contains(&gap), "{gap}");
        assert!(ahead.monotonic_ms() < 1_000);
        assert!(SystemClock::with_offset_ms(i64::MIN).now_ms() == 0);
    }
}
