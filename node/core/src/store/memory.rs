//! An in-memory `Store`, for fast tests.

use super::{Store, StoreError, Tally};
use crate::version::Write;
use std::collections::BTreeMap;

/// Keeps every write in a sorted map; same rules as `SqliteStore`, no persistence.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    writes: BTreeMap<String, Write>,
    tally: Tally,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Store for MemoryStore {
    fn apply(&mut self, writes: &[Write]) -> Result<Vec<bool>, StoreError> {
        Ok(writes
            .iter()
            .map(|write| {
                let old = self.writes.get(&write.key);
                if old.is_some_and(|old| !write.supersedes(old)) {
                    return false;
                }
                self.tally.replace(old, write);
                self.writes.insert(write.key.clone(), write.clone());
                true
            })
            .collect())
    }

    fn get(&self, key: &str) -> Result<Option<Write>, StoreError> {
        Ok(self.writes.get(key).cloned())
    }

    fn live(&self) -> Result<Vec<(String, String)>, StoreError> {
        Ok(self
            .writes
            .values()
            .filter_map(|write| Some((write.key.clone(), write.value.clone()?)))
            .collect())
    }

    fn for_each(&self, visit: &mut dyn FnMut(Write)) -> Result<(), StoreError> {
        self.writes.values().cloned().for_each(visit);
        Ok(())
    }

    fn tally(&self) -> &Tally {
        &self.tally
    }
}
