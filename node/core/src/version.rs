//! The total order of writes: hybrid logical clock timestamps, then the origin node.

use serde::{Deserialize, Serialize};

/// A hybrid logical clock reading: wall-clock milliseconds since the Unix epoch plus a
/// counter that orders events within one millisecond (or while the wall clock lags).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Hlc {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    pub wall_ms: u64,
    /// Logical counter, reset to 0 whenever `wall_ms` advances.
    pub counter: u32,
}

impl Hlc {
    /// The reading for a local event at wall time `now_ms`, strictly after `self`.
    pub fn tick(self, now_ms: u64) -> Hlc {
        if now_ms > self.wall_ms {
            Hlc {
                wall_ms: now_ms,
                counter: 0,
            }
        } else {
            self.successor()
        }
    }

    /// The reading after receiving `remote` at wall time `now_ms`: after both `self` and `remote`.
    pub fn observe(self, remote: Hlc, now_ms: u64) -> Hlc {
        let latest = self.max(remote);
        if now_ms > latest.wall_ms {
            Hlc {
                wall_ms: now_ms,
                counter: 0,
            }
        } else {
            latest.successor()
        }
    }

    fn successor(self) -> Hlc {
        match self.counter.checked_add(1) {
            Some(counter) => Hlc {
                wall_ms: self.wall_ms,
                counter,
            },
            None => Hlc {
                wall_ms: self.wall_ms + 1,
                counter: 0,
            },
        }
    }
}

/// The version of one write: its HLC timestamp and the node it was made on.
/// Versions are compared by timestamp, then by origin, so every node orders them the same way.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct Version {
    /// When the write was made, by its origin's hybrid logical clock.
    pub hlc: Hlc,
    /// The id of the node that made the write (a PeerId in the real world, `n0` in the simulator).
    pub origin: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_is_strictly_increasing_even_when_the_wall_clock_goes_back() {
        let a = Hlc::default().tick(1000);
        let b = a.tick(900);
        let c = b.tick(1000);
        assert!(a < b && b < c);
        assert_eq!(
            b,
            Hlc {
                wall_ms: 1000,
                counter: 1
            }
        );
    }

    #[test]
    fn observe_moves_past_the_remote_clock() {
        let local = Hlc {
            wall_ms: 10,
            counter: 0,
        };
        let remote = Hlc {
            wall_ms: 50,
            counter: 7,
        };
        let next = local.observe(remote, 20);
        assert_eq!(
            next,
            Hlc {
                wall_ms: 50,
                counter: 8
            }
        );
        assert_eq!(
            next.observe(remote, 60),
            Hlc {
                wall_ms: 60,
                counter: 0
            }
        );
    }

    #[test]
    fn counter_overflow_carries_into_the_wall_clock() {
        let max = Hlc {
            wall_ms: 5,
            counter: u32::MAX,
        };
        assert_eq!(
            max.tick(5),
            Hlc {
                wall_ms: 6,
                counter: 0
            }
        );
    }
}
