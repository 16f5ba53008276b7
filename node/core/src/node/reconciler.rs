//! Who this node reconciles with and where each exchange stands: the [`Reconciler`] owns the
//! exchanges under way (one per peer, whichever side opened it) and which peers spoke
//! reconciliation or answered, and judges whether a message fits its exchange's order. The
//! sessions' and exchanges' deadlines are timers of the node's [`crate::timers::TimerTable`].

use crate::reconciliation::ReconcileMessage;
use crate::want::WantQueue;
use std::collections::{BTreeMap, BTreeSet};

/// A reconciliation under way with one peer, whichever side opened it.
#[derive(Debug, Clone, Default)]
pub(super) struct Exchange {
    /// `Probe`s this node sent and no `Estimate` answered yet: one `Estimate` may answer each.
    pub(super) estimates_expected: u32,
    /// `Hello`s this node sent and no `Probe` or `InSync` answered yet.
    pub(super) probes_expected: u32,
    /// `Estimate`s, `SketchTooSmall`s and `IdsFrom`s this node sent and no `Sketch` or `Ids`
    /// page answered yet: one may answer each.
    pub(super) tables_expected: u32,
    /// The last sketch this node sent (attempt, cells), until the peer reports it too small:
    /// the only `SketchTooSmall` this node answers.
    pub(super) sketch_sent: Option<(u8, u32)>,
    /// The range (`from`, `to`) of the last page of ids this node sent the peer: it answers an
    /// `IdsFrom` that moves the listing forward, past that `from` and at most just past that
    /// `to` (the peer may cover less than a page where it holds more ids), so each page is
    /// sent once per listing.
    pub(super) listing: Option<(u64, u64)>,
    /// The peer lists its ids to this node: this node's session goes on until the last page.
    pub(super) reading_pages: bool,
    /// The writes this node asks the peer for, in requests of at most
    /// [`crate::reconciliation::MAX_LOOKUPS_PER_WANT`] ids (what one answer looks up).
    pub(super) wants: WantQueue,
}

/// The exchanges under way and the peers heard from in them.
#[derive(Debug)]
pub(super) struct Reconciler<P> {
    /// Reconciliations under way, whichever side opened them.
    exchanges: BTreeMap<P, Exchange>,
    /// Connected peers that have spoken reconciliation with this node on their current
    /// connection (a `Hello` is enough): spreading goes to them, and anti-entropy chooses among
    /// them while no peer is in `answered`.
    greeted: BTreeSet<P>,
    /// Connected peers that have answered a message of this node on their current connection
    /// (a `Hello` of a peer is no answer): anti-entropy chooses among them, so peers that
    /// connect, or open exchanges, and never answer cannot starve the honest ones.
    answered: BTreeSet<P>,
}

impl<P> Default for Reconciler<P> {
    fn default() -> Self {
        Reconciler {
            exchanges: BTreeMap::new(),
            greeted: BTreeSet::new(),
            answered: BTreeSet::new(),
        }
    }
}

impl<P: Ord + Clone> Reconciler<P> {
    /// The exchange with `peer`, if one is under way.
    pub(super) fn get(&self, peer: &P) -> Option<&Exchange> {
        self.exchanges.get(peer)
    }

    /// The exchange with `peer`, if one is under way, to change.
    pub(super) fn get_mut(&mut self, peer: &P) -> Option<&mut Exchange> {
        self.exchanges.get_mut(peer)
    }

    /// The exchange with `peer`, opened now if none is under way.
    pub(super) fn open(&mut self, peer: &P) -> &mut Exchange {
        self.exchanges.entry(peer.clone()).or_default()
    }

    /// Ends the exchange with `peer`.
    pub(super) fn end(&mut self, peer: &P) {
        self.exchanges.remove(peer);
    }

    /// Forgets `peer` (it disconnected): its exchange, and that it spoke or answered.
    pub(super) fn forget(&mut self, peer: &P) {
        self.greeted.remove(peer);
        self.answered.remove(peer);
        self.end(peer);
    }

    /// Whether a request in flight to a peer other than `peer` asks for `id`.
    pub(super) fn asked_elsewhere(&self, peer: &P, id: u64) -> bool {
        self.exchanges
            .iter()
            .any(|(other, exchange)| other != peer && exchange.wants.asks_for(id))
    }

    /// Whether a message of `kind` from `peer` may fit the protocol's order, judged before it
    /// is decoded ([`Reconciler::answers`] then checks the decoded message itself).
    pub(super) fn may_come(&self, peer: &P, kind: &str) -> bool {
        let Some(exchange) = self.exchanges.get(peer) else {
            return kind == "Hello";
        };
        match kind {
            "InSync" | "Probe" => exchange.probes_expected > 0,
            "Estimate" => exchange.estimates_expected > 0,
            "Sketch" | "Ids" => exchange.tables_expected > 0,
            "SketchTooSmall" => exchange.sketch_sent.is_some(),
            "IdsFrom" => exchange.listing.is_some(),
            _ => true,
        }
    }

    /// Whether `message` from `peer` fits its exchange's order: a `Hello` always, anything else
    /// only inside an exchange, as the answer to a message of this node that asked for it
    /// (then it is taken as answered).
    pub(super) fn answers(&mut self, peer: &P, message: &ReconcileMessage) -> bool {
        let take = |expected: &mut u32| {
            let was = *expected > 0;
            *expected = expected.saturating_sub(1);
            was
        };
        let exchange = self.exchanges.get_mut(peer);
        match (message, exchange) {
            (ReconcileMessage::Hello { .. }, _) => true,
            (_, None) => false,
            (ReconcileMessage::InSync | ReconcileMessage::Probe { .. }, Some(exchange)) => {
                take(&mut exchange.probes_expected)
            }
            (ReconcileMessage::Estimate { .. }, Some(exchange)) => {
                take(&mut exchange.estimates_expected)
            }
            (ReconcileMessage::Sketch { .. } | ReconcileMessage::Ids { .. }, Some(exchange)) => {
                take(&mut exchange.tables_expected)
            }
            (ReconcileMessage::SketchTooSmall { attempt, cells }, Some(exchange)) => {
                let reported = Some((*attempt, *cells));
                let sent = exchange.sketch_sent == reported;
                if sent {
                    exchange.sketch_sent = None;
                }
                sent
            }
            (ReconcileMessage::IdsFrom { from }, Some(exchange)) => {
                exchange.listing.is_some_and(|(last_from, last_to)| {
                    last_from < *from && *from <= last_to.saturating_add(1)
                })
            }
            (ReconcileMessage::Records { .. }, Some(_)) => true,
        }
    }

    /// `peer` was heard from with `message`, admitted: it speaks reconciliation, and it
    /// answered this node unless the message is a `Hello` (or `Records`, which a peer may send
    /// unasked inside an exchange): those prove nothing, so a sybil that opens exchanges and
    /// never answers is not chosen for anti-entropy once an honest peer has answered.
    pub(super) fn heard(&mut self, peer: &P, message: &ReconcileMessage) {
        self.greeted.insert(peer.clone());
        if !matches!(
            message,
            ReconcileMessage::Hello { .. } | ReconcileMessage::Records { .. }
        ) {
            self.answered.insert(peer.clone());
        }
    }

    /// The peers of `connected` that anti-entropy chooses among: those that answered this
    /// node before, if any (else those that spoke reconciliation, else any), so a silent peer,
    /// or one that only opens exchanges, never gets the turn an honest one needs.
    pub(super) fn anti_entropy_candidates(&self, connected: &BTreeSet<P>) -> Vec<P> {
        let answered: Vec<P> = self.answered.intersection(connected).cloned().collect();
        let greeted: Vec<P> = self.greeted.intersection(connected).cloned().collect();
        if !answered.is_empty() {
            answered
        } else if !greeted.is_empty() {
            greeted
        } else {
            connected.iter().cloned().collect()
        }
    }

    /// The peers of `connected` other than `from` that speak reconciliation: writes learnt
    /// from `from` spread to them.
    pub(super) fn spread_targets(&self, from: &P, connected: &BTreeSet<P>) -> Vec<P> {
        self.greeted
            .iter()
            .filter(|&p| p != from && connected.contains(p))
            .cloned()
            .collect()
    }
}
