//! The core's [`Transport`] on libp2p: publish on the Gossipsub topic (queueing what full send
//! queues cannot take yet), send direct messages in order, log events.

use super::behaviour::{Behaviour, TOPIC};
use super::direct::DirectQueue;
use super::pending::PendingPublishes;
use super::report;
use libp2p::gossipsub::{IdentTopic, PublishError, TopicHash};
use libp2p::request_response::OutboundRequestId;
use libp2p::{PeerId, Swarm};
use p2p_sync_core::{Event, Transport};
use std::collections::HashMap;

/// At most this much gossip waits for room in the send queues; older messages beyond it are
/// dropped (their writes still reach peers by reconciliation).
const MAX_PENDING_BYTES: usize = 16 * 1024 * 1024;

/// The swarm, seen by the core as its transport.
pub struct SwarmNet {
    /// The libp2p swarm.
    pub swarm: Swarm<Behaviour>,
    topic: TopicHash,
    pending: PendingPublishes,
    direct: DirectQueue,
    /// Gossip messages handed to [`Transport::publish`].
    pub gossip_published: u64,
    /// Gossip messages received (counted by the driver).
    pub gossip_received: u64,
    /// Reconciliation bytes handed to [`Transport::send`] per peer since the driver last took
    /// them (it counts the answers to a host's requests: `egress::HostEgress`).
    direct_sent: HashMap<PeerId, u64>,
}

impl SwarmNet {
    /// Wraps `swarm`, whose Gossipsub is subscribed to [`TOPIC`].
    pub fn new(swarm: Swarm<Behaviour>) -> Self {
        SwarmNet {
            swarm,
            topic: IdentTopic::new(TOPIC).hash(),
            pending: PendingPublishes::new(MAX_PENDING_BYTES),
            direct: DirectQueue::default(),
            gossip_published: 0,
            gossip_received: 0,
            direct_sent: HashMap::new(),
        }
    }

    /// The reconciliation bytes sent to each peer since the last call.
    pub fn take_direct_sent(&mut self) -> HashMap<PeerId, u64> {
        std::mem::take(&mut self.direct_sent)
    }

    /// The hash of the topic writes are published on.
    pub fn topic(&self) -> &TopicHash {
        &self.topic
    }

    /// How many gossip messages wait for room in full send queues.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Publishes what waits in the queue, as far as peers will take it.
    pub fn retry_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let (swarm, topic) = (&mut self.swarm, &self.topic);
        let published = self
            .pending
            .retry(|payload| try_publish(swarm, topic, payload));
        if published > 0 {
            tracing::debug!(published, "published queued gossip messages");
        }
    }

    /// The direct request `request_id` to `peer` was acknowledged or failed.
    pub fn on_direct_done(&mut self, peer: PeerId, request_id: OutboundRequestId) {
        let direct = &mut self.swarm.behaviour_mut().direct;
        self.direct.on_done(direct, peer, request_id);
    }

    /// The direct request `request_id` to `peer` failed: resend it once over another live
    /// connection if there is one, else move on.
    pub fn on_direct_failed(&mut self, peer: PeerId, request_id: OutboundRequestId) {
        let direct = &mut self.swarm.behaviour_mut().direct;
        self.direct.on_failed(direct, peer, request_id);
    }

    /// Bytes of direct messages waiting or on the wire, all peers together.
    pub fn direct_backlog_bytes(&self) -> usize {
        self.direct.total_backlog_bytes()
    }

    /// `peer` disconnected: drop direct messages waiting for it.
    pub fn forget(&mut self, peer: &PeerId) {
        self.direct.forget(peer);
    }
}

/// Publishes `payload`; hands it back when it should be retried later: every send queue is
/// full, or peers are connected but none has subscribed yet (a connection's reconciliation may
/// already be over by the time its subscription arrives). With no peer at all the payload is
/// dropped: the write is stored, and the reconciliation every new connection starts delivers
/// it. Other failures are logged and the payload dropped.
fn try_publish(
    swarm: &mut Swarm<Behaviour>,
    topic: &TopicHash,
    payload: Vec<u8>,
) -> Result<(), Vec<u8>> {
    match swarm
        .behaviour_mut()
        .gossipsub
        .publish(topic.clone(), payload.clone())
    {
        Ok(_) => Ok(()),
        Err(PublishError::NoPeersSubscribedToTopic) if swarm.connected_peers().next().is_some() => {
            tracing::debug!("no connected peer has subscribed yet; the write waits for one");
            Err(payload)
        }
        Err(PublishError::NoPeersSubscribedToTopic) => {
            tracing::debug!(
                "no peer subscribed yet; the write is stored and reaches peers by reconciliation"
            );
            Ok(())
        }
        Err(error @ PublishError::AllQueuesFull(_)) => {
            tracing::debug!(%error, "gossip publish deferred; the write is stored and will be retried");
            Err(payload)
        }
        Err(error) => {
            tracing::warn!(%error, "gossip publish failed; the write is stored and reaches peers by reconciliation");
            Ok(())
        }
    }
}

impl Transport<PeerId> for SwarmNet {
    fn publish(&mut self, payload: Vec<u8>) {
        self.gossip_published += 1;
        if !self.pending.is_empty() {
            self.retry_pending();
        }
        if let Err(payload) = try_publish(&mut self.swarm, &self.topic, payload) {
            let dropped = self.pending.push(payload);
            if dropped > 0 {
                tracing::debug!(
                    dropped,
                    "gossip queue full; oldest messages left to reconciliation"
                );
            }
        }
    }

    fn send(&mut self, peer: &PeerId, payload: Vec<u8>) {
        *self.direct_sent.entry(*peer).or_default() += payload.len() as u64;
        let direct = &mut self.swarm.behaviour_mut().direct;
        self.direct.send(direct, *peer, payload);
    }

    fn backlog_bytes(&self, peer: &PeerId) -> usize {
        self.direct.backlog_bytes(peer)
    }

    fn notify(&mut self, event: Event<PeerId>) {
        report::log(&event);
    }
}
