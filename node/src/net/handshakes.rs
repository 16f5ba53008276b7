//! Incoming connections that failed before their peer was known, as the log tells them: once per
//! IP address, and only when no connection with the failed one's address and port followed. Two
//! nodes that find each other by mDNS dial each other at once over TCP and QUIC, each from the
//! port it listens on; libp2p keeps one connection and drops the other attempts, which the other
//! side sees as failed handshakes. Those are normal, so a failure is held for [`GRACE`] and
//! forgotten if its address and port are connected by then; what is left is a node that really
//! cannot talk to this one (another network key, or none), also on the same machine as a peer.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// How long a failure waits for a connection from its address before it is logged.
pub const GRACE: Duration = Duration::from_secs(3);

/// Most failures waiting at once (one per IP address); more (a flood of handshakes from many
/// addresses) are only logged at debug level.
const MAX_WAITING: usize = 64;

/// Most addresses remembered as logged; past it an address may be logged again.
const MAX_LOGGED: usize = 4096;

/// Failed incoming handshakes waiting to be logged, and the IP addresses already logged.
#[derive(Debug, Default)]
pub struct FailedHandshakes {
    waiting: HashMap<SocketAddr, (Instant, String)>,
    logged: HashSet<IpAddr>,
}

impl FailedHandshakes {
    /// An incoming connection from `from` failed at `now`, described by `message`. Returns
    /// whether it will be considered for the log (false: its IP address was logged already, or
    /// too many wait).
    pub fn on_failed(&mut self, from: SocketAddr, message: String, now: Instant) -> bool {
        // One failure waits per IP address, so many ports of one host cannot fill the queue.
        let ip_waits = self.waiting.keys().any(|waiting| waiting.ip() == from.ip());
        if self.logged.contains(&from.ip()) || ip_waits || self.waiting.len() >= MAX_WAITING {
            return false;
        }
        self.waiting.insert(from, (now, message));
        true
    }

    /// The messages to log at `now`: failures older than [`GRACE`] from addresses (with their
    /// port) that `connected` says no peer is connected from. Each IP address is logged once.
    pub fn due(&mut self, now: Instant, connected: impl Fn(SocketAddr) -> bool) -> Vec<String> {
        let due: Vec<SocketAddr> = self
            .waiting
            .iter()
            .filter(|(_, (at, _))| now.duration_since(*at) >= GRACE)
            .map(|(ip, _)| *ip)
            .collect();
        let mut messages = Vec::new();
        for from in due {
            let Some((_, message)) = self.waiting.remove(&from) else {
                continue;
            };
            if connected(from) || self.logged.contains(&from.ip()) {
                continue;
            }
            if self.logged.len() >= MAX_LOGGED {
                self.logged.clear();
            }
            self.logged.insert(from.ip());
            messages.push(message);
        }
        messages
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: SocketAddr = SocketAddr::new(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1)), 4002);
    const B: SocketAddr = SocketAddr::new(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2)), 4002);

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
        let same_host = SocketAddr::new(A.ip(), 4003);
        assert!(!failed.on_failed(same_host, "same host".into(), start));
        assert_eq!(failed.due(start + GRACE, |_| false), vec!["first"]);
        assert!(!failed.on_failed(A, "again".into(), start + GRACE));
        assert!(failed.due(start + 2 * GRACE, |_| false).is_empty());
    }

    #[test]
    fn a_stranger_on_a_connected_peers_host_is_still_logged() {
        let mut failed = FailedHandshakes::default();
        let start = Instant::now();
        let stranger = SocketAddr::new(A.ip(), 4010);
        failed.on_failed(stranger, "stranger".into(), start);
        failed.on_failed(A, "race".into(), start);
        assert_eq!(
            failed.due(start + GRACE, |from| from == A),
            vec!["stranger"]
        );
    }

    #[test]
    fn after_a_failure_that_a_connection_followed_the_host_may_fail_and_be_logged() {
        let mut failed = FailedHandshakes::default();
        let start = Instant::now();
        failed.on_failed(A, "race".into(), start);
        assert!(failed.due(start + GRACE, |from| from == A).is_empty());
        let stranger = SocketAddr::new(A.ip(), 4010);
        assert!(failed.on_failed(stranger, "stranger".into(), start + GRACE));
        let logged = failed.due(start + 2 * GRACE, |from| from == A);
        assert_eq!(logged, vec!["stranger"]);
    }

    #[test]
    fn a_flood_of_failures_waits_in_bounded_memory() {
        let mut failed = FailedHandshakes::default();
        let start = Instant::now();
        let accepted = (0..10_000u32)
            .filter(|n| {
                let from = SocketAddr::new(IpAddr::from(n.to_be_bytes()), 4002);
                failed.on_failed(from, "x".into(), start)
            })
            .count();
        assert_eq!(accepted, MAX_WAITING);
    }
}
