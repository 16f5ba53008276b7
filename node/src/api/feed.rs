//! The changes the store applied, for `GET /v1/watch`: [`WatchedStore`] wraps the node's
//! SQLite store and hands every write that changed it — local or remote, by gossip or by
//! reconciliation — to a [`Feed`], in the order the store applied them. The feed numbers them,
//! keeps the latest in a bounded ring (a client resumes from a cursor within it) and broadcasts
//! them through a bounded channel (a client that reads too slowly is told it lagged).

use p2p_sync_core::store::{Store, StoreError, Tally};
use p2p_sync_core::Write;
use p2p_sync_store::SqliteStore;
use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::broadcast;

/// Most changes kept for clients that resume from a cursor.
const RING_CHANGES: usize = 4096;
/// Most bytes of keys and values kept in the ring.
const RING_BYTES: usize = 4 * 1024 * 1024;
/// Changes a watch client may fall behind before it is told it lagged.
pub const BROADCAST_CAPACITY: usize = 1024;

/// One applied write, numbered in the order the store applied it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// 1 for the first change since the node started, then one more for each.
    pub seq: u64,
    /// The write (a delete when its value is `None`).
    pub write: Write,
}

impl Change {
    fn bytes(&self) -> usize {
        self.write.key.len() + self.write.value.as_ref().map_or(0, String::len) + 64
    }
}

#[derive(Debug, Default)]
struct Ring {
    last_seq: u64,
    recent: VecDeque<Arc<Change>>,
    bytes: usize,
}

/// What a new watch client starts from.
#[derive(Debug)]
pub struct Subscription {
    /// Changes after the client's cursor still in the ring, oldest first.
    pub backlog: Vec<Arc<Change>>,
    /// The cursor is older than the ring (or from another run): the client must resync.
    pub resync: bool,
    /// Every change from now on.
    pub receiver: broadcast::Receiver<Arc<Change>>,
}

/// The numbered stream of applied changes.
#[derive(Debug)]
pub struct Feed {
    ring: Mutex<Ring>,
    sender: broadcast::Sender<Arc<Change>>,
}

impl Default for Feed {
    fn default() -> Self {
        Feed {
            ring: Mutex::default(),
            sender: broadcast::channel(BROADCAST_CAPACITY).0,
        }
    }
}

impl Feed {
    fn ring(&self) -> MutexGuard<'_, Ring> {
        self.ring
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Numbers, keeps and broadcasts `writes`, in order.
    pub fn publish<'a>(&self, writes: impl IntoIterator<Item = &'a Write>) {
        let mut ring = self.ring();
        for write in writes {
            ring.last_seq += 1;
            let change = Arc::new(Change {
                seq: ring.last_seq,
                write: write.clone(),
            });
            ring.bytes += change.bytes();
            ring.recent.push_back(Arc::clone(&change));
            while ring.recent.len() > RING_CHANGES || ring.bytes > RING_BYTES {
                if let Some(old) = ring.recent.pop_front() {
                    ring.bytes -= old.bytes();
                }
            }
            // No receiver: nobody watches, nothing is kept.
            let _ = self.sender.send(change);
        }
    }

    /// Watch clients connected now.
    pub fn watchers(&self) -> usize {
        self.sender.receiver_count()
    }

    /// The number of the latest change (0 before the first).
    pub fn last_seq(&self) -> u64 {
        self.ring().last_seq
    }

    /// Subscribes from `after` (the last change the client saw), or from now on when `None`.
    /// The backlog and the receiver neither overlap nor leave a gap.
    pub fn subscribe(&self, after: Option<u64>) -> Subscription {
        let ring = self.ring();
        let receiver = self.sender.subscribe();
        let Some(after) = after else {
            return Subscription {
                backlog: Vec::new(),
                resync: false,
                receiver,
            };
        };
        let oldest = ring.recent.front().map_or(ring.last_seq + 1, |c| c.seq);
        let resync = after > ring.last_seq || after + 1 < oldest;
        let backlog = if resync {
            Vec::new()
        } else {
            ring.recent
                .iter()
                .filter(|change| change.seq > after)
                .cloned()
                .collect()
        };
        Subscription {
            backlog,
            resync,
            receiver,
        }
    }
}

/// The node's store, reporting every write that changed it to a [`Feed`]; also counts the
/// writes this node made (those whose origin is its own).
pub struct WatchedStore {
    inner: SqliteStore,
    feed: Arc<Feed>,
    origin: String,
    writes_made: u64,
}

impl WatchedStore {
    /// Wraps `inner` for the node whose writes carry `origin`.
    pub fn new(inner: SqliteStore, origin: String) -> Self {
        WatchedStore {
            inner,
            feed: Arc::default(),
            origin,
            writes_made: 0,
        }
    }

    /// The feed of applied changes.
    pub fn feed(&self) -> &Arc<Feed> {
        &self.feed
    }

    /// Writes this node made and stored since it started.
    pub fn writes_made(&self) -> u64 {
        self.writes_made
    }

    /// Up to `limit` live writes whose keys start with `prefix` and sort after `after`, in key
    /// order.
    pub fn live_page(
        &self,
        prefix: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<Write>, StoreError> {
        self.inner.live_page(prefix, after, limit)
    }
}

impl Store for WatchedStore {
    fn apply(&mut self, writes: &[Write]) -> Result<Vec<bool>, StoreError> {
        let applied = self.inner.apply(writes)?;
        let changed = writes
            .iter()
            .zip(&applied)
            .filter_map(|(write, &applied)| applied.then_some(write));
        let mut made = 0;
        self.feed.publish(changed.inspect(|write| {
            if write.version.origin == self.origin {
                made += 1;
            }
        }));
        self.writes_made += made;
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
    use p2p_sync_core::{Hlc, Version};

    fn write(key: &str) -> Write {
        Write {
            key: key.into(),
            value: Some("v".into()),
            version: Version {
                hlc: Hlc::default(),
                origin: "n0".into(),
            },
            signature: None,
        }
    }

    #[test]
    fn a_cursor_resumes_without_gap_or_repeat() {
        let feed = Feed::default();
        feed.publish(&[write("a"), write("b"), write("c")]);
        let mut subscription = feed.subscribe(Some(1));
        assert!(!subscription.resync);
        let keys: Vec<_> = subscription
            .backlog
            .iter()
            .map(|c| c.write.key.clone())
            .collect();
        assert_eq!(keys, ["b", "c"]);
        feed.publish(&[write("d")]);
        assert_eq!(subscription.receiver.try_recv().unwrap().seq, 4);
    }

    #[test]
    fn a_cursor_older_than_the_ring_or_from_another_run_resyncs() {
        let feed = Feed::default();
        let writes: Vec<Write> = (0..RING_CHANGES + 10)
            .map(|i| write(&i.to_string()))
            .collect();
        feed.publish(&writes);
        assert!(feed.subscribe(Some(3)).resync);
        assert!(feed.subscribe(Some(1_000_000)).resync);
        assert!(!feed.subscribe(Some(feed.last_seq())).resync);
        assert!(feed.ring().recent.len() <= RING_CHANGES);
    }
}
