//! The clock trait: the only way the core learns the time.

/// The node's two times, in milliseconds. The real world reads the system clocks; the
/// simulator hands out virtual time (the wall clock with per-node skew).
pub trait Clock {
    /// The current wall-clock time since 1970-01-01T00:00:00Z: stamps local writes and judges
    /// remote timestamps. It may jump (NTP, a user setting the clock).
    fn now_ms(&self) -> u64;

    /// Time on a clock that never jumps, from any fixed origin: measures rate-limit windows,
    /// timers and session timeouts, so a wall-clock step cannot stall or rush them.
    fn monotonic_ms(&self) -> u64;
}

/// The node's two times at one input: the core reads its [`Clock`] once per input and passes
/// this down, so every rule an input applies sees the same time, and each use names which
/// clock it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// Wall-clock ms since 1970-01-01T00:00:00Z ([`Clock::now_ms`]): stamps local writes and
    /// judges remote timestamps.
    pub wall_ms: u64,
    /// Monotonic ms ([`Clock::monotonic_ms`]): rate windows, timers and timeouts.
    pub monotonic_ms: u64,
}

impl Now {
    /// Reads both times of `clock`.
    pub fn read(clock: &impl Clock) -> Now {
        Now {
            wall_ms: clock.now_ms(),
            monotonic_ms: clock.monotonic_ms(),
        }
    }
}

/// A clock that shows whatever it was last set to: for tests and simulations.
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    now_ms: std::rc::Rc<std::cell::Cell<u64>>,
}

impl ManualClock {
    /// A clock showing `now_ms`.
    pub fn new(now_ms: u64) -> Self {
        let clock = ManualClock::default();
        clock.set(now_ms);
        clock
    }

    /// Sets the time; every clone of this clock sees it.
    pub fn set(&self, now_ms: u64) {
        self.now_ms.set(now_ms);
    }

    /// Moves the time forward by `ms`.
    pub fn advance(&self, ms: u64) {
        self.set(self.now_ms() + ms);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.now_ms.get()
    }

    /// The same reading: tests move one clock.
    fn monotonic_ms(&self) -> u64 {
        self.now_ms.get()
    }
}
