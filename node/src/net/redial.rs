//! When to dial lost peers again: exponential backoff per target, jittered, forever for targets named
//! with `--dial` (pinned), for a bounded number of attempts for peers found otherwise.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::time::{Duration, Instant};

/// The first retry waits this long; each further one twice as long, up to [`MAX_DELAY`].
pub const FIRST_DELAY: Duration = Duration::from_secs(1);
/// The longest wait between two attempts.
pub const MAX_DELAY: Duration = Duration::from_secs(30);
/// Attempts before giving up on a peer that was not named with `--dial` (about 15 minutes);
/// mDNS finds it again if it comes back later.
pub const MAX_ATTEMPTS: u32 = 35;

/// The redial state of one lost target.
#[derive(Debug)]
struct Lost {
    attempts: u32,
    next_at: Instant,
}

/// The delay before attempt number `attempts + 1`.
fn delay(attempts: u32) -> Duration {
    FIRST_DELAY
        .saturating_mul(1 << attempts.min(16))
        .min(MAX_DELAY)
}

/// [`delay`] shortened by a random part of up to half: nodes that lost each other at the same
/// moment (a cut cable, a partition) do not retry in step, so when the network comes back
/// some dial is soon under way, and its success makes the rest due (`Redial::retry_now`).
fn jittered(attempts: u32) -> Duration {
    delay(attempts).mul_f64(rand::random_range(0.5..=1.0))
}

/// Lost targets (peers or addresses) and when to try each again.
#[derive(Debug)]
pub struct Redial<K> {
    lost: HashMap<K, Lost>,
    pinned: HashSet<K>,
}

impl<K> Default for Redial<K> {
    fn default() -> Self {
        Redial {
            lost: HashMap::new(),
            pinned: HashSet::new(),
        }
    }
}

impl<K: Clone + Eq + Hash> Redial<K> {
    /// Retries `target` forever once it is lost (it was named with `--dial`).
    pub fn pin(&mut self, target: K) {
        self.pinned.insert(target);
    }

    /// Whether `target` is retried forever.
    pub fn is_pinned(&self, target: &K) -> bool {
        self.pinned.contains(target)
    }

    /// `target` was lost (or could not be reached) at `now`: schedule the first retry unless
    /// retries are already under way. Returns whether this started a new series of retries.
    pub fn lost(&mut self, target: K, now: Instant) -> bool {
        let mut started = false;
        self.lost.entry(target).or_insert_with(|| {
            started = true;
            Lost {
                attempts: 0,
                next_at: now + jittered(0),
            }
        });
        started
    }

    /// `target` is connected again: stop retrying it. Returns whether it was being retried.
    pub fn found(&mut self, target: &K) -> bool {
        self.lost.remove(target).is_some()
    }

    /// Makes every lost target due at `now` (their backoff goes on from there): something lost
    /// came back, so the network may have come back for the others too.
    pub fn retry_now(&mut self, now: Instant) {
        for lost in self.lost.values_mut() {
            lost.next_at = lost.next_at.min(now);
        }
    }

    /// The targets to dial at `now`; each is scheduled for its next attempt, and unpinned ones
    /// past [`MAX_ATTEMPTS`] are given up.
    pub fn due(&mut self, now: Instant) -> Vec<K> {
        let mut due = Vec::new();
        let pinned = &self.pinned;
        self.lost.retain(|target, lost| {
            if lost.next_at > now {
                return true;
            }
            due.push(target.clone());
            lost.attempts += 1;
            lost.next_at = now + jittered(lost.attempts);
            lost.attempts < MAX_ATTEMPTS || pinned.contains(target)
        });
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_up_to_the_cap() {
        let delays: Vec<u64> = (0..7).map(|a| delay(a).as_secs()).collect();
        assert_eq!(delays, vec![1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(delay(u32::MAX), MAX_DELAY);
    }

    #[test]
    fn retry_now_makes_every_lost_target_due_and_keeps_its_backoff() {
        let mut redial = Redial::default();
        let start = Instant::now();
        redial.lost("b", start);
        redial.lost("c", start);
        let later = start + FIRST_DELAY;
        let mut due = redial.due(later);
        due.sort();
        assert_eq!(due, vec!["b", "c"]);
        assert!(redial.due(later).is_empty(), "next tries 2 s later");
        redial.retry_now(later);
        assert_eq!(redial.due(later).len(), 2);
        assert!(redial.due(later + FIRST_DELAY).is_empty(), "then 4 s later");
    }

    #[test]
    fn a_lost_peer_is_due_after_its_delay_and_not_after_it_is_found() {
        let mut redial = Redial::default();
        let peer = "b";
        let start = Instant::now();
        assert!(redial.lost(peer, start));
        assert!(!redial.lost(peer, start + FIRST_DELAY));
        assert!(redial.due(start).is_empty());
        assert_eq!(redial.due(start + FIRST_DELAY), vec![peer]);
        assert!(redial.due(start + FIRST_DELAY).is_empty());
        assert_eq!(redial.due(start + FIRST_DELAY * 3), vec![peer]);
        assert!(redial.found(&peer));
        assert!(redial.due(start + MAX_DELAY * 10).is_empty());
    }

    #[test]
    fn unpinned_peers_are_given_up_and_pinned_ones_never() {
        let mut redial = Redial::default();
        let (unpinned, pinned) = ("found by mdns", "named with --dial");
        redial.pin(pinned);
        let mut now = Instant::now();
        redial.lost(unpinned, now);
        redial.lost(pinned, now);
        let mut attempts = HashMap::new();
        for _ in 0..MAX_ATTEMPTS + 10 {
            now += MAX_DELAY;
            for peer in redial.due(now) {
                *attempts.entry(peer).or_insert(0) += 1;
            }
        }
        assert_eq!(attempts[&unpinned], MAX_ATTEMPTS);
        assert_eq!(attempts[&pinned], MAX_ATTEMPTS + 10);
    }
}
