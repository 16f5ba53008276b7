//! Wall-clock times as RFC 3339 text, as gossip, the store and the CLI write them.

use chrono::{DateTime, SecondsFormat, Utc};

/// Formats milliseconds since the epoch as RFC 3339 UTC, without a fraction when it is zero.
pub fn format_timestamp(wall_ms: u64) -> String {
    let time = i64::try_from(wall_ms)
        .ok()
        .and_then(DateTime::<Utc>::from_timestamp_millis)
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Parses an RFC 3339 time (any offset) into milliseconds since the epoch.
pub fn parse_timestamp(text: &str) -> Option<u64> {
    let time = DateTime::parse_from_rfc3339(text).ok()?;
    u64::try_from(time.timestamp_millis()).ok()
}
