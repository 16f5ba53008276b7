//! Fixed-window rate limiting per peer.

use super::config::RateLimit;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy)]
struct Window {
    start_ms: u64,
    messages: u32,
    writes: u64,
    bytes: u64,
}

impl Window {
    /// Whether what the window counted stays within `factor` times `limit`.
    fn within(&self, limit: &RateLimit, factor: u32) -> bool {
        let factor64 = u64::from(factor);
        self.messages <= limit.max_messages.saturating_mul(factor)
            && self.writes <= limit.max_writes.saturating_mul(factor64)
            && self.bytes <= limit.max_bytes.saturating_mul(factor64)
    }

    /// Whether the writes and bytes counted stay within `factor` times `limit`, however many
    /// messages carried them.
    fn content_within(&self, limit: &RateLimit, factor: u32) -> bool {
        let factor64 = u64::from(factor);
        self.writes <= limit.max_writes.saturating_mul(factor64)
            && self.bytes <= limit.max_bytes.saturating_mul(factor64)
    }

    fn empty(start_ms: u64) -> Window {
        Window {
            start_ms,
            messages: 0,
            writes: 0,
            bytes: 0,
        }
    }

    fn add(&mut self, cost: Cost) {
        self.messages = self.messages.saturating_add(cost.messages);
        self.writes = self.writes.saturating_add(cost.writes);
        self.bytes = self.bytes.saturating_add(cost.bytes);
    }
}

/// What something costs against a budget.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cost {
    /// Messages.
    pub messages: u32,
    /// Writes.
    pub writes: u64,
    /// Bytes.
    pub bytes: u64,
}

impl Cost {
    /// One message of `bytes` bytes carrying `writes` writes.
    pub fn of(writes: usize, bytes: usize) -> Cost {
        Cost {
            messages: 1,
            writes: writes as u64,
            bytes: bytes as u64,
        }
    }

    /// `writes` more writes of a message already charged (known once it is decoded).
    pub fn writes(writes: usize) -> Cost {
        Cost {
            writes: writes as u64,
            ..Cost::default()
        }
    }
}

/// Counts messages, writes and bytes per peer in windows of `limit.window_ms`.
#[derive(Debug, Clone)]
pub struct RateLimiter<K> {
    limit: RateLimit,
    windows: BTreeMap<K, Window>,
}

impl<K: Ord + Clone> RateLimiter<K> {
    /// A limiter that admits `limit.max_messages` per peer per window.
    pub fn new(limit: RateLimit) -> Self {
        RateLimiter {
            limit,
            windows: BTreeMap::new(),
        }
    }

    /// Charges `cost` to `peer` at `now_ms` and says whether the window is still within
    /// `factor` times the limit (a member's allowance is larger).
    pub fn admit(&mut self, peer: &K, now_ms: u64, cost: Cost, factor: u32) -> bool {
        let limit = self.limit;
        let window = self.window(peer, now_ms);
        window.add(cost);
        window.within(&limit, factor)
    }

    /// Charges `cost` to `peer` at `now_ms` and says whether the writes and bytes its window
    /// counted stay within `factor` times the limit, whatever its message count: the same
    /// writes reaching the node by another path than messages of its own (by reconciliation,
    /// a message of many authors) count against the same budget.
    pub fn admit_content(&mut self, peer: &K, now_ms: u64, cost: Cost, factor: u32) -> bool {
        let limit = self.limit;
        let window = self.window(peer, now_ms);
        window.add(cost);
        window.content_within(&limit, factor)
    }

    /// Whether [`RateLimiter::admit_content`] would admit `cost` (nothing is charged).
    pub fn content_fits(&self, peer: &K, now_ms: u64, cost: Cost, factor: u32) -> bool {
        let mut window = match self.windows.get(peer) {
            Some(window) if self.current(window, now_ms) => *window,
            _ => Window::empty(now_ms),
        };
        window.add(cost);
        window.content_within(&self.limit, factor)
    }

    /// When `peer`'s current window ends (ms), if it has one at `now_ms`.
    pub fn window_end(&self, peer: &K, now_ms: u64) -> Option<u64> {
        let window = self.windows.get(peer)?;
        self.current(window, now_ms)
            .then(|| window.start_ms.saturating_add(self.limit.window_ms))
    }

    fn current(&self, window: &Window, now_ms: u64) -> bool {
        now_ms.saturating_sub(window.start_ms) < self.limit.window_ms && now_ms >= window.start_ms
    }

    /// `peer`'s window at `now_ms`, a new one if its last ended.
    fn window(&mut self, peer: &K, now_ms: u64) -> &mut Window {
        let limit = self.limit;
        let window = self
            .windows
            .entry(peer.clone())
            .or_insert(Window::empty(now_ms));
        if now_ms.saturating_sub(window.start_ms) >= limit.window_ms || now_ms < window.start_ms {
            *window = Window::empty(now_ms);
        }
        window
    }

    /// When `peer`'s window ends (ms) if the peer already spent more than `factor` times the
    /// limit in it at `now_ms`: until then everything it sends is refused.
    pub fn exhausted_until(&self, peer: &K, now_ms: u64, factor: u32) -> Option<u64> {
        let window = self.windows.get(peer)?;
        let end = window.start_ms.saturating_add(self.limit.window_ms);
        (now_ms < end && !window.within(&self.limit, factor)).then_some(end)
    }

    /// Forgets peers whose window ended before `now_ms`, so memory stays bounded.
    pub fn forget_expired(&mut self, now_ms: u64) {
        let window_ms = self.limit.window_ms;
        self.windows
            .retain(|_, window| now_ms.saturating_sub(window.start_ms) < window_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: RateLimit = RateLimit {
        max_messages: 3,
        max_writes: u64::MAX,
        max_bytes: u64::MAX,
        window_ms: 1000,
    };

    fn one(limiter: &mut RateLimiter<String>, peer: &str, now_ms: u64) -> bool {
        limiter.admit(&peer.to_string(), now_ms, Cost::of(0, 0), 1)
    }

    #[test]
    fn admits_up_to_the_limit_then_drops_until_the_window_ends() {
        let mut limiter = RateLimiter::new(LIMIT);
        for t in 0..3 {
            assert!(one(&mut limiter, "p", t));
        }
        assert!(!one(&mut limiter, "p", 10));
        assert!(!one(&mut limiter, "p", 20));
        assert!(one(&mut limiter, "q", 20), "peers are counted apart");
        assert!(one(&mut limiter, "p", 1000), "a new window");
    }

    #[test]
    fn a_peer_over_its_limit_is_exhausted_until_its_window_ends() {
        let mut limiter = RateLimiter::new(LIMIT);
        for t in 0..3 {
            one(&mut limiter, "p", 100 + t);
        }
        let p = "p".to_string();
        assert_eq!(limiter.exhausted_until(&p, 110, 1), None, "at the limit");
        one(&mut limiter, "p", 120);
        assert_eq!(limiter.exhausted_until(&p, 130, 1), Some(1100));
        assert_eq!(
            limiter.exhausted_until(&p, 130, 2),
            None,
            "a member's allowance"
        );
        assert_eq!(
            limiter.exhausted_until(&p, 1100, 1),
            None,
            "the window ended"
        );
        assert_eq!(limiter.exhausted_until(&"q".to_string(), 130, 1), None);
    }

    #[test]
    fn forgets_idle_peers() {
        let mut limiter = RateLimiter::new(LIMIT);
        one(&mut limiter, "p", 0);
        limiter.forget_expired(999);
        assert_eq!(limiter.windows.len(), 1);
        limiter.forget_expired(1000);
        assert!(limiter.windows.is_empty());
    }

    #[test]
    fn the_legacy_flood_of_100_per_second_is_cut_at_100_per_minute() {
        let mut limiter = RateLimiter::new(RateLimit {
            max_messages: 100,
            max_writes: u64::MAX,
            max_bytes: u64::MAX,
            window_ms: 60_000,
        });
        let admitted = (0..6000u64)
            .filter(|i| one(&mut limiter, "attacker", i * 10))
            .count();
        assert_eq!(admitted, 100);
    }

    #[test]
    fn a_batch_is_charged_every_write_it_carries() {
        let mut limiter = RateLimiter::new(RateLimit {
            max_messages: 100,
            max_writes: 20_000,
            max_bytes: u64::MAX,
            window_ms: 60_000,
        });
        let peer = "batcher".to_string();
        assert!(limiter.admit(&peer, 0, Cost::of(10_000, 500_000), 1));
        assert!(limiter.admit(&peer, 1, Cost::of(10_000, 500_000), 1));
        assert!(
            !limiter.admit(&peer, 2, Cost::of(1, 50), 1),
            "20,000 writes used up"
        );
        assert!(limiter.admit(&"member".to_string(), 2, Cost::of(30_000, 9), 10));
    }

    #[test]
    fn content_is_judged_by_writes_and_bytes_whatever_the_messages() {
        let mut limiter = RateLimiter::new(RateLimit {
            max_messages: 1,
            max_writes: 10,
            max_bytes: u64::MAX,
            window_ms: 60_000,
        });
        let peer = "author".to_string();
        assert!(limiter.admit(&peer, 0, Cost::of(4, 9), 1));
        assert!(
            !limiter.admit(&peer, 1, Cost::of(1, 9), 1),
            "one message a minute"
        );
        assert!(limiter.content_fits(&peer, 2, Cost::writes(5), 1));
        assert!(!limiter.content_fits(&peer, 2, Cost::writes(6), 1));
        assert!(
            limiter.admit_content(&peer, 2, Cost::writes(5), 1),
            "10 writes in all"
        );
        assert!(!limiter.admit_content(&peer, 3, Cost::writes(1), 1));
        assert!(
            limiter.content_fits(&peer, 3, Cost::writes(1), 2),
            "a member's allowance"
        );
        assert_eq!(limiter.window_end(&peer, 3), Some(60_000));
        assert!(
            limiter.content_fits(&peer, 60_000, Cost::writes(10), 1),
            "a new window"
        );
        assert_eq!(limiter.window_end(&peer, 60_000), None);
    }
}
