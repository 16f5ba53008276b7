//! The node state machine ([`NodeCore`]): every rule of the system, with no I/O of its own.
//! This file is its contract with the world that drives it (the libp2p driver, the simulator):
//! every input and every output is here; the rules are in the files below it.
//!
//! # Inputs
//! One method per event, each handed the [`Transport`] its outputs go through:
//! - [`NodeCore::handle_gossip`]: a gossip message, with its author and the peer that
//!   forwarded it.
//! - [`NodeCore::handle_direct`]: a direct (reconciliation) message from a peer.
//! - [`NodeCore::handle_peer_up`], [`NodeCore::handle_peer_down`]: a connection opened or closed.
//! - [`NodeCore::handle_timeout`]: the deadline [`NodeCore::poll_timeout`] gave has come.
//! - The user's commands: [`NodeCore::put`], [`NodeCore::delete`], [`NodeCore::put_many`];
//!   the allow-list: [`NodeCore::set_membership`].
//!
//! Time comes only from the [`Clock`], read once per input into a [`Now`] that is passed down
//! (its `wall_ms` stamps and judges writes, its `monotonic_ms` runs every interval and timer);
//! only the status polls read it on their own. Randomness comes only from the seeded rng.
//!
//! # Outputs
//! Everything that leaves the core, by the way it leaves:
//! - **Pushed** through the [`Transport`] during an input: [`Transport::publish`] (gossip),
//!   [`Transport::send`] (direct messages to one peer), [`Transport::notify`] ([`Event`]s for
//!   the user or the log).
//! - **Returned** by an input: the gossip layer's [`Verdict`] on a message, the writes a
//!   command made or the rule it broke ([`CommandError`]), and a [`StoreError`] where the store
//!   failed (the input is then retried by reconciliation; nothing is counted twice).
//! - **Polled** by the world after an input: [`NodeCore::poll_timeout`] (when to call
//!   [`NodeCore::handle_timeout`]), [`NodeCore::direct_refused_until`] (hold a peer's direct
//!   messages off while it is over its budget), [`NodeCore::strikes`] (disconnect a peer that
//!   keeps sending forged writes), and for `status`: [`NodeCore::counters`],
//!   [`NodeCore::clock_ahead`], [`NodeCore::peers`], [`NodeCore::store`].
//! - **Asked** of the world: [`Transport::backlog_bytes`], the one question the core puts to
//!   it (how much a peer has not taken yet: a peer that asks faster than it takes gets no
//!   answers that cost reads).
//!
//! # Layout
//! - `node/local.rs`: the user's commands; `node/gossip.rs`: gossip messages;
//!   `node/remote.rs`: every remote write checked (one place, every path) and applied.
//! - `node/reconcile.rs`: sessions, and the order and budgets every direct message passes;
//!   `node/tables.rs`: comparing the stores; `node/records.rs`: the writes asked for, sent and
//!   received; `node/reconciler.rs`: where each exchange stands.
//! - `node/budgets.rs`, `node/drops.rs`, `node/members.rs`: the budgets, what was dropped and
//!   struck, the allow-list. Deadlines are [`crate::timers`]'.

use super::auth::{Identity, Keys, SigningKey};
use super::clock::{Clock, Now};
use super::config::Config;
use super::counters::{Counters, DropReason};
use super::error::ValidationError;
use super::membership::Membership;
use super::timers::{Timer, TimerTable};
use super::version::Hlc;
use super::write::Write;
use crate::store::{Store, StoreError};
use budgets::Budgets;
use drops::DropLog;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use reconciler::Reconciler;
use std::collections::BTreeSet;
use std::fmt;
use thiserror::Error;

mod budgets;
mod drops;
mod gossip;
mod local;
mod members;
mod reconcile;
mod reconciler;
mod records;
mod remote;
mod tables;

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
    /// What each author, forwarder and peer may still send, and this node publish.
    budgets: Budgets<P>,
    membership: Membership,
    counters: Counters,
    /// Drops logged lately, strikes, and the latest write stamped too far ahead.
    drop_log: DropLog<P>,
    peers: BTreeSet<P>,
    /// Reconciliations under way, and the peers heard from in them.
    reconciler: Reconciler<P>,
    /// How long after the last failed store of remote writes to ask for them again: doubles
    /// while the store keeps failing, up to the anti-entropy interval; 0 once one succeeds.
    store_retry_ms: u64,
    /// Every deadline: anti-entropy, sweeps, reconciliations due, and the end of each session
    /// this node opened and of each exchange.
    timers: TimerTable<P>,
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
        let monotonic_ms = clock.monotonic_ms();
        let mut timers = TimerTable::default();
        let first_round =
            monotonic_ms + rng.random_range(0..config.anti_entropy_interval_ms.max(1));
        timers.set(Timer::AntiEntropy, first_round);
        timers.set(Timer::Sweep, monotonic_ms + config.drop_log_interval_ms);
        let hlc = store.summary().max_hlc;
        NodeCore {
            origin: id.to_string(),
            id,
            signing_key: identity.signing_key,
            signing_threads: identity.signing_threads,
            keys: identity.keys,
            budgets: Budgets::new(&config),
            membership: Membership::open(),
            config,
            store,
            clock,
            rng,
            hlc,
            drop_log: DropLog::default(),
            counters: Counters::default(),
            peers: BTreeSet::new(),
            reconciler: Reconciler::default(),
            store_retry_ms: 0,
            timers,
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
        let monotonic_ms = self.clock.monotonic_ms();
        self.drop_log
            .clock_ahead
            .as_ref()
            .map(|ahead| (ahead, monotonic_ms.saturating_sub(ahead.at_ms)))
    }

    /// The peers the node is connected to.
    pub fn peers(&self) -> &BTreeSet<P> {
        &self.peers
    }

    /// A gossip message signed by `author`, received from `forwarder`. Returns the verdict to
    /// report to the gossip layer. A store failure is returned after counting nothing.
    pub fn handle_gossip(
        &mut self,
        net: &mut dyn Transport<P>,
        author: &P,
        forwarder: &P,
        bytes: &[u8],
    ) -> Result<Verdict, StoreError> {
        let now = Now::read(&self.clock);
        self.gossip(net, now, author, forwarder, bytes)
    }

    /// A direct (reconciliation) message from `peer`. A store failure is returned; the
    /// exchange goes on.
    pub fn handle_direct(
        &mut self,
        net: &mut dyn Transport<P>,
        peer: &P,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        let now = Now::read(&self.clock);
        self.direct(net, now, peer, bytes)
    }

    /// A peer connected (also: connected again while an old connection lingers). The side with
    /// the smaller id opens a reconciliation at once.
    pub fn handle_peer_up(&mut self, net: &mut dyn Transport<P>, peer: &P) {
        let now = Now::read(&self.clock);
        self.peers.insert(peer.clone());
        // A new connection: a session this node opened on the old one is void (the exchange
        // stays until it is quiet: the peer may still answer on a connection that lives on).
        self.end_session(peer);
        if self.id < *peer {
            self.start_reconciliation(net, now, peer);
        }
    }

    /// A peer disconnected: forget its sessions.
    pub fn handle_peer_down(&mut self, peer: &P) {
        self.peers.remove(peer);
        self.reconciler.forget(peer);
        self.end_exchange(peer);
        self.timers.stop(&Timer::Reconcile(peer.clone()));
    }

    /// When (monotonic ms) `peer` may send direct messages again, if it spent its direct
    /// budget: everything it sends before then is dropped undecoded, so a transport that can
    /// push back (the real node's acknowledgements) should hold the peer off until then.
    pub fn direct_refused_until(&self, peer: &P) -> Option<u64> {
        let monotonic_ms = self.clock.monotonic_ms();
        let factor = self.rate_factor(&peer.to_string());
        self.budgets
            .direct
            .exhausted_until(peer, monotonic_ms, factor)
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
        let now = Now::read(&self.clock);
        self.sweep(now.monotonic_ms);
        // Quiet sessions and exchanges end first: a reconciliation may wait for one.
        for timer in self.timers.expired(now.monotonic_ms) {
            match &timer {
                Timer::Session(_) => {}
                Timer::Exchange(peer) => {
                    self.reconciler.end(peer);
                }
                Timer::AntiEntropy | Timer::Sweep | Timer::Reconcile(_) => continue,
            }
            self.timers.stop(&timer);
        }
        for timer in self.timers.expired(now.monotonic_ms) {
            if let Timer::Reconcile(peer) = &timer {
                if !self.peers.contains(peer) || self.start_reconciliation(net, now, peer) {
                    self.timers.stop(&timer);
                }
            }
        }
        if self.timers.get(&Timer::AntiEntropy) <= Some(now.monotonic_ms) {
            let interval = self.config.anti_entropy_interval_ms.max(1);
            self.timers
                .set(Timer::AntiEntropy, now.monotonic_ms + interval);
            let candidates = self.reconciler.anti_entropy_candidates(&self.peers);
            if !candidates.is_empty() {
                let peer = candidates[self.rng.random_range(0..candidates.len())].clone();
                self.start_reconciliation(net, now, &peer);
            }
        }
    }

    /// Messages holding a forged write that `peer` sent lately (forgotten a drop-log interval
    /// after its last one): the driver disconnects a peer that keeps sending them.
    pub fn strikes(&self, peer: &P) -> u32 {
        self.drop_log.strikes(peer)
    }
}
