//! The writes a node asks one peer for in a reconciliation: ids waiting their turn, and
//! requests in flight (at most [`REQUESTS_IN_FLIGHT`], each one `want` of at most one answer's
//! lookups), so a node catching up asks in proportion and never asks twice for an id.

use crate::reconciliation::MAX_WANT_PER_MESSAGE;
use std::collections::{HashSet, VecDeque};

/// Most ids a node waits for from one peer at a time: offers past it are left for a later
/// session.
pub const MAX_REQUESTED_IDS: usize = 2 * MAX_WANT_PER_MESSAGE;
/// Requests for writes in flight to one peer at a time (each answer is at most 1 MiB, and
/// the real node buffers at most 4 MiB for a peer).
pub const REQUESTS_IN_FLIGHT: usize = 2;

/// The ids wanted from one peer.
#[derive(Debug, Clone, Default)]
pub struct WantQueue {
    /// Ids asked for and not received yet, one set per request: an answer to one request is
    /// followed up by asking again for that request's rest only, so requests in flight
    /// together never ask twice for an id.
    in_flight: Vec<HashSet<u64>>,
    /// Ids to ask for once fewer than [`REQUESTS_IN_FLIGHT`] requests are in flight, one
    /// request each; ids asked of another peer meanwhile are put back at the end.
    waiting: VecDeque<Vec<u64>>,
}

impl WantQueue {
    /// Whether writes are still awaited: asked for, or to be asked for.
    pub fn is_waiting(&self) -> bool {
        !self.in_flight.is_empty() || !self.waiting.is_empty()
    }

    /// Whether a request in flight asks for `id`.
    pub fn asks_for(&self, id: u64) -> bool {
        self.in_flight.iter().any(|ids| ids.contains(&id))
    }

    /// Forgets every id, in flight or waiting.
    pub fn clear(&mut self) {
        self.in_flight.clear();
        self.waiting.clear();
    }

    /// Forgets the ids not asked for yet; the requests in flight stay.
    pub fn clear_waiting(&mut self) {
        self.waiting.clear();
    }

    /// Queues `ids`, as many as fit under [`MAX_REQUESTED_IDS`] outstanding, in requests of
    /// `lookups` ids.
    pub fn want(&mut self, mut ids: Vec<u64>, lookups: usize) {
        let outstanding: usize = self.in_flight.iter().map(HashSet::len).sum::<usize>()
            + self.waiting.iter().map(Vec::len).sum::<usize>();
        ids.truncate(MAX_REQUESTED_IDS.saturating_sub(outstanding));
        self.waiting
            .extend(ids.chunks(lookups.max(1)).map(<[u64]>::to_vec));
    }

    /// Moves waiting requests in flight while fewer than [`REQUESTS_IN_FLIGHT`] are; returns
    /// the ids to ask for, one `want` each. Ids `held` by now are left out. Ids `elsewhere`
    /// (asked of another peer right now) go to the back of the queue, in requests of `lookups`,
    /// and are asked here too once nothing else is in flight, since the other peer may never
    /// answer.
    pub fn next(
        &mut self,
        lookups: usize,
        held: impl Fn(u64) -> bool,
        elsewhere: impl Fn(u64) -> bool,
    ) -> Vec<Vec<u64>> {
        let in_flight = self.in_flight.len();
        let mut ask_now = Vec::new();
        let mut deferred = Vec::new();
        while in_flight + ask_now.len() < REQUESTS_IN_FLIGHT {
            let Some(mut ids) = self.waiting.pop_front() else {
                break;
            };
            ids.retain(|&id| !held(id));
            let (later, ids): (Vec<u64>, Vec<u64>) = ids.into_iter().partition(|&id| elsewhere(id));
            deferred.extend(later);
            if !ids.is_empty() {
                ask_now.push(ids);
            }
        }
        let mut deferred = deferred.chunks(lookups.max(1)).map(<[u64]>::to_vec);
        if in_flight + ask_now.len() == 0 {
            ask_now.extend(deferred.by_ref().take(REQUESTS_IN_FLIGHT));
        }
        self.waiting.extend(deferred);
        for ids in &ask_now {
            self.in_flight.push(ids.iter().copied().collect());
        }
        ask_now
    }

    /// Crosses off the ids that `arrived`, and of each request they answered in part, the ids
    /// `held` by now. `None` if no request in flight was answered (writes pushed unasked);
    /// else the rest of each such request, to ask for again (sorted, so a run asks the same
    /// way every time).
    pub fn arrived(
        &mut self,
        arrived: &HashSet<u64>,
        held: impl Fn(u64) -> bool,
    ) -> Option<Vec<Vec<u64>>> {
        let mut progress = false;
        let mut again = Vec::new();
        for request in &mut self.in_flight {
            let before = request.len();
            request.retain(|id| !arrived.contains(id));
            if request.len() < before {
                progress = true;
                request.retain(|&id| !held(id));
                if !request.is_empty() {
                    let mut rest: Vec<u64> = request.iter().copied().collect();
                    rest.sort_unstable();
                    again.push(rest);
                }
            }
        }
        self.in_flight.retain(|request| !request.is_empty());
        progress.then_some(again)
    }

    /// Whether no request is in flight.
    pub fn nothing_in_flight(&self) -> bool {
        self.in_flight.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: u64) -> bool {
        false
    }

    #[test]
    fn at_most_two_requests_fly_and_the_rest_waits_its_turn() {
        let mut wants = WantQueue::default();
        wants.want((0..10).collect(), 3);
        assert_eq!(wants.next(3, none, none), [vec![0, 1, 2], vec![3, 4, 5]]);
        assert_eq!(
            wants.next(3, none, none),
            Vec::<Vec<u64>>::new(),
            "two in flight"
        );
        assert!(wants.asks_for(4) && !wants.asks_for(6));
        // The first request answered in full: the next one goes out.
        let arrived: HashSet<u64> = [0, 1, 2].into();
        assert_eq!(wants.arrived(&arrived, none), Some(Vec::new()));
        assert_eq!(wants.next(3, none, none), [vec![6, 7, 8]]);
    }

    #[test]
    fn a_request_answered_in_part_is_asked_again_for_its_rest_only() {
        let mut wants = WantQueue::default();
        wants.want(vec![5, 1, 9, 3], 4);
        wants.next(4, none, none);
        let arrived: HashSet<u64> = [1].into();
        // 9 came from another peer meanwhile: not asked again.
        let again = wants.arrived(&arrived, |id| id == 9);
        assert_eq!(again, Some(vec![vec![3, 5]]));
        // Writes pushed unasked answer nothing.
        assert_eq!(wants.arrived(&[42].into(), none), None);
        assert!(wants.is_waiting());
    }

    #[test]
    fn ids_held_are_not_asked_and_ids_asked_elsewhere_wait_until_nothing_else_is_left() {
        let mut wants = WantQueue::default();
        wants.want(vec![1, 2, 3, 4], 2);
        let asked = wants.next(2, |id| id == 1, |id| id == 2 || id == 3);
        assert_eq!(
            asked,
            [vec![4]],
            "1 is held, 2 and 3 are asked of another peer"
        );
        assert_eq!(
            wants.next(2, none, none),
            [vec![2, 3]],
            "asked here too, in turn"
        );
        // With nothing in flight, ids asked elsewhere are asked here at once.
        let mut alone = WantQueue::default();
        alone.want(vec![7, 8], 2);
        assert_eq!(alone.next(2, none, |_| true), [vec![7, 8]]);
    }

    #[test]
    fn no_more_than_the_cap_is_outstanding() {
        let mut wants = WantQueue::default();
        wants.want((0..MAX_REQUESTED_IDS as u64 + 10).collect(), 1_000);
        wants.want(vec![u64::MAX], 1_000);
        let mut asked = Vec::new();
        loop {
            let next = wants.next(1_000, none, none);
            if next.is_empty() {
                break;
            }
            for ids in next {
                wants.arrived(&ids.iter().copied().collect(), none);
                asked.extend(ids);
            }
        }
        assert_eq!(asked.len(), MAX_REQUESTED_IDS);
        assert!(!asked.contains(&u64::MAX));
        assert!(!wants.is_waiting());
    }
}
