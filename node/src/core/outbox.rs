//! A `Transport` that only records what the core asked for, for a world that carries it out
//! afterwards: the simulator, tests and benchmarks.

use super::node::{Event, Transport};

/// What one core call asked the world to do, in order of asking.
#[derive(Debug, Default)]
pub struct Outbox {
    /// Payloads to publish on the gossip topic.
    pub published: Vec<Vec<u8>>,
    /// Direct messages: peer name and payload.
    pub sent: Vec<(String, Vec<u8>)>,
    /// Events for the log (traced).
    pub events: Vec<Event>,
}

impl Transport for Outbox {
    fn publish(&mut self, payload: Vec<u8>) {
        self.published.push(payload);
    }

    fn send(&mut self, peer: &str, payload: Vec<u8>) {
        self.sent.push((peer.to_string(), payload));
    }

    fn notify(&mut self, event: Event) {
        self.events.push(event);
    }
}
