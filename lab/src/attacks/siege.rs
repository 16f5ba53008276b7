//! Row 1, the siege (`p2p-sync-siege`'s attacker, [`crate::flood`]): ten identities at a time,
//! each sending resize, page, want, estimate and sketch requests as fast as the node takes
//! them, in no particular order; an identity the node disconnects is replaced by a fresh one.

use crate::client::{self, Tally, Target};
use crate::flood::{self, Traffic};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Identities attacking at once.
const LANES: u64 = 10;

/// Runs the siege until the tally says stop.
pub async fn run(target: Target, tally: Arc<Tally>) {
    let traffic = Arc::new(Traffic::default());
    let counted = traffic.clone();
    client::rotate(LANES, &target, &tally, move |target, tally, seed| {
        let traffic = traffic.clone();
        async move {
            match client::swarm(&tally, Arc::new(AtomicBool::new(false)), |_| {
                flood::direct()
            }) {
                Ok(swarm) => {
                    flood::attack(swarm, target.address, seed + 1, traffic, tally.stop.clone())
                        .await
                }
                Err(error) => eprintln!("siege: {error}"),
            }
            if !tally.stopped() {
                Tally::count(&tally.closed_by_node);
            }
        }
    })
    .await;
    let sent = counted.sent.load(Ordering::Relaxed);
    tally.messages.store(sent, Ordering::Relaxed);
    tally.note(format!(
        "{sent} requests; the node sent {} messages ({:.1} MB of payload)",
        counted.received.load(Ordering::Relaxed),
        counted.bytes_received.load(Ordering::Relaxed) as f64 / 1e6
    ));
}
