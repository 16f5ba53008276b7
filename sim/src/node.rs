//! One simulated honest node: the real core over in-memory SQLite while it runs, its parked store
//! while it is crashed, plus what only the simulated world knows about it.

use crate::clock::{SimClock, VirtualTime};
use crate::store::{Disk, FaultyStore};
use p2p_sync::core::{Config, Counters, NodeCore};
use p2p_sync::store::{SqliteStore, Store, Summary};
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
    /// Gossip message ids seen since the last start (the gossip layer's duplicate cache).
    pub seen: HashSet<u64>,
    /// Messages this node put on the wire (one per peer for gossip).
    pub messages_sent: u64,
    /// Bytes this node put on the wire.
    pub bytes_sent: u64,
}

impl SimNode {
    /// A running node named `id` over an empty in-memory store.
    pub fn start(id: &str, now: &VirtualTime, start_ms: u64, seed: u64) -> Self {
        let sqlite = SqliteStore::open_in_memory().expect("an in-memory SQLite store opens");
        let disk = Disk::default();
        let skew_ms = Rc::new(Cell::new(0));
        let mut node = SimNode {
            core: None,
            parked: Some(FaultyStore::new(sqlite, disk.clone())),
            disk,
            skew_ms,
            seen: HashSet::new(),
            messages_sent: 0,
            bytes_sent: 0,
        };
        node.restart(id, now, start_ms, seed);
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
    pub fn restart(&mut self, id: &str, now: &VirtualTime, start_ms: u64, seed: u64) {
        if let Some(store) = self.parked.take() {
            let clock = SimClock::new(now.clone(), start_ms, self.skew_ms.clone());
            self.core = Some(NodeCore::new(id, Config::default(), store, clock, seed));
        }
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
