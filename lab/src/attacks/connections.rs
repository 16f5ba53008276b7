//! Row 6: a connection flood from one host. [`LANES`] identities at a time each open a
//! connection (TCP, Noise, Yamux, Ping so it looks alive) and hold it until the node closes
//! it; a refused or closed one is replaced at once by a fresh identity. On 127.0.0.1 the
//! node's per-IP limit does not apply (`net::limits::IpLimits` exempts loopback: no LAN peer
//! comes from it), so what holds there are its global limits only: 32 pending and 96
//! established incoming connections; dialled on the machine's own LAN address (`--lan-ip`),
//! the per-IP limit of 8 applies too.

use crate::client::{self, Tally, Target};
use libp2p::swarm::SwarmEvent;
use libp2p::{ping, Swarm};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Identities connecting at once.
const LANES: u64 = 200;

/// Connections up now, and the most at once.
#[derive(Debug, Default)]
struct Open {
    now: AtomicU64,
    peak: AtomicU64,
    refused: AtomicU64,
}

/// One identity: connects and holds the connection until the node closes it or the attack ends.
async fn one(target: Target, tally: Arc<Tally>, open: Arc<Open>) {
    let Ok(mut swarm): Result<Swarm<ping::Behaviour>, _> =
        client::swarm(&tally, Arc::new(AtomicBool::new(false)), |_| {
            ping::Behaviour::default()
        })
    else {
        return;
    };
    if swarm.dial(target.address.clone()).is_err() {
        return;
    }
    Tally::count(&tally.messages);
    let mut up = false;
    while !tally.stopped() {
        let Some(event) = client::next_event(&mut swarm, Duration::from_millis(200)).await else {
            continue;
        };
        match event {
            SwarmEvent::ConnectionEstablished { .. } => {
                up = true;
                let now = open.now.fetch_add(1, Ordering::Relaxed) + 1;
                open.peak.fetch_max(now, Ordering::Relaxed);
            }
            SwarmEvent::ConnectionClosed { .. } => {
                Tally::count(&tally.closed_by_node);
                break;
            }
            SwarmEvent::OutgoingConnectionError { .. } => {
                Tally::count(&open.refused);
                break;
            }
            _ => {}
        }
    }
    if up {
        open.now.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Runs the flood until the tally says stop.
pub async fn run(target: Target, tally: Arc<Tally>) {
    let open = Arc::new(Open::default());
    let lanes_open = open.clone();
    client::rotate(LANES, &target, &tally, move |target, tally, _| {
        one(target, tally, lanes_open.clone())
    })
    .await;
    tally.note(format!(
        "{LANES} identities at a time to {}: at most {} connections up at once, {} refused, {} \
         closed by the node",
        target.address,
        open.peak.load(Ordering::Relaxed),
        open.refused.load(Ordering::Relaxed),
        tally.closed_by_node.load(Ordering::Relaxed)
    ));
}
