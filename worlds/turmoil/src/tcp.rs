//! A libp2p transport on turmoil's simulated TCP: raw byte streams, which the node wraps in
//! pnet, Noise and Yamux as it wraps real TCP.

use futures::future::{self, BoxFuture, FutureExt, Ready};
use libp2p::core::multiaddr::Protocol;
use libp2p::core::transport::{DialOpts, ListenerId, TransportError, TransportEvent};
use libp2p::core::Transport;
use libp2p::Multiaddr;
use p2p_sync::net::world::Socket;
use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio_util::compat::TokioAsyncReadCompatExt;
use turmoil::net::{TcpListener, TcpStream};

/// What an accept yields.
type Accepted = io::Result<(TcpStream, SocketAddr)>;

/// An incoming connection, ready at once: turmoil's TCP has no handshake left to do.
type Upgrade = Ready<io::Result<Box<dyn Socket>>>;

/// One listener: its socket and the accept in progress.
struct Listener {
    id: ListenerId,
    address: Multiaddr,
    socket: Arc<TcpListener>,
    accept: BoxFuture<'static, Accepted>,
}

/// TCP inside a turmoil simulation for the host whose address is `ip`: listens on
/// `0.0.0.0` (all turmoil allows) and announces `/ip4/<ip>/tcp/<port>`.
pub struct TurmoilTcp {
    ip: IpAddr,
    listeners: Vec<Listener>,
    events: VecDeque<TransportEvent<Upgrade, io::Error>>,
}

impl TurmoilTcp {
    /// The transport of the host at `ip`.
    pub fn new(ip: IpAddr) -> Self {
        TurmoilTcp {
            ip,
            listeners: Vec::new(),
            events: VecDeque::new(),
        }
    }
}

/// The IP address and TCP port of `address`, if it is `/ip4/…/tcp/…` (a `/p2p/…` may follow).
fn socket_address(address: &Multiaddr) -> Option<SocketAddr> {
    let mut protocols = address.iter();
    let ip = match protocols.next()? {
        Protocol::Ip4(ip) => IpAddr::V4(ip),
        _ => return None,
    };
    let port = match protocols.next()? {
        Protocol::Tcp(port) => port,
        _ => return None,
    };
    match protocols.next() {
        None | Some(Protocol::P2p(_)) => Some(SocketAddr::new(ip, port)),
        Some(_) => None,
    }
}

/// `address` as a multiaddr.
fn multiaddr(address: SocketAddr) -> Multiaddr {
    Multiaddr::from(address.ip()).with(Protocol::Tcp(address.port()))
}

/// A stream as the node takes it.
fn boxed(stream: TcpStream) -> Box<dyn Socket> {
    Box::new(stream.compat())
}

/// Waits for the next connection on `socket`.
fn accept(socket: Arc<TcpListener>) -> BoxFuture<'static, Accepted> {
    async move { socket.accept().await }.boxed()
}

impl Transport for TurmoilTcp {
    type Output = Box<dyn Socket>;
    type Error = io::Error;
    type ListenerUpgrade = Upgrade;
    type Dial = BoxFuture<'static, io::Result<Box<dyn Socket>>>;

    fn listen_on(
        &mut self,
        id: ListenerId,
        address: Multiaddr,
    ) -> Result<(), TransportError<io::Error>> {
        let Some(wanted) = socket_address(&address) else {
            return Err(TransportError::MultiaddrNotSupported(address));
        };
        let any = SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), wanted.port());
        let socket = match TcpListener::bind(any).now_or_never() {
            Some(Ok(socket)) => Arc::new(socket),
            Some(Err(error)) => return Err(TransportError::Other(error)),
            None => {
                return Err(TransportError::Other(io::Error::other(
                    "bind did not finish",
                )))
            }
        };
        let port = socket.local_addr().map_err(TransportError::Other)?.port();
        let address = multiaddr(SocketAddr::new(self.ip, port));
        self.events.push_back(TransportEvent::NewAddress {
            listener_id: id,
            listen_addr: address.clone(),
        });
        self.listeners.push(Listener {
            id,
            address,
            accept: accept(socket.clone()),
            socket,
        });
        Ok(())
    }

    fn remove_listener(&mut self, id: ListenerId) -> bool {
        let before = self.listeners.len();
        self.listeners.retain(|listener| listener.id != id);
        if self.listeners.len() == before {
            return false;
        }
        self.events.push_back(TransportEvent::ListenerClosed {
            listener_id: id,
            reason: Ok(()),
        });
        true
    }

    fn dial(
        &mut self,
        address: Multiaddr,
        _options: DialOpts,
    ) -> Result<Self::Dial, TransportError<io::Error>> {
        let Some(remote) = socket_address(&address) else {
            return Err(TransportError::MultiaddrNotSupported(address));
        };
        Ok(async move { TcpStream::connect(remote).await.map(boxed) }.boxed())
    }

    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<TransportEvent<Self::ListenerUpgrade, io::Error>> {
        if let Some(event) = self.events.pop_front() {
            return Poll::Ready(event);
        }
        for listener in &mut self.listeners {
            let Poll::Ready(accepted) = listener.accept.poll_unpin(cx) else {
                continue;
            };
            listener.accept = accept(listener.socket.clone());
            return Poll::Ready(match accepted {
                Ok((stream, remote)) => TransportEvent::Incoming {
                    listener_id: listener.id,
                    upgrade: future::ready(Ok(boxed(stream))),
                    local_addr: listener.address.clone(),
                    send_back_addr: multiaddr(remote),
                },
                Err(error) => TransportEvent::ListenerError {
                    listener_id: listener.id,
                    error,
                },
            });
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ip4_tcp_addresses_are_taken() {
        let plain: Multiaddr = "/ip4/192.168.0.1/tcp/4001".parse().unwrap();
        assert_eq!(
            socket_address(&plain),
            Some("192.168.0.1:4001".parse().unwrap())
        );
        let with_peer = plain.with(Protocol::P2p(libp2p::PeerId::random()));
        assert!(socket_address(&with_peer).is_some());
        let quic: Multiaddr = "/ip4/192.168.0.1/udp/4001/quic-v1".parse().unwrap();
        assert_eq!(socket_address(&quic), None);
    }
}
