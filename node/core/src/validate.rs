//! Every check a write must pass, in one place: keys and values from the user, the CLI, gossip
//! and reconciliation alike, and the extra checks of a write that came from another node.

use super::config::Config;
use super::version::Write;
use super::wire::{format_timestamp, WireError};
use thiserror::Error;

/// Longest origin (a node id) accepted; a PeerId takes 52 bytes.
pub const MAX_ORIGIN_BYTES: usize = 128;

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
    /// The value is longer than the limit.
    #[error("value is {len} bytes, the limit is {max}")]
    ValueTooLong {
        /// Length of the value in bytes.
        len: usize,
        /// The configured limit.
        max: usize,
    },
}

/// Checks a key: 1 to `max_key_bytes` bytes of UTF-8 without control characters.
pub fn validate_key(key: &str, config: &Config) -> Result<(), ValidationError> {
    if key.is_empty() {
        return Err(ValidationError::EmptyKey);
    }
    if key.len() > config.max_key_bytes {
        return Err(ValidationError::KeyTooLong {
            len: key.len(),
            max: config.max_key_bytes,
        });
    }
    if key.chars().any(char::is_control) {
        return Err(ValidationError::KeyControlCharacter);
    }
    Ok(())
}

/// Checks a value: at most `max_value_bytes` bytes.
pub fn validate_value(value: &str, config: &Config) -> Result<(), ValidationError> {
    if value.len() > config.max_value_bytes {
        return Err(ValidationError::ValueTooLong {
            len: value.len(),
            max: config.max_value_bytes,
        });
    }
    Ok(())
}

/// The checks every remote write passes, by gossip or by reconciliation: key and value rules,
/// an origin of 1 to [`MAX_ORIGIN_BYTES`] bytes, and a timestamp not too far ahead of `now_ms`.
pub fn check_remote_write(write: &Write, now_ms: u64, config: &Config) -> Result<(), WireError> {
    validate_key(&write.key, config)?;
    if let Some(value) = &write.value {
        validate_value(value, config)?;
    }
    let origin = &write.version.origin;
    if origin.is_empty() || origin.len() > MAX_ORIGIN_BYTES {
        return Err(WireError::BadOrigin(
            origin.chars().take(MAX_ORIGIN_BYTES).collect(),
        ));
    }
    let ahead_ms = write.version.hlc.wall_ms.saturating_sub(now_ms);
    if ahead_ms > config.max_clock_ahead_ms {
        return Err(WireError::FutureTimestamp {
            timestamp: format_timestamp(write.version.hlc.wall_ms),
            ahead_ms,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_at_and_over_the_limit() {
        let config = Config::default();
        assert_eq!(validate_key(&"k".repeat(256), &config), Ok(()));
        assert_eq!(
            validate_key(&"k".repeat(257), &config),
            Err(ValidationError::KeyTooLong { len: 257, max: 256 })
        );
        assert_eq!(validate_key("", &config), Err(ValidationError::EmptyKey));
        assert_eq!(
            validate_key("a\nb", &config),
            Err(ValidationError::KeyControlCharacter)
        );
        assert_eq!(validate_key("héllo wörld", &config), Ok(()));
    }

    #[test]
    fn values_at_and_over_the_limit() {
        let config = Config::default();
        assert_eq!(validate_value(&"v".repeat(65536), &config), Ok(()));
        assert_eq!(
            validate_value(&"v".repeat(65537), &config),
            Err(ValidationError::ValueTooLong {
                len: 65537,
                max: 65536
            })
        );
        assert_eq!(validate_value("", &config), Ok(()));
    }
}
