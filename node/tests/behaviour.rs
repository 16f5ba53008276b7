//! Our libp2p behaviour in process, over libp2p-swarm-test's memory transport (no ports): the
//! Gossipsub mesh forms with the configured degree among ten swarms and carries a write to all;
//! a peer that speaks Gossipsub alone (no ping) stays connected and receives writes; the direct
//! protocol refuses a frame over the receiver's limit and still carries one within it;
//! Kademlia stores no provider and no record a hostile client of its own sends, and keeps a
//! few addresses per peer however many it is told.

use futures::future::select_all;
use futures::StreamExt;
use libp2p::gossipsub::{self, IdentTopic, MessageAcceptance};
use libp2p::kad::store::RecordStore;
use libp2p::swarm::{Swarm, SwarmEvent};
use libp2p::{kad, ping, request_response, Multiaddr, PeerId};
use libp2p_swarm_test::SwarmExt;
use p2p_sync::net::behaviour::{
    max_direct_frame_bytes, ping_shows_dead, remember_addresses, Behaviour, BehaviourEvent,
    GOSSIP_QUEUE_LEN, KAD_PROTOCOL, MAX_KAD_ADDRESSES_PER_PEER, TOPIC,
};
use p2p_sync_core::Config;
use std::collections::HashSet;
use std::time::Duration;
use tokio::time::{timeout, Instant};

/// The longest any test may wait for the swarms to reach a state.
const DEADLINE: Duration = Duration::from_secs(30);

/// A swarm running the node's behaviour with `config`, listening on a memory address.
async fn node_swarm(config: &Config) -> Swarm<Behaviour> {
    let mut swarm =
        Swarm::new_ephemeral_tokio(|key| Behaviour::new(&key, config, false).expect("behaviour"));
    swarm.listen().with_memory_addr_external().await;
    swarm
}

/// What a swarm of ours does with an event here: accept every gossip message (the core's
/// verdict is not under test) and report whether it was a message.
fn accept_gossip(swarm: &mut Swarm<Behaviour>, event: SwarmEvent<BehaviourEvent>) -> bool {
    if let SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
        propagation_source,
        message_id,
        ..
    })) = event
    {
        swarm
            .behaviour_mut()
            .gossipsub
            .report_message_validation_result(
                &message_id,
                &propagation_source,
                MessageAcceptance::Accept,
            );
        return true;
    }
    false
}

/// Polls every swarm until `done` holds for them and the gossip messages each received
/// meanwhile (checked after each event and every 100 ms); returns those counts. Fails at
/// [`DEADLINE`].
async fn run_until(
    swarms: &mut [Swarm<Behaviour>],
    mut done: impl FnMut(&[Swarm<Behaviour>], &[usize]) -> bool,
) -> Vec<usize> {
    let deadline = Instant::now() + DEADLINE;
    let mut received = vec![0; swarms.len()];
    while !done(swarms, &received) {
        assert!(Instant::now() < deadline, "the swarms never got there");
        let next = select_all(swarms.iter_mut().map(|swarm| swarm.select_next_some()));
        if let Ok((event, index, _)) = timeout(Duration::from_millis(100), next).await {
            if accept_gossip(&mut swarms[index], event) {
                received[index] += 1;
            }
        }
    }
    received
}

fn mesh_size(swarm: &Swarm<Behaviour>) -> usize {
    let topic = IdentTopic::new(TOPIC).hash();
    swarm.behaviour().gossipsub.mesh_peers(&topic).count()
}

#[tokio::test]
async fn the_mesh_forms_with_the_configured_degree_and_carries_a_write_to_all() {
    // A degree well below the nine peers each swarm has, so a flooding (explicit-peer) set-up
    // with nine mesh peers, or none, fails.
    let config = Config {
        mesh_n: 3,
        mesh_n_low: 2,
        mesh_n_high: 4,
        gossip_heartbeat_ms: 100,
        ..Config::default()
    };
    let mut swarms = Vec::new();
    for _ in 0..10 {
        let mut swarm = node_swarm(&config).await;
        for other in &mut swarms {
            swarm.connect(other).await;
        }
        swarms.push(swarm);
    }
    let within_bounds = |swarms: &[Swarm<Behaviour>]| {
        swarms
            .iter()
            .all(|swarm| (config.mesh_n_low..=config.mesh_n_high).contains(&mesh_size(swarm)))
    };
    run_until(&mut swarms, |swarms, _| within_bounds(swarms)).await;
    // Heartbeats keep repairing the mesh (a peer pruned elsewhere may dip below D_low for a
    // moment): it comes back within bounds rather than passing through them once.
    let settle = Instant::now() + Duration::from_secs(1);
    run_until(&mut swarms, |_, _| Instant::now() >= settle).await;
    run_until(&mut swarms, |swarms, _| within_bounds(swarms)).await;
    for swarm in &swarms {
        assert_eq!(
            swarm.connected_peers().count(),
            9,
            "every pair stays connected"
        );
    }

    swarms[0]
        .behaviour_mut()
        .gossipsub
        .publish(IdentTopic::new(TOPIC), b"a write".to_vec())
        .expect("publish");
    let received = run_until(&mut swarms, |_, received| {
        received[1..].iter().all(|&copies| copies > 0)
    })
    .await;
    assert_eq!(received[0], 0, "the author received its own write");
}

/// A foreign peer: Gossipsub alone, with the library's defaults.
fn foreign_swarm() -> Swarm<gossipsub::Behaviour> {
    Swarm::new_ephemeral_tokio(|key| {
        let config = gossipsub::ConfigBuilder::default()
            .build()
            .expect("Gossipsub config");
        gossipsub::Behaviour::new(gossipsub::MessageAuthenticity::Signed(key), config)
            .expect("Gossipsub")
    })
}

/// A swarm of ours with the default config and a foreign peer subscribed to [`TOPIC`],
/// connected; and the topic.
async fn node_and_subscriber() -> (Swarm<Behaviour>, Swarm<gossipsub::Behaviour>, IdentTopic) {
    let mut node = node_swarm(&Config::default()).await;
    let mut foreign = foreign_swarm();
    let topic = IdentTopic::new(TOPIC);
    foreign.behaviour_mut().subscribe(&topic).unwrap();
    foreign.connect(&mut node).await;
    (node, foreign, topic)
}

#[tokio::test]
async fn a_peer_without_ping_stays_connected_and_receives_writes() {
    let (mut node, mut foreign, topic) = node_and_subscriber().await;
    let foreign_id = *foreign.local_peer_id();

    // Several ping intervals, in which the node's ping to the foreign peer is refused.
    let node_id = *node.local_peer_id();
    let until = Instant::now() + Duration::from_secs(4);
    let mut subscribed = false;
    while Instant::now() < until {
        tokio::select! {
            event = node.select_next_some() => match event {
                // What the node's driver does with a ping outcome.
                SwarmEvent::Behaviour(BehaviourEvent::Ping(ping::Event { connection, result, .. }))
                    if ping_shows_dead(&result) => {
                    node.close_connection(connection);
                }
                SwarmEvent::ConnectionClosed { .. } => {
                    panic!("the node closed the connection: {event:?}");
                }
                _ => {}
            },
            event = foreign.select_next_some() => {
                if let SwarmEvent::Behaviour(gossipsub::Event::Subscribed { peer_id, .. }) = event {
                    subscribed |= peer_id == node_id;
                }
            }
            () = tokio::time::sleep_until(until) => {}
        }
    }
    assert!(subscribed, "the foreign peer never saw the node subscribe");
    assert!(
        node.is_connected(&foreign_id),
        "the foreign peer was dropped"
    );

    node.behaviour_mut()
        .gossipsub
        .publish(topic, b"from the node".to_vec())
        .expect("publish");
    let deadline = Instant::now() + DEADLINE;
    loop {
        tokio::select! {
            _ = node.select_next_some() => {}
            event = foreign.select_next_some() => {
                if let SwarmEvent::Behaviour(gossipsub::Event::Message { message, .. }) = event {
                    assert_eq!(message.data, b"from the node");
                    break;
                }
            }
            () = tokio::time::sleep_until(deadline) => panic!("the write never arrived"),
        }
    }
}

/// Sends `size` bytes from `sender` to `receiver` on the direct protocol and waits for the
/// sender's outcome (acknowledged or failed); returns whether the receiver got them.
async fn direct_arrives(
    sender: &mut Swarm<Behaviour>,
    receiver: &mut Swarm<Behaviour>,
    size: usize,
) -> bool {
    let receiver_id: PeerId = *receiver.local_peer_id();
    sender
        .behaviour_mut()
        .direct
        .send_request(&receiver_id, vec![7; size]);
    let deadline = Instant::now() + DEADLINE;
    let (mut arrived, mut sender_done) = (false, false);
    while !sender_done {
        tokio::select! {
            event = sender.select_next_some() => {
                sender_done = matches!(
                    event,
                    SwarmEvent::Behaviour(BehaviourEvent::Direct(
                        request_response::Event::Message { .. }
                            | request_response::Event::OutboundFailure { .. },
                    ))
                );
            }
            event = receiver.select_next_some() => {
                if let SwarmEvent::Behaviour(BehaviourEvent::Direct(
                    request_response::Event::Message {
                        message: request_response::Message::Request { request, channel, .. },
                        ..
                    },
                )) = event
                {
                    assert_eq!(request.len(), size);
                    let _ = receiver.behaviour_mut().direct.send_response(channel, Vec::new());
                    arrived = true;
                }
            }
            () = tokio::time::sleep_until(deadline) => panic!("no outcome for {size} bytes"),
        }
    }
    arrived
}

#[tokio::test]
async fn the_direct_protocol_refuses_a_frame_over_the_receivers_limit() {
    let small = Config {
        max_message_bytes: 1024,
        ..Config::default()
    };
    let limit = max_direct_frame_bytes(&small);
    let mut receiver = node_swarm(&small).await;
    let mut sender = node_swarm(&Config::default()).await;
    sender.connect(&mut receiver).await;

    assert!(
        !direct_arrives(&mut sender, &mut receiver, limit + 1).await,
        "a frame over the limit arrived"
    );
    assert!(
        direct_arrives(&mut sender, &mut receiver, limit).await,
        "a frame at the limit was refused"
    );
    assert!(sender.is_connected(receiver.local_peer_id()));
}

/// A hostile Kademlia client of its own (not the node's code): our protocol name, a store of
/// its own, and `fake_addresses` made-up external addresses it announces as its own.
async fn hostile_kad(fake_addresses: usize) -> Swarm<kad::Behaviour<kad::store::MemoryStore>> {
    let mut swarm = Swarm::new_ephemeral_tokio(|key| {
        let id = key.public().to_peer_id();
        kad::Behaviour::with_config(
            id,
            kad::store::MemoryStore::new(id),
            kad::Config::new(KAD_PROTOCOL),
        )
    });
    swarm.listen().with_memory_addr_external().await;
    for port in 0..fake_addresses {
        let address = format!("/ip4/10.{}.{}.1/tcp/{port}", port / 250, port % 250);
        swarm.add_external_address(address.parse().unwrap());
    }
    swarm
}

#[tokio::test]
async fn kademlia_stores_no_provider_and_no_record_a_peer_sends() {
    let config = Config::default();
    let mut node = node_swarm(&config).await;
    let node_id = *node.local_peer_id();
    let node_address = node.external_addresses().next().unwrap().clone();
    let mut hostile = hostile_kad(200).await;
    hostile.behaviour_mut().add_address(&node_id, node_address);
    hostile.connect(&mut node).await;
    const KEYS: usize = 8;
    let mut queries = HashSet::new();
    for i in 0..KEYS {
        let key = kad::RecordKey::new(&format!("key {i}"));
        queries.insert(
            hostile
                .behaviour_mut()
                .start_providing(key.clone())
                .unwrap(),
        );
        let record = kad::Record::new(key, vec![0; 1_000]);
        queries.insert(
            hostile
                .behaviour_mut()
                .put_record(record, kad::Quorum::One)
                .unwrap(),
        );
    }
    let (mut providers, mut records) = (0, 0);
    let deadline = Instant::now() + DEADLINE;
    // A query may report done once its requests are queued: wait for the node to see them all.
    while !queries.is_empty() || providers < KEYS || records < KEYS {
        tokio::select! {
            event = node.select_next_some() => {
                if let SwarmEvent::Behaviour(BehaviourEvent::Kademlia(
                    kad::Event::InboundRequest { request },
                )) = event
                {
                    match request {
                        kad::InboundRequest::AddProvider { .. } => providers += 1,
                        kad::InboundRequest::PutRecord { .. } => records += 1,
                        _ => {}
                    }
                }
            }
            event = hostile.select_next_some() => {
                if let SwarmEvent::Behaviour(kad::Event::OutboundQueryProgressed { id, step, .. }) = event {
                    if step.last {
                        queries.remove(&id);
                    }
                }
            }
            () = tokio::time::sleep_until(deadline) => panic!("the queries never finished"),
        }
    }
    // The requests reached the node, which kept none of them.
    assert_eq!((providers, records), (KEYS, KEYS));
    let store = node.behaviour_mut().kademlia.store_mut();
    for i in 0..KEYS {
        let key = kad::RecordKey::new(&format!("key {i}"));
        assert!(
            store.providers(&key).is_empty(),
            "a provider of key {i} stored"
        );
        assert!(store.get(&key).is_none(), "a record of key {i} stored");
    }
    assert_eq!(store.records().count(), 0);

    // Another identity asking for the providers of a key learns none.
    let mut asker = hostile_kad(0).await;
    let node_address = node.external_addresses().next().unwrap().clone();
    asker.behaviour_mut().add_address(&node_id, node_address);
    asker.connect(&mut node).await;
    let query = asker
        .behaviour_mut()
        .get_providers(kad::RecordKey::new(&"key 0"));
    let mut found = HashSet::new();
    let deadline = Instant::now() + DEADLINE;
    loop {
        tokio::select! {
            _ = node.select_next_some() => {}
            event = asker.select_next_some() => {
                if let SwarmEvent::Behaviour(kad::Event::OutboundQueryProgressed { id, result, step, .. }) = event {
                    if let kad::QueryResult::GetProviders(Ok(kad::GetProvidersOk::FoundProviders { providers, .. })) = result {
                        found.extend(providers);
                    }
                    if id == query && step.last {
                        break;
                    }
                }
            }
            () = tokio::time::sleep_until(deadline) => panic!("the query never finished"),
        }
    }
    assert!(found.is_empty(), "providers served: {found:?}");
}

#[test]
fn kademlia_keeps_a_few_addresses_per_peer_however_many_it_is_told() {
    let local = PeerId::random();
    let mut kademlia = kad::Behaviour::with_config(
        local,
        kad::store::MemoryStore::new(local),
        kad::Config::new(KAD_PROTOCOL),
    );
    let peer = PeerId::random();
    for round in 0..50 {
        let addresses: Vec<Multiaddr> = (0..8)
            .map(|i| {
                format!("/ip4/192.168.1.5/tcp/{}", round * 8 + i)
                    .parse()
                    .unwrap()
            })
            .collect();
        remember_addresses(&mut kademlia, &peer, &addresses);
    }
    let held: Vec<Multiaddr> = kademlia
        .kbucket(peer)
        .unwrap()
        .iter()
        .find(|entry| entry.node.key.preimage() == &peer)
        .map(|entry| entry.node.value.iter().cloned().collect())
        .unwrap();
    assert_eq!(held.len(), MAX_KAD_ADDRESSES_PER_PEER);
    let newest: Multiaddr = "/ip4/192.168.1.5/tcp/392".parse().unwrap();
    assert!(held.contains(&newest.with_p2p(peer).unwrap()), "{held:?}");
}

#[tokio::test]
async fn a_peer_whose_gossip_the_node_rejects_is_graylisted() {
    let (mut node, mut hostile, topic) = node_and_subscriber().await;
    let hostile_id = *hostile.local_peer_id();
    let node_id = *node.local_peer_id();
    let mut rejected = 0;
    let mut sent = 0;
    let deadline = Instant::now() + DEADLINE;
    while rejected < 3 {
        tokio::select! {
            event = node.select_next_some() => {
                if let SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                    propagation_source, message_id, ..
                })) = event {
                    // What the driver reports for a message the core rejects (a forged write).
                    node.behaviour_mut().gossipsub.report_message_validation_result(
                        &message_id, &propagation_source, MessageAcceptance::Reject);
                    rejected += 1;
                }
            }
            event = hostile.select_next_some() => {
                if let SwarmEvent::Behaviour(gossipsub::Event::Subscribed { peer_id, .. }) = event {
                    if peer_id == node_id {
                        for i in 0..3 {
                            hostile.behaviour_mut().publish(topic.clone(), format!("forged {i}")).unwrap();
                            sent += 1;
                        }
                    }
                }
            }
            () = tokio::time::sleep_until(deadline) => panic!("{rejected} of {sent} messages arrived"),
        }
    }
    let score = node.behaviour().gossipsub.peer_score(&hostile_id);
    assert!(
        score.is_some_and(|score| score <= -80.0),
        "three rejected messages: score {score:?}, not graylisted"
    );
}

#[tokio::test]
async fn a_subscriber_that_stops_reading_is_reported_slow() {
    let (mut node, mut hostile, topic) = node_and_subscriber().await;
    let hostile_id = *hostile.local_peer_id();
    let deadline = Instant::now() + DEADLINE;
    loop {
        tokio::select! {
            event = node.select_next_some() => {
                if let SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(
                    gossipsub::Event::Subscribed { peer_id, .. },
                )) = event
                {
                    if peer_id == hostile_id {
                        break;
                    }
                }
            }
            _ = hostile.select_next_some() => {}
            () = tokio::time::sleep_until(deadline) => panic!("the peer never subscribed"),
        }
    }
    // From now on the hostile peer reads nothing: its swarm is never polled again.
    let mut published = 0;
    loop {
        assert!(
            Instant::now() < deadline,
            "no slow-peer report after {published} messages"
        );
        if published < 2 * GOSSIP_QUEUE_LEN {
            let payload = vec![published as u8; 64 * 1024];
            let _ = node
                .behaviour_mut()
                .gossipsub
                .publish(topic.clone(), payload);
            published += 1;
        }
        if let Ok(SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::SlowPeer {
            peer_id,
            ..
        }))) = timeout(Duration::from_millis(5), node.select_next_some()).await
        {
            assert_eq!(peer_id, hostile_id);
            break;
        }
    }
    drop(hostile);
}
