//! What the driver knows of its connections and peers, beyond what libp2p keeps: where each
//! connection comes from, which connections Identify showed to be p2p-sync nodes, and which
//! peers proved useful. Only p2p-sync peers are handed to the core (reconciliation and
//! anti-entropy); only their own addresses go to Kademlia;
//! only useful peers are redialled.

use super::behaviour::KAD_PROTOCOL;
use super::codec::RECONCILE_PROTOCOL;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::ConnectionId;
use libp2p::{identify, Multiaddr, PeerId};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

/// Most announced addresses of one peer taken into Kademlia.
pub const MAX_ADDRESSES_PER_PEER: usize = 8;

/// One open connection.
#[derive(Debug)]
struct Connection {
    peer: PeerId,
    /// The IP address the connection comes from (or goes to).
    ip: Option<IpAddr>,
    /// Identify showed the peer speaks our reconciliation protocol on this connection.
    p2p_sync: bool,
    /// Identify answered on this connection at all.
    identified: bool,
}

/// What a peer's Identify told us, as far as the driver acts on it.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Identified {
    /// A connection newly shown to speak p2p-sync: tell the core the peer is up (a new
    /// connection of a known peer starts a reconciliation too: the peer may have restarted).
    pub new_connection: bool,
    /// The addresses to give Kademlia.
    pub routable: Vec<Multiaddr>,
}

/// Connections and peers as the driver tracks them.
#[derive(Debug, Default)]
pub struct Peers {
    connections: HashMap<ConnectionId, Connection>,
    useful: HashSet<PeerId>,
}

/// The IP address in `address`, if it has one.
pub fn ip_of(address: &Multiaddr) -> Option<IpAddr> {
    address.iter().find_map(|protocol| match protocol {
        Protocol::Ip4(ip) => Some(IpAddr::V4(ip)),
        Protocol::Ip6(ip) => Some(IpAddr::V6(ip)),
        _ => None,
    })
}

/// The addresses of a peer worth remembering in Kademlia: none unless it speaks both our reconciliation
/// and our Kademlia protocols, and only those on the IP address it connected from (at most
/// [`MAX_ADDRESSES_PER_PEER`]). So a peer can point the node at itself, never at a third
/// party.
pub fn routable_addresses(info: &identify::Info, connected_from: Option<IpAddr>) -> Vec<Multiaddr> {
    let ours =
        info.protocols.contains(&RECONCILE_PROTOCOL) && info.protocols.contains(&KAD_PROTOCOL);
    let Some(from) = connected_from.filter(|_| ours) else {
        return Vec::new();
    };
    info.listen_addrs
        .iter()
        .filter(|address| ip_of(address) == Some(from))
        .take(MAX_ADDRESSES_PER_PEER)
        .cloned()
        .collect()
}

impl Peers {
    /// A connection to `peer` opened, with the remote address `remote`.
    pub fn on_established(&mut self, peer: PeerId, connection: ConnectionId, remote: &Multiaddr) {
        self.connections.insert(
            connection,
            Connection {
                peer,
                ip: ip_of(remote),
                p2p_sync: false,
                identified: false,
            },
        );
    }

    /// A connection closed. Returns whether Identify had answered on it.
    pub fn on_closed(&mut self, connection: ConnectionId) -> bool {
        self.connections
            .remove(&connection)
            .is_some_and(|closed| closed.identified)
    }

    /// Identify answered on `connection` of `peer`.
    pub fn on_identified(&mut self, connection: ConnectionId, info: &identify::Info) -> Identified {
        let Some(open) = self.connections.get_mut(&connection) else {
            return Identified::default();
        };
        open.identified = true;
        let routable = routable_addresses(info, open.ip);
        if !info.protocols.contains(&RECONCILE_PROTOCOL) || open.p2p_sync {
            return Identified {
                routable,
                ..Identified::default()
            };
        }
        open.p2p_sync = true;
        Identified {
            new_connection: true,
            routable,
        }
    }

    /// Whether a connection of `peer` was shown to speak p2p-sync.
    pub fn is_p2p_sync(&self, peer: &PeerId) -> bool {
        self.connections
            .values()
            .any(|open| open.peer == *peer && open.p2p_sync)
    }

    /// The IP address `connection` comes from.
    pub fn ip_of_connection(&self, connection: ConnectionId) -> Option<IpAddr> {
        self.connections.get(&connection).and_then(|open| open.ip)
    }

    /// `peer` proved useful: it sent a valid write or answered our reconciliation protocol.
    pub fn mark_useful(&mut self, peer: PeerId) {
        self.useful.insert(peer);
    }

    /// Whether `peer` proved useful at some point; worth redialling when lost.
    pub fn is_useful(&self, peer: &PeerId) -> bool {
        self.useful.contains(peer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use libp2p::identity::Keypair;

    fn info(protocols: &[libp2p::StreamProtocol], listen: &[&str]) -> identify::Info {
        identify::Info {
            public_key: Keypair::generate_ed25519().public(),
            protocol_version: "/p2p-sync/1.0.0".into(),
            agent_version: "test".into(),
            listen_addrs: listen.iter().map(|a| a.parse().unwrap()).collect(),
            protocols: protocols.to_vec(),
            observed_addr: Multiaddr::empty(),
            signed_peer_record: None,
        }
    }

    const LISTEN: [&str; 3] = [
        "/ip4/192.168.1.5/tcp/4002",
        "/ip4/10.9.9.9/tcp/22",
        "/ip4/192.168.1.5/udp/4002/quic-v1",
    ];

    #[test]
    fn kademlia_gets_only_a_p2p_sync_peers_own_addresses() {
        let from = Some("192.168.1.5".parse().unwrap());
        let both = [RECONCILE_PROTOCOL, KAD_PROTOCOL];
        let routable = routable_addresses(&info(&both, &LISTEN), from);
        assert_eq!(
            routable,
            vec![LISTEN[0].parse().unwrap(), LISTEN[2].parse().unwrap()]
        );
        // Kademlia alone (any libp2p node with our protocol name) is not enough, nor is an
        // unknown origin.
        assert!(routable_addresses(&info(&[KAD_PROTOCOL], &LISTEN), from).is_empty());
        assert!(routable_addresses(&info(&both, &LISTEN), None).is_empty());
        let many: Vec<String> = (0..100)
            .map(|p| format!("/ip4/192.168.1.5/tcp/{p}"))
            .collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let routable = routable_addresses(&info(&both, &many), from);
        assert_eq!(routable.len(), MAX_ADDRESSES_PER_PEER);
    }

    #[test]
    fn a_peer_counts_as_p2p_sync_once_identify_shows_our_protocol_per_connection() {
        let mut peers = Peers::default();
        let peer = PeerId::random();
        let (first, second) = (
            ConnectionId::new_unchecked(1),
            ConnectionId::new_unchecked(2),
        );
        let remote: Multiaddr = "/ip4/192.168.1.5/tcp/50000".parse().unwrap();
        peers.on_established(peer, first, &remote);
        let foreign = peers.on_identified(first, &info(&[KAD_PROTOCOL], &LISTEN));
        assert_eq!(foreign, Identified::default());
        assert!(!peers.is_p2p_sync(&peer));

        let ours = info(&[RECONCILE_PROTOCOL], &LISTEN);
        let identified = peers.on_identified(first, &ours);
        assert!(identified.new_connection);
        assert!(peers.is_p2p_sync(&peer));
        // Identify runs again now and then: nothing new.
        assert_eq!(peers.on_identified(first, &ours), Identified::default());
        // A second connection (the peer restarted behind a stale one): up again.
        peers.on_established(peer, second, &remote);
        let again = peers.on_identified(second, &ours);
        assert!(again.new_connection);
        peers.on_closed(first);
        peers.on_closed(second);
        assert!(!peers.is_p2p_sync(&peer));
    }
}
