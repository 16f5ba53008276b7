//! Gossip messages that could not be published yet (full send queues), kept for a retry. Losing one loses no data: the write is stored, and reconciliation delivers
//! it on the next connection and every anti-entropy round; the queue only makes it faster.

use std::collections::VecDeque;

/// A bounded first-in, first-out queue of payloads; the oldest are dropped when it is full.
#[derive(Debug)]
pub struct PendingPublishes {
    queue: VecDeque<Vec<u8>>,
    bytes: usize,
    max_bytes: usize,
}

impl PendingPublishes {
    /// An empty queue holding at most `max_bytes` of payloads.
    pub fn new(max_bytes: usize) -> Self {
        PendingPublishes {
            queue: VecDeque::new(),
            bytes: 0,
            max_bytes,
        }
    }

    /// Queues `payload` at the back; returns how many old payloads were dropped to make room.
    pub fn push(&mut self, payload: Vec<u8>) -> usize {
        self.bytes += payload.len();
        self.queue.push_back(payload);
        let mut dropped = 0;
        while self.bytes > self.max_bytes && self.queue.len() > 1 {
            let oldest = self.queue.pop_front().expect("queue is not empty");
            self.bytes -= oldest.len();
            dropped += 1;
        }
        dropped
    }

    /// Offers queued payloads to `publish` in order until it hands one back (still no room);
    /// that one and the rest stay queued. Returns how many were published.
    pub fn retry(&mut self, mut publish: impl FnMut(Vec<u8>) -> Result<(), Vec<u8>>) -> usize {
        let mut published = 0;
        while let Some(payload) = self.queue.pop_front() {
            self.bytes -= payload.len();
            if let Err(payload) = publish(payload) {
                self.bytes += payload.len();
                self.queue.push_front(payload);
                break;
            }
            published += 1;
        }
        published
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// How many payloads are waiting.
    pub fn len(&self) -> usize {
        self.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_payloads_make_room_for_new_ones() {
        let mut pending = PendingPublishes::new(10);
        assert_eq!(pending.push(vec![1; 6]), 0);
        assert_eq!(pending.push(vec![2; 6]), 1);
        assert_eq!(pending.len(), 1);
        let mut seen = Vec::new();
        pending.retry(|payload| {
            seen.push(payload);
            Ok(())
        });
        assert_eq!(seen, vec![vec![2; 6]]);
    }

    #[test]
    fn a_refused_payload_stays_first_in_line() {
        let mut pending = PendingPublishes::new(100);
        pending.push(vec![1]);
        pending.push(vec![2]);
        assert_eq!(pending.retry(Err), 0);
        assert_eq!(pending.len(), 2);
        let mut seen = Vec::new();
        assert_eq!(
            pending.retry(|payload| {
                seen.push(payload[0]);
                Ok(())
            }),
            2
        );
        assert_eq!(seen, vec![1, 2]);
        assert!(pending.is_empty());
    }
}
