//! Row 3: reconciliation `Records` of forged writes ([`crate::forged`]) after a `Hello`, the
//! message encoded by hand in the node's postcard layout (`Write { key, value: Option,
//! version: { hlc: { wall_ms, counter }, origin }, signature: Option<64 bytes> }`). Each
//! identity sends a `Hello`, then up to [`MESSAGES_PER_IDENTITY`] `Records` of
//! [`WRITES_PER_MESSAGE`] writes, each message claiming a fresh author, every one waiting for
//! the node's acknowledgement of the one before; then a fresh identity takes over.

use crate::client::{self, Tally, Target};
use crate::direct;
use crate::forged::{self, Forged};
use crate::wire;
use libp2p::request_response::{self, Message};
use libp2p::swarm::SwarmEvent;
use std::sync::Arc;
use std::time::Duration;

/// Identities attacking at once.
const LANES: u64 = 8;
/// The node's cap on the writes one message may make it check.
pub const WRITES_PER_MESSAGE: usize = 128;
/// `Records` one identity sends (the node disconnects a peer after three forged messages).
const MESSAGES_PER_IDENTITY: u32 = 4;
/// An identity the node leaves without an answer this long gives way to a fresh one.
const QUIET: Duration = Duration::from_secs(5);

/// `write` in the node's postcard layout.
fn encode(write: &Forged) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + write.key.len() + write.value.len());
    let string = |out: &mut Vec<u8>, text: &str| {
        wire::varint(out, text.len() as u64);
        out.extend_from_slice(text.as_bytes());
    };
    string(&mut out, &write.key);
    out.push(1);
    string(&mut out, &write.value);
    wire::varint(&mut out, write.wall_ms);
    wire::varint(&mut out, 0);
    string(&mut out, &write.origin);
    out.push(1);
    wire::varint(&mut out, write.signature.len() as u64);
    out.extend_from_slice(&write.signature);
    out
}

/// A `Records` message of forged writes from a fresh author.
fn records_message(seed: u64) -> Vec<u8> {
    let writes = forged::writes(&forged::fresh_author(), WRITES_PER_MESSAGE, seed);
    let encoded: Vec<Vec<u8>> = writes.iter().map(encode).collect();
    wire::records(&encoded, &[])
}

/// One identity: `Hello`, then `Records` after `Records`, each after the last one's ack.
async fn one(target: Target, tally: Arc<Tally>, seed: u64) {
    let Some(mut swarm) = direct::dial(&target, &tally) else {
        return;
    };
    let mut records = 0u32;
    while !tally.stopped() {
        let Some(event) = client::next_event(&mut swarm, QUIET).await else {
            return;
        };
        match event {
            SwarmEvent::ConnectionEstablished { .. } => {
                direct::send(&mut swarm, &target, &tally, wire::hello())
            }
            SwarmEvent::Behaviour(request_response::Event::Message { message, .. }) => {
                match message {
                    Message::Request { channel, .. } => {
                        let _ = swarm.behaviour_mut().send_response(channel, Vec::new());
                    }
                    Message::Response { .. } if records < MESSAGES_PER_IDENTITY => {
                        records += 1;
                        let records = records_message(seed * 16 + u64::from(records));
                        direct::send(&mut swarm, &target, &tally, records);
                    }
                    Message::Response { .. } => return,
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

/// Runs the attack until the tally says stop.
pub async fn run(target: Target, tally: Arc<Tally>) {
    client::rotate(LANES, &target, &tally, one).await;
    tally.note(format!(
        "{WRITES_PER_MESSAGE} forged writes a Records message, a fresh author each, \
         {MESSAGES_PER_IDENTITY} an identity after its Hello"
    ));
}
