//! The allow-list at the connection level: a behaviour that denies every connection (incoming
//! or outgoing) with a peer not admitted, as soon as the peer's identity is known, before any
//! other behaviour or protocol sees it. Open until the node gives it a list.

use libp2p::core::transport::PortUse;
use libp2p::core::Endpoint;
use libp2p::swarm::{
    dummy, ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, THandler, THandlerInEvent,
    THandlerOutEvent, ToSwarm,
};
use libp2p::{Multiaddr, PeerId};
use std::collections::HashSet;
use std::convert::Infallible;
use std::task::{Context, Poll};

/// Why a connection was denied.
#[derive(Debug, thiserror::Error)]
#[error("peer {0} is not on the allow-list")]
pub struct NotAllowed(PeerId);

/// Admits every peer, or only a set of them.
#[derive(Debug, Default)]
pub struct Gate {
    admitted: Option<HashSet<PeerId>>,
    /// Peers whose refusal was logged since the list last changed (one line each).
    logged: HashSet<PeerId>,
}

impl Gate {
    /// From now on admit only `peers` (`None`: everyone). Open connections are not touched;
    /// the node closes those of peers no longer admitted.
    pub fn set(&mut self, peers: Option<HashSet<PeerId>>) {
        self.admitted = peers;
        self.logged.clear();
    }

    /// Whether a connection with `peer` is allowed.
    pub fn admits(&self, peer: &PeerId) -> bool {
        self.admitted
            .as_ref()
            .is_none_or(|admitted| admitted.contains(peer))
    }

    fn check(&mut self, peer: PeerId, remote: &Multiaddr) -> Result<(), ConnectionDenied> {
        if self.admits(&peer) {
            return Ok(());
        }
        if self.logged.insert(peer) {
            tracing::warn!(
                "Refused a connection with peer {peer} ({remote}): not on the allow-list"
            );
        }
        Err(ConnectionDenied::new(NotAllowed(peer)))
    }
}

impl NetworkBehaviour for Gate {
    type ConnectionHandler = dummy::ConnectionHandler;
    type ToSwarm = Infallible;

    fn handle_established_inbound_connection(
        &mut self,
        _: ConnectionId,
        peer: PeerId,
        _: &Multiaddr,
        remote: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.check(peer, remote)?;
        Ok(dummy::ConnectionHandler)
    }

    fn handle_established_outbound_connection(
        &mut self,
        _: ConnectionId,
        peer: PeerId,
        remote: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.check(peer, remote)?;
        Ok(dummy::ConnectionHandler)
    }

    fn on_swarm_event(&mut self, _: FromSwarm) {}

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
