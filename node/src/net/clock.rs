//! The real world's clock: the operating system's wall clock.

use crate::core::Clock;
use std::time::{SystemTime, UNIX_EPOCH};

/// Reads the system wall clock. A clock set before 1970 reads as the epoch.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_millis() as u64)
    }
}
