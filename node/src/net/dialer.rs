//! Whom to dial and when: the `--dial` addresses, peers found by mDNS or Kademlia, and lost
//! peers again with backoff (those named with `--dial` and those that proved useful).

use super::behaviour::Behaviour;
use super::redial::Redial;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{ConnectionId, DialError};
use libp2p::{Multiaddr, PeerId, Swarm};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How often a returning peer may make every lost target due at once (see
/// [`Dialer::on_identified`]): a peer that leaves and comes back again and again costs a round of
/// dials at most this often.
pub const RETRY_ALL: Duration = Duration::from_secs(10);

/// Dial bookkeeping of a node.
#[derive(Debug, Default)]
pub struct Dialer {
    /// Lost or unreachable peers, by PeerId.
    peers: Redial<PeerId>,
    /// `--dial` addresses without a `/p2p/` suffix that have not answered yet.
    addresses: Redial<Multiaddr>,
    /// The `--dial` addresses of each peer they led to.
    pinned: HashMap<PeerId, Vec<Multiaddr>>,
    /// Dials of addresses whose peer is not known yet.
    unresolved: HashMap<ConnectionId, Multiaddr>,
    /// When a returning peer last made every lost target due.
    retried_all: Option<Instant>,
}

/// The PeerId at the end of `address` (`…/p2p/<PeerId>`), if it names one.
fn peer_of(address: &Multiaddr) -> Option<PeerId> {
    match address.iter().last() {
        Some(Protocol::P2p(peer)) => Some(peer),
        _ => None,
    }
}

impl Dialer {
    /// Dials the addresses given with `--dial`; they are retried forever.
    pub fn dial_configured(&mut self, swarm: &mut Swarm<Behaviour>, addresses: &[Multiaddr]) {
        for address in addresses {
            match peer_of(address) {
                Some(peer) => {
                    self.pin(peer, address.clone());
                    self.dial_peer(swarm, peer, Vec::new());
                }
                None => {
                    self.addresses.pin(address.clone());
                    self.dial_address(swarm, address.clone());
                }
            }
        }
    }

    fn pin(&mut self, peer: PeerId, address: Multiaddr) {
        self.peers.pin(peer);
        let pinned = self.pinned.entry(peer).or_default();
        if !pinned.contains(&address) {
            pinned.push(address);
        }
    }

    /// Dials `peer` at `addresses`, its pinned addresses and any the behaviours know, unless it
    /// is connected or being dialed. Says whether it dialed.
    pub fn dial_peer(
        &mut self,
        swarm: &mut Swarm<Behaviour>,
        peer: PeerId,
        mut addresses: Vec<Multiaddr>,
    ) -> bool {
        if peer == *swarm.local_peer_id() || swarm.is_connected(&peer) {
            return false;
        }
        if !swarm.behaviour().gate.admits(&peer) {
            tracing::debug!(%peer, "not dialing a peer off the allow-list");
            return false;
        }
        addresses.extend(self.pinned.get(&peer).into_iter().flatten().cloned());
        let options = DialOpts::peer_id(peer)
            .condition(PeerCondition::DisconnectedAndNotDialing)
            .addresses(addresses)
            .extend_addresses_through_behaviour()
            .build();
        match swarm.dial(options) {
            Ok(()) => true,
            Err(error) => {
                tracing::debug!(%peer, %error, "not dialing");
                false
            }
        }
    }

    fn dial_address(&mut self, swarm: &mut Swarm<Behaviour>, address: Multiaddr) {
        let options = DialOpts::unknown_peer_id().address(address.clone()).build();
        let connection = options.connection_id();
        match swarm.dial(options) {
            Ok(()) => {
                self.unresolved.insert(connection, address);
            }
            Err(error) => {
                tracing::debug!(%address, %error, "not dialing");
            }
        }
    }

    /// A connection to `peer` opened: stop retrying it; a `--dial` address that led to it is
    /// pinned to it from now on.
    pub fn on_connected(&mut self, peer: PeerId, connection: ConnectionId) {
        if let Some(address) = self.unresolved.remove(&connection) {
            self.addresses.found(&address);
            self.pin(peer, address);
        }
    }

    /// `peer` identified itself on a connection at `now`: it is really back, so its retries stop
    /// and the next loss starts from the shortest delay again. (Not at connection time: a peer
    /// whose allow-list refuses this node closes each connection at once, and would otherwise be
    /// redialled every second or two for ever.) If it was being retried, the network may be back
    /// for every lost target (a healed cut, a cable plugged in back): they are all dialled at
    /// once instead of at their next backoff, up to 30 s away; at most once per [`RETRY_ALL`].
    pub fn on_identified(&mut self, peer: &PeerId, now: Instant) {
        let returned = self.peers.found(peer);
        let rested = self
            .retried_all
            .is_none_or(|at| now.saturating_duration_since(at) >= RETRY_ALL);
        if returned && rested {
            self.retried_all = Some(now);
            self.peers.retry_now(now);
            self.addresses.retry_now(now);
        }
    }

    /// The last connection to `peer` closed: retry it with backoff if it was named with
    /// `--dial` or proved `useful` (sent a valid write, answered our reconciliation protocol). Any other
    /// peer (one that only connected to us) may come back by itself, or mDNS finds it again.
    pub fn on_disconnected(&mut self, peer: PeerId, useful: bool, now: Instant) {
        if useful || self.peers.is_pinned(&peer) {
            self.peers.lost(peer, now);
        }
    }

    /// A dial failed. `--dial` targets are retried (the first failure is a warning); other
    /// peers only if they were connected before and are being retried already.
    pub fn on_dial_failed(
        &mut self,
        swarm: &Swarm<Behaviour>,
        peer: Option<PeerId>,
        connection: ConnectionId,
        error: &DialError,
        now: Instant,
    ) {
        let first_failure = if let Some(address) = self.unresolved.remove(&connection) {
            self.addresses
                .lost(address.clone(), now)
                .then(|| address.to_string())
        } else {
            match peer {
                Some(peer) if self.peers.is_pinned(&peer) && !swarm.is_connected(&peer) => {
                    self.peers.lost(peer, now).then(|| peer.to_string())
                }
                _ => None,
            }
        };
        match first_failure {
            Some(target) => {
                tracing::warn!("Could not connect to {target}: {error} (retrying with backoff)")
            }
            None => tracing::debug!(?peer, %error, "dial failed"),
        }
    }

    /// Dials every lost peer and unanswered address whose retry is due at `now`.
    pub fn on_tick(&mut self, swarm: &mut Swarm<Behaviour>, now: Instant) {
        for peer in self.peers.due(now) {
            if self.dial_peer(swarm, peer, Vec::new()) {
                tracing::info!("Redialing peer {peer}");
            }
        }
        for address in self.addresses.due(now) {
            tracing::info!("Redialing {address}");
            self.dial_address(swarm, address);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::redial::MAX_DELAY;
    use super::*;

    #[test]
    fn the_peer_is_read_from_a_p2p_suffix() {
        let peer = PeerId::random();
        let with: Multiaddr = format!("/ip4/127.0.0.1/tcp/4002/p2p/{peer}")
            .parse()
            .unwrap();
        let without: Multiaddr = "/ip4/127.0.0.1/tcp/4002".parse().unwrap();
        assert_eq!(peer_of(&with), Some(peer));
        assert_eq!(peer_of(&without), None);
    }

    #[test]
    fn a_lost_peer_coming_back_makes_every_lost_peer_due_at_once() {
        let mut dialer = Dialer::default();
        let (back, other) = (PeerId::random(), PeerId::random());
        let start = Instant::now();
        dialer.on_disconnected(back, true, start);
        dialer.on_disconnected(other, true, start);
        // A long cut: both backed off to the longest delay.
        let mut now = start;
        for _ in 0..8 {
            now += MAX_DELAY;
            assert_eq!(dialer.peers.due(now).len(), 2);
        }
        // The cut heals: one of them dials in and identifies; the other is due at once, not
        // up to 30 s later.
        now += Duration::from_secs(1);
        dialer.on_identified(&back, now);
        assert_eq!(dialer.peers.due(now), vec![other]);
        // A peer that comes and goes does not make it happen again within RETRY_ALL.
        dialer.on_disconnected(back, true, now);
        dialer.on_identified(&back, now + Duration::from_secs(1));
        assert!(dialer.peers.due(now + Duration::from_secs(1)).is_empty());
    }

    #[test]
    fn only_peers_named_with_dial_or_useful_ones_are_redialled() {
        let mut dialer = Dialer::default();
        let (stranger, useful, named) = (PeerId::random(), PeerId::random(), PeerId::random());
        dialer.pin(named, "/ip4/127.0.0.1/tcp/4002".parse().unwrap());
        let start = Instant::now();
        dialer.on_disconnected(stranger, false, start);
        dialer.on_disconnected(useful, true, start);
        dialer.on_disconnected(named, false, start);
        let mut due = dialer.peers.due(start + MAX_DELAY);
        due.sort();
        let mut expected = vec![useful, named];
        expected.sort();
        assert_eq!(due, expected);
    }
}
