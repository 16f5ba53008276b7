//! Every limit and interval of the node, in one place, with the defaults of the design. A
//! scenario file may override any field by name in its `[config]` table.

use serde::{Deserialize, Serialize};

/// A fixed-window budget: in every `window_ms`, at most `max_messages` messages carrying at
/// most `max_writes` writes and `max_bytes` bytes in all (a batch of 10,000 writes is 10,000
/// writes). In a scenario's `[config]`, an omitted `max_writes` or `max_bytes` is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Messages allowed in one window.
    pub max_messages: u32,
    /// Writes allowed in one window, over all its messages.
    #[serde(default = "unlimited", skip_serializing_if = "is_unlimited")]
    pub max_writes: u64,
    /// Bytes allowed in one window, over all its messages.
    #[serde(default = "unlimited", skip_serializing_if = "is_unlimited")]
    pub max_bytes: u64,
    /// Length of the window in milliseconds.
    pub window_ms: u64,
}

fn unlimited() -> u64 {
    u64::MAX
}

/// Unlimited is written by leaving the field out (TOML has no integer that large).
fn is_unlimited(value: &u64) -> bool {
    *value == u64::MAX
}

/// The node core's configuration. `Config::default()` gives the design's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Longest key in bytes (keys must also be non-empty UTF-8 without control characters).
    pub max_key_bytes: usize,
    /// Longest value in bytes.
    pub max_value_bytes: usize,
    /// Largest message on the wire (gossip or direct) in bytes.
    pub max_message_bytes: usize,
    /// Most writes one message may make the node check (each costs a signature verification,
    /// ~80 µs): a gossip batch holding more is ignored unchecked and fetched by reconciliation
    /// instead; a reconciliation `Records` holding more has only this many checked, the rest
    /// taken as offered (asked for later, this many at a time). The node's own batches, wants
    /// and answers never hold more.
    pub max_writes_per_message: usize,
    /// Gossip accepted per author (the peer that signed it): what one stranger may write.
    pub author_rate: RateLimit,
    /// Gossip accepted per forwarding peer; higher, so honest relays are not throttled.
    pub forwarder_rate: RateLimit,
    /// Direct (reconciliation) traffic accepted per peer, the writes it carries included.
    pub direct_rate: RateLimit,
    /// Reconciliation messages that read the store's tables, ids or writes, per peer, and what
    /// they read (`max_writes`: table cells, ids and writes looked up by id).
    pub scan_rate: RateLimit,
    /// Peers on the allow-list get this many times the author and direct limits, so a bulk
    /// import among members is not slowed by limits meant for strangers.
    pub member_rate_factor: u32,
    /// How far ahead of the local clock a remote timestamp may be before it is rejected.
    pub max_clock_ahead_ms: u64,
    /// How often a node reconciles with one random connected peer.
    pub anti_entropy_interval_ms: u64,
    /// How soon after a rate-limit drop the node reconciles with the peer whose data it dropped.
    #[serde(alias = "sync_after_drop_ms")] // its name before reconciliation had one word
    pub reconcile_after_drop_ms: u64,
    /// How long after learning writes by reconciliation the node reconciles with its other
    /// peers to pass them on: writes learnt meanwhile travel in the same reconciliation.
    pub spread_delay_ms: u64,
    /// How long a reconciliation session this node opened may stay quiet before it is
    /// considered over and another may start.
    pub session_timeout_ms: u64,
    /// A repeated drop from the same peer for the same reason is logged at most once per this interval.
    pub drop_log_interval_ms: u64,
    /// The gossip mesh degree D: how many connected peers forward every message to a node.
    /// The real node's Gossipsub and the simulator's mesh both read it.
    pub mesh_n: usize,
    /// Below this many mesh peers a heartbeat grafts more (Gossipsub's D_low).
    pub mesh_n_low: usize,
    /// Above this many mesh peers a heartbeat prunes back to [`Config::mesh_n`] (D_high).
    pub mesh_n_high: usize,
    /// How often the gossip mesh is repaired (GRAFT below D_low, PRUNE above D_high).
    pub gossip_heartbeat_ms: u64,
    /// Also publish each single write in the original app's signed envelope, within its frame
    /// size and message rate ([`crate::legacy`]), so that it can apply them.
    pub legacy_envelope: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_key_bytes: 256,
            max_value_bytes: 64 * 1024,
            max_message_bytes: 1024 * 1024,
            // About 10 ms of signature checks (12-14k a second on one core): no message holds
            // the event loop longer, whatever it carries.
            max_writes_per_message: 128,
            // The legacy app's 100 messages a minute, and at most 20,000 writes (16 MiB) in
            // them: a stranger's whole allowance. Members get `member_rate_factor` times it,
            // so a bulk import of 100,000 writes among members spreads within a minute.
            author_rate: RateLimit {
                max_messages: 100,
                max_writes: 20_000,
                max_bytes: 16 << 20,
                window_ms: 60_000,
            },
            forwarder_rate: RateLimit {
                max_messages: 10_000,
                max_writes: 1_000_000,
                max_bytes: 256 << 20,
                window_ms: 60_000,
            },
            // A session takes a handful of messages (a 100,000-write catch-up about 1,600:
            // pages, wants of `max_writes_per_message` ids and their answers).
            direct_rate: RateLimit {
                max_messages: 2_400,
                max_writes: 200_000,
                max_bytes: 128 << 20,
                window_ms: 60_000,
            },
            // Counted in what each message reads (at most a 49,152-cell table, a 16,384-id page
            // or `max_writes_per_message` writes looked up by id; none reads the whole store):
            // 20 million a minute lets a peer list a 1,000,000-key store's ids many times over.
            scan_rate: RateLimit {
                max_messages: 2_400,
                max_writes: 20_000_000,
                max_bytes: u64::MAX,
                window_ms: 60_000,
            },
            member_rate_factor: 10,
            // On a LAN clocks agree within a second or two (NTP); a write further ahead than
            // this is refused, so a fast clock cannot win every overwrite for long.
            max_clock_ahead_ms: 10_000,
            anti_entropy_interval_ms: 30_000,
            reconcile_after_drop_ms: 1_000,
            spread_delay_ms: 250,
            session_timeout_ms: 10_000,
            drop_log_interval_ms: 60_000,
            // The legacy app's section 4: "Degree = min(connected_peers, mesh_n=6)".
            mesh_n: 6,
            mesh_n_low: 5,
            mesh_n_high: 12,
            gossip_heartbeat_ms: 1_000,
            legacy_envelope: false,
        }
    }
}
