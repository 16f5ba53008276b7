//! The node state machine: every rule of the system, with no I/O of its own.
//!
//! The world around it (the libp2p driver or the simulator) calls one `on_*` method per input
//! and hands in a `Transport` through which the core publishes, sends and reports events.
//! Time comes only from the `Clock` (its wall time stamps and judges writes, its monotonic time
//! runs every interval), randomness only from the seeded rng.

use super::auth::{self, Identity, Keys, SigningKey};
use super::clock::Clock;
use super::config::Config;
use super::counters::{Counters, DropReason};
use super::error::{Refusal, ValidationError};
use super::legacy;
use super::membership::Membership;
use super::rate_limit::{Cost, RateLimiter};
use super::timers::{Timer, TimerTable};
use super::validate::{validate_key, validate_value};
use super::version::{Hlc, Version};
use super::wire;
use super::write::Write;
use crate::store::{Store, StoreError};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use reconciler::Reconciler;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use thiserror::Error;

mod members;
mod reconcile;
mod reconciler;
mod remote;

/// What the core needs of a peer's id: the real node uses libp2p's `PeerId`, the simulator
/// names such as `n0`. Its `Display` form is the `origin` written into the node's writes.
pub trait PeerId: Clone + Ord + fmt::Display + fmt::Debug {}

impl<T: Clone + Ord + fmt::Display + fmt::Debug> PeerId for T {}

/// What the core asks of the world it runs in.
pub trait Transport<P> {
    /// Publishes `payload` on the gossip topic.
    fn publish(&mut self, payload: Vec<u8>);
    /// Sends `payload` to `peer` over the direct, reliable protocol.
    fn send(&mut self, peer: &P, payload: Vec<u8>);
    /// Bytes of direct messages to `peer` not yet taken by it (sent and not acknowledged, or
    /// waiting to be sent): a peer that asks faster than it takes the answers gets none.
    fn backlog_bytes(&self, peer: &P) -> usize;
    /// Reports something the user or the log should see.
    fn notify(&mut self, event: Event<P>);
}

/// Something that happened in the core, for the user or the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event<P> {
    /// A gossip message changed the store.
    Applied {
        /// The author of the message.
        from: P,
        /// Its writes that were newer than the store's, in message order (one for the legacy app's
        /// single-write form, up to a batch's worth otherwise).
        writes: Vec<Write>,
    },
    /// A message or write was dropped (reported at most once per peer, reason and interval).
    Dropped {
        /// The peer it came from.
        from: P,
        /// Why.
        reason: DropReason,
        /// The error in words.
        detail: String,
    },
    /// A reconciliation exchange with `peer` brought in or sent out writes.
    Reconciled {
        /// The peer.
        peer: P,
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
pub struct NodeCore<S: Store, C: Clock, P: PeerId = String> {
    id: P,
    /// `id` as it is written into the node's writes.
    origin: String,
    /// Signs the node's writes.
    signing_key: SigningKey,
    /// Threads that sign a batch of this node's writes.
    signing_threads: usize,
    /// Checks other origins' signatures.
    keys: Box<dyn Keys>,
    config: Config,
    store: S,
    clock: C,
    rng: ChaCha8Rng,
    hlc: Hlc,
    /// Writes per author (by origin): its gossip, and its writes received by reconciliation,
    /// whoever relays them.
    author_limiter: RateLimiter<String>,
    forwarder_limiter: RateLimiter<P>,
    direct_limiter: RateLimiter<P>,
    last_drop_log: BTreeMap<(P, DropReason), u64>,
    membership: Membership,
    counters: Counters,
    peers: BTreeSet<P>,
    /// Reconciliations under way, and the peers heard from in them.
    reconciler: Reconciler<P>,
    /// Store scans each peer's reconciliation messages may cause.
    scan_limiter: RateLimiter<P>,
    /// Bytes of direct messages this node sent each peer ([`reconcile::ANSWER_RATE`]): a
    /// peer that had its share gets no answer that costs reads until its window ends.
    answer_limiter: RateLimiter<P>,
    /// How long after the last failed store of remote writes to ask for them again: doubles
    /// while the store keeps failing, up to the anti-entropy interval; 0 once one succeeds.
    store_retry_ms: u64,
    /// Every deadline: anti-entropy, sweeps, reconciliations due, and the end of each session
    /// this node opened and of each exchange.
    timers: TimerTable<P>,
    /// The latest write refused for a timestamp too far ahead: its peer's clock (or this
    /// node's) is off, which the user should hear about.
    clock_ahead: Option<ClockAhead<P>>,
    /// Envelopes published for the original app ([`Config::legacy_envelope`]).
    envelope_limiter: RateLimiter<()>,
    /// Peers that sent messages holding forged writes: how many, and when the last came.
    strikes: BTreeMap<P, (u32, u64)>,
}

/// A write refused because its timestamp was too far ahead of this node's clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockAhead<P> {
    /// The peer it came from.
    pub peer: P,
    /// How far ahead of this node's clock it was stamped.
    pub ahead_ms: u64,
    /// When it was refused (monotonic ms, see [`Clock::monotonic_ms`]).
    pub at_ms: u64,
}

impl<S: Store, C: Clock, P: PeerId> NodeCore<S, C, P> {
    /// A node named `id` (its PeerId, or `n0` in the simulator) signing with `identity`, over
    /// `store`, reading `clock`, drawing every random choice from `seed`.
    pub fn new(id: P, identity: Identity, config: Config, store: S, clock: C, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let now = clock.monotonic_ms();
        let mut timers = TimerTable::default();
        let first_round = now + rng.random_range(0..config.anti_entropy_interval_ms.max(1));
        timers.set(Timer::AntiEntropy, first_round);
        timers.set(Timer::Sweep, now + config.drop_log_interval_ms);
        let hlc = store.summary().max_hlc;
        NodeCore {
            origin: id.to_string(),
            id,
            signing_key: identity.signing_key,
            signing_threads: identity.signing_threads,
            keys: identity.keys,
            author_limiter: RateLimiter::new(config.author_rate),
            forwarder_limiter: RateLimiter::new(config.forwarder_rate),
            direct_limiter: RateLimiter::new(config.direct_rate),
            scan_limiter: RateLimiter::new(config.scan_rate),
            answer_limiter: RateLimiter::new(reconcile::ANSWER_RATE),
            membership: Membership::open(),
            config,
            store,
            clock,
            rng,
            hlc,
            last_drop_log: BTreeMap::new(),
            counters: Counters::default(),
            peers: BTreeSet::new(),
            reconciler: Reconciler::default(),
            store_retry_ms: 0,
            timers,
            clock_ahead: None,
            envelope_limiter: RateLimiter::new(legacy::ENVELOPE_RATE),
            strikes: BTreeMap::new(),
        }
    }

    /// This node's id; its `Display` form is the origin of its writes.
    pub fn id(&self) -> &P {
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

    /// The latest write refused for being stamped too far ahead, if any, and how long ago
    /// (ms): the `status` line that names a peer whose clock is off.
    pub fn clock_ahead(&self) -> Option<(&ClockAhead<P>, u64)> {
        let now = self.clock.monotonic_ms();
        self.clock_ahead
            .as_ref()
            .map(|ahead| (ahead, now.saturating_sub(ahead.at_ms)))
    }

    /// The peers the node is connected to.
    pub fn peers(&self) -> &BTreeSet<P> {
        &self.peers
    }

    /// Stores `key = value` and publishes it. The write is committed before this returns.
    pub fn put(
        &mut self,
        net: &mut dyn Transport<P>,
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
        net: &mut dyn Transport<P>,
        key: &str,
    ) -> Result<(Write, bool), CommandError> {
        validate_key(key, &self.config)?;
        let was_live = self.get(key)?.is_some();
        Ok((self.write_local(net, key, None)?, was_live))
    }

    /// Stores every valid put of `entries` in one transaction and publishes them in batches.
    /// Returns each entry's verdict in order: its write, or the rule it breaks (such an entry
    /// is skipped). A store failure stores and publishes none of them.
    pub fn put_many(
        &mut self,
        net: &mut dyn Transport<P>,
        entries: &[(String, String)],
    ) -> Result<Vec<Result<Write, ValidationError>>, StoreError> {
        let before = self.hlc;
        let mut verdicts = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let verdict =
                validate_key(key, &self.config).and_then(|()| validate_value(value, &self.config));
            verdicts.push(match verdict {
                Ok(()) => Ok(self
                    .stamp(key, Some(value.clone()))
                    .inspect_err(|_| self.hlc = before)?),
                Err(error) => Err(error),
            });
        }
        // Signed together, on every thread the identity gives.
        let mut writes: Vec<Write> = verdicts.iter().flatten().cloned().collect();
        if writes.is_empty() {
            return Ok(verdicts);
        }
        auth::sign_all(&self.signing_key, &mut writes, self.signing_threads);
        let mut signed = writes.iter();
        for write in verdicts.iter_mut().flatten() {
            *write = signed
                .next()
                .expect("one signed write per stamped one")
                .clone();
        }
        // A refused write leaves no trace: the clock goes back to where it was.
        self.store
            .apply(&writes)
            .inspect_err(|_| self.hlc = before)?;
        // No batch holds more writes than a receiver checks in one message.
        for batch in writes.chunks(self.config.max_writes_per_message.max(1)) {
            for message in wire::encode_writes(batch, self.config.max_message_bytes) {
                net.publish(message);
            }
        }
        if let [write] = writes.as_slice() {
            self.publish_envelope(net, write);
        }
        Ok(verdicts)
    }

    /// The live value of `key`, if any.
    pub fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.store.get(key)?.and_then(|write| write.value))
    }

    /// A local write of `key` (not signed yet), stamped after everything this node did and after the
    /// write it holds for `key`. Remote writes stamped ahead of the local clock (a peer whose
    /// clock runs fast, within the bound) do not move the node's clock; only a write that
    /// overwrites one of them is stamped past it, so a user's overwrite still wins.
    fn stamp(&mut self, key: &str, value: Option<String>) -> Result<Write, StoreError> {
        let now = self.clock.now_ms();
        self.hlc = self.hlc.tick(now);
        let mut hlc = self.hlc;
        if self.store.summary().max_hlc >= hlc {
            if let Some(stored) = self.store.get(key)? {
                hlc = hlc.max(stored.version.hlc.tick(now));
            }
        }
        let write = Write {
            key: key.to_string(),
            value,
            version: Version {
                hlc,
                origin: self.origin.clone(),
            },
            signature: None,
        };
        Ok(write)
    }

    fn write_local(
        &mut self,
        net: &mut dyn Transport<P>,
        key: &str,
        value: Option<String>,
    ) -> Result<Write, CommandError> {
        validate_key(key, &self.config)?;
        let before = self.hlc;
        let mut write = self.stamp(key, value)?;
        auth::sign(&self.signing_key, &mut write);
        self.store
            .apply(std::slice::from_ref(&write))
            .inspect_err(|_| self.hlc = before)?;
        net.publish(wire::encode_write(&write));
        self.publish_envelope(net, &write);
        Ok(write)
    }

    /// With [`Config::legacy_envelope`], publishes the node's single write `write` also in the
    /// original app's signed envelope, if it fits the app's frame and the envelope budget
    /// ([`legacy::ENVELOPE_RATE`]). Otherwise only counted: the original app has no catch-up,
    /// so it gets that key with a later write that goes out. Batches never go in the envelope.
    fn publish_envelope(&mut self, net: &mut dyn Transport<P>, write: &Write) {
        if !self.config.legacy_envelope {
            return;
        }
        let now = self.clock.monotonic_ms();
        match legacy::encode(write, &self.signing_key, &self.origin) {
            Ok(bytes)
                if self
                    .envelope_limiter
                    .admit(&(), now, Cost::of(1, bytes.len()), 1) =>
            {
                net.publish(bytes);
                self.counters.legacy_envelopes_sent += 1;
            }
            _ => self.counters.legacy_envelopes_not_sent += 1,
        }
    }

    /// A peer connected (also: connected again while an old connection lingers). The side with
    /// the smaller id opens a reconciliation at once.
    pub fn on_peer_up(&mut self, net: &mut dyn Transport<P>, peer: &P) {
        self.peers.insert(peer.clone());
        // A new connection: a session this node opened on the old one is void (the exchange
        // stays until it is quiet: the peer may still answer on a connection that lives on).
        self.end_session(peer);
        if self.id < *peer {
            self.start_reconciliation(net, peer);
        }
    }

    /// A peer disconnected: forget its sessions.
    pub fn on_peer_down(&mut self, peer: &P) {
        self.peers.remove(peer);
        self.reconciler.forget(peer);
        self.end_exchange(peer);
        self.timers.stop(&Timer::Reconcile(peer.clone()));
    }

    /// The monotonic time (see [`Clock::monotonic_ms`]) at which the core next needs
    /// [`NodeCore::handle_timeout`]: the earliest of every timer ([`TimerTable`]): the next
    /// anti-entropy round or sweep, a reconciliation that is due (once any session with that
    /// peer has ended or timed out), or the end of a quiet session or exchange. The world
    /// sleeps until then, or until an input arrives, whichever is first; a call before then
    /// does nothing.
    pub fn poll_timeout(&self) -> u64 {
        self.timers
            .next_deadline()
            .expect("the anti-entropy timer always runs")
    }

    /// Does what is due by now: reconciliations waiting for their peer's session to end, and
    /// the periodic anti-entropy round with one random peer.
    pub fn handle_timeout(&mut self, net: &mut dyn Transport<P>) {
        let now = self.clock.monotonic_ms();
        self.sweep(now);
        // Quiet sessions and exchanges end first: a reconciliation may wait for one.
        for timer in self.timers.expired(now) {
            match &timer {
                Timer::Session(_) => {}
                Timer::Exchange(peer) => {
                    self.reconciler.end(peer);
                }
                Timer::AntiEntropy | Timer::Sweep | Timer::Reconcile(_) => continue,
            }
            self.timers.stop(&timer);
        }
        for timer in self.timers.expired(now) {
            if let Timer::Reconcile(peer) = &timer {
                if !self.peers.contains(peer) || self.start_reconciliation(net, peer) {
                    self.timers.stop(&timer);
                }
            }
        }
        if self.timers.get(&Timer::AntiEntropy) <= Some(now) {
            let interval = self.config.anti_entropy_interval_ms.max(1);
            self.timers.set(Timer::AntiEntropy, now + interval);
            let candidates = self.reconciler.anti_entropy_candidates(&self.peers);
            if !candidates.is_empty() {
                let peer = candidates[self.rng.random_range(0..candidates.len())].clone();
                self.start_reconciliation(net, &peer);
            }
        }
    }

    /// Forgets expired rate windows and drop-log entries, at most once per drop-log interval,
    /// so memory stays bounded by the peers heard from recently.
    fn sweep(&mut self, now: u64) {
        if self.timers.get(&Timer::Sweep).is_some_and(|at| at > now) {
            return;
        }
        let interval = self.config.drop_log_interval_ms;
        self.timers.set(Timer::Sweep, now + interval);
        self.author_limiter.forget_expired(now);
        self.forwarder_limiter.forget_expired(now);
        self.direct_limiter.forget_expired(now);
        self.scan_limiter.forget_expired(now);
        self.answer_limiter.forget_expired(now);
        self.last_drop_log
            .retain(|_, at| now.saturating_sub(*at) < interval);
        self.strikes
            .retain(|_, (_, at)| now.saturating_sub(*at) < interval);
    }

    fn drop_message(
        &mut self,
        net: &mut dyn Transport<P>,
        from: &P,
        reason: DropReason,
        detail: String,
    ) {
        self.counters.dropped.count(reason);
        let now = self.clock.monotonic_ms();
        self.sweep(now);
        let key = (from.clone(), reason);
        let interval = self.config.drop_log_interval_ms;
        if let Some(&logged) = self.last_drop_log.get(&key) {
            if now.saturating_sub(logged) < interval {
                return;
            }
        }
        self.last_drop_log.insert(key, now);
        net.notify(Event::Dropped {
            from: from.clone(),
            reason,
            detail,
        });
    }

    fn drop_error(&mut self, net: &mut dyn Transport<P>, from: &P, error: Refusal) {
        if let Refusal::FutureTimestamp { ahead_ms, .. } = error {
            self.clock_ahead = Some(ClockAhead {
                peer: from.clone(),
                ahead_ms,
                at_ms: self.clock.monotonic_ms(),
            });
        }
        self.drop_message(net, from, error.reason(), error.to_string());
    }

    /// A gossip message signed by `author`, received from `forwarder`. Returns the verdict to
    /// report to the gossip layer. A store failure is returned after counting nothing.
    pub fn on_gossip(
        &mut self,
        net: &mut dyn Transport<P>,
        author: &P,
        forwarder: &P,
        bytes: &[u8],
    ) -> Result<Verdict, StoreError> {
        if bytes.len() > self.config.max_message_bytes {
            let error = Refusal::TooLarge {
                len: bytes.len(),
                max: self.config.max_message_bytes,
            };
            self.drop_error(net, forwarder, error);
            return Ok(self.refusal(author, forwarder));
        }
        if self.refuse_author(net, forwarder, &author.to_string()) {
            return Ok(Verdict::Ignore);
        }
        if !self.charge_gossip(net, author, forwarder, Cost::of(0, bytes.len())) {
            return Ok(Verdict::Ignore);
        }
        let signer = author.to_string();
        let now_ms = self.clock.now_ms();
        let decoded = match wire::decode(bytes, &signer, self.config.max_message_bytes) {
            Ok(decoded) => decoded,
            // Not our form: perhaps the original app's signed envelope.
            Err(error @ Refusal::Malformed(_)) => {
                // Larger than the original app's frames: not parsed again as an envelope.
                let envelope = (bytes.len() <= legacy::MAX_ENVELOPE_BYTES)
                    .then(|| legacy::decode(bytes, &signer))
                    .flatten();
                match envelope {
                    Some(legacy::Decoded::Write(write)) => vec![write],
                    Some(legacy::Decoded::KeyDistribution) => {
                        self.counters.dropped.count(DropReason::KeyDistribution);
                        return Ok(Verdict::Ignore);
                    }
                    None => {
                        self.drop_error(net, author, error);
                        return Ok(self.refusal(author, forwarder));
                    }
                }
            }
            Err(error) => {
                self.drop_error(net, author, error);
                return Ok(self.refusal(author, forwarder));
            }
        };
        // Every write counts: a batch of 10,000 writes is 10,000 writes of the budgets.
        if !self.charge_gossip(net, author, forwarder, Cost::writes(decoded.len())) {
            return Ok(Verdict::Ignore);
        }
        // Unchecked, not forwarded, not penalised (nodes built before the cap sent larger
        // batches): the writes come by reconciliation, a message's worth at a time.
        let max_writes = self.config.max_writes_per_message;
        if decoded.len() > max_writes {
            let detail = format!(
                "{} writes in one message, the limit is {max_writes}",
                decoded.len()
            );
            self.drop_message(net, forwarder, DropReason::TooLarge, detail);
            self.reconcile_soon(forwarder);
            return Ok(Verdict::Ignore);
        }
        self.prefetch_signatures(decoded.iter().filter_map(|result| result.as_ref().ok()));
        let mut valid = Vec::with_capacity(decoded.len());
        for result in decoded {
            // The decoder made sure the origin is the author, who signed the whole message.
            match result.and_then(|write| self.check_remote(&write, now_ms, true).map(|()| write)) {
                Ok(write) => valid.push(write),
                // The first forged write ends the message: none of it applies or travels on.
                Err(error @ Refusal::Forged(_)) => {
                    self.drop_error(net, author, error);
                    if self.answers_for(author, forwarder) {
                        self.strike(forwarder);
                    }
                    return Ok(self.refusal(author, forwarder));
                }
                Err(error) => self.drop_error(net, author, error),
            }
        }
        if valid.is_empty() {
            return Ok(self.refusal(author, forwarder));
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
            net.notify(Event::Applied {
                from: author.clone(),
                writes,
            });
        }
        Ok(Verdict::Accept)
    }

    /// Whether `forwarder` answers for a bad message of `author`: it is the author, or a
    /// p2p-sync node, which checks every write before it forwards. A relay that cannot check
    /// (the original app forwards what it cannot verify) is not blamed for what a third party
    /// wrote: a hostile host could otherwise get honest relays struck and disconnected.
    fn answers_for(&self, author: &P, forwarder: &P) -> bool {
        author == forwarder || self.peers.contains(forwarder)
    }

    /// The verdict on a gossip message refused as bad: `Reject` (forwarded nowhere, and the
    /// gossip layer scores its sender down) when the forwarder answers for it, else `Ignore`
    /// (forwarded nowhere, nobody scored).
    fn refusal(&self, author: &P, forwarder: &P) -> Verdict {
        match self.answers_for(author, forwarder) {
            true => Verdict::Reject,
            false => Verdict::Ignore,
        }
    }

    /// Counts a message holding a forged write against `peer`, the one that sent it here (an
    /// honest node checks before it forwards, so never sends one).
    pub(super) fn strike(&mut self, peer: &P) {
        let now = self.clock.monotonic_ms();
        let entry = self.strikes.entry(peer.clone()).or_insert((0, now));
        *entry = (entry.0.saturating_add(1), now);
    }

    /// Messages holding a forged write that `peer` sent lately (forgotten a drop-log interval
    /// after its last one): the driver disconnects a peer that keeps sending them.
    pub fn strikes(&self, peer: &P) -> u32 {
        self.strikes.get(peer).map_or(0, |&(count, _)| count)
    }

    /// Charges gossip from `author` via `forwarder` to both budgets. Over either, the message is
    /// dropped as rate limited, and a reconciliation with the forwarder is due soon after (the
    /// writes are not lost: they arrive within the budgets, by reconciliation).
    fn charge_gossip(
        &mut self,
        net: &mut dyn Transport<P>,
        author: &P,
        forwarder: &P,
        cost: Cost,
    ) -> bool {
        let now = self.clock.monotonic_ms();
        let forwarder_ok = self.forwarder_limiter.admit(forwarder, now, cost, 1);
        let author_name = author.to_string();
        let factor = self.rate_factor(&author_name);
        if forwarder_ok && self.author_limiter.admit(&author_name, now, cost, factor) {
            return true;
        }
        let limited = if forwarder_ok { author } else { forwarder };
        self.drop_message(
            net,
            limited,
            DropReason::RateLimited,
            format!("rate limit exceeded for peer {limited}"),
        );
        self.reconcile_soon(forwarder);
        false
    }

    /// Reconciles with `peer` `delay_ms` from now, to fetch what could not be taken from it.
    pub(super) fn reconcile_after(&mut self, peer: &P, delay_ms: u64) {
        if self.peers.contains(peer) {
            let due = self.clock.monotonic_ms() + delay_ms;
            self.timers
                .set_unless_running(Timer::Reconcile(peer.clone()), due);
        }
    }

    /// Gossip or records from `peer` were over a budget: reconcile with it soon.
    pub(super) fn reconcile_soon(&mut self, peer: &P) {
        self.reconcile_after(peer, self.config.reconcile_after_drop_ms);
    }

    /// Writes from `peer` could not be stored: ask for them again once the store may work,
    /// backing off while it keeps failing, so a long outage costs about one reconciliation per
    /// anti-entropy interval rather than one a second.
    pub(super) fn retry_after_store_failure(&mut self, peer: &P) {
        self.store_retry_ms = (self.store_retry_ms * 2).clamp(
            self.config.reconcile_after_drop_ms,
            self.config
                .anti_entropy_interval_ms
                .max(self.config.reconcile_after_drop_ms),
        );
        self.reconcile_after(peer, self.store_retry_ms);
    }
}
