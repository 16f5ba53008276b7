//! What the node answers one host over the reconciliation protocol, whatever identities it
//! shows. The core budgets the answers to each peer (64 MiB a minute), but an attacker mints
//! identities for free: 33 of them drew 2.2 GB of answers in 20 s from 18 MB of requests in the
//! hostile bench. Its address it cannot mint as freely (an IPv4 address, an IPv6 /64), so the
//! driver also counts, per host and window, the bytes of the host's requests and of the node's
//! answers to them. Past [`BASE_BYTES_PER_HOST`] plus [`ANSWER_RATIO`] times what the host sent,
//! that host's requests are dropped unread until the window ends, each acknowledgement held as
//! long as the driver holds any (`held::MAX_HOLD`), which slows the sender: answers stay in
//! proportion to requests, host by host. What the node sends on its own (its sessions,
//! its pushes) is not counted, and members of the node's network are not counted at all.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Answer bytes the node sends one host per [`WINDOW`] whatever it asks: one peer's answer
/// budget in the core, so a host running one node is never held back by this count.
pub const BASE_BYTES_PER_HOST: u64 = 64 << 20;

/// Answer bytes per byte of requests from a host, beyond [`BASE_BYTES_PER_HOST`] (the hostile
/// bench's goal: egress at most 10 times what an attacker sends).
pub const ANSWER_RATIO: u64 = 10;

/// See [`BASE_BYTES_PER_HOST`].
pub const WINDOW: Duration = Duration::from_secs(60);

/// The host an address belongs to: an IPv4 address, or the /64 network of an IPv6 address (a
/// host can take any address of its /64 at will).
pub fn host_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
    }
}

/// Bytes of requests received from and of answers sent to each host in the current window.
#[derive(Debug, Default)]
pub struct HostEgress {
    window: Option<Instant>,
    /// (requests, answers) per host.
    hosts: HashMap<IpAddr, (u64, u64)>,
}

impl HostEgress {
    /// Counts a request of `bytes` from address `ip` at `now`.
    pub fn request(&mut self, ip: IpAddr, bytes: u64, now: Instant) {
        let (requests, _) = self.entry(ip, now);
        *requests = requests.saturating_add(bytes);
    }

    /// Counts `bytes` of answers sent to address `ip` at `now`.
    pub fn answer(&mut self, ip: IpAddr, bytes: u64, now: Instant) {
        let (_, answers) = self.entry(ip, now);
        *answers = answers.saturating_add(bytes);
    }

    /// When the window ends, if `ip`'s host was sent all it may be sent in the window of `now`:
    /// its requests wait until then.
    pub fn spent_until(&mut self, ip: IpAddr, now: Instant) -> Option<Instant> {
        let &mut (requests, answers) = self.entry(ip, now);
        let allowed = BASE_BYTES_PER_HOST.saturating_add(requests.saturating_mul(ANSWER_RATIO));
        (answers >= allowed).then(|| self.window.map_or(now, |start| start + WINDOW))
    }

    /// The counts of `ip`'s host, in a new window once the current one is over (the hosts of
    /// the last are forgotten, so the map holds the hosts of one window's requests).
    fn entry(&mut self, ip: IpAddr, now: Instant) -> &mut (u64, u64) {
        if self
            .window
            .is_none_or(|start| now.saturating_duration_since(start) >= WINDOW)
        {
            self.window = Some(now);
            self.hosts.clear();
        }
        self.hosts.entry(host_of(ip)).or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_is_answered_in_proportion_to_what_it_asks_whatever_identities_it_shows() {
        let mut egress = HostEgress::default();
        let (host, other) = (IpAddr::from([10, 0, 0, 66]), IpAddr::from([10, 0, 0, 1]));
        let start = Instant::now();
        // The base, whatever it asks...
        egress.answer(host, BASE_BYTES_PER_HOST - 1, start);
        assert_eq!(egress.spent_until(host, start), None);
        egress.answer(host, 1, start);
        assert_eq!(egress.spent_until(host, start), Some(start + WINDOW));
        // ...then ANSWER_RATIO bytes per byte of its requests, from any of its identities.
        egress.request(host, 1_000, start);
        assert_eq!(egress.spent_until(host, start), None);
        egress.answer(host, ANSWER_RATIO * 1_000, start);
        assert!(egress.spent_until(host, start).is_some());
        assert_eq!(
            egress.spent_until(other, start),
            None,
            "other hosts are answered"
        );
        assert_eq!(
            egress.spent_until(host, start + WINDOW),
            None,
            "a new window"
        );
    }

    #[test]
    fn the_addresses_of_one_ipv6_network_are_one_host() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::7".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(host_of(a), host_of(b));
        assert_ne!(host_of(a), host_of(c));
        let v4 = IpAddr::from([192, 168, 1, 5]);
        assert_eq!(host_of(v4), v4);
    }
}
