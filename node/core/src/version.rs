//! The total order of writes: hybrid logical clock timestamps, then the origin node.

use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::fmt;

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

/// One write to the store: a put (`value` is `Some`) or a delete (a tombstone, `value` is `None`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Write {
    /// The key written.
    pub key: String,
    /// The new value, or `None` for a delete.
    pub value: Option<String>,
    /// The write's place in the total order.
    pub version: Version,
    /// The origin's signature over [`crate::auth::signed_bytes`]; `None` only for writes of
    /// nodes that predate signatures (accepted on the paths [`crate::auth`] describes).
    /// Not part of the write's identity ([`Write::id`]): it proves the write, it is not it.
    #[serde(default)]
    pub signature: Option<crate::auth::Signature>,
}

impl Write {
    /// Whether `self` wins over `other` for the same key (last writer wins).
    /// Equal versions can only come from a misbehaving origin; the value then breaks the tie
    /// (a tombstone loses to any value), so even equivocation converges everywhere.
    pub fn supersedes(&self, other: &Write) -> bool {
        self.order(other) == Ordering::Greater
    }

    fn order(&self, other: &Write) -> Ordering {
        self.version
            .cmp(&other.version)
            .then_with(|| self.value.cmp(&other.value))
    }

    /// A 64-bit digest of the whole write, used as its identity in set reconciliation.
    pub fn id(&self) -> u64 {
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        for part in [self.key.as_bytes(), self.version.origin.as_bytes()] {
            hasher.update(&(part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
        hasher.update(&self.version.hlc.wall_ms.to_le_bytes());
        hasher.update(&self.version.hlc.counter.to_le_bytes());
        match &self.value {
            Some(value) => {
                hasher.update(&[1]);
                hasher.update(value.as_bytes());
            }
            None => hasher.update(&[0]),
        }
        hasher.digest()
    }

    /// Whether this write is a delete.
    pub fn is_delete(&self) -> bool {
        self.value.is_none()
    }
}

impl fmt::Display for Write {
    /// The legacy app's log form: `Put { hello = world }` or `Delete { hello }`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(value) => write!(f, "Put {{ {} = {} }}", self.key, value),
            None => write!(f, "Delete {{ {} }}", self.key),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(key: &str, value: &str, wall_ms: u64, counter: u32, origin: &str) -> Write {
        Write {
            key: key.into(),
            value: Some(value.into()),
            version: Version {
                hlc: Hlc { wall_ms, counter },
                origin: origin.into(),
            },
            signature: None,
        }
    }

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

    #[test]
    fn equal_timestamps_are_ordered_by_origin() {
        let a = put("k", "from-a", 100, 0, "a");
        let b = put("k", "from-b", 100, 0, "b");
        assert!(b.supersedes(&a));
        assert!(!a.supersedes(&b));
    }

    #[test]
    fn equal_versions_are_ordered_by_value_and_tombstones_lose() {
        let x = put("k", "x", 1, 0, "a");
        let y = put("k", "y", 1, 0, "a");
        let deleted = Write {
            value: None,
            ..x.clone()
        };
        assert!(y.supersedes(&x) && !x.supersedes(&y));
        assert!(x.supersedes(&deleted));
        assert!(!x.supersedes(&x));
    }

    #[test]
    fn id_distinguishes_every_field() {
        let base = put("k", "v", 1, 0, "a");
        let variants = [
            put("k2", "v", 1, 0, "a"),
            put("k", "v2", 1, 0, "a"),
            put("k", "v", 2, 0, "a"),
            put("k", "v", 1, 1, "a"),
            put("k", "v", 1, 0, "b"),
            Write {
                value: None,
                ..base.clone()
            },
        ];
        for variant in variants {
            assert_ne!(base.id(), variant.id(), "{variant:?}");
        }
    }

    #[test]
    fn display_matches_the_legacy_log_form() {
        let write = put("hello", "world", 1, 0, "a");
        assert_eq!(write.to_string(), "Put { hello = world }");
        assert_eq!(
            Write {
                value: None,
                ..write
            }
            .to_string(),
            "Delete { hello }"
        );
    }
}
