//! `GET /v1/status` and `GET /metrics`: one snapshot of the node, taken through the start loop,
//! shown as JSON or as Prometheus text. The registry is built at scrape time from the snapshot
//! (collector style), so nothing is counted twice; libp2p's own metrics (`libp2p_…`, kept by
//! the driver from every swarm event) follow in the same exposition.

use super::routes::ApiError;
use super::Shared;
use crate::cli::commands::status::{clock_text, mode};
use crate::net::{DriverCounts, Node, Status};
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use p2p_sync_core::DropReason;
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};
use serde_json::{json, Value};

/// Everything `status` shows, and the driver's and the API's own counts.
pub struct Snapshot {
    status: Status,
    driver: DriverCounts,
    writes_made: u64,
    changes: u64,
    watchers: usize,
    /// libp2p's own metrics, as text (libp2p-metrics).
    swarm: String,
}

impl Snapshot {
    fn of(node: &Node) -> Result<Snapshot, p2p_sync_core::StoreError> {
        Ok(Snapshot {
            status: node.status()?,
            driver: node.driver_counts(),
            writes_made: node.store().writes_made(),
            changes: node.store().feed().last_seq(),
            watchers: node.store().feed().watchers(),
            swarm: {
                let mut text = String::new();
                // Writing to a String cannot fail.
                let _ = node.swarm_metrics(&mut text);
                text
            },
        })
    }

    /// Takes a snapshot in the start loop.
    pub async fn take(shared: &Shared) -> Result<Snapshot, ApiError> {
        shared
            .call(|node: &mut Node| Snapshot::of(node))
            .await
            .ok_or_else(|| {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the node is shutting down")
            })?
            .map_err(|error| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("storage error: {error}"),
                )
            })
    }

    fn mesh_peers(&self) -> usize {
        self.status.peers.iter().filter(|peer| peer.mesh).count()
    }

    /// The facts `status` prints, as JSON.
    pub fn to_json(&self) -> Value {
        let status = &self.status;
        let counters = &status.counters;
        let drops: serde_json::Map<String, Value> = DropReason::ALL
            .iter()
            .map(|&reason| {
                (
                    reason.name().to_string(),
                    json!(counters.dropped.get(reason)),
                )
            })
            .collect();
        let clock_warning = status.clock_ahead.as_ref().map(|(ahead, ago_ms)| {
            json!({
                "peer": ahead.peer.to_string(),
                "ahead_ms": ahead.ahead_ms,
                "ago_ms": ago_ms,
            })
        });
        json!({
            "peer_id": status.peer_id.to_string(),
            "mode": mode(status),
            "listen_addresses": status.listen_addresses.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "peers": status.peers.iter().map(|peer| json!({
                "peer": peer.peer.to_string(),
                "subscribed": peer.subscribed,
                "mesh": peer.mesh,
                "p2p_sync": peer.p2p_sync,
            })).collect::<Vec<_>>(),
            "mesh_peers": self.mesh_peers(),
            "keys": { "live": status.live_keys, "stored": status.stored_keys },
            "writes_made": self.writes_made,
            "changes": self.changes,
            "watch_clients": self.watchers,
            "counters": counters,
            "drops": drops,
            "dropped_total": counters.dropped.total(),
            "gossip": { "published": self.driver.gossip_published, "received": self.driver.gossip_received },
            "queues": {
                "pending_gossip": status.pending_gossip,
                "held_acks": self.driver.held_acks,
                "direct_backlog_bytes": self.driver.direct_backlog_bytes,
            },
            "clock": clock_text(status),
            "clock_warning": clock_warning,
            "network_key": status.network_key,
            "allow_list": status.allow_list,
        })
    }

    /// The snapshot as a Prometheus registry.
    fn registry(&self) -> Registry {
        let mut registry = Registry::with_prefix("p2p_sync");
        let status = &self.status;
        let counters = &status.counters;
        let counter = |registry: &mut Registry, name: &str, help: &str, value: u64| {
            let metric = Counter::<u64>::default();
            metric.inc_by(value);
            registry.register(name, help, metric);
        };
        let bytes = |registry: &mut Registry, name: &str, help: &str, value: u64| {
            let metric = Counter::<u64>::default();
            metric.inc_by(value);
            registry.register_with_unit(name, help, Unit::Bytes, metric);
        };
        let gauge = |registry: &mut Registry, name: &str, help: &str, value: u64| {
            let metric = Gauge::<i64>::default();
            metric.set(i64::try_from(value).unwrap_or(i64::MAX));
            registry.register(name, help, metric);
        };
        counter(
            &mut registry,
            "writes_made",
            "Writes (puts and deletes) this node made and stored",
            self.writes_made,
        );
        counter(
            &mut registry,
            "writes_applied",
            "Remote writes that were newer and changed the store",
            counters.applied,
        );
        counter(
            &mut registry,
            "writes_ignored",
            "Remote writes not newer than what the store held",
            counters.ignored_older,
        );
        counter(
            &mut registry,
            "changes",
            "Writes the store applied, local and remote (the watch feed)",
            self.changes,
        );
        let drops = Family::<Vec<(String, String)>, Counter>::default();
        for reason in DropReason::ALL {
            drops
                .get_or_create(&vec![("reason".to_string(), reason.name().to_string())])
                .inc_by(counters.dropped.get(reason));
        }
        registry.register("dropped", "Messages and writes dropped, by reason", drops);
        counter(
            &mut registry,
            "reconciliations",
            "Reconciliation sessions this node started",
            counters.reconciliations_started,
        );
        counter(
            &mut registry,
            "reconciled_writes_received",
            "Writes received through reconciliation",
            counters.reconciled_writes_received,
        );
        counter(
            &mut registry,
            "reconciled_writes_sent",
            "Writes sent through reconciliation",
            counters.reconciled_writes_sent,
        );
        bytes(
            &mut registry,
            "reconcile_received",
            "Reconciliation messages received",
            counters.reconcile_bytes_received,
        );
        bytes(
            &mut registry,
            "reconcile_sent",
            "Reconciliation messages sent",
            counters.reconcile_bytes_sent,
        );
        counter(
            &mut registry,
            "gossip_published",
            "Gossip messages of this node's writes handed to Gossipsub",
            self.driver.gossip_published,
        );
        counter(
            &mut registry,
            "gossip_received",
            "Gossip messages received from peers",
            self.driver.gossip_received,
        );
        gauge(
            &mut registry,
            "connected_peers",
            "Peers with an open connection",
            status.peers.len() as u64,
        );
        gauge(
            &mut registry,
            "mesh_peers",
            "Peers in the Gossipsub mesh for the topic",
            self.mesh_peers() as u64,
        );
        gauge(
            &mut registry,
            "pending_gossip",
            "Gossip messages waiting for room in full send queues",
            status.pending_gossip as u64,
        );
        gauge(
            &mut registry,
            "held_acks",
            "Acknowledgements held back from peers over their direct budget",
            self.driver.held_acks as u64,
        );
        let backlog = Gauge::<i64>::default();
        backlog.set(i64::try_from(self.driver.direct_backlog_bytes).unwrap_or(i64::MAX));
        registry.register_with_unit(
            "direct_backlog",
            "Direct messages waiting or on the wire",
            Unit::Bytes,
            backlog,
        );
        gauge(
            &mut registry,
            "watch_clients",
            "Clients of /v1/watch connected now",
            self.watchers as u64,
        );
        gauge(
            &mut registry,
            "keys",
            "Live keys in the store",
            status.live_keys,
        );
        gauge(
            &mut registry,
            "stored_keys",
            "Keys in the store, tombstones included",
            status.stored_keys,
        );
        registry
    }
}

/// `GET /metrics`: Prometheus text (OpenMetrics).
pub async fn metrics(State(shared): State<Shared>) -> Result<Response, ApiError> {
    let snapshot = Snapshot::take(&shared).await?;
    let mut text = String::new();
    encode_registry(&mut text, &snapshot.registry())
        .and_then(|()| {
            text.push_str(&snapshot.swarm);
            encode_eof(&mut text)
        })
        .map_err(|error| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, error.to_string()))?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        )],
        text,
    )
        .into_response())
}
