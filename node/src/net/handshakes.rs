//! Incoming connections that failed before their peer was known, as the log tells them: once per
//! address, and only when no connection from that address followed. Two nodes that find each
//! other by mDNS dial each other at once over TCP and QUIC; libp2p keeps one connection and drops
//! the other attempts, which the other side sees as failed handshakes. Those are normal, so a
//! failure is held for [`GRACE`] and forgotten if the address is connected by then; what is left
//! is a node that really cannot talk to this one (another network key, or none).

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// How long a failure waits for a connection from its address before it is logged.
pub const GRACE: Duration = Duration::from_secs(3);

/// Most failures waiting at once; more (a flood of handshakes) are only logged at debug level.
const MAX_WAITING: usize = 64;

/// Most addresses remembered as logged; past it an address may be logged again.
const MAX_LOGGED: usize = 4096;

/// Failed incoming handshakes waiting to be logged, and the addresses already logged.
#[derive(Debug, Default)]
pub struct FailedHandshakes {
    waiting: HashMap<IpAddr, (Instant, String)>,
    logged: HashSet<IpAddr>,
}

impl FailedHandshakes {
    /// An incoming connection from `ip` failed at `now`, described by `message`. Returns
    /// whether it will be considered for the log (false: already logged, or too many waiting).
    pub fn on_failed(&mut self, ip: IpAddr, message: String, now: Instant) -> bool {
        if self.logged.contains(&ip) || self.waiting.len() >= MAX_WAITING {
            return false;
        }
        self.waiting.entry(ip).or_insert((now, message));
        true
    }

    /// The messages to log at `now`: failures older than [`GRACE`] from addresses that
    /// `connected` says no peer is connected from. Each address is logged once.
    pub fn due(&mut self, now: Instant, connected: impl Fn(IpAddr) -> bool) -> Vec<String> {
        let due: Vec<IpAddr> = self
            .waiting
            .iter()
            .filter(|(_, (at, _))| now.duration_since(*at) >= GRACE)
            .map(|(ip, _)| *ip)
            .collect();
        let mut messages = Vec::new();
        for ip in due {
            let Some((_, message)) = self.waiting.remove(&ip) else {
                continue;
            };
            if connected(ip) {
                continue;
            }
            if self.logged.len() >= MAX_LOGGED {
                self.logged.clear();
            }
            self.logged.insert(ip);
            messages.push(message);
        }
        messages
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn a_failure_from_an_address_that_connected_is_never_logged() {
        let mut failed = FailedHandshakes::default();
        let start = Instant::now();
        assert!(failed.on_failed(A, "a".into(), start));
        assert!(failed.on_failed(B, "b".into(), start));
        assert!(failed.due(start + GRACE / 2, |_| false).is_empty());
        let logged = failed.due(start + GRACE, |ip| ip == A);
        assert_eq!(logged, vec!["b".to_string()]);
    }

    #[test]
    fn an_address_is_logged_once() {
        let mut failed = FailedHandshakes::default();
        let start = Instant::now();
        failed.on_failed(A, "first".into(), start);
        failed.on_failed(A, "second".into(), start);
        assert_eq!(failed.due(start + GRACE, |_| false), vec!["first"]);
        assert!(!failed.on_failed(A, "again".into(), start + GRACE));
        assert!(failed.due(start + 2 * GRACE, |_| false).is_empty());
    }

    #[test]
    fn a_flood_of_failures_waits_in_bounded_memory() {
        let mut failed = FailedHandshakes::default();
        let start = Instant::now();
        let accepted = (0..10_000u32)
            .filter(|n| failed.on_failed(IpAddr::from(n.to_be_bytes()), "x".into(), start))
            .count();
        assert_eq!(accepted, MAX_WAITING);
    }
}
