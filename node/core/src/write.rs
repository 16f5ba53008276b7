//! One write: what it changes, its identity ([`Write::id`]), its order against another write
//! of the same key, the bytes its origin signs ([`Write::signed_bytes`]) and the signature
//! itself. A leaf: signing and checking are [`crate::auth`]'s, the version's order
//! [`crate::version`]'s.

use crate::version::Version;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::fmt;

/// A write's ed25519 signature (64 bytes).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "Vec<u8>", into = "Vec<u8>")]
pub struct Signature(pub [u8; 64]);

impl TryFrom<Vec<u8>> for Signature {
    type Error = String;

    fn try_from(bytes: Vec<u8>) -> Result<Self, String> {
        let array: [u8; 64] = bytes
            .try_into()
            .map_err(|bytes: Vec<u8>| format!("a signature has 64 bytes, not {}", bytes.len()))?;
        Ok(Signature(array))
    }
}

impl From<Signature> for Vec<u8> {
    fn from(signature: Signature) -> Vec<u8> {
        signature.0.to_vec()
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Signature({:02x}{:02x}{:02x}{:02x}…)",
            self.0[0], self.0[1], self.0[2], self.0[3]
        )
    }
}

impl Signature {
    /// The signature as 128 lowercase hex digits, as gossip carries it.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    /// Reads 128 hex digits; `None` for anything else.
    pub fn from_hex(text: &str) -> Option<Signature> {
        if text.len() != 128 || !text.is_ascii() {
            return None;
        }
        let mut bytes = [0u8; 64];
        for (byte, pair) in bytes.iter_mut().zip(text.as_bytes().chunks(2)) {
            let pair = std::str::from_utf8(pair).ok()?;
            *byte = u8::from_str_radix(pair, 16).ok()?;
        }
        Some(Signature(bytes))
    }
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
    /// The origin's signature over [`Write::signed_bytes`]; `None` only for writes of
    /// nodes that predate signatures (accepted on the paths [`crate::auth`] describes).
    /// Not part of the write's identity ([`Write::id`]): it proves the write, it is not it.
    #[serde(default)]
    pub signature: Option<Signature>,
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

    /// The bytes an origin signs for this write: a domain tag, then key, value, timestamp and
    /// origin, each length-prefixed, so no two different writes share an encoding.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let mut out = b"p2p-sync/write/1".to_vec();
        let mut field = |bytes: &[u8]| {
            out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
            out.extend_from_slice(bytes);
        };
        field(self.key.as_bytes());
        match &self.value {
            Some(value) => field(&[&[1], value.as_bytes()].concat()),
            None => field(&[0]),
        }
        field(&self.version.hlc.wall_ms.to_le_bytes());
        field(&self.version.hlc.counter.to_le_bytes());
        field(self.version.origin.as_bytes());
        out
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
    use crate::version::Hlc;

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
