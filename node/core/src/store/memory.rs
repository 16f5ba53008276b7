//! An in-memory `Store`, for fast tests.

use super::{ByteBudget, Store, StoreError, Tally};
use crate::write::Write;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Keeps every write in a sorted map; same rules as `SqliteStore`, no persistence.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    writes: BTreeMap<String, Write>,
    /// The key of each stored write, by id: wanted writes are found without a scan.
    keys_by_id: HashMap<u64, String>,
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
                if let Some(old) = old {
                    self.keys_by_id.remove(&old.id());
                }
                self.tally.replace(old, write);
                self.keys_by_id.insert(write.id(), write.key.clone());
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

    fn writes_with_ids(
        &self,
        ids: &HashSet<u64>,
        max_bytes: usize,
    ) -> Result<Vec<Write>, StoreError> {
        let mut sorted: Vec<u64> = ids.iter().copied().collect();
        sorted.sort_unstable();
        let mut budget = ByteBudget::new(max_bytes);
        let mut writes: Vec<Write> = Vec::new();
        for id in sorted {
            if let Some(write) = self
                .keys_by_id
                .get(&id)
                .and_then(|key| self.writes.get(key))
            {
                if !budget.take(write) {
                    break;
                }
                writes.push(write.clone());
            }
        }
        writes.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        Ok(writes)
    }

    fn tally(&self) -> &Tally {
        &self.tally
    }
}
