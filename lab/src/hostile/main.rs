//! `p2p-sync-hostile`: the LAN world's attacker. A bare libp2p client (TCP, Noise, Yamux,
//! Gossipsub with signed messages, Ping so nodes keep it) that dials the honest nodes and
//! publishes exactly the bytes it is told to on the `p2p-sync` topic, following no rules.
//!
//! `p2p-sync-hostile --peer ADDR… [--solo N]…`: one swarm dials every `--peer`; each `--solo N`
//! adds a swarm connected to peer N only, for attacks aimed at one node. That swarm has an
//! identity of its own: a node tells a second connection of a peer nothing about its topics,
//! so a swarm sharing the first one's identity could not publish. Once every swarm's peers
//! have subscribed to the topic it prints `ready all=PEERID N=PEERID…` (who signs what goes
//! to whom), then reads lines `publish all HEX` or `publish N HEX` from standard input until
//! it closes.

use futures::StreamExt;
use libp2p::gossipsub::{self, IdentTopic};
use libp2p::identity::Keypair;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{noise, ping, tcp, yamux, Multiaddr, PeerId, Swarm, SwarmBuilder};
use std::collections::{BTreeMap, HashSet};
use std::io::BufRead;
use std::process::ExitCode;
use std::time::Duration;
use tokio::sync::mpsc;

/// The topic honest nodes gossip on.
const TOPIC: &str = "p2p-sync";

/// Largest frame it sends: far above any node's limit, so oversized messages go out whole.
const MAX_FRAME: usize = 64 * 1024 * 1024;

/// How often peers that are not connected are dialled again (a crashed node restarts).
const REDIAL: Duration = Duration::from_secs(1);

/// Gossipsub to publish with, Ping so that nodes do not close the connection as dead.
#[derive(NetworkBehaviour)]
struct Behaviour {
    gossipsub: gossipsub::Behaviour,
    ping: ping::Behaviour,
}

fn swarm(key: &Keypair) -> Result<Swarm<Behaviour>, Box<dyn std::error::Error>> {
    Ok(SwarmBuilder::with_existing_identity(key.clone())
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )?
        .with_behaviour(|key| {
            let config = gossipsub::ConfigBuilder::default()
                .max_transmit_size(MAX_FRAME)
                .build()?;
            Ok(Behaviour {
                gossipsub: gossipsub::Behaviour::new(
                    gossipsub::MessageAuthenticity::Signed(key.clone()),
                    config,
                )?,
                ping: ping::Behaviour::default(),
            })
        })?
        .with_swarm_config(|config| config.with_idle_connection_timeout(Duration::from_secs(3600)))
        .build())
}

/// Keeps `swarm` connected to `peers`, says `ready` once all subscribed, publishes what comes.
async fn serve(
    mut swarm: Swarm<Behaviour>,
    peers: Vec<Multiaddr>,
    ready: mpsc::UnboundedSender<()>,
    mut payloads: mpsc::UnboundedReceiver<Vec<u8>>,
) {
    let topic = IdentTopic::new(TOPIC);
    let mut connected: BTreeMap<Multiaddr, PeerId> = BTreeMap::new();
    let mut subscribed: HashSet<PeerId> = HashSet::new();
    let mut said_ready = false;
    let mut redial = tokio::time::interval(REDIAL);
    loop {
        tokio::select! {
            _ = redial.tick() => {
                for peer in peers.iter().filter(|peer| !connected.contains_key(*peer)) {
                    let _ = swarm.dial(peer.clone());
                }
            }
            payload = payloads.recv() => {
                let Some(payload) = payload else { return };
                if let Err(error) = swarm.behaviour_mut().gossipsub.publish(topic.clone(), payload) {
                    eprintln!("hostile: publish failed: {error}");
                }
            }
            event = swarm.select_next_some() => match event {
                SwarmEvent::ConnectionEstablished { peer_id, endpoint, .. } => {
                    connected.insert(endpoint.get_remote_address().clone(), peer_id);
                }
                SwarmEvent::ConnectionClosed { peer_id, num_established: 0, .. } => {
                    connected.retain(|_, peer| *peer != peer_id);
                    subscribed.remove(&peer_id);
                }
                SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(
                    gossipsub::Event::Subscribed { peer_id, .. },
                )) => {
                    subscribed.insert(peer_id);
                    if !said_ready && subscribed.len() >= peers.len() {
                        said_ready = true;
                        let _ = ready.send(());
                    }
                }
                _ => {}
            },
        }
    }
}

/// `HEX` as bytes.
fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The LAN world's attacker: dials every --peer and publishes on the `p2p-sync` topic exactly
/// the bytes given on standard input as `publish all HEX` or `publish N HEX` lines.
#[derive(clap::Parser)]
#[command(
    name = "p2p-sync-hostile",
    after_help = "Prints `ready all=PEERID N=PEERID…` once every swarm's peers subscribed.\n\
                  Exit codes: 0 at the end of input, 1 when a swarm cannot be built, 2 bad arguments."
)]
struct Cli {
    /// A node to dial (one swarm dials them all); repeatable
    #[arg(long = "peer", value_name = "MULTIADDR", required = true)]
    peers: Vec<Multiaddr>,
    /// Adds a swarm of its own identity connected to peer N only (counting --peer from 0)
    #[arg(long = "solo", value_name = "N")]
    solos: Vec<usize>,
}

/// The peers and solo swarms, or why the arguments are wrong (clap prints help and exits).
fn arguments() -> Result<(Vec<Multiaddr>, Vec<usize>), String> {
    let Cli { peers, solos } = clap::Parser::parse();
    match solos.iter().find(|&&solo| solo >= peers.len()) {
        Some(solo) => Err(format!("--solo {solo}: there are {} peers", peers.len())),
        None => Ok((peers, solos)),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let (peers, solos) = match arguments() {
        Ok(parsed) => parsed,
        Err(error) => {
            eprintln!("usage: p2p-sync-hostile --peer MULTIADDR… [--solo N]…: {error}");
            return ExitCode::from(2);
        }
    };
    let (ready_tx, mut ready) = mpsc::unbounded_channel();
    let mut targets: BTreeMap<String, mpsc::UnboundedSender<Vec<u8>>> = BTreeMap::new();
    let mut identities = Vec::new();
    let groups = std::iter::once(("all".to_string(), peers.clone())).chain(
        solos
            .iter()
            .map(|&solo| (solo.to_string(), vec![peers[solo].clone()])),
    );
    for (name, group) in groups {
        let key = Keypair::generate_ed25519();
        let swarm = match swarm(&key) {
            Ok(swarm) => swarm,
            Err(error) => {
                eprintln!("hostile: cannot build a swarm: {error}");
                return ExitCode::FAILURE;
            }
        };
        let (tx, rx) = mpsc::unbounded_channel();
        identities.push(format!("{name}={}", key.public().to_peer_id()));
        targets.insert(name, tx);
        tokio::spawn(serve(swarm, group, ready_tx.clone(), rx));
    }
    for _ in 0..targets.len() {
        ready.recv().await;
    }
    println!("ready {}", identities.join(" "));
    let (lines_tx, mut lines) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    while let Some(line) = lines.recv().await {
        let mut words = line.split_whitespace();
        let parsed = match (words.next(), words.next(), words.next()) {
            (Some("publish"), Some(target), Some(hex)) => targets.get(target).zip(unhex(hex)),
            _ => None,
        };
        match parsed {
            Some((target, payload)) => drop(target.send(payload)),
            None => eprintln!("hostile: cannot understand {line:?}"),
        }
    }
    // Let the last messages leave before the process ends.
    tokio::time::sleep(Duration::from_millis(200)).await;
    ExitCode::SUCCESS
}
