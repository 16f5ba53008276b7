//! Row 4: forged gossip. Each identity (a Gossipsub client of its own: signed messages, Ping)
//! subscribes to `p2p-sync`, and once the node has subscribed too publishes up to
//! [`MESSAGES_PER_IDENTITY`] messages in the node's gossip format, `{"Batch":[{"Put":{key,
//! value, timestamp, origin, sig}}…]}`, of [`WRITES_PER_MESSAGE`] writes whose origin is the
//! identity itself (so the gossip author matches) and whose signatures are wrong
//! ([`crate::forged`]); then a fresh identity takes over.

use crate::client::{self, Tally, Target};
use crate::forged;
use futures::StreamExt;
use libp2p::gossipsub::{self, IdentTopic};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{ping, Swarm};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

/// The node's gossip topic.
pub const TOPIC: &str = "p2p-sync";
/// Identities attacking at once.
const LANES: u64 = 8;
/// Writes in one message: the node's cap on the writes one message may make it check.
const WRITES_PER_MESSAGE: usize = 128;
/// Messages one identity publishes (the node disconnects a peer after three forged ones).
const MESSAGES_PER_IDENTITY: u32 = 4;
/// Pause between two messages of one identity.
const PAUSE: Duration = Duration::from_millis(50);
/// An identity that gets nowhere for this long gives way to a fresh one.
const QUIET: Duration = Duration::from_secs(5);

/// Gossipsub to publish or subscribe with, Ping so that the node keeps the connection.
#[derive(NetworkBehaviour)]
pub struct Gossip {
    /// Signed messages on [`TOPIC`].
    pub gossipsub: gossipsub::Behaviour,
    ping: ping::Behaviour,
}

/// A Gossipsub client of identity `key`, subscribed to [`TOPIC`].
pub fn gossip(key: &libp2p::identity::Keypair) -> Gossip {
    let config = gossipsub::ConfigBuilder::default()
        .max_transmit_size(4 << 20)
        .build()
        .expect("a valid Gossipsub configuration");
    let mut gossipsub =
        gossipsub::Behaviour::new(gossipsub::MessageAuthenticity::Signed(key.clone()), config)
            .expect("a signing Gossipsub");
    gossipsub
        .subscribe(&IdentTopic::new(TOPIC))
        .expect("subscribes");
    Gossip {
        gossipsub,
        ping: ping::Behaviour::default(),
    }
}

/// A gossip batch of forged writes claiming `origin`.
fn batch(origin: &str, seed: u64) -> Vec<u8> {
    let items: Vec<String> = forged::writes(origin, WRITES_PER_MESSAGE, seed)
        .iter()
        .map(|write| {
            let sig: String = write.signature.iter().map(|b| format!("{b:02x}")).collect();
            format!(
                r#"{{"Put":{{"key":"{}","value":"{}","timestamp":"{}","origin":"{}","sig":"{sig}"}}}}"#,
                write.key,
                write.value,
                forged::rfc3339(write.wall_ms),
                write.origin
            )
        })
        .collect();
    format!(r#"{{"Batch":[{}]}}"#, items.join(",")).into_bytes()
}

/// One identity: connects, waits for the node's subscription, publishes its messages.
async fn one(target: Target, tally: Arc<Tally>, seed: u64) {
    let Ok(mut swarm): Result<Swarm<Gossip>, _> =
        client::swarm(&tally, Arc::new(AtomicBool::new(false)), gossip)
    else {
        return;
    };
    let me = swarm.local_peer_id().to_base58();
    if swarm.dial(target.address.clone()).is_err() {
        return;
    }
    let mut published = 0u32;
    let mut subscribed = false;
    while !tally.stopped() && published < MESSAGES_PER_IDENTITY {
        let wait = if subscribed { PAUSE } else { QUIET };
        match client::next_event(&mut swarm, wait).await {
            None if subscribed => {
                let payload = batch(&me, seed * 16 + u64::from(published));
                let topic = IdentTopic::new(TOPIC);
                match swarm.behaviour_mut().gossipsub.publish(topic, payload) {
                    Ok(_) => Tally::count(&tally.messages),
                    Err(error) => eprintln!("forged gossip: publish failed: {error}"),
                }
                published += 1;
            }
            None => return,
            Some(SwarmEvent::Behaviour(GossipEvent::Gossipsub(gossipsub::Event::Subscribed {
                peer_id,
                ..
            }))) if peer_id == target.peer => subscribed = true,
            Some(SwarmEvent::ConnectionClosed { .. })
            | Some(SwarmEvent::OutgoingConnectionError { .. }) => {
                Tally::count(&tally.closed_by_node);
                return;
            }
            Some(_) => {}
        }
    }
    // Let the last message leave before the connection goes.
    let drain = async {
        loop {
            swarm.select_next_some().await;
        }
    };
    let _ = tokio::time::timeout(PAUSE * 4, drain).await;
}

/// Runs the attack until the tally says stop.
pub async fn run(target: Target, tally: Arc<Tally>) {
    client::rotate(LANES, &target, &tally, one).await;
    tally.note(format!(
        "{WRITES_PER_MESSAGE} forged writes a gossip batch, {MESSAGES_PER_IDENTITY} batches an identity"
    ));
}
