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

use super::reconciler::Exchange;
use super::{Event, NodeCore, PeerId, Transport};
use crate::clock::{Clock, Now};
use crate::config::RateLimit;
use crate::counters::DropReason;
use crate::error::Refusal;
use crate::iblt::Iblt;
use crate::rate_limit::Cost;
use crate::reconciliation::{
    self, sorted_difference, ReconcileMessage, MAX_IDS_PER_PAGE, MAX_LOOKUPS_PER_WANT,
    MAX_SKETCH_ATTEMPTS, MAX_SKETCH_CELLS, MAX_WANT_PER_MESSAGE, PROBE_CELLS,
};
use crate::store::{Store, StoreError};
use crate::timers::Timer;
use crate::write::Write;
use std::collections::HashSet;

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

    fn send(&mut self, net: &mut dyn Transport<P>, now: Now, peer: &P, message: &ReconcileMessage) {
        let bytes = reconciliation::encode(message);
        self.counters.reconcile_bytes_sent += bytes.len() as u64;
        let factor = self.rate_factor(&peer.to_string());
        self.answer_limiter
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
            .direct_limiter
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

    /// When (monotonic ms) `peer` may send direct messages again, if it spent its direct
    /// budget: everything it sends before then is dropped undecoded, so a transport that can
    /// push back (the real node's acknowledgements) should hold the peer off until then.
    pub fn direct_refused_until(&self, peer: &P) -> Option<u64> {
        let monotonic_ms = self.clock.monotonic_ms();
        let factor = self.rate_factor(&peer.to_string());
        self.direct_limiter
            .exhausted_until(peer, monotonic_ms, factor)
    }

    /// The exchange with `peer` (opened by a `Hello` or by this node). One not heard from yet
    /// ends at the next timeout.
    fn exchange(&mut self, peer: &P) -> &mut Exchange {
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
                .scan_limiter
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
    fn backlogged(&mut self, net: &mut dyn Transport<P>, now: Now, peer: &P) -> bool {
        let factor = self.rate_factor(&peer.to_string());
        let detail = if net.backlog_bytes(peer) > MAX_BACKLOG_BYTES {
            format!("peer {peer} asks faster than it takes the answers")
        } else if self
            .answer_limiter
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

    /// Most writes one answer looks up, and ids one request asks for: the writes a message may
    /// carry ([`crate::Config::max_writes_per_message`]), at most [`MAX_LOOKUPS_PER_WANT`]. So
    /// one want is answered by one message no peer refuses as too many writes.
    fn lookups_per_want(&self) -> usize {
        self.config
            .max_writes_per_message
            .clamp(1, MAX_LOOKUPS_PER_WANT)
    }

    /// My ids in a table of `cells` cells (at most [`MAX_SKETCH_CELLS`]), from the tally.
    fn table(&self, cells: usize) -> Iblt {
        self.store
            .tally()
            .table(cells.min(MAX_SKETCH_CELLS))
            .expect("tables up to the largest come from the tally")
    }

    fn send_sketch(
        &mut self,
        net: &mut dyn Transport<P>,
        now: Now,
        peer: &P,
        attempt: u8,
        cells: usize,
    ) {
        let table = self.table(cells);
        self.exchange(peer).sketch_sent = Some((attempt, table.len() as u32));
        self.send(net, now, peer, &ReconcileMessage::Sketch { attempt, table });
    }

    /// Sends the page of at most `limit` of my ids from `from` on (the last page reaches
    /// `u64::MAX`); the peer may then ask for the page after the part it covered.
    fn send_page(
        &mut self,
        net: &mut dyn Transport<P>,
        now: Now,
        peer: &P,
        from: u64,
        limit: usize,
    ) {
        let limit = limit.clamp(1, MAX_IDS_PER_PAGE);
        let ids = self.store.tally().ids_in(from, u64::MAX, limit);
        let to = match ids.last() {
            Some(&last) if ids.len() == limit => last,
            _ => u64::MAX,
        };
        self.exchange(peer).listing = Some((from, to));
        self.send(net, now, peer, &ReconcileMessage::Ids { from, to, ids });
    }

    /// A page of the peer's ids: compares it with mine in the same range (at most a page of
    /// them; where I hold more, up to my page's last id), sends what the peer lacks, asks
    /// for what I lack, and asks for the next page.
    fn on_page(
        &mut self,
        net: &mut dyn Transport<P>,
        now: Now,
        peer: &P,
        from: u64,
        to: u64,
        theirs: Vec<u64>,
    ) -> Result<(), StoreError> {
        if !reconciliation::is_page(from, to, &theirs) {
            let detail = format!("page of {} ids for {from}..={to}", theirs.len());
            self.drop_message(net, now, peer, DropReason::Malformed, detail);
            return Ok(());
        }
        let mut mine = self.store.tally().ids_in(from, to, MAX_IDS_PER_PAGE + 1);
        let covered_to = if mine.len() > MAX_IDS_PER_PAGE {
            mine.truncate(MAX_IDS_PER_PAGE);
            mine[MAX_IDS_PER_PAGE - 1]
        } else {
            to
        };
        let covered = theirs.partition_point(|&id| id <= covered_to);
        let (only_mine, only_theirs) = sorted_difference(&mine, &theirs[..covered]);
        drop((mine, theirs)); // a page each: not kept while the answer is loaded
        let last_page = covered_to == u64::MAX;
        if last_page && only_theirs.is_empty() && !self.exchange(peer).wants.is_waiting() {
            self.end_session(peer);
        }
        self.exchange(peer).reading_pages = !last_page;
        self.send_difference(net, now, peer, &only_mine, only_theirs)?;
        if !last_page {
            let from = covered_to + 1;
            self.exchange(peer).tables_expected += 1;
            self.send(net, now, peer, &ReconcileMessage::IdsFrom { from });
        }
        Ok(())
    }

    /// Subtracts my table from `theirs`; if it peels, sends my writes the peer lacks and asks
    /// for the ones I lack. Returns whether it peeled (a bad table counts as settled).
    fn settle(
        &mut self,
        net: &mut dyn Transport<P>,
        now: Now,
        peer: &P,
        theirs: Iblt,
    ) -> Result<bool, StoreError> {
        if !Iblt::is_shape(theirs.len()) || theirs.len() > MAX_SKETCH_CELLS {
            let detail = format!("table of {} cells", theirs.len());
            self.drop_message(net, now, peer, DropReason::Malformed, detail);
            return Ok(true);
        }
        let Some(difference) = self.store.tally().difference(theirs) else {
            return Ok(false);
        };
        if difference.only_right.is_empty() {
            self.end_session(peer); // nothing comes back: this exchange is complete
        }
        // A crafted table may peel into ids this node does not hold: offer none of those.
        let tally = self.store.tally();
        let mut only_mine = difference.only_left;
        only_mine.retain(|&id| tally.holds(id));
        self.send_difference(net, now, peer, &only_mine, difference.only_right)?;
        Ok(true)
    }

    /// Sends the peer one message's worth of my writes it lacks (`only_mine`, ids I hold) and
    /// offers the rest, and asks for the writes I lack (`only_theirs`).
    fn send_difference(
        &mut self,
        net: &mut dyn Transport<P>,
        now: Now,
        peer: &P,
        only_mine: &[u64],
        only_theirs: Vec<u64>,
    ) -> Result<(), StoreError> {
        let (writes, loaded) = self.writes_with_ids(only_mine)?;
        let mut offer = Vec::with_capacity(only_mine.len());
        offer.extend(only_mine.iter().copied().filter(|id| !loaded.contains(id)));
        let mut wants = self.request(peer, only_theirs).into_iter();
        let first = wants.next().unwrap_or_default();
        // An empty `Records` means "none of what you asked for": only an answer sends one.
        if !(writes.is_empty() && first.is_empty() && offer.is_empty()) {
            self.send_records(net, now, peer, writes, first, offer);
        }
        self.send_wants(net, now, peer, wants);
        Ok(())
    }

    /// Notes `ids` as wanted from `peer` ([`WantQueue::want`]); returns the ids to ask for
    /// now (the requests that fit in flight, one `want` each), the others wait their turn.
    fn request(&mut self, peer: &P, ids: Vec<u64>) -> Vec<Vec<u64>> {
        let lookups = self.lookups_per_want();
        self.exchange(peer).wants.want(ids, lookups);
        self.next_requests(peer)
    }

    /// Moves waiting requests to `peer` in flight while fewer than [`REQUESTS_IN_FLIGHT`] are;
    /// returns the ids to ask for, one `want` each. Ids this node holds by now are left out
    /// (offered ids are only checked here, a request at a time). Ids asked of another peer
    /// right now (a node catching up from several peers at once is offered the same writes by
    /// each) go to the back of the queue, and are asked here too once nothing else is left to
    /// ask this peer, since the other peer may never answer.
    fn next_requests(&mut self, peer: &P) -> Vec<Vec<u64>> {
        let lookups = self.lookups_per_want();
        let Some(exchange) = self.reconciler.get_mut(peer) else {
            return Vec::new();
        };
        let mut wants = std::mem::take(&mut exchange.wants);
        let tally = self.store.tally();
        let elsewhere = |id| self.reconciler.asked_elsewhere(peer, id);
        let ask_now = wants.next(lookups, |id| tally.holds(id), elsewhere);
        self.exchange(peer).wants = wants;
        ask_now
    }

    /// At most one message's worth of the writes with these ids (the first
    /// [`MAX_LOOKUPS_PER_WANT`] of them) that this node can vouch for on reconciliation, and the
    /// ids of the writes loaded. An unsigned write of another origin (a legacy client's,
    /// accepted from its author on gossip) stays behind, since the peer would rightly refuse
    /// it as forged.
    fn writes_with_ids(&self, ids: &[u64]) -> Result<(Vec<Write>, HashSet<u64>), StoreError> {
        if ids.is_empty() {
            return Ok(Default::default());
        }
        let wanted: HashSet<u64> = ids.iter().copied().take(self.lookups_per_want()).collect();
        let mut writes = self
            .store
            .writes_with_ids(&wanted, self.config.max_message_bytes)?;
        let loaded = writes.iter().map(Write::id).collect();
        writes.retain(|write| self.provable(write));
        Ok((writes, loaded))
    }

    /// Whether a peer receiving `write` from this node by reconciliation can check its origin.
    /// Unsigned rows of this node's legacy database (origin [`crate::auth::LEGACY_ORIGIN`]) stay here: no
    /// peer takes an unsigned write of that origin from another node.
    fn provable(&self, write: &Write) -> bool {
        write.signature.is_some() || write.version.origin == self.origin
    }

    fn send_records(
        &mut self,
        net: &mut dyn Transport<P>,
        now: Now,
        peer: &P,
        writes: Vec<Write>,
        want: Vec<u64>,
        offer: Vec<u64>,
    ) {
        self.counters.reconciled_writes_sent += writes.len() as u64;
        let max_bytes = self.config.max_message_bytes;
        for message in reconciliation::records_messages(writes, want, offer, max_bytes) {
            self.send(net, now, peer, &message);
        }
    }

    fn on_records(
        &mut self,
        net: &mut dyn Transport<P>,
        now: Now,
        peer: &P,
        mut writes: Vec<Write>,
        want: Vec<u64>,
        mut offer: Vec<u64>,
    ) -> Result<(), StoreError> {
        let received = writes.len();
        let factor = self.rate_factor(&peer.to_string());
        let cost = Cost::writes(received);
        if !self
            .direct_limiter
            .admit(peer, now.monotonic_ms, cost, factor)
        {
            let detail = format!("reconciliation write budget exceeded by peer {peer}");
            self.drop_message(net, now, peer, DropReason::RateLimited, detail);
            self.end_exchange(peer);
            self.reconcile_soon(now, peer);
            return Ok(());
        }
        // Writes past what one message may make this node check are not checked: taken as
        // offered (nodes built before the cap pushed up to 1,024), they are asked for later,
        // a message's worth at a time, within the budgets.
        let max_writes = self.config.max_writes_per_message;
        if writes.len() > max_writes {
            offer.extend(writes.drain(max_writes..).map(|write| write.id()));
            offer.truncate(MAX_WANT_PER_MESSAGE);
        }
        let mut valid = Vec::with_capacity(writes.len());
        let sender = peer.to_string();
        let mut arrived = Vec::with_capacity(writes.len());
        // Writes this node holds at an equal or newer version change nothing: they are not
        // checked and cost their authors nothing (a peer replaying an author's old writes
        // must not spend that author's budget here).
        writes.retain(|write| {
            let held = self.holds_as_new(write);
            if held {
                arrived.push(write.id());
            }
            !held
        });
        self.counters.ignored_older += arrived.len() as u64;
        // Writes over their author's budget: not checked, not stored, asked for again once
        // the earliest of those budgets' windows ends.
        let mut over_budget = 0;
        let mut retry_at: Option<u64> = None;
        // One batch for the signatures the loop may check: those of writes within their
        // authors' budgets now (see `Keys::prefetch`).
        self.prefetch_signatures(writes.iter().filter(|write| {
            let author = &write.version.origin;
            *author == self.origin
                || self.author_limiter.content_fits(
                    author,
                    now.monotonic_ms,
                    record_cost(write),
                    self.rate_factor(author),
                )
        }));
        for write in writes {
            arrived.push(write.id());
            let cost = record_cost(&write);
            let author = &write.version.origin;
            let author_factor = self.rate_factor(author);
            // This node's own writes coming back (after it lost them) cost nothing.
            let own = *author == self.origin;
            if !own
                && !self
                    .author_limiter
                    .content_fits(author, now.monotonic_ms, cost, author_factor)
            {
                over_budget += 1;
                if let Some(end) = self.author_limiter.window_end(author, now.monotonic_ms) {
                    retry_at = Some(retry_at.map_or(end, |at| at.min(end)));
                }
                continue;
            }
            let from_sender = *author == sender;
            let checked = self.check_remote(&write, now.wall_ms, from_sender);
            match checked {
                Ok(()) if self.refuse_author(net, now, peer, &write.version.origin) => {}
                Ok(()) => {
                    // The same budget as the author's gossip: a stranger writes as much per
                    // minute whichever path its writes take.
                    if !own {
                        let author = &write.version.origin;
                        self.author_limiter.admit_content(
                            author,
                            now.monotonic_ms,
                            cost,
                            author_factor,
                        );
                    }
                    valid.push(write);
                }
                // The first forged write ends the message: nothing of it applies, its want
                // goes unanswered, its offers unasked, and the peer gets a strike.
                Err(error @ Refusal::Forged(_)) => {
                    self.counters.reconciled_writes_received += received as u64;
                    self.drop_error(net, now, peer, error);
                    self.strike(now, peer);
                    self.end_exchange(peer);
                    return Ok(());
                }
                Err(error) => self.drop_error(net, now, peer, error),
            }
        }
        self.counters.reconciled_writes_received += received as u64;
        if over_budget > 0 {
            let detail = format!(
                "{over_budget} writes from peer {peer} over their authors' write budgets, \
                 asked for again later"
            );
            self.drop_message(net, now, peer, DropReason::RateLimited, detail);
            // Nothing more is asked in this exchange (the rest might be that author's too):
            // a reconciliation once the budget allows brings what is left.
            if let Some(exchange) = self.reconciler.get_mut(peer) {
                exchange.wants.clear_waiting();
            }
            let wait = retry_at.map_or(0, |at| at.saturating_sub(now.monotonic_ms));
            self.reconcile_after(now, peer, wait.max(self.config.reconcile_after_drop_ms));
        }
        let applied = self
            .apply_remote(now, &valid)
            .inspect_err(|_| {
                self.end_session(peer);
                self.retry_after_store_failure(now, peer);
            })?
            .into_iter()
            .filter(|&a| a)
            .count();
        let nothing = arrived.is_empty() && want.is_empty() && offer.is_empty();
        let sent = self.answer_want(net, now, peer, &want)?;
        self.ask_again(net, now, peer, &arrived, nothing);
        self.want_offered(net, now, peer, offer);
        if applied > 0 {
            self.spread(now, peer);
        }
        if applied > 0 || sent > 0 {
            net.notify(Event::Reconciled {
                peer: peer.clone(),
                applied,
                sent,
            });
        }
        Ok(())
    }

    /// Sends the wanted writes this node has, at most one message's worth: a peer asking for
    /// more asks again once it has these. Returns how many were sent.
    fn answer_want(
        &mut self,
        net: &mut dyn Transport<P>,
        now: Now,
        peer: &P,
        want: &[u64],
    ) -> Result<usize, StoreError> {
        if want.is_empty() || self.backlogged(net, now, peer) {
            return Ok(0);
        }
        let (writes, _) = self.writes_with_ids(want)?;
        let sent = writes.len();
        self.send_records(net, now, peer, writes, Vec::new(), Vec::new());
        Ok(sent)
    }

    /// Asks for the offered writes (those this node holds by the time each request goes out
    /// are left out of it).
    fn want_offered(&mut self, net: &mut dyn Transport<P>, now: Now, peer: &P, offer: Vec<u64>) {
        let wants = self.request(peer, offer);
        self.send_wants(net, now, peer, wants);
    }

    /// Sends each of `wants` as a `Records` asking for those ids and carrying nothing else.
    fn send_wants(
        &mut self,
        net: &mut dyn Transport<P>,
        now: Now,
        peer: &P,
        wants: impl IntoIterator<Item = Vec<u64>>,
    ) {
        for want in wants {
            self.send_records(net, now, peer, Vec::new(), want, Vec::new());
        }
    }

    /// Crosses off the wanted ids that `arrived`; asks again for the rest of each request the
    /// peer answered in part, and ends this node's part of the exchange once nothing is left
    /// or the peer answered with `nothing` (an empty `Records`: it holds none of the rest).
    /// Writes of no request (pushed by the peer) say nothing about the requests.
    fn ask_again(
        &mut self,
        net: &mut dyn Transport<P>,
        now: Now,
        peer: &P,
        arrived: &[u64],
        nothing: bool,
    ) {
        let tally = self.store.tally();
        let Some(exchange) = self.reconciler.get_mut(peer) else {
            return;
        };
        let arrived: HashSet<u64> = arrived.iter().copied().collect();
        // What arrived from other peers meanwhile is not asked for again either.
        let again = exchange.wants.arrived(&arrived, |id| tally.holds(id));
        let progress = again.is_some();
        if !progress && !nothing && exchange.wants.is_waiting() {
            return;
        }
        let mut again = again.unwrap_or_default();
        if progress {
            again.extend(self.next_requests(peer));
        }
        let exchange = self.exchange(peer);
        if exchange.wants.nothing_in_flight() || !progress {
            exchange.wants.clear();
            if !exchange.reading_pages {
                self.end_session(peer);
            }
            return;
        }
        self.send_wants(net, now, peer, again);
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
    fn spread(&mut self, now: Now, from: &P) {
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

/// What one write received by reconciliation costs its author's budget.
fn record_cost(write: &Write) -> Cost {
    Cost {
        writes: 1,
        bytes: reconciliation::record_size(write) as u64,
        messages: 0,
    }
}
