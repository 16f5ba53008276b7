//! What the node sends one host over the reconciliation protocol, whatever identities it shows.
//! The core budgets answers per peer (64 MiB a minute), but an attacker mints identities for
//! free: 33 of them drew 2.2 GB of answers in 20 s from 18 MB of requests in the hostile bench.
//! Its IP address it cannot mint on a LAN, so the driver also counts, per host and window, the
//! bytes it received from the host and sent to it. Past [`BASE_BYTES_PER_HOST`] plus
//! [`ANSWER_RATIO`] times what the host sent, that host's requests are passed to the core no
//! more until the window ends: answers stay in proportion to requests, host by host.
//! Members of the node's network are not counted (the core gives them larger budgets).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Bytes the node sends one host per [`WINDOW`] whatever it asks: a catch-up of 100,000
/// writes (about 14 MB) fits.
pub const BASE_BYTES_PER_HOST: u64 = 32 << 20;

/// Bytes sent per byte received from a host, beyond [`BASE_BYTES_PER_HOST`] (the hostile
/// bench's goal: egress at most 10 times what an attacker sends).
pub const ANSWER_RATIO: u64 = 10;

/// See [`BASE_BYTES_PER_HOST`].
pub const WINDOW: Duration = Duration::from_secs(60);

/// Bytes received from and sent to each host in the current window.
#[derive(Debug, Default)]
pub struct HostEgress {
    window: Option<Instant>,
    /// (received, sent) per host.
    hosts: HashMap<IpAddr, (u64, u64)>,
}

impl HostEgress {
    /// Counts `bytes` received from `host` at `now`.
    pub fn receive(&mut self, host: IpAddr, bytes: u64, now: Instant) {
        let (received, _) = self.entry(host, now);
        *received = received.saturating_add(bytes);
    }

    /// Counts `bytes` sent to `host` at `now`.
    pub fn send(&mut self, host: IpAddr, bytes: u64, now: Instant) {
        let (_, sent) = self.entry(host, now);
        *sent = sent.saturating_add(bytes);
    }

    /// Whether `host` was sent all it may be sent in the window of `now`: then its requests
    /// wait for the next window.
    pub fn spent(&mut self, host: IpAddr, now: Instant) -> bool {
        let &mut (received, sent) = self.entry(host, now);
        sent >= BASE_BYTES_PER_HOST.saturating_add(received.saturating_mul(ANSWER_RATIO))
    }

    /// `host`'s counts, in a new window once the current one is over (the hosts of the last
    /// are forgotten, so the map holds the hosts of one window's connections).
    fn entry(&mut self, host: IpAddr, now: Instant) -> &mut (u64, u64) {
        if self
            .window
            .is_none_or(|start| now.saturating_duration_since(start) >= WINDOW)
        {
            self.window = Some(now);
            self.hosts.clear();
        }
        self.hosts.entry(host).or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_is_sent_in_proportion_to_what_it_sends_whatever_identities_it_shows() {
        let mut egress = HostEgress::default();
        let (host, other) = (IpAddr::from([10, 0, 0, 66]), IpAddr::from([10, 0, 0, 1]));
        let start = Instant::now();
        // The base, whatever it asks...
        egress.send(host, BASE_BYTES_PER_HOST - 1, start);
        assert!(!egress.spent(host, start));
        egress.send(host, 1, start);
        assert!(egress.spent(host, start));
        // ...then ANSWER_RATIO bytes per byte it sends, from any of its identities.
        egress.receive(host, 1_000, start);
        assert!(!egress.spent(host, start));
        egress.send(host, ANSWER_RATIO * 1_000, start);
        assert!(egress.spent(host, start));
        assert!(!egress.spent(other, start), "other hosts are served");
        assert!(!egress.spent(host, start + WINDOW), "a new window");
    }
}
