//! Storage faults: a `Store` wrapper that fails commits at a rate, refuses every commit while
//! the disk is full, or takes virtual time to commit, driven by the `store_fail`, `disk_full`,
//! `disk_ok` and `store_slow` steps. A refused commit changes nothing (it fails before the inner
//! store is touched), as a rolled-back SQLite transaction does.
//!
//! The wrapper also notes every write it commits with the write it replaced, so the checker can
//! judge, as writes apply, that no older write ever replaces a newer one.

use p2p_sync_core::store::{Store, StoreError, Tally};
use p2p_sync_core::Write;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;

/// A committed write and the one it replaced (`None`: the key was new to the store).
#[derive(Debug, Clone, PartialEq)]
pub struct Replaced {
    /// What the store held for the key before.
    pub old: Option<Write>,
    /// What it holds now.
    pub new: Write,
}

/// The faults in force on one node's disk, and what the wrapper saw since it was last asked.
#[derive(Debug, Default)]
pub struct DiskState {
    /// Chance that one commit fails (a `store_fail` step).
    fail_rate: f64,
    /// Draws the failures; seeded from the simulation's rng by the first `store_fail`.
    rng: Option<ChaCha8Rng>,
    /// Every commit is refused with "disk full" until `disk_ok`.
    full: bool,
    /// Virtual time one commit takes (a `store_slow` step).
    slow_ms: u64,
    /// Commits refused so far.
    refused: u64,
    /// Commits made since the engine last collected them.
    commits: u64,
    /// Writes committed since the engine last collected them.
    replaced: Vec<Replaced>,
}

/// The engine's handle on one node's disk; the node's `FaultyStore` shares it.
pub type Disk = Rc<RefCell<DiskState>>;

impl DiskState {
    /// Makes a commit fail with chance `rate` from now on, drawing from an rng seeded with `seed`
    /// (taken from the simulation's rng the first time a rate is set).
    pub fn set_fail_rate(&mut self, rate: f64, seed: impl FnOnce() -> u64) {
        self.fail_rate = rate;
        if rate > 0.0 && self.rng.is_none() {
            self.rng = Some(ChaCha8Rng::seed_from_u64(seed()));
        }
    }

    /// Fills the disk (`true`) or frees it (`false`).
    pub fn set_full(&mut self, full: bool) {
        self.full = full;
    }

    /// Makes every commit take `ms` of virtual time from now on.
    pub fn set_slow_ms(&mut self, ms: u64) {
        self.slow_ms = ms;
    }

    /// Commits refused so far.
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// How long the commits made since the last call held the node up, and the writes they
    /// committed; both are reset.
    pub fn collect(&mut self) -> (u64, Vec<Replaced>) {
        let delay = self.commits * self.slow_ms;
        self.commits = 0;
        (delay, std::mem::take(&mut self.replaced))
    }

    /// The error for the next commit, if the disk refuses it.
    fn refusal(&mut self) -> Option<StoreError> {
        let (code, message) = if self.full {
            (rusqlite::ffi::SQLITE_FULL, "database or disk is full")
        } else if self.fail_rate > 0.0 {
            let rng = self.rng.as_mut().expect("seeded with the rate");
            if !rng.random_bool(self.fail_rate.min(1.0)) {
                return None;
            }
            (rusqlite::ffi::SQLITE_IOERR, "disk I/O error")
        } else {
            return None;
        };
        self.refused += 1;
        let error = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(code),
            Some(message.to_string()),
        );
        Some(if code == rusqlite::ffi::SQLITE_FULL {
            StoreError::Full(error.to_string())
        } else {
            StoreError::Backend(Box::new(error))
        })
    }
}

/// A store whose commits obey the faults of its `Disk`; reads always work.
pub struct FaultyStore<S: Store> {
    inner: S,
    disk: Disk,
}

impl<S: Store> FaultyStore<S> {
    /// Wraps `inner`, obeying `disk`.
    pub fn new(inner: S, disk: Disk) -> Self {
        FaultyStore { inner, disk }
    }
}

impl<S: Store> Store for FaultyStore<S> {
    fn apply(&mut self, writes: &[Write]) -> Result<Vec<bool>, StoreError> {
        let mut disk = self.disk.borrow_mut();
        if let Some(error) = disk.refusal() {
            return Err(error);
        }
        let old = writes
            .iter()
            .map(|write| self.inner.get(&write.key))
            .collect::<Result<Vec<_>, _>>()?;
        let applied = self.inner.apply(writes)?;
        disk.commits += 1;
        // A batch may write one key twice: the second replaced the first, not the old row.
        let mut committed: Vec<&Write> = Vec::new();
        for ((write, old), &applied) in writes.iter().zip(old).zip(&applied) {
            if !applied {
                continue;
            }
            let earlier = committed.iter().rev().find(|w| w.key == write.key);
            let old = earlier.map(|&w| w.clone()).or(old);
            committed.push(write);
            disk.replaced.push(Replaced {
                old,
                new: write.clone(),
            });
        }
        Ok(applied)
    }

    fn get(&self, key: &str) -> Result<Option<Write>, StoreError> {
        self.inner.get(key)
    }

    fn live(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.inner.live()
    }

    fn for_each(&self, visit: &mut dyn FnMut(Write)) -> Result<(), StoreError> {
        self.inner.for_each(visit)
    }

    fn writes_with_ids(
        &self,
        ids: &HashSet<u64>,
        max_bytes: usize,
    ) -> Result<Vec<Write>, StoreError> {
        self.inner.writes_with_ids(ids, max_bytes)
    }

    fn tally(&self) -> &Tally {
        self.inner.tally()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p2p_sync_core::auth::Identity;
    use p2p_sync_core::store::MemoryStore;
    use p2p_sync_core::{Config, ManualClock, NodeCore, Outbox};

    fn node(disk: &Disk) -> NodeCore<FaultyStore<MemoryStore>, ManualClock> {
        let store = FaultyStore::new(MemoryStore::new(), disk.clone());
        let identity = Identity::named("n0", Default::default());
        let clock = ManualClock::new(1_000);
        NodeCore::new("n0".into(), identity, Config::default(), store, clock, 1)
    }

    #[test]
    fn a_full_disk_refuses_every_commit_and_keeps_what_it_had() {
        let disk = Disk::default();
        let mut core = node(&disk);
        let mut out = Outbox::default();
        core.put(&mut out, "kept", "v").expect("the disk works");
        disk.borrow_mut().set_full(true);
        let error = core.put(&mut out, "k", "v").expect_err("the disk is full");
        assert!(error.to_string().contains("disk is full"), "{error}");
        let entries = [("a".to_string(), "1".to_string()), ("b".into(), "2".into())];
        assert!(core.put_many(&mut out, &entries).is_err());
        assert!(core.delete(&mut out, "kept").is_err());
        assert_eq!(out.published.len(), 1, "nothing refused is sent");
        assert_eq!(core.get("kept").unwrap().as_deref(), Some("v"));
        assert_eq!(core.store().summary().count, 1);
        assert_eq!(disk.borrow().refused(), 3);
        disk.borrow_mut().set_full(false);
        let write = core.put(&mut out, "k", "v").expect("room again");
        assert_eq!(
            write.version.hlc.counter, 1,
            "the refused writes did not move the clock: this is the second write at 1,000 ms"
        );
    }

    #[test]
    fn failures_are_drawn_from_the_seeded_rng_and_committed_writes_are_noted() {
        let outcomes = |seed: u64| -> Vec<bool> {
            let disk = Disk::default();
            disk.borrow_mut().set_fail_rate(0.5, || seed);
            let mut core = node(&disk);
            let mut out = Outbox::default();
            (0..40)
                .map(|i| core.put(&mut out, &format!("k{i}"), "v").is_ok())
                .collect()
        };
        let one = outcomes(3);
        assert_eq!(one, outcomes(3), "same seed, same failures");
        assert_ne!(one, outcomes(4));
        assert!(one.contains(&true) && one.contains(&false), "{one:?}");
        let disk = Disk::default();
        disk.borrow_mut().set_slow_ms(7);
        let mut core = node(&disk);
        let mut out = Outbox::default();
        core.put(&mut out, "k", "old").unwrap();
        core.put(&mut out, "k", "new").unwrap();
        let (delay, committed) = disk.borrow_mut().collect();
        assert_eq!(delay, 14, "two commits of 7 ms");
        assert_eq!(committed.len(), 2);
        assert_eq!(
            committed[1].old.as_ref().unwrap().value.as_deref(),
            Some("old")
        );
        assert_eq!(disk.borrow_mut().collect(), (0, Vec::new()));
    }
}
