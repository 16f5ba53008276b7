//! Reconciliation on the node: opening sessions, answering every `ReconcileMessage`, and passing
//! learnt writes on to the other peers (the protocol itself is described in `core::reconciliation`).
//!
//! Every answer is in proportion to its request: a message is only answered inside an
//! exchange the two peers opened in the protocol's order, and only as the answer to a message
//! of this node that asked for it (a `Hello` first; a `Probe` or `InSync` only after this
//! node's `Hello`; an `Estimate` only after its `Probe`; a `Sketch` or `Ids` only after its
//! `Estimate`, `SketchTooSmall` or `IdsFrom`; a `SketchTooSmall` only for the last sketch it
//! sent, at that attempt and size, once; an `IdsFrom` only while it lists its ids, moving
//! forward, and answered with at most twice as many ids as the peer moved past; `Records`
//! only inside an exchange). The order is checked on the message's first byte, before it is
//! decoded, and no message decodes into more than its caps. Tables and id pages come from
//! the store's tally (no store scan), one page per request; writes are loaded at most one
//! message's worth at a time, by id, and
//! the rest offered for the peer to want; every message's reads are charged to the peer's
//! scan budget, and a request that costs reads goes unanswered while the peer has not taken
//! what was sent to it.
//!
//! Here: sessions, the order and budgets every message passes, and the dispatch; comparing
//! the stores is `tables.rs`'s, the writes asked for, sent and received `records.rs`'s, and
//! where each exchange stands the [`Reconciler`](super::reconciler::Reconciler)'s.

use super::reconciler::Exchange;
use super::{NodeCore, PeerId, Transport};
use crate::clock::{Clock, Now};
use crate::config::RateLimit;
use crate::counters::DropReason;
use crate::iblt::Iblt;
use crate::rate_limit::Cost;
use crate::reconciliation::{
    self, ReconcileMessage, MAX_IDS_PER_PAGE, MAX_SKETCH_ATTEMPTS, MAX_SKETCH_CELLS, PROBE_CELLS,
};
use crate::store::{Store, StoreError};
use crate::timers::Timer;

/// Bytes of direct messages this node sends one peer a minute before it answers no more of
/// its requests that cost reads (members get `Config::member_rate_factor` times it): whatever
/// requests a peer makes, in whatever order, it cannot make the node send more. A catch-up of
/// a 1,000,000-key store's id listing (8 MB) and 50 MiB of writes fits in one minute.
pub(super) const ANSWER_RATE: RateLimit = RateLimit {
    max_messages: u32::MAX,
    max_writes: u64::MAX,
    max_bytes: 64 << 20,
    window_ms: 60_000,
};

/// A request that costs reads is refused while this much waits for the peer: more than an
/// honest peer usually leaves untaken (two answers of at most 1 MiB and a push with its
/// offers), less than the real node buffers for it, so a peer that asks faster than it takes
/// costs no reads.
const MAX_BACKLOG_BYTES: usize = 3 << 20;

impl<S: Store, C: Clock, P: PeerId> NodeCore<S, C, P> {
    /// Opens a reconciliation with `peer` unless one is already under way; says whether it did.
    pub(super) fn start_reconciliation(
        &mut self,
        net: &mut dyn Transport<P>,
        now: Now,
        peer: &P,
    ) -> bool {
        if self.session_open(peer) || !self.peers.contains(peer) {
            return false;
        }
        let quiet_end = now.monotonic_ms + self.config.session_timeout_ms;
        self.timers.set(Timer::Session(peer.clone()), quiet_end);
        // The peer may be in the middle of its own session with this node: keep what this
        // node owes it there (an `Estimate` it may send, id pages still to send).
        self.heard_in_exchange(peer, now.monotonic_ms);
        let exchange = self.exchange(peer);
        exchange.wants.clear();
        exchange.reading_pages = false;
        exchange.probes_expected += 1;
        self.counters.reconciliations_started += 1;
        let summary = self.store.summary();
        self.send(
            net,
            now,
            peer,
            &ReconcileMessage::Hello {
                count: summary.count,
                fingerprint: summary.fingerprint,
            },
        );
        true
    }

    pub(super) fn send(
        &mut self,
        net: &mut dyn Transport<P>,
        now: Now,
        peer: &P,
        message: &ReconcileMessage,
    ) {
        let bytes = reconciliation::encode(message);
        self.counters.reconcile_bytes_sent += bytes.len() as u64;
        let factor = self.rate_factor(&peer.to_string());
        self.budgets
            .answer
            .admit(peer, now.monotonic_ms, Cost::of(0, bytes.len()), factor);
        net.send(peer, bytes);
    }

    /// See [`NodeCore::handle_direct`].
    pub(super) fn direct(
        &mut self,
        net: &mut dyn Transport<P>,
        now: Now,
        peer: &P,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        self.counters.reconcile_bytes_received += bytes.len() as u64;
        if self.refuse_author(net, now, peer, &peer.to_string()) {
            return Ok(());
        }
        let factor = self.rate_factor(&peer.to_string());
        if !self
            .budgets
            .direct
            .admit(peer, now.monotonic_ms, Cost::of(0, bytes.len()), factor)
        {
            self.drop_message(
                net,
                now,
                peer,
                DropReason::RateLimited,
                format!("direct rate limit exceeded for peer {peer}"),
            );
            return Ok(());
        }
        // Out of order, it is dropped unread: nothing is built for a message no answer needs.
        if let Some(kind) = reconciliation::kind_of(bytes) {
            if !self.reconciler.may_come(peer, kind) {
                let detail = format!("{kind} outside a reconciliation in that order");
                self.drop_message(net, now, peer, DropReason::Unsolicited, detail);
                return Ok(());
            }
        }
        let message = match reconciliation::decode(bytes, self.config.max_message_bytes) {
            Ok(message) => message,
            Err(error) => {
                self.drop_error(net, now, peer, error);
                return Ok(());
            }
        };
        if !self.admit_in_order(net, now, peer, &message, factor) {
            return Ok(());
        }
        if self.session_open(peer) {
            let quiet_end = now.monotonic_ms + self.config.session_timeout_ms;
            self.timers.set(Timer::Session(peer.clone()), quiet_end);
        }
        match message {
            ReconcileMessage::Hello { count, fingerprint } => {
                let summary = self.store.summary();
                if (summary.count, summary.fingerprint) == (count, fingerprint) {
                    self.send(net, now, peer, &ReconcileMessage::InSync);
                } else {
                    let table = self.table(PROBE_CELLS);
                    self.exchange(peer).estimates_expected += 1;
                    self.send(net, now, peer, &ReconcileMessage::Probe { table });
                }
            }
            ReconcileMessage::Probe { table } if table.len() != PROBE_CELLS => {
                let detail = format!("probe of {} cells", table.len());
                self.drop_message(net, now, peer, DropReason::Malformed, detail);
            }
            ReconcileMessage::Probe { table } => {
                if !self.settle(net, now, peer, table)? {
                    let strata = self.store.tally().strata.clone();
                    let count = self.store.summary().count;
                    self.exchange(peer).tables_expected += 1;
                    self.send(
                        net,
                        now,
                        peer,
                        &ReconcileMessage::Estimate { count, strata },
                    );
                }
            }
            // The exchange itself stays until it is quiet: the peer's own session with this
            // node may still be answering.
            ReconcileMessage::InSync => {
                self.end_session(peer);
            }
            ReconcileMessage::Estimate { count, strata } => {
                let Some(estimate) = self.store.tally().strata.estimate(&strata) else {
                    self.drop_message(
                        net,
                        now,
                        peer,
                        DropReason::Malformed,
                        "estimator of the wrong shape".into(),
                    );
                    return Ok(());
                };
                // The difference cannot exceed both stores together, whatever a peer claims.
                let bound = count.saturating_add(self.store.summary().count);
                match reconciliation::sketch_cells(estimate.min(bound)) {
                    Some(cells) => self.send_sketch(net, now, peer, 0, cells),
                    None => self.send_page(net, now, peer, 0, MAX_IDS_PER_PAGE),
                }
            }
            ReconcileMessage::Sketch { attempt, table } => {
                let cells = table.len() as u32;
                if !self.settle(net, now, peer, table)? {
                    self.exchange(peer).tables_expected += 1;
                    self.send(
                        net,
                        now,
                        peer,
                        &ReconcileMessage::SketchTooSmall { attempt, cells },
                    );
                }
            }
            ReconcileMessage::SketchTooSmall { attempt, cells } => {
                let cells = cells as usize;
                if !Iblt::is_shape(cells) || cells > MAX_SKETCH_CELLS {
                    let detail = format!("sketch of {cells} cells reported too small");
                    self.drop_message(net, now, peer, DropReason::Malformed, detail);
                } else if cells < MAX_SKETCH_CELLS && attempt < MAX_SKETCH_ATTEMPTS {
                    self.send_sketch(net, now, peer, attempt + 1, cells * 2);
                } else {
                    // The largest table or the last attempt failed: list ids instead, which
                    // settles any difference.
                    self.send_page(net, now, peer, 0, MAX_IDS_PER_PAGE);
                }
            }
            ReconcileMessage::Ids { from, to, ids } => {
                self.on_page(net, now, peer, from, to, ids)?
            }
            ReconcileMessage::IdsFrom { from } => {
                // At most twice the ids of the last page the peer moved past (and one): an
                // honest peer moves past what it compared, so its pages keep their size (and
                // grow back after a short one), while one that steps forward an id at a time
                // gets an id or two for each request, not a page.
                let (last_from, _) = self.exchange(peer).listing.unwrap_or_default();
                let passed = self.store.tally().count_in(
                    last_from,
                    from.saturating_sub(1),
                    MAX_IDS_PER_PAGE,
                );
                let limit = passed.saturating_mul(2).saturating_add(1);
                self.send_page(net, now, peer, from, limit.min(MAX_IDS_PER_PAGE));
            }
            ReconcileMessage::Records {
                writes,
                want,
                offer,
            } => self.on_records(net, now, peer, writes, want, offer)?,
        }
        Ok(())
    }

    /// The exchange with `peer` (opened by a `Hello` or by this node). One not heard from yet
    /// ends at the next timeout.
    pub(super) fn exchange(&mut self, peer: &P) -> &mut Exchange {
        if self.reconciler.get(peer).is_none() {
            let never_heard = self.config.session_timeout_ms;
            self.timers.set(Timer::Exchange(peer.clone()), never_heard);
        }
        self.reconciler.open(peer)
    }

    /// The exchange with `peer` was heard from at `now`: it ends once quiet for the session
    /// timeout.
    fn heard_in_exchange(&mut self, peer: &P, now: u64) {
        self.exchange(peer);
        let quiet_end = now + self.config.session_timeout_ms;
        self.timers.set(Timer::Exchange(peer.clone()), quiet_end);
    }

    /// Whether the reconciliation session this node opened with `peer` goes on.
    fn session_open(&self, peer: &P) -> bool {
        self.timers.is_running(&Timer::Session(peer.clone()))
    }

    /// Ends the reconciliation session this node opened with `peer`, if any.
    pub(super) fn end_session(&mut self, peer: &P) {
        self.timers.stop(&Timer::Session(peer.clone()));
    }

    /// Whether `message` from `peer` fits the protocol's order, the peer's scan budget and, for
    /// a request that costs reads, the bytes the peer has not taken yet; if not it is dropped
    /// (counted as `unsolicited`, or `rate_limited`). Refreshes the exchange.
    fn admit_in_order(
        &mut self,
        net: &mut dyn Transport<P>,
        now: Now,
        peer: &P,
        message: &ReconcileMessage,
        factor: u32,
    ) -> bool {
        let fits = self.reconciler.answers(peer, message);
        if !fits {
            let detail = format!("{} outside a reconciliation in that order", message.name());
            self.drop_message(net, now, peer, DropReason::Unsolicited, detail);
            return false;
        }
        // Only the message goes: the exchange stays, since this node's own session with the
        // peer may be waiting for an answer that costs no scan.
        let rows = self.rows_read(message);
        // A `Records` still brings its writes and offers: only its `want` goes unanswered.
        let asks = rows.is_some() && !matches!(message, ReconcileMessage::Records { .. });
        if asks && self.backlogged(net, now, peer) {
            return false;
        }
        if rows.is_some_and(|rows| {
            !self
                .budgets
                .scan
                .admit(peer, now.monotonic_ms, rows, factor)
        }) {
            let detail = format!("store scan budget exceeded by peer {peer}");
            self.drop_message(net, now, peer, DropReason::RateLimited, detail);
            return false;
        }
        self.heard_in_exchange(peer, now.monotonic_ms);
        self.reconciler.heard(peer, message);
        true
    }

    /// Whether more than [`MAX_BACKLOG_BYTES`] wait untaken for `peer`, or the node sent it
    /// its [`ANSWER_RATE`] this minute; if so its request is dropped as `rate_limited`, unread.
    pub(super) fn backlogged(&mut self, net: &mut dyn Transport<P>, now: Now, peer: &P) -> bool {
        let factor = self.rate_factor(&peer.to_string());
        let detail = if net.backlog_bytes(peer) > MAX_BACKLOG_BYTES {
            format!("peer {peer} asks faster than it takes the answers")
        } else if self
            .budgets
            .answer
            .exhausted_until(peer, now.monotonic_ms, factor)
            .is_some()
        {
            format!("peer {peer} was sent its answer bytes for this minute")
        } else {
            return false;
        };
        self.drop_message(net, now, peer, DropReason::RateLimited, detail);
        true
    }

    /// What answering `message` reads, charged to the scan budget: none where it is a summary
    /// or a probe, lookups by id for wanted writes, table cells for a table, ids for a page.
    fn rows_read(&self, message: &ReconcileMessage) -> Option<Cost> {
        let rows = match message {
            ReconcileMessage::Hello { .. }
            | ReconcileMessage::Probe { .. }
            | ReconcileMessage::InSync => return None,
            ReconcileMessage::Records { want, .. } if want.is_empty() => return None,
            ReconcileMessage::Records { want, .. } => want.len().min(self.lookups_per_want()),
            ReconcileMessage::Sketch { table, .. } => table.len(),
            ReconcileMessage::Estimate { .. } | ReconcileMessage::SketchTooSmall { .. } => {
                MAX_SKETCH_CELLS
            }
            ReconcileMessage::Ids { .. } | ReconcileMessage::IdsFrom { .. } => MAX_IDS_PER_PAGE,
        };
        Some(Cost::of(rows, 0))
    }

    /// Forgets the exchange with `peer` (and the session, if this node opened it).
    pub(super) fn end_exchange(&mut self, peer: &P) {
        self.reconciler.end(peer);
        self.timers.stop(&Timer::Exchange(peer.clone()));
        self.end_session(peer);
    }

    /// Writes learnt by reconciliation are not gossiped again; instead the node reconciles with
    /// its other peers that speak reconciliation, at once where no session is open, else as
    /// soon as that session ends. News so spreads hop by hop through the mesh after a heal,
    /// rather than waiting for anti-entropy.
    pub(super) fn spread(&mut self, now: Now, from: &P) {
        let others = self.reconciler.spread_targets(from, &self.peers);
        // A little later rather than at once: writes that keep arriving meanwhile (a catch-up
        // comes in many `Records`) are passed on in one reconciliation per peer, not one each.
        let due = now.monotonic_ms + self.config.spread_delay_ms;
        for peer in others {
            self.timers.set_unless_running(Timer::Reconcile(peer), due);
        }
    }

    /// Reconciles with `peer` `delay_ms` from now, to fetch what could not be taken from it.
    pub(super) fn reconcile_after(&mut self, now: Now, peer: &P, delay_ms: u64) {
        if self.peers.contains(peer) {
            let due = now.monotonic_ms + delay_ms;
            self.timers
                .set_unless_running(Timer::Reconcile(peer.clone()), due);
        }
    }

    /// Gossip or records from `peer` were over a budget: reconcile with it soon.
    pub(super) fn reconcile_soon(&mut self, now: Now, peer: &P) {
        self.reconcile_after(now, peer, self.config.reconcile_after_drop_ms);
    }

    /// Writes from `peer` could not be stored: ask for them again once the store may work,
    /// backing off while it keeps failing, so a long outage costs about one reconciliation per
    /// anti-entropy interval rather than one a second.
    pub(super) fn retry_after_store_failure(&mut self, now: Now, peer: &P) {
        self.store_retry_ms = (self.store_retry_ms * 2).clamp(
            self.config.reconcile_after_drop_ms,
            self.config
                .anti_entropy_interval_ms
                .max(self.config.reconcile_after_drop_ms),
        );
        self.reconcile_after(now, peer, self.store_retry_ms);
    }
}
