//! A foreign client, as a new user would write one: its own small libp2p swarm with Gossipsub
//! alone (no ping, no Identify, no reconciliation), signed messages on topic `p2p-sync`. It
//! shares no code with the node's behaviour. The swarm runs on its own tokio runtime, so it
//! keeps answering (QUIC keep-alives, Gossipsub) while the test waits on the node.

use futures::StreamExt;
use libp2p::gossipsub::{self, IdentTopic, MessageAuthenticity};
use libp2p::identity::Keypair;
use libp2p::swarm::SwarmEvent;
use libp2p::{noise, tcp, yamux, Multiaddr, PeerId, SwarmBuilder};
use std::sync::mpsc;
use std::time::Duration;
use tokio::sync::mpsc as commands;

/// The topic the seed publishes on.
const TOPIC: &str = "p2p-sync";

/// What the client saw.
#[derive(Debug)]
pub enum Seen {
    /// `peer` subscribed to the topic.
    Subscribed(PeerId),
    /// A message on the topic: its data and its source (the peer that signed it).
    Message(Vec<u8>, PeerId),
}

/// A running foreign client.
pub struct Foreign {
    /// Its PeerId.
    pub peer_id: PeerId,
    publish: commands::UnboundedSender<Vec<u8>>,
    seen: mpsc::Receiver<Seen>,
    _runtime: tokio::runtime::Runtime,
}

impl Foreign {
    /// Starts a client with a new identity that dials `address` (TCP or QUIC).
    #[allow(dead_code)] // not every test target that includes this file uses each constructor
    pub fn dial(address: &str) -> Foreign {
        Foreign::dial_as(address, Keypair::generate_ed25519())
    }

    /// Starts a client with identity `key` that dials `address` (TCP or QUIC).
    pub fn dial_as(address: &str, key: Keypair) -> Foreign {
        let address: Multiaddr = address.parse().expect("a multiaddr");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let mut swarm = runtime.block_on(async {
            SwarmBuilder::with_existing_identity(key)
                .with_tokio()
                .with_tcp(
                    tcp::Config::default(),
                    noise::Config::new,
                    yamux::Config::default,
                )
                .expect("TCP")
                .with_quic()
                .with_behaviour(|key| {
                    let config = gossipsub::ConfigBuilder::default()
                        .build()
                        .expect("Gossipsub config");
                    gossipsub::Behaviour::<gossipsub::IdentityTransform>::new(
                        MessageAuthenticity::Signed(key.clone()),
                        config,
                    )
                    .expect("Gossipsub")
                })
                .expect("behaviour")
                .with_swarm_config(|config| {
                    config.with_idle_connection_timeout(Duration::from_secs(60))
                })
                .build()
        });
        let peer_id = *swarm.local_peer_id();
        let topic = IdentTopic::new(TOPIC);
        swarm.behaviour_mut().subscribe(&topic).expect("subscribe");
        {
            // Dialing starts transport tasks, which need the runtime.
            let _inside = runtime.enter();
            swarm.dial(address).expect("dial");
        }
        let (publish, mut to_publish) = commands::unbounded_channel::<Vec<u8>>();
        let (tell, seen) = mpsc::channel();
        runtime.spawn(async move {
            loop {
                tokio::select! {
                    Some(data) = to_publish.recv() => {
                        if let Err(error) = swarm.behaviour_mut().publish(topic.clone(), data) {
                            panic!("the foreign client could not publish: {error}");
                        }
                    }
                    event = swarm.select_next_some() => {
                        let seen = match event {
                            SwarmEvent::Behaviour(gossipsub::Event::Subscribed { peer_id, .. }) => {
                                Seen::Subscribed(peer_id)
                            }
                            SwarmEvent::Behaviour(gossipsub::Event::Message {
                                message,
                                propagation_source,
                                ..
                            }) => {
                                let source = message.source.unwrap_or(propagation_source);
                                Seen::Message(message.data, source)
                            }
                            _ => continue,
                        };
                        if tell.send(seen).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Foreign {
            peer_id,
            publish,
            seen,
            _runtime: runtime,
        }
    }

    /// Publishes `data` on the topic.
    pub fn publish(&self, data: &[u8]) {
        self.publish.send(data.to_vec()).expect("the client runs");
    }

    /// Waits up to `deadline` for the first event `wanted` accepts; `None` if none came.
    pub fn wait_for(&self, deadline: Duration, wanted: impl Fn(&Seen) -> bool) -> Option<Seen> {
        let end = std::time::Instant::now() + deadline;
        loop {
            let left = end.saturating_duration_since(std::time::Instant::now());
            match self.seen.recv_timeout(left) {
                Ok(seen) if wanted(&seen) => return Some(seen),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }
}
