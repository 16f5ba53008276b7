//! Ordered delivery of direct messages: per peer, one request in flight at a time, the next
//! sent when the previous one is acknowledged (or failed). Request-response streams are
//! otherwise independent and could overtake each other; the core expects a reliable, ordered
//! channel like the simulator's.

use super::codec::DirectCodec;
use libp2p::request_response::{self, OutboundRequestId};
use libp2p::PeerId;
use std::collections::{HashMap, VecDeque};

/// The messages waiting for one peer, and the one on the wire.
#[derive(Debug, Default)]
struct PeerQueue {
    waiting: VecDeque<Vec<u8>>,
    in_flight: Option<OutboundRequestId>,
}

/// Direct messages per peer, sent one at a time.
#[derive(Debug, Default)]
pub struct DirectQueue {
    peers: HashMap<PeerId, PeerQueue>,
}

/// The request-response behaviour the queue sends through.
pub type Direct = request_response::Behaviour<DirectCodec>;

impl DirectQueue {
    /// Sends `payload` to `peer` now if nothing is in flight to it, else after what is.
    pub fn send(&mut self, direct: &mut Direct, peer: PeerId, payload: Vec<u8>) {
        let queue = self.peers.entry(peer).or_default();
        queue.waiting.push_back(payload);
        if queue.in_flight.is_none() {
            Self::send_next(direct, peer, queue);
        }
    }

    /// The request `request_id` to `peer` was acknowledged or failed: send the next one.
    pub fn on_done(&mut self, direct: &mut Direct, peer: PeerId, request_id: OutboundRequestId) {
        let Some(queue) = self.peers.get_mut(&peer) else {
            return;
        };
        if queue.in_flight != Some(request_id) {
            return;
        }
        queue.in_flight = None;
        Self::send_next(direct, peer, queue);
        if queue.in_flight.is_none() {
            self.peers.remove(&peer);
        }
    }

    /// `peer` is gone: drop what waits for it (reconciliation starts afresh on reconnect).
    pub fn forget(&mut self, peer: &PeerId) {
        self.peers.remove(peer);
    }

    fn send_next(direct: &mut Direct, peer: PeerId, queue: &mut PeerQueue) {
        if let Some(payload) = queue.waiting.pop_front() {
            queue.in_flight = Some(direct.send_request(&peer, payload));
        }
    }
}
