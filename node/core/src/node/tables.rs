//! Comparing two stores in a reconciliation: tables (probes and sketches) subtracted and
//! peeled, id pages compared a page at a time, and the difference sent and asked for.

use super::{NodeCore, PeerId, Transport};
use crate::clock::{Clock, Now};
use crate::counters::DropReason;
use crate::iblt::Iblt;
use crate::reconciliation::{
    self, sorted_difference, ReconcileMessage, MAX_IDS_PER_PAGE, MAX_LOOKUPS_PER_WANT,
    MAX_SKETCH_CELLS,
};
use crate::store::{Store, StoreError};

impl<S: Store, C: Clock, P: PeerId> NodeCore<S, C, P> {
    /// Most writes one answer looks up, and ids one request asks for: the writes a message may
    /// carry ([`crate::Config::max_writes_per_message`]), at most [`MAX_LOOKUPS_PER_WANT`]. So
    /// one want is answered by one message no peer refuses as too many writes.
    pub(super) fn lookups_per_want(&self) -> usize {
        self.config
            .max_writes_per_message
            .clamp(1, MAX_LOOKUPS_PER_WANT)
    }

    /// My ids in a table of `cells` cells (at most [`MAX_SKETCH_CELLS`]), from the tally.
    pub(super) fn table(&self, cells: usize) -> Iblt {
        self.store
            .tally()
            .table(cells.min(MAX_SKETCH_CELLS))
            .expect("tables up to the largest come from the tally")
    }

    pub(super) fn send_sketch(
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
    pub(super) fn send_page(
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
    pub(super) fn on_page(
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
    pub(super) fn settle(
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
}
