//! The siege's attacker: one identity and connection that sends, as fast as the node takes
//! them, the reconciliation messages that cost a node most (resize requests that start id
//! listings, page requests, wants of ids it learnt from the pages, estimates claiming 2^64
//! keys and sketches of the largest size), whether or not they fit the protocol's order.

use super::frames::Frames;
use super::wire;
use futures::StreamExt;
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, Swarm};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Requests each attacker keeps in flight.
const IN_FLIGHT: usize = 4;
/// The largest table the node answers (cells), and the most ids one `want` carries.
const MAX_CELLS: u64 = 3 << 14;
const MAX_WANT: usize = 60_000;

/// The attacker's behaviour: request-response with the frame codec, every request and
/// answer a frame of its own.
pub type Direct = request_response::Behaviour<Frames>;

/// The behaviour a reconciliation client runs: the node's protocol, many requests in flight.
pub fn direct() -> Direct {
    request_response::Behaviour::with_codec(
        Frames,
        [(super::frames::PROTOCOL, ProtocolSupport::Full)],
        request_response::Config::default()
            .with_request_timeout(Duration::from_secs(60))
            .with_max_concurrent_streams(1000),
    )
}

/// What the attackers did, all together.
#[derive(Default)]
pub struct Traffic {
    /// Attackers whose connection to the node is up.
    pub connected: AtomicU64,
    /// Messages sent.
    pub sent: AtomicU64,
    /// Bytes of the messages sent (frames' payloads).
    pub bytes_sent: AtomicU64,
    /// Messages the node sent.
    pub received: AtomicU64,
    /// Bytes of the messages the node sent.
    pub bytes_received: AtomicU64,
}

/// Runs one attacker on `swarm` (its own identity) against `node` until `stop`: sends the
/// costly messages in turn, keeps `IN_FLIGHT` unanswered, acknowledges what the node sends
/// and learns ids from its pages.
pub async fn attack(
    mut swarm: Swarm<Direct>,
    node: Multiaddr,
    seed: u64,
    tally: Arc<Traffic>,
    stop: Arc<AtomicBool>,
) {
    if let Err(error) = swarm.dial(node) {
        return eprintln!("attacker {seed}: cannot dial the node: {error}");
    }
    let mut state = seed | 1;
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut known: Vec<u64> = Vec::new();
    let mut peer = None;
    let mut in_flight = 0usize;
    let mut turn = 0u64;
    loop {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        while let (Some(peer), true) = (peer, in_flight < IN_FLIGHT) {
            let message = match turn % 6 {
                0 => wire::hello(),
                1 => wire::sketch_too_small(0, MAX_CELLS),
                2 => wire::ids_from(noise()),
                3 if !known.is_empty() => wire::want(&known[..known.len().min(MAX_WANT)]),
                3 | 4 => wire::estimate(&mut noise),
                _ => wire::sketch(MAX_CELLS, &mut noise),
            };
            turn += 1;
            tally.sent.fetch_add(1, Ordering::Relaxed);
            tally
                .bytes_sent
                .fetch_add(message.len() as u64, Ordering::Relaxed);
            swarm.behaviour_mut().send_request(&peer, message);
            in_flight += 1;
        }
        let event = tokio::select! {
            event = swarm.select_next_some() => event,
            () = tokio::time::sleep(Duration::from_millis(200)) => continue,
        };
        match event {
            SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                tally.connected.fetch_add(1, Ordering::Relaxed);
                peer = Some(peer_id);
            }
            SwarmEvent::ConnectionClosed {
                num_established: 0,
                cause,
                ..
            } => {
                tally.connected.fetch_sub(1, Ordering::Relaxed);
                if !stop.load(Ordering::Relaxed) {
                    eprintln!("attacker {seed}: the node closed the connection ({cause:?})");
                }
                return;
            }
            SwarmEvent::OutgoingConnectionError { error, .. } => {
                return eprintln!("attacker {seed}: cannot connect: {error}");
            }
            SwarmEvent::Behaviour(request_response::Event::Message { message, .. }) => {
                match message {
                    request_response::Message::Request {
                        request, channel, ..
                    } => {
                        tally.received.fetch_add(1, Ordering::Relaxed);
                        tally
                            .bytes_received
                            .fetch_add(request.len() as u64, Ordering::Relaxed);
                        if let Some((_, _, ids)) = wire::page(&request) {
                            known.extend(ids);
                            known.truncate(MAX_WANT);
                        }
                        let _ = swarm.behaviour_mut().send_response(channel, Vec::new());
                    }
                    request_response::Message::Response { .. } => in_flight -= 1,
                }
            }
            SwarmEvent::Behaviour(request_response::Event::OutboundFailure { .. }) => {
                in_flight -= 1;
            }
            _ => {}
        }
    }
}
