//! Helpers shared by the core's tests, the store's tests and benches, and the simulator:
//! writes built in one line, a pump that carries direct messages between cores, and a seeded
//! generator for batch verification's coefficients.

use crate::clock::Clock;
use crate::node::{NodeCore, PeerId};
use crate::outbox::Outbox;
use crate::store::{Store, StoreError};
use crate::version::{Hlc, Version};
use crate::write::Write;

/// A write of `key` (a put of `value`, or a delete when `None`) made by `origin` at `wall_ms`
/// with HLC counter 0.
pub fn write(key: &str, value: Option<&str>, wall_ms: u64, origin: &str) -> Write {
    Write {
        key: key.into(),
        value: value.map(Into::into),
        version: Version {
            hlc: Hlc {
                wall_ms,
                counter: 0,
            },
            origin: origin.into(),
        },
        signature: None,
    }
}

/// What a [`pump`] carried: flights, messages and bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Flights: every message of a flight was sent before any reply to it.
    pub flights: usize,
    /// Direct messages delivered.
    pub messages: usize,
    /// Their bytes.
    pub bytes: usize,
    /// Bytes delivered, by sender (indexed as the pump's `nodes`).
    pub bytes_from: Vec<usize>,
}

/// Delivers the direct messages waiting in `outboxes` (one per node, in the same order as
/// `nodes`) and every reply they cause, round by round, until no node has anything to send.
/// A message to a peer that is not among `nodes` is dropped.
pub fn pump<S: Store, C: Clock, P: PeerId>(
    nodes: &mut [&mut NodeCore<S, C, P>],
    outboxes: &mut [Outbox<P>],
) -> Result<Traffic, StoreError> {
    let mut traffic = Traffic {
        bytes_from: vec![0; nodes.len()],
        ..Traffic::default()
    };
    loop {
        let mut flight = Vec::new();
        for (from, outbox) in outboxes.iter_mut().enumerate() {
            for (to, payload) in outbox.sent.drain(..) {
                flight.push((from, to, payload));
            }
        }
        if flight.is_empty() {
            return Ok(traffic);
        }
        traffic.flights += 1;
        for (from, to, payload) in flight {
            let Some(target) = nodes.iter().position(|node| *node.id() == to) else {
                continue;
            };
            traffic.messages += 1;
            traffic.bytes += payload.len();
            traffic.bytes_from[from] += payload.len();
            let from_id = nodes[from].id().clone();
            nodes[target].handle_direct(&mut outboxes[target], &from_id, &payload)?;
        }
    }
}

/// Connects two cores (each learns the other is up) and runs the reconciliation that follows.
pub fn connect<S: Store, C: Clock, P: PeerId>(
    a: &mut NodeCore<S, C, P>,
    b: &mut NodeCore<S, C, P>,
) -> Result<Traffic, StoreError> {
    let mut outboxes = [Outbox::default(), Outbox::default()];
    let (id_a, id_b) = (a.id().clone(), b.id().clone());
    a.handle_peer_up(&mut outboxes[0], &id_b);
    b.handle_peer_up(&mut outboxes[1], &id_a);
    pump(&mut [a, b], &mut outboxes)
}

/// A seeded xorshift64 generator for batch verification's coefficients in tests and benches.
/// Never for real nodes: their peers must not be able to predict the coefficients.
pub struct SeededCoefficients(pub u64);

impl rand_core::TryRng for SeededCoefficients {
    type Error = std::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        self.try_next_u64().map(|word| word as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        Ok(self.0)
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(8) {
            let word = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        Ok(())
    }
}

impl rand_core::TryCryptoRng for SeededCoefficients {}
