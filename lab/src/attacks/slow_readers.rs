//! Row 7: Gossipsub subscribers that stop reading. Each (a client of its own: signed
//! Gossipsub, Ping) subscribes to `p2p-sync`; once the node has subscribed to it and a
//! heartbeat has passed, a stalled one stops reading its TCP connection for good, while the
//! bench's honest writer adds writes on the node. The baseline runs one subscriber that keeps
//! reading. Whether the node disconnects a stalled one is read from its log (the driver's
//! `SlowPeers` logs the close; a stalled client cannot see it).

use crate::client::{self, Tally, Target};
use crate::forged_gossip::{self, Gossip, GossipEvent};
use libp2p::gossipsub;
use libp2p::swarm::SwarmEvent;
use libp2p::Swarm;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long after the node's subscription a stalled subscriber stops reading.
const SETTLE: Duration = Duration::from_secs(2);

/// A subscriber's PeerId, when it stopped reading (if it did), and what the node's log said
/// about closing its connection with how long after it stopped reading (looked for every
/// [`LOG_EVERY`]: a stalled client cannot see the close itself).
type Outcome = (String, Option<Instant>, Option<(String, Duration)>);

/// How often a stalled subscriber reads the node's log for its close.
const LOG_EVERY: Duration = Duration::from_secs(1);

/// One subscriber: `stall`s (stops reading) once subscribed and settled; until the attack
/// ends.
async fn subscriber(target: Target, tally: Arc<Tally>, stall: bool) -> Option<Outcome> {
    let paused = Arc::new(AtomicBool::new(false));
    let mut swarm: Swarm<Gossip> =
        client::swarm(&tally, paused.clone(), forged_gossip::gossip).ok()?;
    let me = swarm.local_peer_id().to_base58();
    swarm.dial(target.address.clone()).ok()?;
    Tally::count(&tally.identities);
    let mut subscribed: Option<Instant> = None;
    let mut stalled: Option<Instant> = None;
    let mut closed = None;
    let mut looked = Instant::now();
    while !tally.stopped() {
        match client::next_event(&mut swarm, Duration::from_millis(100)).await {
            Some(SwarmEvent::Behaviour(GossipEvent::Gossipsub(gossipsub::Event::Subscribed {
                peer_id,
                ..
            }))) if peer_id == target.peer => subscribed = Some(Instant::now()),
            Some(SwarmEvent::Behaviour(GossipEvent::Gossipsub(gossipsub::Event::Message {
                ..
            }))) => Tally::count(&tally.messages),
            Some(SwarmEvent::ConnectionClosed { .. }) => Tally::count(&tally.closed_by_node),
            _ => {}
        }
        if let (Some(at), None) = (stalled, &closed) {
            if looked.elapsed() >= LOG_EVERY {
                looked = Instant::now();
                let log = std::fs::read_to_string(&target.log).unwrap_or_default();
                closed = closing(&log, &me).map(|said| (said, at.elapsed()));
            }
        }
        if stall && stalled.is_none() && subscribed.is_some_and(|at| at.elapsed() >= SETTLE) {
            paused.store(true, Ordering::Relaxed);
            stalled = Some(Instant::now());
        }
    }
    Some((me, stalled, closed))
}

/// What the node's `log` says about closing `peer`'s connection: its slow-peer close, or the
/// connection's close with its cause; `None` if it says neither.
fn closing(log: &str, peer: &str) -> Option<String> {
    let about = |needle: &str| {
        log.lines()
            .find(|line| line.contains(peer) && line.contains(needle))
            .map(|line| {
                line.split_once(peer)
                    .map_or(line, |(_, rest)| rest)
                    .trim()
                    .to_string()
            })
    };
    about("has not taken its gossip")
        .map(|_| "closed as slow".to_string())
        .or_else(|| {
            about("Connection closed with peer").map(|cause| match cause.as_str() {
                "" => "closed by the node (no cause logged: its own close)".to_string(),
                cause => format!("closed {cause}"),
            })
        })
}

/// Runs `readers` subscribers (stalled ones if `stall`) until the tally says stop.
pub async fn run(target: Target, tally: Arc<Tally>, readers: usize, stall: bool) {
    let tasks: Vec<_> = (0..readers)
        .map(|_| tokio::spawn(subscriber(target.clone(), tally.clone(), stall)))
        .collect();
    let mut peers = Vec::new();
    for task in tasks {
        if let Ok(Some(peer)) = task.await {
            peers.push(peer);
        }
    }
    if !stall {
        return tally.note(format!("{readers} subscriber reading all it is sent"));
    }
    let stalled: Vec<_> = peers.iter().filter(|(_, at, _)| at.is_some()).collect();
    let longest = stalled
        .iter()
        .filter_map(|(_, at, _)| at.map(|at| at.elapsed().as_secs()))
        .max()
        .unwrap_or(0);
    let closes: Vec<String> = stalled
        .iter()
        .map(|(_, _, closed)| match closed {
            Some((said, after)) => format!("{said} within {} s", after.as_secs() + 1),
            None => "not closed".into(),
        })
        .collect();
    tally.note(format!(
        "{readers} subscribers stopped reading ({} did, for up to {longest} s); the node's log \
         on each: {}",
        stalled.len(),
        closes.join(" | ")
    ));
}
