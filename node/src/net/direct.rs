//! Ordered delivery of direct messages: per peer, one request in flight at a time, the next
//! sent when the previous one is acknowledged (or failed). Request-response streams are
//! otherwise independent and could overtake each other; the core expects a reliable, ordered
//! channel like the simulator's. A request that fails (say on a dead connection a restarted
//! peer left behind) is sent once more while the peer is still connected.

use super::codec::DirectCodec;
use libp2p::request_response::{self, OutboundRequestId};
use libp2p::PeerId;
use std::collections::{HashMap, VecDeque};

/// Times one message is sent before it is given up (reconciliation repairs what is lost).
const ATTEMPTS: u8 = 2;

/// Most bytes waiting for one peer. A peer that stops acknowledging, or asks faster than it
/// takes the answers, must not make us buffer without end: past this its queue is dropped
/// (the next reconciliation starts afresh). An honest peer has at most a page of ids and two
/// answers of at most 1 MiB each waiting (`REQUESTS_IN_FLIGHT` in the core), and the core
/// answers no request while 3 MiB wait (`MAX_BACKLOG_BYTES`), so this is reached only by a
/// peer that stopped acknowledging, or by one admitted answer (a page's push, offers and
/// wants) on top of nearly 3 MiB.
const MAX_WAITING_BYTES: usize = 4 * 1024 * 1024;

/// The message on the wire: its request, its payload (for a resend) and how often it was sent.
#[derive(Debug)]
struct InFlight {
    request_id: OutboundRequestId,
    payload: Vec<u8>,
    attempts: u8,
}

/// The messages waiting for one peer, and the one on the wire.
#[derive(Debug, Default)]
struct PeerQueue {
    waiting: VecDeque<Vec<u8>>,
    waiting_bytes: usize,
    in_flight: Option<InFlight>,
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
        if queue.waiting_bytes + payload.len() > MAX_WAITING_BYTES {
            tracing::warn!(%peer, "peer is not taking direct messages; dropping its queue");
            queue.waiting.clear();
            queue.waiting_bytes = 0;
        }
        queue.waiting_bytes += payload.len();
        queue.waiting.push_back(payload);
        if queue.in_flight.is_none() {
            Self::send_next(direct, peer, queue, 0);
        }
    }

    /// The request `request_id` to `peer` was acknowledged: send the next one.
    pub fn on_done(&mut self, direct: &mut Direct, peer: PeerId, request_id: OutboundRequestId) {
        self.finish(direct, peer, request_id, false);
    }

    /// The request `request_id` to `peer` failed: resend it if it has attempts left and the
    /// peer is still connected, else send the next one.
    pub fn on_failed(&mut self, direct: &mut Direct, peer: PeerId, request_id: OutboundRequestId) {
        self.finish(direct, peer, request_id, true);
    }

    fn finish(
        &mut self,
        direct: &mut Direct,
        peer: PeerId,
        request_id: OutboundRequestId,
        failed: bool,
    ) {
        let Some(queue) = self.peers.get_mut(&peer) else {
            return;
        };
        let Some(in_flight) = queue
            .in_flight
            .take_if(|sent| sent.request_id == request_id)
        else {
            return;
        };
        if failed && in_flight.attempts < ATTEMPTS && direct.is_connected(&peer) {
            queue.waiting_bytes += in_flight.payload.len();
            queue.waiting.push_front(in_flight.payload);
            Self::send_next(direct, peer, queue, in_flight.attempts);
        } else {
            Self::send_next(direct, peer, queue, 0);
        }
        if queue.in_flight.is_none() {
            self.peers.remove(&peer);
        }
    }

    /// Bytes to `peer` waiting or on the wire.
    pub fn backlog_bytes(&self, peer: &PeerId) -> usize {
        self.peers.get(peer).map_or(0, |queue| {
            let on_the_wire = queue
                .in_flight
                .as_ref()
                .map_or(0, |sent| sent.payload.len());
            queue.waiting_bytes + on_the_wire
        })
    }

    /// Bytes waiting or on the wire, all peers together.
    pub fn total_backlog_bytes(&self) -> usize {
        self.peers.keys().map(|peer| self.backlog_bytes(peer)).sum()
    }

    /// `peer` is gone: drop what waits for it (reconciliation starts afresh on reconnect).
    pub fn forget(&mut self, peer: &PeerId) {
        self.peers.remove(peer);
    }

    /// Sends the first waiting message; `sent_before` counts its earlier attempts.
    fn send_next(direct: &mut Direct, peer: PeerId, queue: &mut PeerQueue, sent_before: u8) {
        if let Some(payload) = queue.waiting.pop_front() {
            queue.waiting_bytes -= payload.len();
            let request_id = direct.send_request(&peer, payload.clone());
            queue.in_flight = Some(InFlight {
                request_id,
                payload,
                attempts: sent_before + 1,
            });
        }
    }
}
