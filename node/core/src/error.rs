//! Why the core refuses something: a key or value that breaks a rule ([`ValidationError`]),
//! and a message or remote write refused ([`Refusal`]), with the reason it is counted under.
//! A leaf: the codecs and the checks all return these.

use crate::counters::DropReason;
use thiserror::Error;

/// Why a key or value was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ValidationError {
    /// The key is the empty string.
    #[error("key must not be empty")]
    EmptyKey,
    /// The key is longer than the limit.
    #[error("key is {len} bytes, the limit is {max}")]
    KeyTooLong {
        /// Length of the key in bytes.
        len: usize,
        /// The configured limit.
        max: usize,
    },
    /// The key holds a control character (newline, tab, NUL, ...).
    #[error("key must not contain control characters")]
    KeyControlCharacter,
    /// The key holds an invisible format character (bidi override, zero-width space, ...):
    /// two keys that print alike must be the same key.
    #[error("key must not contain invisible format characters (U+{0:04X})")]
    KeyFormatCharacter(u32),
    /// The value is longer than the limit.
    #[error("value is {len} bytes, the limit is {max}")]
    ValueTooLong {
        /// Length of the value in bytes.
        len: usize,
        /// The configured limit.
        max: usize,
    },
}

/// Why a message, or one write inside it, was refused: every refusal of the core, whichever
/// codec or check made it, so each is counted by one rule ([`Refusal::reason`]).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Refusal {
    /// The message is larger than the limit; it was not parsed.
    #[error("message is {len} bytes, the limit is {max}")]
    TooLarge {
        /// Size of the message in bytes.
        len: usize,
        /// The configured limit.
        max: usize,
    },
    /// The bytes are not a message of this protocol.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// A write with a key or value that breaks the rules.
    #[error("invalid write: {0}")]
    Invalid(#[from] ValidationError),
    /// A write whose origin is empty or too long.
    #[error("invalid origin {0:?}")]
    BadOrigin(String),
    /// A write whose authorship does not hold: on gossip, an origin other than the peer that
    /// signed the message; anywhere, a signature its origin did not make.
    #[error("forged write: {0}")]
    Forged(String),
    /// A write whose timestamp is not a usable RFC 3339 time.
    #[error("invalid timestamp {0:?}")]
    BadTimestamp(String),
    /// A write stamped further ahead of the local clock than the configured bound.
    #[error("timestamp {timestamp} is {ahead_ms} ms ahead of the local clock")]
    FutureTimestamp {
        /// The write's timestamp as sent.
        timestamp: String,
        /// How far ahead it is.
        ahead_ms: u64,
    },
}

impl Refusal {
    /// The reason it is counted under (see [`crate::Drops`]).
    pub fn reason(&self) -> DropReason {
        match self {
            Refusal::TooLarge { .. } => DropReason::TooLarge,
            Refusal::Malformed(_) => DropReason::Malformed,
            Refusal::Invalid(_) | Refusal::BadTimestamp(_) | Refusal::BadOrigin(_) => {
                DropReason::Invalid
            }
            Refusal::FutureTimestamp { .. } => DropReason::FutureTimestamp,
            Refusal::Forged(_) => DropReason::Forged,
        }
    }
}
