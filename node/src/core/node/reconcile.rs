//! Reconciliation on the node: opening sessions, answering every `SyncMessage`, and passing
//! learnt writes on to the other peers (the protocol itself is described in `core::sync`).

use super::{Event, NodeCore, Transport};
use crate::core::clock::Clock;
use crate::core::counters::DropReason;
use crate::core::iblt::{Iblt, StrataEstimator};
use crate::core::sync::{self, SyncMessage, MAX_SKETCH_ATTEMPTS, MAX_SKETCH_CELLS, PROBE_CELLS};
use crate::core::version::Write;
use crate::core::wire;
use crate::store::{Store, StoreError};
use std::collections::HashSet;

impl<S: Store, C: Clock> NodeCore<S, C> {
    /// Opens a reconciliation with `peer` unless one is already under way; says whether it did.
    pub(super) fn start_sync(&mut self, net: &mut dyn Transport, peer: &str) -> bool {
        if self.sessions.contains_key(peer) || !self.peers.contains(peer) {
            return false;
        }
        self.sessions
            .insert(peer.to_string(), self.clock.monotonic_ms());
        self.counters.syncs_started += 1;
        let summary = self.store.summary();
        self.send(
            net,
            peer,
            &SyncMessage::Hello {
                count: summary.count,
                fingerprint: summary.fingerprint,
            },
        );
        true
    }

    fn send(&mut self, net: &mut dyn Transport, peer: &str, message: &SyncMessage) {
        let bytes = sync::encode(message);
        self.counters.sync_bytes_sent += bytes.len() as u64;
        net.send(peer, bytes);
    }

    /// A direct (reconciliation) message from `peer`.
    pub fn on_direct(
        &mut self,
        net: &mut dyn Transport,
        peer: &str,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        let now = self.clock.monotonic_ms();
        self.counters.sync_bytes_received += bytes.len() as u64;
        if !self.direct_limiter.admit(peer, now) {
            self.drop_message(
                net,
                peer,
                DropReason::RateLimited,
                format!("direct rate limit exceeded for peer {peer}"),
            );
            return Ok(());
        }
        let message = match sync::decode(bytes, self.config.max_message_bytes) {
            Ok(message) => message,
            Err(error) => {
                self.drop_error(net, peer, error);
                return Ok(());
            }
        };
        if self.sessions.contains_key(peer) {
            self.sessions.insert(peer.to_string(), now);
        }
        match message {
            SyncMessage::Hello { count, fingerprint } => {
                let summary = self.store.summary();
                if (summary.count, summary.fingerprint) == (count, fingerprint) {
                    self.send(net, peer, &SyncMessage::InSync);
                } else {
                    let table = self.sketch(1, 0, PROBE_CELLS)?;
                    self.send(net, peer, &SyncMessage::Probe { table });
                }
            }
            SyncMessage::Probe { table } => {
                if !self.settle(net, peer, 1, 0, &table)? {
                    let strata = self.strata()?;
                    let count = self.store.summary().count;
                    self.send(net, peer, &SyncMessage::Estimate { count, strata });
                }
            }
            SyncMessage::InSync => {
                self.sessions.remove(peer);
            }
            SyncMessage::Estimate { count, strata } => {
                let Some(estimate) = self.strata()?.estimate(&strata) else {
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
                let (parts, cells) = sync::sketch_shape(estimate.min(bound));
                for (part, table) in (0..parts).zip(self.sketches(parts, cells)?) {
                    let message = SyncMessage::Sketch {
                        attempt: 0,
                        parts,
                        part,
                        table,
                    };
                    self.send(net, peer, &message);
                }
            }
            SyncMessage::Sketch {
                attempt,
                parts,
                part,
                table,
            } => self.on_sketch(net, peer, attempt, parts, part, table)?,
            SyncMessage::SketchTooSmall {
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
                    self.send_sketch(net, peer, attempt + 1, double, part, cells / 2)?;
                    self.send_sketch(net, peer, attempt + 1, double, part + parts, cells / 2)?;
                }
            }
            SyncMessage::Records { writes, want } => self.on_records(net, peer, writes, want)?,
        }
        Ok(())
    }

    fn strata(&self) -> Result<StrataEstimator, StoreError> {
        let mut strata = StrataEstimator::default();
        self.store
            .for_each(&mut |write| strata.insert(write.id()))?;
        Ok(strata)
    }

    /// My ids of one part of a `parts`-way split, in a table of `cells` cells.
    fn sketch(&self, parts: u32, part: u32, cells: usize) -> Result<Iblt, StoreError> {
        let mut table = Iblt::new(cells);
        self.store.for_each(&mut |write| {
            let id = write.id();
            if sync::part_of(id, parts) == part {
                table.insert(id);
            }
        })?;
        Ok(table)
    }

    /// The tables of every part of a `parts`-way split, filled in one pass over the store.
    fn sketches(&self, parts: u32, cells: usize) -> Result<Vec<Iblt>, StoreError> {
        let mut tables = vec![Iblt::new(cells); parts as usize];
        self.store.for_each(&mut |write| {
            let id = write.id();
            tables[sync::part_of(id, parts) as usize].insert(id);
        })?;
        Ok(tables)
    }

    fn send_sketch(
        &mut self,
        net: &mut dyn Transport,
        peer: &str,
        attempt: u8,
        parts: u32,
        part: u32,
        cells: usize,
    ) -> Result<(), StoreError> {
        let table = self.sketch(parts, part, cells)?;
        self.send(
            net,
            peer,
            &SyncMessage::Sketch {
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
        net: &mut dyn Transport,
        peer: &str,
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
                &SyncMessage::SketchTooSmall {
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
        net: &mut dyn Transport,
        peer: &str,
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
        self.send_records(net, peer, writes, difference.only_right);
        Ok(true)
    }

    fn writes_with_ids(&self, ids: &[u64]) -> Result<Vec<Write>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let wanted: HashSet<u64> = ids.iter().copied().collect();
        let mut writes = Vec::new();
        self.store.for_each(&mut |write| {
            if wanted.contains(&write.id()) {
                writes.push(write);
            }
        })?;
        Ok(writes)
    }

    fn send_records(
        &mut self,
        net: &mut dyn Transport,
        peer: &str,
        writes: Vec<Write>,
        want: Vec<u64>,
    ) {
        self.counters.sync_writes_sent += writes.len() as u64;
        for message in sync::records_messages(writes, want, self.config.max_message_bytes) {
            self.send(net, peer, &message);
        }
    }

    fn on_records(
        &mut self,
        net: &mut dyn Transport,
        peer: &str,
        writes: Vec<Write>,
        want: Vec<u64>,
    ) -> Result<(), StoreError> {
        let now = self.clock.now_ms();
        let received = writes.len();
        let mut valid = Vec::with_capacity(writes.len());
        for write in writes {
            match wire::check_write(&write, now, &self.config) {
                Ok(()) => valid.push(write),
                Err(error) => self.drop_error(net, peer, error),
            }
        }
        self.counters.sync_writes_received += received as u64;
        let applied = self
            .apply_remote(&valid)
            .inspect_err(|_| {
                self.sessions.remove(peer);
                self.retry_after_store_failure(peer);
            })?
            .into_iter()
            .filter(|&a| a)
            .count();
        let sent = want.len().min(sync::MAX_WANT_PER_MESSAGE);
        if sent > 0 {
            let writes = self.writes_with_ids(&want[..sent])?;
            self.send_records(net, peer, writes, Vec::new());
        } else {
            self.sessions.remove(peer);
        }
        if applied > 0 {
            self.spread(net, peer);
        }
        if applied > 0 || sent > 0 {
            net.notify(Event::Synced {
                peer: peer.to_string(),
                applied,
                sent,
            });
        }
        Ok(())
    }

    /// Writes learnt by reconciliation are not gossiped again; instead the node reconciles with
    /// its other peers, at once where no session is open, else at the next tick. News so
    /// spreads hop by hop through the mesh after a heal, rather than waiting for anti-entropy.
    fn spread(&mut self, net: &mut dyn Transport, from: &str) {
        let now = self.clock.monotonic_ms();
        let others: Vec<String> = self
            .peers
            .iter()
            .filter(|p| p.as_str() != from)
            .cloned()
            .collect();
        for peer in others {
            if !self.start_sync(net, &peer) {
                self.pending_syncs.entry(peer).or_insert(now);
            }
        }
    }
}
