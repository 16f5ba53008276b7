//! libp2p's own metrics (libp2p-metrics): connections by transport and outcome, Identify,
//! Kademlia, Gossipsub and ping events, recorded from every swarm event the driver handles and
//! shown by the HTTP API's `/metrics` beside the node's own (under the `libp2p_` prefix).

use super::behaviour::BehaviourEvent;
use libp2p::metrics::{Metrics, Recorder};
use libp2p::swarm::SwarmEvent;
use prometheus_client::encoding::text::encode_registry;
use prometheus_client::registry::Registry;

/// The registry libp2p's metrics live in, and the recorder that updates them.
pub struct SwarmMetrics {
    registry: Registry,
    metrics: Metrics,
}

impl Default for SwarmMetrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let metrics = Metrics::new(&mut registry);
        SwarmMetrics { registry, metrics }
    }
}

impl std::fmt::Debug for SwarmMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SwarmMetrics")
    }
}

impl SwarmMetrics {
    /// Counts `event`, and the protocol event inside it.
    pub fn record(&self, event: &SwarmEvent<BehaviourEvent>) {
        self.metrics.record(event);
        let SwarmEvent::Behaviour(event) = event else {
            return;
        };
        match event {
            BehaviourEvent::Gossipsub(event) => self.metrics.record(event),
            BehaviourEvent::Identify(event) => self.metrics.record(event),
            BehaviourEvent::Kademlia(event) => self.metrics.record(event),
            BehaviourEvent::Ping(event) => self.metrics.record(event),
            _ => {}
        }
    }

    /// Appends the metrics as Prometheus text, without the closing `# EOF`.
    pub fn encode(&self, out: &mut String) -> std::fmt::Result {
        encode_registry(out, &self.registry)
    }
}
