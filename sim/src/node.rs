//! One simulated honest node: the real core over in-memory SQLite while it runs, its parked store
//! while it is crashed, plus what only the simulated world knows about it.

use crate::clock::{SimClock, VirtualTime};
use crate::store::{Disk, FaultyStore};
use p2p_sync_core::auth::{Identity, NamedKeys};
use p2p_sync_core::store::{Store, Summary};
use p2p_sync_core::{Config, Counters, Membership, NodeCore};
use p2p_sync_store::SqliteStore;
use std::cell::Cell;
use std::collections::HashSet;
use std::rc::Rc;

/// The node core as the simulator runs it.
pub type Core = NodeCore<NodeStore, SimClock>;

/// A simulated node's store: in-memory SQLite behind the storage-fault wrapper.
pub type NodeStore = FaultyStore<SqliteStore>;

/// A simulated node.
pub struct SimNode {
    /// The running core, or `None` while crashed.
    pub core: Option<Core>,
    /// The store of a crashed node, waiting for its restart.
    parked: Option<NodeStore>,
    /// Its disk's faults (survive restarts: the disk belongs to the machine).
    pub disk: Disk,
    /// Its clock's offset from virtual time (survives restarts: it belongs to the machine).
    pub skew_ms: Rc<Cell<i64>>,
    /// Its allow-list (survives restarts, as `allow.txt` does).
    membership: Membership,
    /// Gossip message ids seen since the last start (the gossip layer's duplicate cache).
    pub seen: HashSet<u64>,
    /// Messages this node put on the wire (one per peer for gossip).
    pub messages_sent: u64,
    /// Bytes this node put on the wire.
    pub bytes_sent: u64,
    /// When the engine will next wake the core (its deadline, as last scheduled).
    pub wake_at: Option<u64>,
}

/// What every node of one run shares: its configuration, the key directory, virtual time and
/// the wall clock at t = 0.
pub struct Setup {
    /// Every core's configuration.
    pub config: Config,
    /// Keys derived from node names, shared so each signature is verified once per run.
    pub keys: Rc<NamedKeys>,
    /// Virtual time.
    pub now: VirtualTime,
    /// The virtual wall clock at t = 0, in ms since the epoch.
    pub start_ms: u64,
}

impl SimNode {
    /// A running node named `id` over an empty in-memory store.
    pub fn start(id: &str, setup: &Setup, seed: u64) -> Self {
        let sqlite = SqliteStore::open_in_memory().expect("an in-memory SQLite store opens");
        let disk = Disk::default();
        let skew_ms = Rc::new(Cell::new(0));
        let mut node = SimNode {
            core: None,
            parked: Some(FaultyStore::new(sqlite, disk.clone())),
            disk,
            skew_ms,
            membership: Membership::open(),
            seen: HashSet::new(),
            messages_sent: 0,
            bytes_sent: 0,
            wake_at: None,
        };
        node.restart(id, setup, seed);
        node
    }

    /// Stops the core; the store survives, the duplicate cache does not.
    pub fn crash(&mut self) {
        if let Some(core) = self.core.take() {
            self.parked = Some(core.into_store());
            self.seen.clear();
        }
    }

    /// Starts a core over the parked store (no-op if it runs).
    pub fn restart(&mut self, id: &str, setup: &Setup, seed: u64) {
        if let Some(store) = self.parked.take() {
            let clock = SimClock::new(setup.now.clone(), setup.start_ms, self.skew_ms.clone());
            let identity = Identity::named(id, setup.keys.clone());
            let config = setup.config.clone();
            let mut core = NodeCore::new(id.to_string(), identity, config, store, clock, seed);
            core.set_membership(self.membership.clone());
            self.core = Some(core);
            self.wake_at = None;
        }
    }

    /// Whom the node admits.
    pub fn membership(&self) -> &Membership {
        &self.membership
    }

    /// Changes the node's allow-list, running or not.
    pub fn set_membership(&mut self, membership: Membership) {
        if let Some(core) = self.core.as_mut() {
            core.set_membership(membership.clone());
        }
        self.membership = membership;
    }

    /// The node's store, running or parked.
    pub fn store(&self) -> &NodeStore {
        match (&self.core, &self.parked) {
            (Some(core), _) => core.store(),
            (None, Some(store)) => store,
            (None, None) => unreachable!("a node has a core or a parked store"),
        }
    }

    /// The store's summary while the node runs.
    pub fn live_summary(&self) -> Option<Summary> {
        self.core.as_ref().map(|core| core.store().summary())
    }

    /// The core's counters (zero while crashed: a restart starts counting afresh).
    pub fn counters(&self) -> Counters {
        self.core
            .as_ref()
            .map(|core| *core.counters())
            .unwrap_or_default()
    }
}
