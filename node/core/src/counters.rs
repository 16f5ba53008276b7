//! What a node counts: writes applied and ignored, messages dropped by reason, and
//! reconciliation traffic.

use serde::Serialize;
use std::fmt;

/// Why a message or a write was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// The author or the forwarding peer sent more than its rate limit.
    RateLimited,
    /// Larger than the message limit.
    TooLarge,
    /// Not a message of this protocol.
    Malformed,
    /// A key, value or timestamp that breaks the rules.
    Invalid,
    /// A timestamp too far ahead of the local clock.
    FutureTimestamp,
    /// A write whose signature does not prove its origin made it.
    Forged,
    /// A write whose author is not on the node's allow-list.
    NotAllowed,
    /// A reconciliation message outside an exchange in the protocol's order.
    Unsolicited,
    /// The original app's key-distribution message: not used here, ignored without a log line.
    KeyDistribution,
}

impl DropReason {
    /// Every reason, in the order they are shown.
    pub const ALL: [DropReason; 9] = [
        DropReason::RateLimited,
        DropReason::TooLarge,
        DropReason::Malformed,
        DropReason::Invalid,
        DropReason::FutureTimestamp,
        DropReason::Forged,
        DropReason::NotAllowed,
        DropReason::Unsolicited,
        DropReason::KeyDistribution,
    ];

    /// The reason's name as it appears in `status`, scenario files and JSON.
    pub fn name(self) -> &'static str {
        match self {
            DropReason::RateLimited => "rate_limited",
            DropReason::TooLarge => "too_large",
            DropReason::Malformed => "malformed",
            DropReason::Invalid => "invalid",
            DropReason::FutureTimestamp => "future_timestamp",
            DropReason::Forged => "forged",
            DropReason::NotAllowed => "not_allowed",
            DropReason::Unsolicited => "unsolicited",
            DropReason::KeyDistribution => "key_distribution",
        }
    }

    /// Looks a reason up by its name.
    pub fn from_name(name: &str) -> Option<DropReason> {
        DropReason::ALL
            .into_iter()
            .find(|reason| reason.name() == name)
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Drops counted per reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Drops {
    /// Over a rate limit.
    pub rate_limited: u64,
    /// Over the message size limit.
    pub too_large: u64,
    /// Unparseable.
    pub malformed: u64,
    /// Breaking a key, value or timestamp rule.
    pub invalid: u64,
    /// Stamped too far in the future.
    pub future_timestamp: u64,
    /// Signed by someone other than the write's origin, or not at all where a signature is due.
    pub forged: u64,
    /// Authored by a peer not on the allow-list.
    pub not_allowed: u64,
    /// Reconciliation messages outside an exchange in the protocol's order.
    pub unsolicited: u64,
    /// The original app's key-distribution messages (ignored).
    pub key_distribution: u64,
}

impl Drops {
    /// The count for one reason.
    pub fn get(&self, reason: DropReason) -> u64 {
        match reason {
            DropReason::RateLimited => self.rate_limited,
            DropReason::TooLarge => self.too_large,
            DropReason::Malformed => self.malformed,
            DropReason::Invalid => self.invalid,
            DropReason::FutureTimestamp => self.future_timestamp,
            DropReason::Forged => self.forged,
            DropReason::NotAllowed => self.not_allowed,
            DropReason::Unsolicited => self.unsolicited,
            DropReason::KeyDistribution => self.key_distribution,
        }
    }

    fn slot(&mut self, reason: DropReason) -> &mut u64 {
        match reason {
            DropReason::RateLimited => &mut self.rate_limited,
            DropReason::TooLarge => &mut self.too_large,
            DropReason::Malformed => &mut self.malformed,
            DropReason::Invalid => &mut self.invalid,
            DropReason::FutureTimestamp => &mut self.future_timestamp,
            DropReason::Forged => &mut self.forged,
            DropReason::NotAllowed => &mut self.not_allowed,
            DropReason::Unsolicited => &mut self.unsolicited,
            DropReason::KeyDistribution => &mut self.key_distribution,
        }
    }

    /// Counts one drop.
    pub fn count(&mut self, reason: DropReason) {
        *self.slot(reason) += 1;
    }

    /// All drops together.
    pub fn total(&self) -> u64 {
        DropReason::ALL.iter().map(|&reason| self.get(reason)).sum()
    }
}

/// Everything a node counts; shown by `status` and in simulator summaries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// Remote writes (gossip or reconciliation) that were newer and changed the store.
    pub applied: u64,
    /// Remote writes that were not newer than what the store held.
    pub ignored_older: u64,
    /// Messages and writes dropped, by reason.
    pub dropped: Drops,
    /// Reconciliation sessions this node started.
    pub reconciliations_started: u64,
    /// Writes received through reconciliation.
    pub reconciled_writes_received: u64,
    /// Writes sent through reconciliation.
    pub reconciled_writes_sent: u64,
    /// Bytes of reconciliation messages sent.
    pub reconcile_bytes_sent: u64,
    /// Bytes of reconciliation messages received.
    pub reconcile_bytes_received: u64,
    /// Own single writes also published in the original app's envelope
    /// ([`crate::Config::legacy_envelope`]).
    pub legacy_envelopes_sent: u64,
    /// Own single writes not published in the envelope: over its rate or its frame size.
    pub legacy_envelopes_not_sent: u64,
}
