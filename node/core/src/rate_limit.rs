//! Fixed-window rate limiting per peer.

use super::config::RateLimit;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy)]
struct Window {
    start_ms: u64,
    count: u32,
}

/// Counts messages per peer in windows of `limit.window_ms`.
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

    /// Counts one message from `peer` at `now_ms` and says whether it is within the limit.
    pub fn admit(&mut self, peer: &K, now_ms: u64) -> bool {
        let window_ms = self.limit.window_ms;
        let window = self.windows.entry(peer.clone()).or_insert(Window {
            start_ms: now_ms,
            count: 0,
        });
        if now_ms.saturating_sub(window.start_ms) >= window_ms || now_ms < window.start_ms {
            *window = Window {
                start_ms: now_ms,
                count: 0,
            };
        }
        window.count = window.count.saturating_add(1);
        window.count <= self.limit.max_messages
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
        window_ms: 1000,
    };

    #[test]
    fn admits_up_to_the_limit_then_drops_until_the_window_ends() {
        let mut limiter = RateLimiter::new(LIMIT);
        for t in 0..3 {
            assert!(limiter.admit(&"p".to_string(), t));
        }
        assert!(!limiter.admit(&"p".to_string(), 10));
        assert!(!limiter.admit(&"p".to_string(), 20));
        assert!(
            limiter.admit(&"q".to_string(), 20),
            "peers are counted apart"
        );
        assert!(limiter.admit(&"p".to_string(), 1000), "a new window");
    }

    #[test]
    fn forgets_idle_peers() {
        let mut limiter = RateLimiter::new(LIMIT);
        limiter.admit(&"p".to_string(), 0);
        limiter.forget_expired(999);
        assert_eq!(limiter.windows.len(), 1);
        limiter.forget_expired(1000);
        assert!(limiter.windows.is_empty());
    }

    #[test]
    fn the_legacy_flood_of_100_per_second_is_cut_at_100_per_minute() {
        let mut limiter = RateLimiter::new(RateLimit {
            max_messages: 100,
            window_ms: 60_000,
        });
        let admitted = (0..6000u64)
            .filter(|i| limiter.admit(&"attacker".to_string(), i * 10))
            .count();
        assert_eq!(admitted, 100);
    }
}
