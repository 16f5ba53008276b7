//! Where writes are kept: the `Store` trait every backend implements (SQLite in the
//! `p2p-sync-store` crate), its summary, and an in-memory store for tests.

mod memory;

pub use memory::MemoryStore;

use crate::iblt::{Difference, Iblt, StrataEstimator};
use crate::reconciliation::{self, MAX_SKETCH_CELLS};
use crate::version::Hlc;
use crate::write::Write;
use std::collections::{BTreeSet, HashSet};
use thiserror::Error;

/// A failure of the storage layer, whatever the backend.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The backend refused or failed an operation (SQLite's error, an I/O error, …).
    #[error("database error: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The disk (or the backend's quota) is full: nothing of the failed operation was stored.
    #[error("disk full: {0}")]
    Full(String),
    /// A row that cannot be read back as a write.
    #[error("corrupt row for key {key:?}: {problem}")]
    Corrupt {
        /// The key of the row.
        key: String,
        /// What is wrong with it.
        problem: String,
    },
}

/// A cheap summary of everything a store holds, tombstones included: two stores with the same
/// summary hold the same writes (up to a 2^-64 chance). Kept up to date on every apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    /// Number of keys, tombstones included.
    pub count: u64,
    /// Number of live keys (not deleted).
    pub live: u64,
    /// Wrapping sum of the ids (`Write::id`) of every stored write.
    pub fingerprint: u64,
    /// The latest timestamp of any stored write: a restarted node's clock starts past it.
    pub max_hlc: Hlc,
}

impl Summary {
    /// Accounts for `new` replacing `old` (or being inserted when `old` is `None`). The counts
    /// saturate: a summary that missed a write (say, a row another process added) shows a count
    /// off by one, never 2^64 - 1.
    pub fn replace(&mut self, old: Option<&Write>, new: &Write) {
        match old {
            Some(old) => {
                self.fingerprint = self.fingerprint.wrapping_sub(old.id());
                self.live = self.live.saturating_sub(u64::from(!old.is_delete()));
            }
            None => self.count = self.count.saturating_add(1),
        }
        self.live = self.live.saturating_add(u64::from(!new.is_delete()));
        self.fingerprint = self.fingerprint.wrapping_add(new.id());
        self.max_hlc = self.max_hlc.max(new.version.hlc);
    }
}

/// What a store keeps up to date about everything it holds as writes apply, so that no
/// reconciliation message needs a store scan: the summary, the strata estimator, every write id
/// in order (for id pages), and above [`BANK_FROM`] ids a table of [`MAX_SKETCH_CELLS`] cells
/// that folds into a table of any smaller size.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tally {
    /// Counts and fingerprint.
    pub summary: Summary,
    /// Every id, in a strata estimator.
    pub strata: StrataEstimator,
    ids: BTreeSet<u64>,
    bank: Option<Iblt>,
}

/// Ids from which a tally keeps its largest table up to date; below, a table is built from
/// the ids themselves (as fast as folding the bank).
pub const BANK_FROM: usize = 4096;

impl Tally {
    /// Accounts for `new` replacing `old` (or being inserted when `old` is `None`).
    pub fn replace(&mut self, old: Option<&Write>, new: &Write) {
        self.summary.replace(old, new);
        if let Some(old) = old {
            let id = old.id();
            self.strata.remove(id);
            self.ids.remove(&id);
            if let Some(bank) = &mut self.bank {
                bank.remove(id);
            }
        }
        let id = new.id();
        self.strata.insert(id);
        self.ids.insert(id);
        match &mut self.bank {
            Some(bank) => bank.insert(id),
            None if self.ids.len() >= BANK_FROM => self.bank = Some(self.build(MAX_SKETCH_CELLS)),
            None => {}
        }
    }

    /// Every id, in a table of `cells` cells (rounded as [`Iblt::rounded`] does); `None` above
    /// [`MAX_SKETCH_CELLS`]. Costs one pass over at most [`MAX_SKETCH_CELLS`] cells or
    /// [`BANK_FROM`] ids, whatever the store holds.
    pub fn table(&self, cells: usize) -> Option<Iblt> {
        if Iblt::rounded(cells) > MAX_SKETCH_CELLS {
            return None;
        }
        match &self.bank {
            Some(bank) => bank.fold(cells),
            None => Some(self.build(cells)),
        }
    }

    /// My ids minus the ids of `theirs` (a table of any size up to [`MAX_SKETCH_CELLS`]),
    /// peeled: computed in `theirs` itself, so a received table costs no second one.
    /// `None` if it does not peel or is larger than this tally's tables.
    pub fn difference(&self, theirs: Iblt) -> Option<Difference> {
        if theirs.len() > MAX_SKETCH_CELLS {
            return None;
        }
        let mut table = theirs.negated();
        match &self.bank {
            Some(bank) => {
                table.add_folded(bank);
            }
            None => self.ids.iter().for_each(|&id| table.insert(id)),
        }
        table.peel()
    }

    fn build(&self, cells: usize) -> Iblt {
        let mut table = Iblt::new(cells);
        self.ids.iter().for_each(|&id| table.insert(id));
        table
    }

    /// Whether a write with this id is stored.
    pub fn holds(&self, id: u64) -> bool {
        self.ids.contains(&id)
    }

    /// Up to `limit` stored ids in `from..=to`, in ascending order.
    pub fn ids_in(&self, from: u64, to: u64, limit: usize) -> Vec<u64> {
        if from > to {
            return Vec::new();
        }
        let mut ids = Vec::with_capacity(limit.min(self.ids.len()));
        ids.extend(self.ids.range(from..=to).take(limit).copied());
        ids
    }

    /// How many stored ids lie in `from..=to`, counting at most `limit`.
    pub fn count_in(&self, from: u64, to: u64, limit: usize) -> usize {
        if from > to {
            return 0;
        }
        self.ids.range(from..=to).take(limit).count()
    }
}

/// A key-value store of last-writer-wins registers with tombstones.
pub trait Store {
    /// Applies each write that supersedes what the store holds for its key, all in one
    /// transaction that is committed before this returns. Returns, per write, whether it applied.
    fn apply(&mut self, writes: &[Write]) -> Result<Vec<bool>, StoreError>;

    /// The latest write for `key`, tombstones included.
    fn get(&self, key: &str) -> Result<Option<Write>, StoreError>;

    /// Every live (not deleted) key with its value, sorted by key.
    fn live(&self) -> Result<Vec<(String, String)>, StoreError>;

    /// Calls `visit` with every stored write, tombstones included, in key order.
    fn for_each(&self, visit: &mut dyn FnMut(Write)) -> Result<(), StoreError>;

    /// The writes whose ids (`Write::id`) are among `ids`, in key order; ids it does not hold
    /// are left out, and so are the writes past `max_bytes` (a [`ByteBudget`]) once some are
    /// found: what one answer carries, and no more is loaded. Found by id, without a scan.
    fn writes_with_ids(
        &self,
        ids: &HashSet<u64>,
        max_bytes: usize,
    ) -> Result<Vec<Write>, StoreError>;

    /// The summary and reconciliation tables of everything stored.
    fn tally(&self) -> &Tally;

    /// The summary of everything stored.
    fn summary(&self) -> Summary {
        self.tally().summary
    }
}

/// Counts the bytes of writes loaded for one answer: the first always fits, the others while
/// the total stays within the limit.
#[derive(Debug)]
pub struct ByteBudget {
    left: usize,
    first: bool,
}

impl ByteBudget {
    /// A budget of `max_bytes`.
    pub fn new(max_bytes: usize) -> Self {
        ByteBudget {
            left: max_bytes,
            first: true,
        }
    }

    /// Takes `write`'s bytes from the budget; says whether it fits.
    pub fn take(&mut self, write: &Write) -> bool {
        let size = reconciliation::record_size(write);
        let fits = std::mem::take(&mut self.first) || size <= self.left;
        if fits {
            self.left = self.left.saturating_sub(size);
        }
        fits
    }
}

/// A digest of a store's full contents (tombstones included), equal on two stores exactly when
/// they hold the same writes: the simulator compares replicas with it.
pub fn digest(store: &dyn Store) -> Result<u64, StoreError> {
    digest_where(store, &|_| true)
}

/// A digest of the writes `keep` selects, in the same form as [`digest`].
pub fn digest_where(store: &dyn Store, keep: &dyn Fn(&Write) -> bool) -> Result<u64, StoreError> {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    store.for_each(&mut |write| {
        if keep(&write) {
            hasher.update(&write.id().to_le_bytes());
        }
    })?;
    Ok(hasher.digest())
}

#[cfg(test)]
mod summary_tests;

#[cfg(test)]
mod tally_tests;
