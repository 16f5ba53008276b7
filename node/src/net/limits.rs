//! How many connections a node keeps, so a stranger on the LAN cannot exhaust its memory, file
//! descriptors or handshake CPU by opening connections: libp2p's `connection_limits` (in all,
//! and per PeerId), and [`IpLimits`] per IP address, so fresh identities from one host do not
//! take every place. A connection over a limit is refused as it opens; the node's own state is
//! untouched.

use super::peers::ip_of;
use libp2p::connection_limits::{Behaviour, ConnectionLimits};
use libp2p::core::transport::PortUse;
use libp2p::core::Endpoint;
use libp2p::swarm::{
    dummy, ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, THandler, THandlerInEvent,
    THandlerOutEvent, ToSwarm,
};
use libp2p::{Multiaddr, PeerId};
use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::net::IpAddr;
use std::task::{Context, Poll};

/// Most established connections: every node of a LAN of about a hundred machines (mDNS
/// connects each to all), with room to spare.
pub const MAX_ESTABLISHED: u32 = 128;
/// Most established incoming connections: three quarters of [`MAX_ESTABLISHED`], so a flood of
/// incoming connections leaves room for the node's own dials (`--dial`, mDNS).
pub const MAX_ESTABLISHED_INCOMING: u32 = 96;
/// Most connections to one peer: both sides dialling at once (mDNS finds each side), plus the
/// old connection a peer killed and restarted leaves until its pings fail.
pub const MAX_ESTABLISHED_PER_PEER: u32 = 3;
/// Most incoming connections in their handshake (each costs a Noise key exchange): a few LAN
/// peers arriving at once pass, a connection flood waits its turn or is refused.
pub const MAX_PENDING_INCOMING: u32 = 32;
/// Most outgoing dials in progress: a whole LAN found by mDNS at once, but not an unbounded
/// number of addresses a peer might make the node dial.
pub const MAX_PENDING_OUTGOING: u32 = 64;

/// The `connection_limits` behaviour with the limits above.
pub fn connection_limits() -> Behaviour {
    Behaviour::new(
        ConnectionLimits::default()
            .with_max_established(Some(MAX_ESTABLISHED))
            .with_max_established_incoming(Some(MAX_ESTABLISHED_INCOMING))
            .with_max_established_per_peer(Some(MAX_ESTABLISHED_PER_PEER))
            .with_max_pending_incoming(Some(MAX_PENDING_INCOMING))
            .with_max_pending_outgoing(Some(MAX_PENDING_OUTGOING)),
    )
}

/// Most incoming connections from one IP address, in their handshake or established: a host
/// running a few nodes (each with up to [`MAX_ESTABLISHED_PER_PEER`] connections) gets in, one
/// host with a fresh identity per connection does not take all [`MAX_ESTABLISHED_INCOMING`]
/// places (`connection_limits` counts per PeerId only). Loopback is exempt: no LAN peer comes
/// from it, and tests run many nodes there.
pub const MAX_INCOMING_PER_IP: usize = 8;

/// Why an incoming connection was refused.
#[derive(Debug, thiserror::Error)]
#[error("{0} already has {MAX_INCOMING_PER_IP} incoming connections")]
pub struct TooManyFromIp(IpAddr);

/// Refuses an incoming connection as it opens (before its handshake) when its IP address
/// already has [`MAX_INCOMING_PER_IP`] incoming connections, pending or established.
#[derive(Debug, Default)]
pub struct IpLimits {
    /// Incoming connections not closed yet, and the IP address each comes from.
    incoming: HashMap<ConnectionId, IpAddr>,
    /// Addresses whose refusal was logged (one line each; forgotten past 1,024).
    logged: HashSet<IpAddr>,
}

impl IpLimits {
    /// Incoming connections from `ip` not closed yet.
    pub fn incoming_from(&self, ip: IpAddr) -> usize {
        self.incoming.values().filter(|&&from| from == ip).count()
    }
}

impl NetworkBehaviour for IpLimits {
    type ConnectionHandler = dummy::ConnectionHandler;
    type ToSwarm = Infallible;

    fn handle_pending_inbound_connection(
        &mut self,
        connection: ConnectionId,
        _: &Multiaddr,
        remote: &Multiaddr,
    ) -> Result<(), ConnectionDenied> {
        let Some(ip) = ip_of(remote).filter(|ip| !ip.is_loopback()) else {
            return Ok(());
        };
        if self.incoming_from(ip) >= MAX_INCOMING_PER_IP {
            if self.logged.len() >= 1_024 {
                self.logged.clear();
            }
            if self.logged.insert(ip) {
                tracing::warn!(
                    "Refused connections from {ip}: it already has {MAX_INCOMING_PER_IP} incoming connections"
                );
            }
            return Err(ConnectionDenied::new(TooManyFromIp(ip)));
        }
        self.incoming.insert(connection, ip);
        Ok(())
    }

    fn handle_established_inbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        _: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(dummy::ConnectionHandler)
    }

    fn handle_established_outbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(dummy::ConnectionHandler)
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        match event {
            FromSwarm::ConnectionClosed(closed) => {
                self.incoming.remove(&closed.connection_id);
            }
            FromSwarm::ListenFailure(failure) => {
                self.incoming.remove(&failure.connection_id);
            }
            _ => {}
        }
    }

    fn on_connection_handler_event(
        &mut self,
        _: PeerId,
        _: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        match event {}
    }

    fn poll(&mut self, _: &mut Context<'_>) -> Poll<ToSwarm<Infallible, THandlerInEvent<Self>>> {
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use libp2p::swarm::{ListenError, ListenFailure};

    fn from(ip: &str, port: u16) -> Multiaddr {
        format!("/ip4/{ip}/tcp/{port}").parse().unwrap()
    }

    #[test]
    fn one_ip_gets_a_few_incoming_connections_and_more_once_some_are_gone() {
        let mut limits = IpLimits::default();
        let local = from("192.168.1.2", 4002);
        let open = |limits: &mut IpLimits, id: usize, ip: &str| {
            let remote = from(ip, 50_000 + id as u16);
            limits.handle_pending_inbound_connection(
                ConnectionId::new_unchecked(id),
                &local,
                &remote,
            )
        };
        for id in 0..MAX_INCOMING_PER_IP {
            assert!(open(&mut limits, id, "192.168.1.66").is_ok());
        }
        assert!(open(&mut limits, 100, "192.168.1.66").is_err(), "one more");
        assert!(
            open(&mut limits, 101, "192.168.1.67").is_ok(),
            "another host"
        );
        for id in 200..300 {
            assert!(open(&mut limits, id, "127.0.0.1").is_ok(), "loopback");
        }
        // A failed handshake frees its place.
        let error = ListenError::Aborted;
        limits.on_swarm_event(FromSwarm::ListenFailure(ListenFailure {
            local_addr: &local,
            send_back_addr: &from("192.168.1.66", 50_000),
            error: &error,
            connection_id: ConnectionId::new_unchecked(0),
            peer_id: None,
        }));
        assert!(open(&mut limits, 102, "192.168.1.66").is_ok());
        assert!(open(&mut limits, 103, "192.168.1.66").is_err());
    }
}
