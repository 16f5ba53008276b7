//! Incoming connections that failed before their peer was known, as the log tells them: once per
//! IP address, and only when no connection with that address opened close to it. Two nodes that
//! find each other by mDNS dial each other at once over TCP and QUIC; libp2p keeps one
//! connection and drops the other attempts, which the other side sees as failed handshakes,
//! within moments of the connection that succeeded. Those are normal, so a failure is held for
//! [`GRACE`] and forgotten if a connection with its address opened within [`GRACE`] of it; what
//! is left is a node that really cannot talk to this one (another network key, or none), which
//! goes on failing after its neighbours' connections, also on the same machine as a peer.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// How long a failure waits before it is logged, and how close to it a connection from its
/// address makes it part of a normal start.
pub const GRACE: Duration = Duration::from_secs(3);

/// Most failures waiting at once (one per IP address); more (a flood of handshakes from many
/// addresses) are only logged at debug level.
const MAX_WAITING: usize = 64;

/// Most addresses remembered (as logged, or as recently connected); past it the set starts
/// again.
const MAX_REMEMBERED: usize = 4096;

/// Failed incoming handshakes waiting to be logged, the IP addresses already logged, and when
/// each address last connected.
#[derive(Debug, Default)]
pub struct FailedHandshakes {
    waiting: HashMap<IpAddr, (Instant, String)>,
    logged: HashSet<IpAddr>,
    connected: HashMap<IpAddr, Instant>,
}

impl FailedHandshakes {
    /// An incoming connection from `ip` failed at `now`, described by `message`. Returns
    /// whether it will be considered for the log (false: the address was logged already, one of
    /// its failures waits, or too many wait).
    pub fn on_failed(&mut self, ip: IpAddr, message: String, now: Instant) -> bool {
        if self.logged.contains(&ip)
            || self.waiting.contains_key(&ip)
            || self.waiting.len() >= MAX_WAITING
        {
            return false;
        }
        self.waiting.insert(ip, (now, message));
        true
    }

    /// A connection with a peer at `ip` opened at `now`.
    pub fn on_connected(&mut self, ip: IpAddr, now: Instant) {
        if self.connected.len() >= MAX_REMEMBERED {
            self.connected.clear();
        }
        self.connected.insert(ip, now);
    }

    /// The messages to log at `now`: failures older than [`GRACE`] with no connection from
    /// their address within [`GRACE`] of them. Each IP address is logged once.
    pub fn due(&mut self, now: Instant) -> Vec<String> {
        let due: Vec<IpAddr> = self
            .waiting
            .iter()
            .filter(|(_, (at, _))| now.duration_since(*at) >= GRACE)
            .map(|(ip, _)| *ip)
            .collect();
        let mut messages = Vec::new();
        for ip in due {
            let Some((failed_at, message)) = self.waiting.remove(&ip) else {
                continue;
            };
            let near = |connected_at: &Instant| {
                let apart = if *connected_at > failed_at {
                    *connected_at - failed_at
                } else {
                    failed_at - *connected_at
                };
                apart <= GRACE
            };
            if self.connected.get(&ip).is_some_and(near) {
                continue;
            }
            if self.logged.len() >= MAX_REMEMBERED {
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
    fn a_failure_beside_a_connection_from_its_address_is_never_logged() {
        let mut failed = FailedHandshakes::default();
        let start = Instant::now();
        failed.on_connected(A, start);
        assert!(failed.on_failed(A, "a: after".into(), start + GRACE / 10));
        assert!(failed.on_failed(B, "b".into(), start));
        assert!(failed.due(start + GRACE / 2).is_empty(), "held");
        // The connection may also come after the failure.
        failed.on_connected(B, start + GRACE / 2);
        assert!(failed.due(start + 2 * GRACE).is_empty());
    }

    #[test]
    fn a_stranger_failing_later_on_a_connected_peers_host_is_logged_once() {
        let mut failed = FailedHandshakes::default();
        let start = Instant::now();
        failed.on_connected(A, start);
        let later = start + 2 * GRACE;
        assert!(failed.on_failed(A, "stranger".into(), later));
        assert!(!failed.on_failed(A, "again, held".into(), later));
        assert_eq!(failed.due(later + GRACE), vec!["stranger"]);
        assert!(!failed.on_failed(A, "again, logged".into(), later + GRACE));
        assert!(failed.due(later + 3 * GRACE).is_empty());
    }

    #[test]
    fn a_flood_of_failures_waits_in_bounded_memory() {
        let mut failed = FailedHandshakes::default();
        let start = Instant::now();
        let accepted = (0..10_000u32)
            .filter(|n| failed.on_failed(IpAddr::from(n.to_be_bytes()), "x".into(), start))
            .count();
        assert_eq!(accepted, MAX_WAITING);
        for n in 0..10_000u32 {
            failed.on_connected(IpAddr::from(n.to_be_bytes()), start);
        }
        assert!(failed.connected.len() <= MAX_REMEMBERED);
    }
}
