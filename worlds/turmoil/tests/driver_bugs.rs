//! The first round's three driver bugs, each played in turmoil against the real node: a
//! foreign peer that does not speak ping is kept; a connection a restarted peer left behind
//! does not swallow what the node sends; two nodes on one data directory are refused.
//!
//! The first and the third fail when their fix is undone (ping's `Unsupported` taken as dead;
//! no lock). The second does not depend on ping closing dead connections: over turmoil's TCP
//! the restarted peer's new connection replaces the old one without it (the first round's
//! stale connection was QUIC's, which turmoil cannot play); it stays as a check that writes
//! cross both ways after such a restart.

use futures::StreamExt;
use libp2p::core::upgrade::Version;
use libp2p::core::Transport as _;
use libp2p::identity::Keypair;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{gossipsub, identify, noise, yamux, Multiaddr, SwarmBuilder};
use p2p_sync_turmoil::tcp::TurmoilTcp;
use p2p_sync_turmoil::world::{Layout, TurmoilWorld};
use std::cell::Cell;
use std::error::Error;
use std::net::Ipv4Addr;
use std::rc::Rc;
use std::time::Duration;

/// A client of another make: Gossipsub on the node's topic and Identify, no ping.
#[derive(NetworkBehaviour)]
struct Foreign {
    gossipsub: gossipsub::Behaviour,
    identify: identify::Behaviour,
}

/// Runs the foreign client at 192.168.0.`last_octet`, dialling `node`; `connected` says
/// whether it has a connection open.
async fn foreign_client(
    last_octet: u8,
    node: Multiaddr,
    connected: Rc<Cell<bool>>,
) -> Result<(), Box<dyn Error>> {
    let ip = Ipv4Addr::new(192, 168, 0, last_octet).into();
    let mut swarm = SwarmBuilder::with_existing_identity(Keypair::ed25519_from_bytes([7; 32])?)
        .with_tokio()
        .with_other_transport(|key| -> Result<_, Box<dyn Error + Send + Sync>> {
            Ok(TurmoilTcp::new(ip)
                .upgrade(Version::V1Lazy)
                .authenticate(noise::Config::new(key)?)
                .multiplex(yamux::Config::default()))
        })?
        .with_behaviour(|key| {
            let gossipsub = gossipsub::Behaviour::new(
                gossipsub::MessageAuthenticity::Signed(key.clone()),
                gossipsub::Config::default(),
            )?;
            let identify = identify::Behaviour::new(identify::Config::new(
                "/other/1.0.0".into(),
                key.public(),
            ));
            Ok(Foreign {
                gossipsub,
                identify,
            })
        })?
        .with_swarm_config(|config| config.with_idle_connection_timeout(Duration::from_secs(3600)))
        .build();
    swarm
        .behaviour_mut()
        .gossipsub
        .subscribe(&gossipsub::IdentTopic::new("p2p-sync"))?;
    swarm.dial(node)?;
    loop {
        match swarm.select_next_some().await {
            SwarmEvent::ConnectionEstablished { .. } => connected.set(true),
            SwarmEvent::ConnectionClosed {
                num_established: 0, ..
            } => connected.set(false),
            _ => {}
        }
    }
}

#[test]
fn a_foreign_peer_that_does_not_speak_ping_is_kept() {
    let mut world = TurmoilWorld::new(&Layout::new(1, 3)).unwrap();
    let connected = Rc::new(Cell::new(false));
    let (node, flag) = (world.address(0), connected.clone());
    world.add_host("foreign", move || {
        let (node, flag) = (node.clone(), flag.clone());
        async move { foreign_client(2, node, flag).await }
    });
    world.run_for(Duration::from_secs(2)).unwrap();
    assert!(connected.get(), "the foreign client connects");
    world.run_for(Duration::from_secs(30)).unwrap();
    let views = world.report().unwrap();
    assert!(
        connected.get(),
        "the node closed the foreign client's connection"
    );
    assert_eq!(views[0].peers, 1, "the node keeps the foreign client");
}

#[test]
fn a_connection_left_by_a_restarted_peer_does_not_swallow_writes() {
    let mut world = TurmoilWorld::new(&Layout::new(2, 5)).unwrap();
    world.run_for(Duration::from_secs(3)).unwrap();
    // n1 restarts while the link drops everything: its old connection's close never reaches
    // n0, which still holds it when n1 comes back and dials in anew.
    world.drop_between(0, 1);
    world.crash(1);
    world.bounce(1);
    world.run_for(Duration::from_millis(200)).unwrap();
    world.repair(0, 1);
    world.put(0, "from-n0", "1");
    world.put(1, "from-n1", "1");
    world.run_for(Duration::from_secs(15)).unwrap();
    let views = world.report().unwrap();
    for (index, view) in views.iter().enumerate() {
        assert_eq!(
            view.list.len(),
            2,
            "n{index} lists {:?}\n{}",
            view.list,
            world.trace().text()
        );
    }
}

#[test]
fn two_nodes_on_one_data_directory_are_refused_until_the_first_stops() {
    let layout = Layout {
        dials: |_| Vec::new(),
        dir_of: |_| 0,
        ..Layout::new(2, 9)
    };
    let mut world = TurmoilWorld::new(&layout).unwrap();
    world.run_for(Duration::from_secs(1)).unwrap();
    let refused = |world: &TurmoilWorld| {
        world
            .trace()
            .lines()
            .iter()
            .any(|line| line.contains("n1") && line.contains("in use by another p2p-sync"))
    };
    assert!(refused(&world), "{}", world.trace().text());
    assert!(world.report().unwrap()[0].running);
    world.crash(0);
    world.bounce(1);
    world.run_for(Duration::from_secs(1)).unwrap();
    assert!(
        world.report().unwrap()[1].running,
        "n1 starts once n0 is gone\n{}",
        world.trace().text()
    );
}
