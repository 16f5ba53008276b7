//! A `Transport` that only records what the core asked for, for a world that carries it out
//! afterwards: the simulator, tests and benchmarks.

use super::node::{Event, Transport};

/// What one core call asked the world to do, in order of asking.
#[derive(Debug)]
pub struct Outbox<P = String> {
    /// Payloads to publish on the gossip topic.
    pub published: Vec<Vec<u8>>,
    /// Direct messages: peer and payload.
    pub sent: Vec<(P, Vec<u8>)>,
    /// Events for the log (traced).
    pub events: Vec<Event<P>>,
}

impl<P> Default for Outbox<P> {
    fn default() -> Self {
        Outbox {
            published: Vec::new(),
            sent: Vec::new(),
            events: Vec::new(),
        }
    }
}

impl<P: Clone> Transport<P> for Outbox<P> {
    fn publish(&mut self, payload: Vec<u8>) {
        self.published.push(payload);
    }

    fn send(&mut self, peer: &P, payload: Vec<u8>) {
        self.sent.push((peer.clone(), payload));
    }

    /// Nothing waits: the world delivers what the core sent before it calls the core again.
    fn backlog_bytes(&self, _peer: &P) -> usize {
        0
    }

    fn notify(&mut self, event: Event<P>) {
        self.events.push(event);
    }
}
