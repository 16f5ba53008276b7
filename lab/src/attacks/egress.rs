//! Row 5: egress probes, in the protocol's order so that the node answers them. Each identity
//! sends a `Hello` (3 bytes); to the node's `Probe` it answers an `Estimate` claiming 2^64
//! keys with empty strata (the node then estimates its own store as the difference); to a
//! `Sketch` it answers `SketchTooSmall` for that sketch (a few bytes), and to each `Ids` page
//! an `IdsFrom` just past it (a few bytes), then a `Hello` again once the listing ends. An
//! identity the node stops answering (its answer or scan budget spent) gives way to a fresh one.

use crate::client::{self, Tally, Target};
use crate::direct;
use crate::wire;
use libp2p::request_response::{self, Message};
use libp2p::swarm::SwarmEvent;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Identities probing at once.
const LANES: u64 = 8;
/// An identity the node leaves without an answer this long gives way to a fresh one.
const QUIET: Duration = Duration::from_secs(3);

/// What the node answered, all identities together.
#[derive(Debug, Default)]
struct Answers {
    sketches: AtomicU64,
    pages: AtomicU64,
    probes: AtomicU64,
    payload: AtomicU64,
}

/// The attempt and cells of a `Sketch`, if `bytes` is one.
fn sketch_shape(bytes: &[u8]) -> Option<(u8, u64)> {
    if wire::kind(bytes) != Some(4) {
        return None;
    }
    let attempt = *bytes.get(1)?;
    let mut at = 2;
    let len = wire::read_varint(bytes, &mut at)?;
    Some((attempt, len / wire::CELL_BYTES as u64))
}

/// What to send the node after its message `bytes`, if anything.
fn next(bytes: &[u8], answers: &Answers) -> Option<Vec<u8>> {
    answers
        .payload
        .fetch_add(bytes.len() as u64, Ordering::Relaxed);
    if let Some((attempt, cells)) = sketch_shape(bytes) {
        answers.sketches.fetch_add(1, Ordering::Relaxed);
        return Some(wire::sketch_too_small(attempt, cells));
    }
    if let Some((_, to, _)) = wire::page(bytes) {
        answers.pages.fetch_add(1, Ordering::Relaxed);
        return Some(match to.checked_add(1) {
            Some(from) => wire::ids_from(from),
            None => wire::hello(),
        });
    }
    match wire::kind(bytes) {
        Some(2) => {
            answers.probes.fetch_add(1, Ordering::Relaxed);
            Some(wire::estimate(&mut || 0))
        }
        Some(1) => Some(wire::hello()),
        _ => None,
    }
}

/// One identity, until the node stops answering it.
async fn one(target: Target, tally: Arc<Tally>, answers: Arc<Answers>) {
    let Some(mut swarm) = direct::dial(&target, &tally) else {
        return;
    };
    while !tally.stopped() {
        let Some(event) = client::next_event(&mut swarm, QUIET).await else {
            return;
        };
        match event {
            SwarmEvent::ConnectionEstablished { .. } => {
                direct::send(&mut swarm, &target, &tally, wire::hello())
            }
            SwarmEvent::Behaviour(request_response::Event::Message {
                message:
                    Message::Request {
                        request, channel, ..
                    },
                ..
            }) => {
                let _ = swarm.behaviour_mut().send_response(channel, Vec::new());
                if let Some(bytes) = next(&request, &answers) {
                    direct::send(&mut swarm, &target, &tally, bytes);
                }
            }
            SwarmEvent::ConnectionClosed { .. } | SwarmEvent::OutgoingConnectionError { .. } => {
                Tally::count(&tally.closed_by_node);
                return;
            }
            _ => {}
        }
    }
}

/// Runs the probes until the tally says stop.
pub async fn run(target: Target, tally: Arc<Tally>) {
    let answers = Arc::new(Answers::default());
    let lanes_answers = answers.clone();
    client::rotate(LANES, &target, &tally, move |target, tally, _| {
        one(target, tally, lanes_answers.clone())
    })
    .await;
    let identities = tally.identities.load(Ordering::Relaxed).max(1);
    let payload = answers.payload.load(Ordering::Relaxed);
    tally.note(format!(
        "the node answered {} probes, {} sketches, {} id pages: {:.1} MB of payload, {:.2} MB an identity",
        answers.probes.load(Ordering::Relaxed),
        answers.sketches.load(Ordering::Relaxed),
        answers.pages.load(Ordering::Relaxed),
        payload as f64 / 1e6,
        payload as f64 / 1e6 / identities as f64
    ));
}
