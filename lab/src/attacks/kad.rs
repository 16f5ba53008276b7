//! Row 2: a Kademlia flood (libp2p's own Kademlia as a client, on the node's protocol name).
//! Each identity announces [`FAKE_ADDRESSES`] made-up external addresses (they go into every
//! ADD_PROVIDER it sends), then keeps [`IN_FLIGHT`] queries going, alternately
//! `start_providing` (FIND_NODE, then ADD_PROVIDER) and `put_record` of a [`VALUE_BYTES`]
//! value (FIND_NODE, then PUT_VALUE), [`QUERIES_PER_IDENTITY`] of them; then a fresh identity
//! takes over. When the flood stops, a second, fresh identity asks GET_PROVIDERS for a key the
//! first one provided, and the answer's size is reported.

use crate::client::{self, Tally, Target};
use futures::StreamExt;
use libp2p::kad::{self, store::MemoryStore, GetProvidersOk, QueryResult, Quorum, Record};
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, StreamProtocol, Swarm};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The node's Kademlia protocol.
const PROTOCOL: StreamProtocol = StreamProtocol::new("/p2p-sync/kad/1.0.0");
/// Identities flooding at once.
const LANES: u64 = 4;
/// Queries one identity keeps going.
const IN_FLIGHT: usize = 16;
/// Queries one identity makes before a fresh one takes over.
const QUERIES_PER_IDENTITY: u64 = 400;
/// Made-up addresses each identity announces.
const FAKE_ADDRESSES: u32 = 400;
/// Bytes of each PUT_VALUE's value (the node's Kademlia frames are at most 16 KiB).
const VALUE_BYTES: usize = 8 << 10;
/// How long the GET_PROVIDERS may take.
const ASK_DEADLINE: Duration = Duration::from_secs(15);

type Dht = kad::Behaviour<MemoryStore>;

/// A Kademlia client of identity `key` that knows the node.
fn dht(tally: &Arc<Tally>, target: &Target) -> Result<Swarm<Dht>, String> {
    let mut swarm = client::swarm(tally, Arc::new(AtomicBool::new(false)), |key| {
        let id = key.public().to_peer_id();
        let mut config = kad::Config::new(PROTOCOL);
        config
            .set_query_timeout(Duration::from_secs(10))
            .set_max_packet_size(1 << 20);
        let mut dht = kad::Behaviour::with_config(id, MemoryStore::new(id), config);
        dht.set_mode(Some(kad::Mode::Client));
        dht
    })?;
    swarm
        .behaviour_mut()
        .add_address(&target.peer, target.address.clone());
    Ok(swarm)
}

/// One identity's flood; the first key it provides goes into `provided`.
async fn one(
    target: Target,
    tally: Arc<Tally>,
    seed: u64,
    provided: Arc<Mutex<Option<kad::RecordKey>>>,
) {
    let Ok(mut swarm) = dht(&tally, &target) else {
        return;
    };
    for n in 0..FAKE_ADDRESSES {
        let fake: Multiaddr = format!("/ip4/10.{}.{}.{}/tcp/4002", seed % 250, n / 250, n % 250)
            .parse()
            .expect("a valid address");
        swarm.add_external_address(fake);
    }
    let mut noise = client::noise(seed + 1);
    let mut value = vec![0u8; VALUE_BYTES];
    let (mut queries, mut in_flight) = (0u64, 0usize);
    while !tally.stopped() && (queries < QUERIES_PER_IDENTITY || in_flight > 0) {
        while in_flight < IN_FLIGHT && queries < QUERIES_PER_IDENTITY {
            let key = kad::RecordKey::new(&noise().to_le_bytes());
            let started = if queries % 2 == 0 {
                provided.lock().expect("key").get_or_insert(key.clone());
                swarm.behaviour_mut().start_providing(key).is_ok()
            } else {
                value.iter_mut().for_each(|byte| *byte = noise() as u8);
                let record = Record::new(key, value.clone());
                swarm
                    .behaviour_mut()
                    .put_record(record, Quorum::One)
                    .is_ok()
            };
            queries += 1;
            if started {
                in_flight += 1;
                Tally::count(&tally.messages);
            }
        }
        let Some(event) = client::next_event(&mut swarm, Duration::from_millis(200)).await else {
            continue;
        };
        match event {
            SwarmEvent::Behaviour(kad::Event::OutboundQueryProgressed { step, .. })
                if step.last =>
            {
                in_flight -= 1;
            }
            SwarmEvent::ConnectionClosed {
                num_established: 0, ..
            } if !tally.stopped() => {
                Tally::count(&tally.closed_by_node);
            }
            _ => {}
        }
    }
}

/// A fresh identity's GET_PROVIDERS for `key`: providers found and the bytes the node sent
/// after the connection was up (the answer, with its framing).
async fn ask(target: &Target, key: kad::RecordKey) -> Result<(usize, u64), String> {
    let asker = Arc::new(Tally::default());
    let mut swarm = dht(&asker, target)?;
    swarm.behaviour_mut().get_providers(key);
    let mut before = None;
    let mut providers = 0;
    let deadline = Instant::now() + ASK_DEADLINE;
    loop {
        let event = tokio::time::timeout_at(deadline.into(), swarm.select_next_some())
            .await
            .map_err(|_| "no answer to GET_PROVIDERS in time".to_string())?;
        match event {
            SwarmEvent::ConnectionEstablished { .. } => {
                before = Some(asker.received.load(Ordering::Relaxed));
            }
            SwarmEvent::Behaviour(kad::Event::OutboundQueryProgressed { result, step, .. }) => {
                if let QueryResult::GetProviders(Ok(GetProvidersOk::FoundProviders {
                    providers: found,
                    ..
                })) = result
                {
                    providers += found.len();
                }
                if step.last {
                    let received = asker.received.load(Ordering::Relaxed);
                    return Ok((providers, received - before.unwrap_or(received)));
                }
            }
            _ => {}
        }
    }
}

/// Runs the flood until the tally says stop, then the GET_PROVIDERS.
pub async fn run(target: Target, tally: Arc<Tally>) {
    let provided = Arc::new(Mutex::new(None));
    let lanes_provided = provided.clone();
    client::rotate(LANES, &target, &tally, move |target, tally, seed| {
        one(target, tally, seed, lanes_provided.clone())
    })
    .await;
    tally.note(format!(
        "ADD_PROVIDER with {FAKE_ADDRESSES} addresses / PUT_VALUE of {} KiB, alternately",
        VALUE_BYTES >> 10
    ));
    let key = provided.lock().expect("key").clone();
    let note = match key {
        None => "no key was provided, so no GET_PROVIDERS".to_string(),
        Some(key) => match ask(&target, key).await {
            Ok((providers, bytes)) => format!(
                "GET_PROVIDERS from a second identity: {providers} providers, {bytes} bytes back"
            ),
            Err(error) => format!("GET_PROVIDERS from a second identity: {error}"),
        },
    };
    tally.note(note);
}
