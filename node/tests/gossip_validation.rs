//! Our libp2p behaviour in process, over real loopback connections: an attacker swarm built
//! from the same behaviour publishes an oversized, a malformed and an invalid message, then a
//! valid one. The node drops each bad one with the right counter, keeps the connection, and
//! applies the valid one once the attacker's Gossipsub score has recovered from the three. A second node shows a write made before anyone subscribed still
//! arrives.

use futures::StreamExt;
use libp2p::gossipsub::{self, IdentTopic};
use libp2p::identity::Keypair;
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, Swarm};
use p2p_sync::net::behaviour::{build_swarm, Behaviour, BehaviourEvent, TOPIC};
use p2p_sync::net::{Node, Options, SystemClock};
use p2p_sync_core::wire::format_timestamp;
use p2p_sync_core::{Clock, Config, DropReason};
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;
use tokio::time::{timeout, Instant};

const DEADLINE: Duration = Duration::from_secs(30);

async fn start_node(data_dir: &Path, dial: Vec<Multiaddr>) -> Node {
    Node::start(Options {
        data_dir: data_dir.to_path_buf(),
        listen_ip: Ipv4Addr::LOCALHOST.into(),
        port: 0,
        dial,
        mdns: false,
        psk: None,
        allow: Vec::new(),
        config: Config::default(),
        clock_offset_ms: 0,
        world: Default::default(),
    })
    .await
    .expect("the node starts")
}

fn tcp_address(node: &Node) -> Multiaddr {
    node.listen_addresses()
        .into_iter()
        .find(|address| address.to_string().contains("/tcp/"))
        .expect("a TCP listen address")
}

/// A legacy-format put, stamped now.
fn put(key: &str, value: &str) -> Vec<u8> {
    let timestamp = format_timestamp(SystemClock::new().now_ms());
    format!(r#"{{"Put":{{"key":"{key}","value":"{value}","timestamp":"{timestamp}"}}}}"#)
        .into_bytes()
}

/// Steps `node` and `attacker` until `done` holds for the node, or fails at the deadline.
async fn drive(
    node: &mut Node,
    attacker: &mut Swarm<Behaviour>,
    mut done: impl FnMut(&Node) -> bool,
) {
    let deadline = Instant::now() + DEADLINE;
    while !done(node) {
        assert!(
            Instant::now() < deadline,
            "timed out; counters: {:?}",
            node.counters()
        );
        let _ = timeout(Duration::from_millis(100), async {
            tokio::select! {
                () = node.step() => {}
                _ = attacker.select_next_some() => {}
            }
        })
        .await;
    }
}

#[tokio::test]
async fn bad_gossip_is_dropped_and_counted_while_the_connection_stays_up() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = start_node(dir.path(), Vec::new()).await;
    let config = Config::default();
    let mut attacker = build_swarm(Keypair::generate_ed25519(), &config, false, None).unwrap();
    let attacker_id = *attacker.local_peer_id();
    attacker.dial(tcp_address(&node)).unwrap();

    let deadline = Instant::now() + DEADLINE;
    loop {
        assert!(Instant::now() < deadline, "the node never subscribed");
        let event = tokio::select! {
            () = node.step() => continue,
            event = attacker.select_next_some() => event,
        };
        if let SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Subscribed {
            ..
        })) = event
        {
            break;
        }
    }

    let topic = IdentTopic::new(TOPIC);
    let long_key = "k".repeat(config.max_key_bytes + 1);
    let bad = [
        (
            DropReason::TooLarge,
            vec![b'x'; config.max_message_bytes + 1000],
        ),
        (DropReason::Malformed, b"not json at all".to_vec()),
        (DropReason::Invalid, put(&long_key, "value")),
    ];
    for (reason, payload) in bad {
        let gossip = &mut attacker.behaviour_mut().gossipsub;
        gossip
            .publish(topic.clone(), payload)
            .unwrap_or_else(|error| panic!("publish the {reason} message: {error}"));
        drive(&mut node, &mut attacker, |node| {
            node.counters().dropped.get(reason) == 1
        })
        .await;
        assert!(
            node.is_connected(&attacker_id),
            "disconnected after the {reason} message"
        );
    }

    // Three rejected messages in a row put the attacker below Gossipsub's graylist threshold
    // (-10 × 3² = -90 < -80): every frame it sends is ignored until its score decays past the
    // threshold (by 0.9 a second), about a second later.
    let until = Instant::now() + Duration::from_secs(2);
    drive(&mut node, &mut attacker, |_| Instant::now() >= until).await;
    attacker
        .behaviour_mut()
        .gossipsub
        .publish(topic, put("hello", "world"))
        .unwrap();
    drive(&mut node, &mut attacker, |node| {
        node.get("hello").unwrap().as_deref() == Some("world")
    })
    .await;
    let counters = node.counters();
    assert_eq!(counters.applied, 1);
    assert_eq!(counters.dropped.total(), 3, "{counters:?}");
    assert!(node.is_connected(&attacker_id));
}

#[tokio::test]
async fn a_write_made_before_any_peer_arrives_reaches_the_first_peer() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = start_node(&dir.path().join("a"), Vec::new()).await;
    a.put_many(&[("early".into(), "bird".into())]).unwrap();
    let mut b = start_node(&dir.path().join("b"), vec![tcp_address(&a)]).await;
    let deadline = Instant::now() + DEADLINE;
    while b.get("early").unwrap().as_deref() != Some("bird") {
        assert!(Instant::now() < deadline, "the early write never arrived");
        tokio::select! {
            () = a.step() => {}
            () = b.step() => {}
        }
    }
}
