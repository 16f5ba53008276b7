//! Every limit and interval of the node, in one place, with the defaults of the design. A
//! scenario file may override any field by name in its `[config]` table.

use serde::Deserialize;

/// A fixed-window rate limit: at most `max_messages` in every `window_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Messages allowed in one window.
    pub max_messages: u32,
    /// Length of the window in milliseconds.
    pub window_ms: u64,
}

/// The node core's configuration. `Config::default()` gives the design's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Longest key in bytes (keys must also be non-empty UTF-8 without control characters).
    pub max_key_bytes: usize,
    /// Longest value in bytes.
    pub max_value_bytes: usize,
    /// Largest message on the wire (gossip or direct) in bytes.
    pub max_message_bytes: usize,
    /// Gossip messages accepted per author (the peer that signed them).
    pub author_rate: RateLimit,
    /// Gossip messages accepted per forwarding peer; higher, so honest relays are not throttled.
    pub forwarder_rate: RateLimit,
    /// Direct (reconciliation) messages accepted per peer.
    pub direct_rate: RateLimit,
    /// How far ahead of the local clock a remote timestamp may be before it is rejected.
    pub max_clock_ahead_ms: u64,
    /// How often a node reconciles with one random connected peer.
    pub anti_entropy_interval_ms: u64,
    /// How soon after a rate-limit drop the node reconciles with the peer whose data it dropped.
    pub sync_after_drop_ms: u64,
    /// How long a reconciliation session this node opened may stay quiet before it is
    /// considered over and another may start.
    pub session_timeout_ms: u64,
    /// A repeated drop from the same peer for the same reason is logged at most once per this interval.
    pub drop_log_interval_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_key_bytes: 256,
            max_value_bytes: 64 * 1024,
            max_message_bytes: 1024 * 1024,
            author_rate: RateLimit {
                max_messages: 100,
                window_ms: 60_000,
            },
            forwarder_rate: RateLimit {
                max_messages: 10_000,
                window_ms: 60_000,
            },
            // A session takes a handful of messages (a 100,000-write catch-up about 40); each
            // may cost a scan of the store, so a peer gets no more than this.
            direct_rate: RateLimit {
                max_messages: 600,
                window_ms: 60_000,
            },
            max_clock_ahead_ms: 5 * 60 * 1000,
            anti_entropy_interval_ms: 30_000,
            sync_after_drop_ms: 1_000,
            session_timeout_ms: 10_000,
            drop_log_interval_ms: 60_000,
        }
    }
}
