//! Our swarm over real TCP, dialled on the machine's own LAN address (not loopback, which is
//! exempt) by clients of the test's own (bare libp2p: TCP, Noise, Yamux, no protocol), each
//! with a fresh identity: only `MAX_INCOMING_PER_IP` of them get in, however many identities
//! one host makes. Skipped where the machine has no non-loopback IPv4 address.

use futures::StreamExt;
use libp2p::identity::Keypair;
use libp2p::swarm::{dummy, SwarmEvent};
use libp2p::{noise, tcp, yamux, Multiaddr, Swarm, SwarmBuilder};
use p2p_sync::net::behaviour::build_swarm;
use p2p_sync::net::limits::MAX_INCOMING_PER_IP;
use p2p_sync_core::Config;
use std::net::{IpAddr, UdpSocket};
use std::time::Duration;
use tokio::time::Instant;

/// This machine's address on its default route (no packet is sent), unless it has none.
fn lan_ip() -> Option<IpAddr> {
    let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("10.255.255.255:1").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

/// A client that only connects: a fresh identity, TCP, Noise, Yamux.
fn client() -> Swarm<dummy::Behaviour> {
    SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            tcp::Config::default(),
            noise::Config::new,
            yamux::Config::default,
        )
        .unwrap()
        .with_behaviour(|_| dummy::Behaviour)
        .unwrap()
        .with_swarm_config(|config| config.with_idle_connection_timeout(Duration::from_secs(60)))
        .build()
}

#[tokio::test]
async fn one_host_gets_a_few_incoming_connections_whatever_its_identities() {
    let Some(ip) = lan_ip() else {
        println!("SKIPPED: no non-loopback IPv4 address");
        return;
    };
    let config = Config::default();
    let mut node = build_swarm(Keypair::generate_ed25519(), &config, false, None).unwrap();
    node.listen_on("/ip4/0.0.0.0/tcp/0".parse().unwrap())
        .unwrap();
    let port = loop {
        if let SwarmEvent::NewListenAddr { address, .. } = node.select_next_some().await {
            let port = address.iter().find_map(|protocol| match protocol {
                libp2p::multiaddr::Protocol::Tcp(port) => Some(port),
                _ => None,
            });
            break port.unwrap();
        }
    };
    let target: Multiaddr = format!("/ip4/{ip}/tcp/{port}").parse().unwrap();
    const CLIENTS: usize = MAX_INCOMING_PER_IP + 4;
    let mut clients: Vec<Swarm<dummy::Behaviour>> = (0..CLIENTS).map(|_| client()).collect();
    for client in &mut clients {
        client.dial(target.clone()).unwrap();
    }
    let (mut connected, mut refused) = (0, 0);
    let deadline = Instant::now() + Duration::from_secs(30);
    while connected + refused < CLIENTS {
        assert!(
            Instant::now() < deadline,
            "{connected} connected, {refused} refused"
        );
        let next = futures::future::select_all(clients.iter_mut().map(|c| c.select_next_some()));
        tokio::select! {
            _ = node.select_next_some() => {}
            (event, _, _) = next => match event {
                SwarmEvent::ConnectionEstablished { .. } => connected += 1,
                SwarmEvent::ConnectionClosed { .. } | SwarmEvent::OutgoingConnectionError { .. } => {
                    refused += 1
                }
                _ => {}
            },
        }
    }
    assert_eq!(
        (connected, refused),
        (MAX_INCOMING_PER_IP, CLIENTS - MAX_INCOMING_PER_IP)
    );
}
