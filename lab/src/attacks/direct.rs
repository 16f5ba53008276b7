//! A reconciliation client of the attacks' own ([`crate::flood::direct`]: the frame codec
//! written here): a fresh identity dialling the node, and its requests counted.

use crate::client::{self, Tally, Target};
use crate::flood::{self, Direct};
use libp2p::Swarm;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// A fresh identity's reconciliation client, dialling the node; `None` if it cannot.
pub fn dial(target: &Target, tally: &Arc<Tally>) -> Option<Swarm<Direct>> {
    let mut swarm =
        client::swarm(tally, Arc::new(AtomicBool::new(false)), |_| flood::direct()).ok()?;
    swarm.dial(target.address.clone()).ok()?;
    Some(swarm)
}

/// Sends the node the message `bytes`, counted as one.
pub fn send(swarm: &mut Swarm<Direct>, target: &Target, tally: &Tally, bytes: Vec<u8>) {
    Tally::count(&tally.messages);
    swarm.behaviour_mut().send_request(&target.peer, bytes);
}
