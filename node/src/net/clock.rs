//! The real world's clock: the operating system's wall clock and tokio's monotonic clock (the
//! system's, except in a paused runtime or a simulated world, where it is virtual).

use super::world::WallClock;
use p2p_sync_core::Clock;
use std::fmt;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Reads the system wall clock (a clock set before 1970 reads as the epoch) or a world's,
/// shifted by a fixed offset that tests use to play a skewed clock, and measures intervals on
/// tokio's monotonic clock, from when it was made.
#[derive(Clone)]
pub struct SystemClock {
    started: tokio::time::Instant,
    offset_ms: i64,
    wall: Option<WallClock>,
}

impl fmt::Debug for SystemClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SystemClock")
            .field("started", &self.started)
            .field("offset_ms", &self.offset_ms)
            .field("wall", &self.wall.as_ref().map(|_| "world's"))
            .finish()
    }
}

impl SystemClock {
    /// A clock whose monotonic time starts at 0 now.
    pub fn new() -> Self {
        Self::with_offset_ms(0)
    }

    /// A clock whose wall time runs `offset_ms` ahead of the system's (negative: behind).
    pub fn with_offset_ms(offset_ms: i64) -> Self {
        SystemClock {
            started: tokio::time::Instant::now(),
            offset_ms,
            wall: None,
        }
    }

    /// This clock, reading its wall time from `wall` instead of the system's.
    pub fn with_wall(self, wall: Option<WallClock>) -> Self {
        SystemClock { wall, ..self }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        let system = match &self.wall {
            Some(wall) => wall(),
            None => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |elapsed| elapsed.as_millis() as u64),
        };
        system.saturating_add_signed(self.offset_ms)
    }

    fn monotonic_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }
}

impl SystemClock {
    /// The instant at which this clock's monotonic time reads `monotonic_ms`: turns a core
    /// deadline into something to sleep until.
    pub fn instant_at(&self, monotonic_ms: u64) -> tokio::time::Instant {
        self.started + std::time::Duration::from_millis(monotonic_ms)
    }
}

/// Now, on tokio's clock: the driver's timestamps for its own timers (redial backoff, held
/// acknowledgements, …), virtual in a paused runtime or a simulated world.
pub fn now() -> Instant {
    tokio::time::Instant::now().into_std()
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
