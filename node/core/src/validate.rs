//! Every check a write must pass, in one place: keys and values from the user, the CLI, gossip
//! and reconciliation alike, and the extra checks of a write that came from another node.

use crate::config::Config;
use crate::error::{Refusal, ValidationError};
use crate::timestamp::format_timestamp;
use crate::write::Write;

/// Longest origin (a node id) accepted; a PeerId takes 52 bytes.
pub const MAX_ORIGIN_BYTES: usize = 128;

/// The Unicode format characters (general category Cf, Unicode 16.0): bidi controls,
/// zero-width spaces and joiners, the byte-order mark, tags and the like.
const FORMAT_CHARACTERS: [(char, char); 21] = [
    ('\u{ad}', '\u{ad}'),
    ('\u{600}', '\u{605}'),
    ('\u{61c}', '\u{61c}'),
    ('\u{6dd}', '\u{6dd}'),
    ('\u{70f}', '\u{70f}'),
    ('\u{890}', '\u{891}'),
    ('\u{8e2}', '\u{8e2}'),
    ('\u{180e}', '\u{180e}'),
    ('\u{200b}', '\u{200f}'),
    ('\u{202a}', '\u{202e}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{206f}'),
    ('\u{feff}', '\u{feff}'),
    ('\u{fff9}', '\u{fffb}'),
    ('\u{110bd}', '\u{110bd}'),
    ('\u{110cd}', '\u{110cd}'),
    ('\u{13430}', '\u{1343f}'),
    ('\u{1bca0}', '\u{1bca3}'),
    ('\u{1d173}', '\u{1d17a}'),
    ('\u{e0001}', '\u{e0001}'),
    ('\u{e0020}', '\u{e007f}'),
];

/// Whether `c` is a Unicode format character (general category Cf).
pub fn is_format_character(c: char) -> bool {
    FORMAT_CHARACTERS
        .iter()
        .any(|&(first, last)| (first..=last).contains(&c))
}

/// Checks a key: 1 to `max_key_bytes` bytes of UTF-8 without control or format characters.
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
    if let Some(c) = key.chars().find(|&c| is_format_character(c)) {
        return Err(ValidationError::KeyFormatCharacter(c.into()));
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
pub fn check_remote_write(write: &Write, now_ms: u64, config: &Config) -> Result<(), Refusal> {
    validate_key(&write.key, config)?;
    if let Some(value) = &write.value {
        validate_value(value, config)?;
    }
    let origin = &write.version.origin;
    if origin.is_empty() || origin.len() > MAX_ORIGIN_BYTES {
        return Err(Refusal::BadOrigin(
            origin.chars().take(MAX_ORIGIN_BYTES).collect(),
        ));
    }
    let ahead_ms = write.version.hlc.wall_ms.saturating_sub(now_ms);
    if ahead_ms > config.max_clock_ahead_ms {
        return Err(Refusal::FutureTimestamp {
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
    fn keys_refuse_invisible_format_characters() {
        let config = Config::default();
        for (key, code) in [
            ("pay\u{202e}lpt.exe", 0x202e), // right-to-left override
            ("ad\u{200b}min", 0x200b),      // zero-width space
            ("\u{feff}key", 0xfeff),        // byte-order mark
            ("a\u{2066}b", 0x2066),         // left-to-right isolate
            ("tag\u{e0041}", 0xe0041),      // a tag character
        ] {
            assert_eq!(
                validate_key(key, &config),
                Err(ValidationError::KeyFormatCharacter(code)),
                "{key:?}"
            );
        }
        // Letters of right-to-left scripts and emoji are letters, not format characters.
        assert_eq!(validate_key("שלום", &config), Ok(()));
        assert_eq!(validate_key("مرحبا", &config), Ok(()));
        assert_eq!(validate_key("👍🏽", &config), Ok(()));
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
