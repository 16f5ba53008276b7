//! Reconciliation on the node: opening sessions, answering every `ReconcileMessage`, and passing
//! learnt writes on to the other peers (the protocol itself is described in `core::reconciliation`).
//!
//! Every answer is in proportion to its request: a message is only answered inside an
//! exchange the two peers opened in the protocol's order (a `Hello` first; an `Estimate` only
//! after this node sent a `Probe`; `Records` only inside an exchange), sketch parts are built
//! and sent one at a time, each after the peer answered the previous one, wanted writes are
//! sent at most one message's worth per request, and every message that scans the store is
//! charged to the peer's scan budget.

use super::{Event, NodeCore, PeerId, Transport};
use crate::auth::LEGACY_ORIGIN;
use crate::clock::Clock;
use crate::counters::DropReason;
use crate::iblt::Iblt;
use crate::rate_limit::Cost;
use crate::reconciliation::{
    self, ReconcileMessage, MAX_SKETCH_ATTEMPTS, MAX_SKETCH_CELLS, PROBE_CELLS,
};
use crate::store::{Store, StoreError};
use crate::validate;
use crate::version::Write;
use std::collections::{HashSet, VecDeque};

/// A reconciliation under way with one peer, whichever side opened it.
#[derive(Debug, Clone, Default)]
pub(super) struct Exchange {
    /// When the peer was last heard from in it (monotonic ms); it ends after a quiet timeout.
    pub(super) heard_ms: u64,
    /// `Probe`s this node sent and no `Estimate` answered yet: one `Estimate` may answer each.
    estimates_expected: u32,
    /// Sketch parts still to send, one after each answer: (parts, part, cells).
    parts_to_send: VecDeque<(u32, u32, usize)>,
    /// Ids this node asked the peer for and has not received yet, one set per request: an
    /// answer to one request is followed up by asking again for that request's rest only, so
    /// requests in flight together never ask twice for an id.
    requests: Vec<HashSet<u64>>,
}

impl<S: Store, C: Clock, P: PeerId> NodeCore<S, C, P> {
    /// Opens a reconciliation with `peer` unless one is already under way; says whether it did.
    pub(super) fn start_reconciliation(&mut self, net: &mut dyn Transport<P>, peer: &P) -> bool {
        if self.sessions.contains_key(peer) || !self.peers.contains(peer) {
            return false;
        }
        let now = self.clock.monotonic_ms();
        self.sessions.insert(peer.clone(), now);
        // The peer may be in the middle of its own session with this node: keep what this
        // node owes it there (an `Estimate` it may send, sketch parts still to send).
        let exchange = self.exchange(peer);
        exchange.heard_ms = now;
        exchange.requests.clear();
        self.counters.reconciliations_started += 1;
        let summary = self.store.summary();
        self.send(
            net,
            peer,
            &ReconcileMessage::Hello {
                count: summary.count,
                fingerprint: summary.fingerprint,
            },
        );
        true
    }

    fn send(&mut self, net: &mut dyn Transport<P>, peer: &P, message: &ReconcileMessage) {
        let bytes = reconciliation::encode(message);
        self.counters.reconcile_bytes_sent += bytes.len() as u64;
        net.send(peer, bytes);
    }

    /// A direct (reconciliation) message from `peer`.
    pub fn on_direct(
        &mut self,
        net: &mut dyn Transport<P>,
        peer: &P,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        let now = self.clock.monotonic_ms();
        self.counters.reconcile_bytes_received += bytes.len() as u64;
        if self.refuse_author(net, peer, &peer.to_string()) {
            return Ok(());
        }
        let factor = self.rate_factor(&peer.to_string());
        if !self
            .direct_limiter
            .admit(peer, now, Cost::of(0, bytes.len()), factor)
        {
            self.drop_message(
                net,
                peer,
                DropReason::RateLimited,
                format!("direct rate limit exceeded for peer {peer}"),
            );
            return Ok(());
        }
        let message = match reconciliation::decode(bytes, self.config.max_message_bytes) {
            Ok(message) => message,
            Err(error) => {
                self.drop_error(net, peer, error);
                return Ok(());
            }
        };
        if !self.admit_in_order(net, peer, &message, factor) {
            return Ok(());
        }
        if self.sessions.contains_key(peer) {
            self.sessions.insert(peer.clone(), now);
        }
        match message {
            ReconcileMessage::Hello { count, fingerprint } => {
                let summary = self.store.summary();
                if (summary.count, summary.fingerprint) == (count, fingerprint) {
                    self.send(net, peer, &ReconcileMessage::InSync);
                } else {
                    let table = self.store.tally().probe.clone();
                    self.exchange(peer).estimates_expected += 1;
                    self.send(net, peer, &ReconcileMessage::Probe { table });
                }
            }
            ReconcileMessage::Probe { table } if !is_probe(1, table.len()) => {
                let detail = format!("probe of {} cells", table.len());
                self.drop_message(net, peer, DropReason::Malformed, detail);
            }
            ReconcileMessage::Probe { table } => {
                if !self.settle(net, peer, 1, 0, &table)? {
                    let strata = self.store.tally().strata.clone();
                    let count = self.store.summary().count;
                    self.send(net, peer, &ReconcileMessage::Estimate { count, strata });
                }
            }
            // The exchange itself stays until it is quiet: the peer's own session with this
            // node may still be answering.
            ReconcileMessage::InSync => {
                self.sessions.remove(peer);
            }
            ReconcileMessage::Estimate { count, strata } => {
                let Some(estimate) = self.store.tally().strata.estimate(&strata) else {
                    self.drop_message(
                        net,
                        peer,
                        DropReason::Malformed,
                        "estimator of the wrong shape".into(),
                    );
                    return Ok(());
                };
                // The difference cannot exceed both stores together, whatever a peer claims.
                let bound = count.saturating_add(self.store.summary().count);
                let (parts, cells) = reconciliation::sketch_shape(estimate.min(bound));
                // One part now; each further part once the peer answered the one before.
                self.exchange(peer).parts_to_send =
                    (0..parts).map(|part| (parts, part, cells)).collect();
                self.send_next_part(net, peer)?;
            }
            ReconcileMessage::Sketch {
                attempt,
                parts,
                part,
                table,
            } => self.on_sketch(net, peer, attempt, parts, part, table)?,
            ReconcileMessage::SketchTooSmall {
                attempt,
                parts,
                part,
                cells,
            } => {
                if cells as usize > MAX_SKETCH_CELLS || parts == 0 || part >= parts {
                    let detail = format!(
                        "sketch of {cells} cells for part {part} of {parts} reported too small"
                    );
                    self.drop_message(net, peer, DropReason::Malformed, detail);
                    return Ok(());
                }
                if attempt >= MAX_SKETCH_ATTEMPTS {
                    self.sessions.remove(peer);
                    return Ok(());
                }
                let cells = (cells as usize).saturating_mul(2);
                if cells <= MAX_SKETCH_CELLS {
                    self.send_sketch(net, peer, attempt + 1, parts, part, cells)?;
                } else if let Some(double) = parts.checked_mul(2) {
                    // Split in two halves, the second once the peer answered the first.
                    self.send_sketch(net, peer, attempt + 1, double, part, cells / 2)?;
                    self.exchange(peer)
                        .parts_to_send
                        .push_front((double, part + parts, cells / 2));
                }
            }
            ReconcileMessage::Records { writes, want } => {
                self.on_records(net, peer, writes, want)?;
                self.send_next_part(net, peer)?;
            }
        }
        Ok(())
    }

    /// The exchange with `peer` (opened by a `Hello` or by this node).
    fn exchange(&mut self, peer: &P) -> &mut Exchange {
        self.exchanges.entry(peer.clone()).or_default()
    }

    /// Whether `message` from `peer` fits the protocol's order and the peer's scan budget; if
    /// not it is dropped (counted as `unsolicited`, or `rate_limited`). Refreshes the exchange.
    fn admit_in_order(
        &mut self,
        net: &mut dyn Transport<P>,
        peer: &P,
        message: &ReconcileMessage,
        factor: u32,
    ) -> bool {
        let now = self.clock.monotonic_ms();
        let in_exchange = self.exchanges.contains_key(peer);
        let fits = match message {
            ReconcileMessage::Hello { .. } => true,
            ReconcileMessage::Estimate { .. } => {
                self.exchanges.get_mut(peer).is_some_and(|exchange| {
                    let expected = exchange.estimates_expected > 0;
                    exchange.estimates_expected = exchange.estimates_expected.saturating_sub(1);
                    expected
                })
            }
            _ => in_exchange,
        };
        if !fits {
            let detail = format!("{} outside a reconciliation in that order", message.name());
            self.drop_message(net, peer, DropReason::Unsolicited, detail);
            return false;
        }
        // Only the message goes: the exchange stays, since this node's own session with the
        // peer may be waiting for an answer that costs no scan.
        let rows = self.rows_read(message);
        if rows.is_some_and(|rows| !self.scan_limiter.admit(peer, now, rows, factor)) {
            let detail = format!("store scan budget exceeded by peer {peer}");
            self.drop_message(net, peer, DropReason::RateLimited, detail);
            return false;
        }
        self.exchange(peer).heard_ms = now;
        self.answered.insert(peer.clone());
        true
    }

    /// The store reads answering `message` takes, charged to the scan budget: none where the
    /// store's tally answers (a `Hello`, a `Probe`), index lookups for wanted ids, a full scan
    /// for any other table.
    fn rows_read(&self, message: &ReconcileMessage) -> Option<Cost> {
        let scan = Cost::of(self.store.summary().count as usize, 0);
        match message {
            ReconcileMessage::Hello { .. }
            | ReconcileMessage::Probe { .. }
            | ReconcileMessage::InSync => None,
            ReconcileMessage::Records { want, .. } if want.is_empty() => None,
            ReconcileMessage::Records { want, .. } => Some(Cost::of(
                want.len().min(reconciliation::MAX_LOOKUPS_PER_WANT),
                0,
            )),
            ReconcileMessage::Sketch { parts, table, .. } if is_probe(*parts, table.len()) => None,
            ReconcileMessage::Estimate { .. }
            | ReconcileMessage::Sketch { .. }
            | ReconcileMessage::SketchTooSmall { .. } => Some(scan),
        }
    }

    /// Sends the next sketch part the exchange with `peer` still owes, if any.
    fn send_next_part(&mut self, net: &mut dyn Transport<P>, peer: &P) -> Result<(), StoreError> {
        let next = self
            .exchanges
            .get_mut(peer)
            .and_then(|exchange| exchange.parts_to_send.pop_front());
        if let Some((parts, part, cells)) = next {
            self.send_sketch(net, peer, 0, parts, part, cells)?;
        }
        Ok(())
    }

    /// My ids of one part of a `parts`-way split, in a table of `cells` cells: the store's
    /// probe when that is the table asked for, else built by a scan.
    fn sketch(&self, parts: u32, part: u32, cells: usize) -> Result<Iblt, StoreError> {
        if is_probe(parts, cells) {
            return Ok(self.store.tally().probe.clone());
        }
        let mut table = Iblt::new(cells);
        self.store.for_each(&mut |write| {
            let id = write.id();
            if reconciliation::part_of(id, parts) == part {
                table.insert(id);
            }
        })?;
        Ok(table)
    }

    fn send_sketch(
        &mut self,
        net: &mut dyn Transport<P>,
        peer: &P,
        attempt: u8,
        parts: u32,
        part: u32,
        cells: usize,
    ) -> Result<(), StoreError> {
        let table = self.sketch(parts, part, cells)?;
        self.send(
            net,
            peer,
            &ReconcileMessage::Sketch {
                attempt,
                parts,
                part,
                table,
            },
        );
        Ok(())
    }

    fn on_sketch(
        &mut self,
        net: &mut dyn Transport<P>,
        peer: &P,
        attempt: u8,
        parts: u32,
        part: u32,
        theirs: Iblt,
    ) -> Result<(), StoreError> {
        if !self.settle(net, peer, parts, part, &theirs)? {
            let cells = theirs.len() as u32;
            self.send(
                net,
                peer,
                &ReconcileMessage::SketchTooSmall {
                    attempt,
                    parts,
                    part,
                    cells,
                },
            );
        }
        Ok(())
    }

    /// Subtracts my table of `part` from `theirs`; if it peels, sends my writes the peer lacks
    /// and asks for the ones I lack. Returns whether it peeled (a bad table counts as settled).
    fn settle(
        &mut self,
        net: &mut dyn Transport<P>,
        peer: &P,
        parts: u32,
        part: u32,
        theirs: &Iblt,
    ) -> Result<bool, StoreError> {
        if parts == 0 || part >= parts || theirs.is_empty() || theirs.len() > MAX_SKETCH_CELLS * 2 {
            let detail = format!(
                "table for part {part} of {parts} with {} cells",
                theirs.len()
            );
            self.drop_message(net, peer, DropReason::Malformed, detail);
            return Ok(true);
        }
        let Some(difference) = self.sketch(parts, part, theirs.len())?.difference(theirs) else {
            return Ok(false);
        };
        let writes = self.writes_with_ids(&difference.only_left)?;
        if difference.only_right.is_empty() {
            self.sessions.remove(peer); // nothing comes back: this exchange is complete
        }
        let requests = difference
            .only_right
            .chunks(reconciliation::MAX_WANT_PER_MESSAGE);
        self.exchange(peer)
            .requests
            .extend(requests.map(|ids| ids.iter().copied().collect()));
        self.send_records(net, peer, writes, difference.only_right);
        Ok(true)
    }

    /// The writes with these ids that this node can vouch for on reconciliation: an unsigned
    /// write of another origin (a legacy client's, accepted from its author on gossip) stays
    /// behind, since the peer would rightly refuse it as forged.
    fn writes_with_ids(&self, ids: &[u64]) -> Result<Vec<Write>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let wanted: HashSet<u64> = ids.iter().copied().collect();
        let mut writes = self.store.writes_with_ids(&wanted)?;
        writes.retain(|write| self.provable(write));
        Ok(writes)
    }

    /// Whether a peer receiving `write` from this node by reconciliation can check its origin.
    fn provable(&self, write: &Write) -> bool {
        write.signature.is_some()
            || write.version.origin == self.origin
            || write.version.origin == LEGACY_ORIGIN
    }

    fn send_records(
        &mut self,
        net: &mut dyn Transport<P>,
        peer: &P,
        writes: Vec<Write>,
        want: Vec<u64>,
    ) {
        self.counters.reconciled_writes_sent += writes.len() as u64;
        for message in reconciliation::records_messages(writes, want, self.config.max_message_bytes)
        {
            self.send(net, peer, &message);
        }
    }

    fn on_records(
        &mut self,
        net: &mut dyn Transport<P>,
        peer: &P,
        writes: Vec<Write>,
        want: Vec<u64>,
    ) -> Result<(), StoreError> {
        let received = writes.len();
        let factor = self.rate_factor(&peer.to_string());
        let monotonic = self.clock.monotonic_ms();
        let cost = Cost::writes(received);
        if !self.direct_limiter.admit(peer, monotonic, cost, factor) {
            let detail = format!("reconciliation write budget exceeded by peer {peer}");
            self.drop_message(net, peer, DropReason::RateLimited, detail);
            self.end_exchange(peer);
            self.reconcile_soon(peer);
            return Ok(());
        }
        let now = self.clock.now_ms();
        let mut valid = Vec::with_capacity(writes.len());
        let sender = peer.to_string();
        let mut arrived = Vec::with_capacity(writes.len());
        for write in writes {
            arrived.push(write.id());
            let from_sender = write.version.origin == sender;
            let checked = validate::check_remote_write(&write, now, &self.config)
                .and_then(|()| self.authenticate(&write, from_sender));
            match checked {
                Ok(()) if self.refuse_author(net, peer, &write.version.origin) => {}
                Ok(()) => valid.push(write),
                Err(error) => self.drop_error(net, peer, error),
            }
        }
        self.counters.reconciled_writes_received += received as u64;
        let applied = self
            .apply_remote(&valid)
            .inspect_err(|_| {
                self.sessions.remove(peer);
                self.retry_after_store_failure(peer);
            })?
            .into_iter()
            .filter(|&a| a)
            .count();
        let sent = self.answer_want(net, peer, &want)?;
        self.ask_again(net, peer, &arrived);
        if applied > 0 {
            self.spread(peer);
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
        peer: &P,
        want: &[u64],
    ) -> Result<usize, StoreError> {
        let asked = &want[..want.len().min(reconciliation::MAX_LOOKUPS_PER_WANT)];
        if asked.is_empty() {
            return Ok(0);
        }
        let mut writes = self.writes_with_ids(asked)?;
        let budget = self.config.max_message_bytes;
        let mut size = 0;
        writes.retain(|write| {
            size += reconciliation::record_size(write);
            size <= budget
        });
        let sent = writes.len();
        self.send_records(net, peer, writes, Vec::new());
        Ok(sent)
    }

    /// Crosses off the wanted ids that `arrived`; asks again for the rest of each request the
    /// peer answered in part, and ends this node's part of the exchange once nothing is left
    /// (or the peer stopped sending any of it).
    fn ask_again(&mut self, net: &mut dyn Transport<P>, peer: &P, arrived: &[u64]) {
        let Some(exchange) = self.exchanges.get_mut(peer) else {
            return;
        };
        let arrived: HashSet<u64> = arrived.iter().copied().collect();
        let mut progress = false;
        let mut again = Vec::new();
        for request in &mut exchange.requests {
            let before = request.len();
            request.retain(|id| !arrived.contains(id));
            if request.len() < before {
                progress = true;
                if !request.is_empty() {
                    let mut rest: Vec<u64> = request.iter().copied().collect();
                    rest.sort_unstable(); // the same run asks the same way every time
                    again.push(rest);
                }
            }
        }
        exchange.requests.retain(|request| !request.is_empty());
        if exchange.requests.is_empty() || !progress {
            exchange.requests.clear();
            if exchange.parts_to_send.is_empty() {
                self.sessions.remove(peer);
            }
            return;
        }
        for want in again {
            self.send_records(net, peer, Vec::new(), want);
        }
    }

    /// Forgets the exchange with `peer` (and the session, if this node opened it).
    pub(super) fn end_exchange(&mut self, peer: &P) {
        self.exchanges.remove(peer);
        self.sessions.remove(peer);
    }

    /// Writes learnt by reconciliation are not gossiped again; instead the node reconciles with
    /// its other peers that speak reconciliation, at once where no session is open, else as soon as that session ends. News so
    /// spreads hop by hop through the mesh after a heal, rather than waiting for anti-entropy.
    fn spread(&mut self, from: &P) {
        let now = self.clock.monotonic_ms();
        let others: Vec<P> = self
            .answered
            .iter()
            .filter(|&p| p != from && self.peers.contains(p))
            .cloned()
            .collect();
        // A little later rather than at once: writes that keep arriving meanwhile (a catch-up
        // comes in many `Records`) are passed on in one reconciliation per peer, not one each.
        let due = now + self.config.spread_delay_ms;
        for peer in others {
            self.pending_reconciliations.entry(peer).or_insert(due);
        }
    }
}

/// Whether a table of `cells` cells for one part of `parts` is the store's probe (the whole
/// set, [`PROBE_CELLS`] cells once rounded), which the tally keeps and no scan rebuilds.
fn is_probe(parts: u32, cells: usize) -> bool {
    parts == 1 && Iblt::rounded(cells) == Iblt::rounded(PROBE_CELLS)
}
