//! Every budget of the node, by whose sending it limits (see [`RateLimiter`]).

use super::reconcile::ANSWER_RATE;
use crate::config::Config;
use crate::legacy::ENVELOPE_RATE;
use crate::rate_limit::RateLimiter;

/// The node's budgets.
pub(super) struct Budgets<P> {
    /// Writes per author (by origin): its gossip, and its writes received by reconciliation,
    /// whoever relays them.
    pub(super) author: RateLimiter<String>,
    /// Gossip per forwarding peer.
    pub(super) forwarder: RateLimiter<P>,
    /// Direct messages per peer.
    pub(super) direct: RateLimiter<P>,
    /// Store scans each peer's reconciliation messages may cause.
    pub(super) scan: RateLimiter<P>,
    /// Bytes of direct messages this node sent each peer ([`ANSWER_RATE`]): a peer that had
    /// its share gets no answer that costs reads until its window ends.
    pub(super) answer: RateLimiter<P>,
    /// Envelopes published for the original app ([`Config::legacy_envelope`]).
    pub(super) envelope: RateLimiter<()>,
}

impl<P: Ord + Clone> Budgets<P> {
    /// Full budgets, at the limits of `config`.
    pub(super) fn new(config: &Config) -> Self {
        Budgets {
            author: RateLimiter::new(config.author_rate),
            forwarder: RateLimiter::new(config.forwarder_rate),
            direct: RateLimiter::new(config.direct_rate),
            scan: RateLimiter::new(config.scan_rate),
            answer: RateLimiter::new(ANSWER_RATE),
            envelope: RateLimiter::new(ENVELOPE_RATE),
        }
    }

    /// Forgets the peers' windows that ended by `monotonic_ms` (the envelope budget has one
    /// window only).
    pub(super) fn forget_expired(&mut self, monotonic_ms: u64) {
        self.author.forget_expired(monotonic_ms);
        self.forwarder.forget_expired(monotonic_ms);
        self.direct.forget_expired(monotonic_ms);
        self.scan.forget_expired(monotonic_ms);
        self.answer.forget_expired(monotonic_ms);
    }
}
