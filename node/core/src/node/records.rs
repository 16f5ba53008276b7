//! Writes over reconciliation: the ids this node asks a peer for (its want-queue), the writes
//! it sends, and the `Records` it receives: budgets, checks, storing, and asking again.

use super::{Event, NodeCore, PeerId, Transport};
use crate::clock::{Clock, Now};
use crate::counters::DropReason;
use crate::error::Refusal;
use crate::rate_limit::Cost;
use crate::reconciliation::{self, MAX_WANT_PER_MESSAGE};
use crate::store::{Store, StoreError};
use crate::write::Write;
use std::collections::HashSet;

impl<S: Store, C: Clock, P: PeerId> NodeCore<S, C, P> {
    /// Notes `ids` as wanted from `peer` ([`crate::want::WantQueue::want`]); returns the ids to ask for
    /// now (the requests that fit in flight, one `want` each), the others wait their turn.
    pub(super) fn request(&mut self, peer: &P, ids: Vec<u64>) -> Vec<Vec<u64>> {
        let lookups = self.lookups_per_want();
        self.exchange(peer).wants.want(ids, lookups);
        self.next_requests(peer)
    }

    /// Moves waiting requests to `peer` in flight while fewer than [`crate::want::REQUESTS_IN_FLIGHT`] are;
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
    /// [`MAX_LOOKUPS_PER_WANT`](crate::reconciliation::MAX_LOOKUPS_PER_WANT) of them) that this node can vouch for on reconciliation, and the
    /// ids of the writes loaded. An unsigned write of another origin (a legacy client's,
    /// accepted from its author on gossip) stays behind, since the peer would rightly refuse
    /// it as forged.
    pub(super) fn writes_with_ids(
        &self,
        ids: &[u64],
    ) -> Result<(Vec<Write>, HashSet<u64>), StoreError> {
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

    pub(super) fn send_records(
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

    pub(super) fn on_records(
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
            .budgets
            .direct
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
        // must not spend that author's budget here). So a forged one of them is counted as
        // ignored, not as forged, and earns no strike; finding them costs one store read a
        // write, within the message's direct budget.
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
                || self.budgets.author.content_fits(
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
                    .budgets
                    .author
                    .content_fits(author, now.monotonic_ms, cost, author_factor)
            {
                over_budget += 1;
                if let Some(end) = self.budgets.author.window_end(author, now.monotonic_ms) {
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
                        self.budgets.author.admit_content(
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
    pub(super) fn send_wants(
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
}

/// What one write received by reconciliation costs its author's budget.
fn record_cost(write: &Write) -> Cost {
    Cost {
        writes: 1,
        bytes: reconciliation::record_size(write) as u64,
        messages: 0,
    }
}
