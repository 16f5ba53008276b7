//! When the driver disconnects a peer for what it does, not for what it is: a peer that keeps
//! sending messages holding forged writes (the core counts them: `NodeCore::strikes`), and a
//! Gossipsub subscriber that stays too slow to take what the node sends it (it would hold a
//! full send queue for ever). Gossipsub's scores penalise both too; closing the connection
//! frees its buffers at once. And how many peers announced by mDNS the node dials.

use libp2p::PeerId;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Messages with a forged write a peer may send (within the core's drop-log interval of each
/// other) before it is disconnected: an honest node checks every write before it forwards it,
/// so sends none; one or two leave room for a node that disagrees on one write.
pub const MAX_STRIKES: u32 = 3;

/// How long a peer must keep failing to take its gossip before it is disconnected: Gossipsub
/// reports a slow peer at most once a heartbeat (1 s), so thirty reports in a row. Long
/// enough for an honest peer busy checking a member's bulk import (100,000 writes take it
/// about 8 s) to catch up.
pub const SLOW_FOR: Duration = Duration::from_secs(30);

/// A pause in slow reports longer than this ends a slow spell: the peer caught up.
pub const SLOW_GAP: Duration = Duration::from_secs(3);

/// Peers Gossipsub reported slow, with the spell each is in: (first report, latest report).
#[derive(Debug, Default)]
pub struct SlowPeers {
    spells: HashMap<PeerId, (Instant, Instant)>,
}

impl SlowPeers {
    /// Gossipsub reported `peer` slow at `now`. Returns whether it has stayed slow for
    /// [`SLOW_FOR`] (reports no further apart than [`SLOW_GAP`]): then disconnect it.
    pub fn on_slow(&mut self, peer: PeerId, now: Instant) -> bool {
        let spell = self.spells.entry(peer).or_insert((now, now));
        if now.saturating_duration_since(spell.1) > SLOW_GAP {
            *spell = (now, now);
        }
        spell.1 = now;
        let stays = now.saturating_duration_since(spell.0) >= SLOW_FOR;
        if stays {
            self.spells.remove(&peer);
        }
        stays
    }

    /// `peer` has no connection left.
    pub fn forget(&mut self, peer: &PeerId) {
        self.spells.remove(peer);
    }
}

/// New peers found by mDNS the node dials (and logs) per [`MDNS_WINDOW`], from every
/// announcer together: a whole LAN found at start-up fits; a stranger announcing thousands of
/// made-up peers costs a few dials.
pub const MAX_MDNS_DIALS: u32 = 32;
/// New peers one announcing host may have dialled per [`MDNS_WINDOW`]: a host runs a node or
/// a few, so one host announcing made-up peers cannot take the whole [`MAX_MDNS_DIALS`] and
/// crowd out the real ones. libp2p-mdns gives every announced address the IP address the
/// announcement came from, so that is the host.
pub const MAX_MDNS_DIALS_PER_HOST: u32 = 4;
/// See [`MAX_MDNS_DIALS`].
pub const MDNS_WINDOW: Duration = Duration::from_secs(10);
/// Addresses of one peer found by mDNS that are dialled.
pub const MAX_MDNS_ADDRESSES_PER_PEER: usize = 4;
/// Peer addresses libp2p-mdns may hold before the node starts it afresh. Its list has no cap
/// of its own and is searched linearly on every insert in the swarm task; announcements
/// choose their own lifetimes. A LAN of p2p-sync nodes holds a few addresses per node.
pub const MAX_MDNS_DISCOVERED: usize = 1_024;

/// How many mDNS-found peers may still be dialled in the current window, in all and per
/// announcing host.
#[derive(Debug, Default)]
pub struct MdnsDials {
    window: Option<Instant>,
    used: u32,
    /// Dials per announcing host this window: at most [`MAX_MDNS_DIALS`] entries.
    by_host: HashMap<Option<IpAddr>, u32>,
}

impl MdnsDials {
    /// Whether one more peer announced by `host` may be dialled at `now`; counts it if so.
    pub fn admit(&mut self, host: Option<IpAddr>, now: Instant) -> bool {
        if self
            .window
            .is_none_or(|start| now.saturating_duration_since(start) >= MDNS_WINDOW)
        {
            self.window = Some(now);
            self.used = 0;
            self.by_host.clear();
        }
        if self.used >= MAX_MDNS_DIALS {
            return false;
        }
        let from_host = self.by_host.entry(host).or_default();
        if *from_host >= MAX_MDNS_DIALS_PER_HOST {
            return false;
        }
        *from_host += 1;
        self.used += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mdns_dials_are_budgeted_per_window_and_per_announcing_host() {
        let mut dials = MdnsDials::default();
        let start = Instant::now();
        let host = |i: u8| Some(IpAddr::from([10, 0, 0, i]));
        // One host announcing a thousand peers gets a few dialled...
        let admitted = (0..1_000).filter(|_| dials.admit(host(66), start)).count();
        assert_eq!(admitted, MAX_MDNS_DIALS_PER_HOST as usize);
        // ...and the real peers of other hosts are still dialled in the same window.
        assert!(dials.admit(host(1), start));
        assert!(dials.admit(host(2), start));
        // Many hosts together get no more than the window allows.
        let admitted = (0..=255).filter(|&i| dials.admit(host(i), start)).count();
        assert_eq!(
            admitted,
            MAX_MDNS_DIALS as usize - MAX_MDNS_DIALS_PER_HOST as usize - 2
        );
        assert!(dials.admit(host(66), start + MDNS_WINDOW), "a new window");
        assert_eq!(
            dials.by_host.len(),
            1,
            "the hosts of past windows are forgotten"
        );
    }

    #[test]
    fn a_peer_is_disconnected_once_it_stays_slow_not_for_a_burst() {
        let mut slow = SlowPeers::default();
        let peer = PeerId::random();
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        // A burst: five slow heartbeats, then it catches up.
        for s in 0..5 {
            assert!(!slow.on_slow(peer, at(s)));
        }
        // Slow again after a pause: a new spell, which lasts.
        for s in 10..40 {
            assert!(!slow.on_slow(peer, at(s)), "{s}");
        }
        assert!(slow.on_slow(peer, at(40)));
        slow.forget(&peer);
        assert!(slow.spells.is_empty());
    }
}
