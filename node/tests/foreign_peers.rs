//! A libp2p peer that is not a p2p-sync node (Identify and Ping only, like any stranger's
//! libp2p program on the LAN) connects to a node in process, over loopback. The node must not
//! count it as a reconciliation peer (no reconciliation, no anti-entropy round, no direct gossip), and
//! must not redial it once it leaves: it neither was named with `--dial` nor proved useful.

use futures::StreamExt;
use libp2p::identity::Keypair;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{identify, noise, ping, tcp, yamux, Multiaddr, PeerId, Swarm, SwarmBuilder};
use p2p_sync::net::{Node, Options};
use p2p_sync_core::Config;
use std::net::Ipv4Addr;
use std::time::Duration;
use tokio::time::{sleep_until, Instant};

const DEADLINE: Duration = Duration::from_secs(30);

/// A stranger's libp2p program: Identify and Ping.
#[derive(NetworkBehaviour)]
struct Stranger {
    identify: identify::Behaviour,
    ping: ping::Behaviour,
}

/// A stranger whose PeerId sorts after `node`'s: a node opens a reconciliation at once with a
/// reconciliation peer whose id is larger than its own, so counting the stranger would show.
fn stranger_after(node: &PeerId) -> Swarm<Stranger> {
    let key = std::iter::repeat_with(Keypair::generate_ed25519)
        .find(|key| key.public().to_peer_id().to_string() > node.to_string())
        .expect("a key");
    SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_tcp(
            tcp::Config::default(),
            noise::Config::new,
            yamux::Config::default,
        )
        .unwrap()
        .with_behaviour(|key| Stranger {
            identify: identify::Behaviour::new(identify::Config::new(
                "/stranger/1.0.0".into(),
                key.public(),
            )),
            ping: ping::Behaviour::default(),
        })
        .unwrap()
        .with_swarm_config(|config| config.with_idle_connection_timeout(Duration::from_secs(60)))
        .build()
}

/// Steps `node` and `stranger` until `done` holds for the stranger's event (or, given `None`,
/// until `until`); returns whether `done` held.
async fn drive(
    node: &mut Node,
    stranger: &mut Swarm<Stranger>,
    until: Instant,
    mut done: impl FnMut(&SwarmEvent<StrangerEvent>) -> bool,
) -> bool {
    loop {
        tokio::select! {
            () = node.step() => {}
            event = stranger.select_next_some() => if done(&event) { return true },
            () = sleep_until(until) => return false,
        }
    }
}

#[tokio::test]
async fn a_stranger_is_neither_reconciled_with_nor_redialled() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::start(Options {
        data_dir: dir.path().to_path_buf(),
        listen_ip: Ipv4Addr::LOCALHOST.into(),
        port: 0,
        dial: Vec::new(),
        mdns: false,
        config: Config::default(),
        psk: None,
        allow: Vec::new(),
        clock_offset_ms: 0,
        world: Default::default(),
    })
    .await
    .expect("the node starts");
    let node_id = node.peer_id();
    let mut stranger = stranger_after(&node_id);
    stranger
        .listen_on("/ip4/127.0.0.1/tcp/0".parse::<Multiaddr>().unwrap())
        .unwrap();
    let address = node
        .listen_addresses()
        .into_iter()
        .find(|address| address.to_string().contains("/tcp/"))
        .expect("a TCP address");
    stranger.dial(address).unwrap();

    // Both sides identify; then give the node time to act on it.
    let identified = drive(
        &mut node,
        &mut stranger,
        Instant::now() + DEADLINE,
        |event| {
            matches!(
                event,
                SwarmEvent::Behaviour(StrangerEvent::Identify(identify::Event::Received { .. }))
            )
        },
    )
    .await;
    assert!(identified, "the stranger never identified the node");
    drive(
        &mut node,
        &mut stranger,
        Instant::now() + Duration::from_millis(500),
        |_| false,
    )
    .await;
    let status = node.status().unwrap();
    let seen = status
        .peers
        .iter()
        .find(|peer| peer.peer == *stranger.local_peer_id());
    assert!(seen.is_some_and(|peer| !peer.p2p_sync), "{status:?}");
    assert_eq!(
        node.counters().reconciliations_started,
        0,
        "the node reconciled with a stranger"
    );

    // The stranger leaves; the first redial of a lost peer comes after 1 s, the second 2 s
    // later. None may come.
    stranger.disconnect_peer_id(node_id).unwrap();
    let redialled = drive(
        &mut node,
        &mut stranger,
        Instant::now() + Duration::from_secs(4),
        |event| matches!(event, SwarmEvent::IncomingConnection { .. }),
    )
    .await;
    assert!(!redialled, "the node redialled a stranger");
}
