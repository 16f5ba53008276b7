//! The node state machine: every rule of the system, with no I/O of its own.
//!
//! The world around it (the libp2p driver or the simulator) calls one `on_*` method per input
//! and hands in a `Transport` through which the core publishes, sends and reports events.
//! Time comes only from the `Clock` (its wall time stamps and judges writes, its monotonic time
//! runs every interval), randomness only from the seeded rng.

use super::clock::Clock;
use super::config::Config;
use super::counters::{Counters, DropReason};
use super::rate_limit::RateLimiter;
use super::validate::{validate_key, validate_value, ValidationError};
use super::version::{Hlc, Version, Write};
use super::wire::{self, WireError};
use crate::store::{Store, StoreError};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};
use thiserror::Error;

mod reconcile;

/// What the core asks of the world it runs in.
pub trait Transport {
    /// Publishes `payload` on the gossip topic.
    fn publish(&mut self, payload: Vec<u8>);
    /// Sends `payload` to `peer` over the direct, reliable protocol.
    fn send(&mut self, peer: &str, payload: Vec<u8>);
    /// Reports something the user or the log should see.
    fn notify(&mut self, event: Event);
}

/// Something that happened in the core, for the user or the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A gossip message changed the store.
    Applied {
        /// The author of the message.
        from: String,
        /// Its writes that were newer than the store's, in message order (one for the seed's
        /// single-write form, up to a batch's worth otherwise).
        writes: Vec<Write>,
    },
    /// A message or write was dropped (reported at most once per peer, reason and interval).
    Dropped {
        /// The peer it came from.
        from: String,
        /// Why.
        reason: DropReason,
        /// The error in words.
        detail: String,
    },
    /// A reconciliation exchange with `peer` brought in or sent out writes.
    Synced {
        /// The peer.
        peer: String,
        /// Writes received from it that changed the store.
        applied: usize,
        /// Writes sent to it.
        sent: usize,
    },
}

/// The gossip layer's verdict on a message: forward it, drop it quietly, or drop and penalize.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Valid: deliver and forward.
    Accept,
    /// Not forwarded, not the sender's fault (rate limited).
    Ignore,
    /// Invalid: not forwarded.
    Reject,
}

/// Why a user command failed.
#[derive(Debug, Error)]
pub enum CommandError {
    /// The key or value breaks a rule; nothing was stored.
    #[error("{0}")]
    Invalid(#[from] ValidationError),
    /// The write could not be stored.
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// One node: store, clock, limits, peers and reconciliation sessions.
pub struct NodeCore<S: Store, C: Clock> {
    id: String,
    config: Config,
    store: S,
    clock: C,
    rng: ChaCha8Rng,
    hlc: Hlc,
    author_limiter: RateLimiter,
    forwarder_limiter: RateLimiter,
    direct_limiter: RateLimiter,
    last_drop_log: BTreeMap<(String, DropReason), u64>,
    counters: Counters,
    peers: BTreeSet<String>,
    sessions: BTreeMap<String, u64>,
    pending_syncs: BTreeMap<String, u64>,
    next_anti_entropy_ms: u64,
    /// How long after the last failed store of remote writes to ask for them again: doubles
    /// while the store keeps failing, up to the anti-entropy interval; 0 once one succeeds.
    store_retry_ms: u64,
}

/// How long a reconciliation session we started may stay quiet before another may start.
const SESSION_TIMEOUT_MS: u64 = 10_000;

impl<S: Store, C: Clock> NodeCore<S, C> {
    /// A node named `id` (its PeerId, or `n0` in the simulator) over `store`, reading `clock`,
    /// drawing every random choice from `seed`.
    pub fn new(id: impl Into<String>, config: Config, store: S, clock: C, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let now = clock.monotonic_ms();
        let next_anti_entropy_ms =
            now + rng.random_range(0..config.anti_entropy_interval_ms.max(1));
        let hlc = store.summary().max_hlc;
        NodeCore {
            id: id.into(),
            author_limiter: RateLimiter::new(config.author_rate),
            forwarder_limiter: RateLimiter::new(config.forwarder_rate),
            direct_limiter: RateLimiter::new(config.direct_rate),
            config,
            store,
            clock,
            rng,
            hlc,
            last_drop_log: BTreeMap::new(),
            counters: Counters::default(),
            peers: BTreeSet::new(),
            sessions: BTreeMap::new(),
            pending_syncs: BTreeMap::new(),
            next_anti_entropy_ms,
            store_retry_ms: 0,
        }
    }

    /// This node's id, the origin of its writes.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The store, for reads (`get`, `list`, digests).
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Stops the node and hands back its store, e.g. to restart a crashed node on the same data.
    pub fn into_store(self) -> S {
        self.store
    }

    /// What the node has counted so far.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The peers the node is connected to.
    pub fn peers(&self) -> &BTreeSet<String> {
        &self.peers
    }

    /// Stores `key = value` and publishes it. The write is committed before this returns.
    pub fn put(
        &mut self,
        net: &mut dyn Transport,
        key: &str,
        value: &str,
    ) -> Result<Write, CommandError> {
        validate_value(value, &self.config)?;
        self.write_local(net, key, Some(value.to_string()))
    }

    /// Deletes `key` (a tombstone) and publishes the delete. Returns the tombstone and
    /// whether the key was live here before.
    pub fn delete(
        &mut self,
        net: &mut dyn Transport,
        key: &str,
    ) -> Result<(Write, bool), CommandError> {
        validate_key(key, &self.config)?;
        let was_live = self.get(key)?.is_some();
        Ok((self.write_local(net, key, None)?, was_live))
    }

    /// Stores many puts in one transaction and publishes them in batches.
    pub fn put_many(
        &mut self,
        net: &mut dyn Transport,
        entries: &[(String, String)],
    ) -> Result<Vec<Write>, CommandError> {
        for (key, value) in entries {
            validate_key(key, &self.config)?;
            validate_value(value, &self.config)?;
        }
        let before = self.hlc;
        let writes: Vec<Write> = entries
            .iter()
            .map(|(key, value)| self.stamp(key, Some(value.clone())))
            .collect();
        // A refused write leaves no trace: the clock goes back to where it was.
        self.store
            .apply(&writes)
            .inspect_err(|_| self.hlc = before)?;
        for message in wire::encode_writes(&writes, self.config.max_message_bytes) {
            net.publish(message);
        }
        Ok(writes)
    }

    /// The live value of `key`, if any.
    pub fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.store.get(key)?.and_then(|write| write.value))
    }

    fn stamp(&mut self, key: &str, value: Option<String>) -> Write {
        self.hlc = self.hlc.tick(self.clock.now_ms());
        Write {
            key: key.to_string(),
            value,
            version: Version {
                hlc: self.hlc,
                origin: self.id.clone(),
            },
        }
    }

    fn write_local(
        &mut self,
        net: &mut dyn Transport,
        key: &str,
        value: Option<String>,
    ) -> Result<Write, CommandError> {
        validate_key(key, &self.config)?;
        let before = self.hlc;
        let write = self.stamp(key, value);
        self.store
            .apply(std::slice::from_ref(&write))
            .inspect_err(|_| self.hlc = before)?;
        net.publish(wire::encode_write(&write));
        Ok(write)
    }

    /// A peer connected (also: connected again while an old connection lingers). The side with
    /// the smaller id opens a reconciliation at once.
    pub fn on_peer_up(&mut self, net: &mut dyn Transport, peer: &str) {
        self.peers.insert(peer.to_string());
        self.sessions.remove(peer); // a new connection: any session on the old one is void
        if self.id.as_str() < peer {
            self.start_sync(net, peer);
        }
    }

    /// A peer disconnected: forget its sessions.
    pub fn on_peer_down(&mut self, peer: &str) {
        self.peers.remove(peer);
        self.sessions.remove(peer);
        self.pending_syncs.remove(peer);
    }

    /// Called every `config.tick_ms`: periodic reconciliation, syncs due after rate-limit
    /// drops, and housekeeping.
    pub fn on_tick(&mut self, net: &mut dyn Transport) {
        let now = self.clock.monotonic_ms();
        self.author_limiter.forget_expired(now);
        self.forwarder_limiter.forget_expired(now);
        self.direct_limiter.forget_expired(now);
        let log_interval = self.config.drop_log_interval_ms;
        self.last_drop_log
            .retain(|_, at| now.saturating_sub(*at) < log_interval);
        self.sessions
            .retain(|_, at| now.saturating_sub(*at) < SESSION_TIMEOUT_MS);
        let due: Vec<String> = self
            .pending_syncs
            .iter()
            .filter(|(_, &at)| at <= now)
            .map(|(peer, _)| peer.clone())
            .collect();
        for peer in due {
            if !self.peers.contains(&peer) || self.start_sync(net, &peer) {
                self.pending_syncs.remove(&peer);
            }
        }
        if now >= self.next_anti_entropy_ms {
            self.next_anti_entropy_ms = now + self.config.anti_entropy_interval_ms;
            if !self.peers.is_empty() {
                let index = self.rng.random_range(0..self.peers.len());
                let peer = self
                    .peers
                    .iter()
                    .nth(index)
                    .cloned()
                    .expect("index in range");
                self.start_sync(net, &peer);
            }
        }
    }

    fn drop_message(
        &mut self,
        net: &mut dyn Transport,
        from: &str,
        reason: DropReason,
        detail: String,
    ) {
        self.counters.dropped.count(reason);
        let now = self.clock.monotonic_ms();
        let key = (from.to_string(), reason);
        if self.last_drop_log.contains_key(&key) {
            return;
        }
        self.last_drop_log.insert(key, now);
        net.notify(Event::Dropped {
            from: from.to_string(),
            reason,
            detail,
        });
    }

    fn drop_error(&mut self, net: &mut dyn Transport, from: &str, error: WireError) {
        let reason = match error {
            WireError::TooLarge { .. } => DropReason::TooLarge,
            WireError::Malformed(_) => DropReason::Malformed,
            WireError::Invalid(_) | WireError::BadTimestamp(_) | WireError::BadOrigin(_) => {
                DropReason::Invalid
            }
            WireError::FutureTimestamp { .. } => DropReason::FutureTimestamp,
        };
        self.drop_message(net, from, reason, error.to_string());
    }

    /// A gossip message signed by `author`, received from `forwarder`. Returns the verdict to
    /// report to the gossip layer. A store failure is returned after counting nothing.
    pub fn on_gossip(
        &mut self,
        net: &mut dyn Transport,
        author: &str,
        forwarder: &str,
        bytes: &[u8],
    ) -> Result<Verdict, StoreError> {
        let now = self.clock.monotonic_ms();
        if bytes.len() > self.config.max_message_bytes {
            let error = WireError::TooLarge {
                len: bytes.len(),
                max: self.config.max_message_bytes,
            };
            self.drop_error(net, forwarder, error);
            return Ok(Verdict::Reject);
        }
        let forwarder_ok = self.forwarder_limiter.admit(forwarder, now);
        if !forwarder_ok || !self.author_limiter.admit(author, now) {
            let limited = if forwarder_ok { author } else { forwarder };
            self.drop_message(
                net,
                limited,
                DropReason::RateLimited,
                format!("rate limit exceeded for peer {limited}"),
            );
            self.sync_soon(forwarder);
            return Ok(Verdict::Ignore);
        }
        let decoded = match wire::decode(bytes, author, self.clock.now_ms(), &self.config) {
            Ok(decoded) => decoded,
            Err(error) => {
                self.drop_error(net, author, error);
                return Ok(Verdict::Reject);
            }
        };
        let mut valid = Vec::with_capacity(decoded.len());
        for result in decoded {
            match result {
                Ok(write) => valid.push(write),
                Err(error) => self.drop_error(net, author, error),
            }
        }
        if valid.is_empty() {
            return Ok(Verdict::Reject);
        }
        let applied = self
            .apply_remote(&valid)
            .inspect_err(|_| self.retry_after_store_failure(forwarder))?;
        let writes: Vec<Write> = valid
            .into_iter()
            .zip(applied)
            .filter_map(|(write, applied)| applied.then_some(write))
            .collect();
        if !writes.is_empty() {
            let from = author.to_string();
            net.notify(Event::Applied { from, writes });
        }
        Ok(Verdict::Accept)
    }

    /// Reconciles with `peer` `delay_ms` from now, to fetch what could not be taken from it.
    fn sync_after(&mut self, peer: &str, delay_ms: u64) {
        if self.peers.contains(peer) {
            let due = self.clock.monotonic_ms() + delay_ms;
            self.pending_syncs.entry(peer.to_string()).or_insert(due);
        }
    }

    /// Gossip from `peer` was rate-limited: reconcile with it soon.
    fn sync_soon(&mut self, peer: &str) {
        self.sync_after(peer, self.config.sync_after_drop_ms);
    }

    /// Writes from `peer` could not be stored: ask for them again once the store may work,
    /// backing off while it keeps failing, so a long outage costs about one reconciliation per
    /// anti-entropy interval rather than one a second.
    pub(super) fn retry_after_store_failure(&mut self, peer: &str) {
        self.store_retry_ms = (self.store_retry_ms * 2).clamp(
            self.config.sync_after_drop_ms,
            self.config
                .anti_entropy_interval_ms
                .max(self.config.sync_after_drop_ms),
        );
        self.sync_after(peer, self.store_retry_ms);
    }

    /// Applies checked remote writes; moves the clock past them; counts applied and ignored.
    fn apply_remote(&mut self, writes: &[Write]) -> Result<Vec<bool>, StoreError> {
        let now = self.clock.now_ms();
        let before = self.hlc;
        for write in writes {
            self.hlc = self.hlc.observe(write.version.hlc, now);
        }
        let applied = self
            .store
            .apply(writes)
            .inspect_err(|_| self.hlc = before)?;
        self.store_retry_ms = 0;
        let count = applied.iter().filter(|&&a| a).count() as u64;
        self.counters.applied += count;
        self.counters.ignored_older += applied.len() as u64 - count;
        Ok(applied)
    }
}
