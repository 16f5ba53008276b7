//! The reconciliation protocol: messages and their codec.
//!
//! ```text
//! initiator (I)                             responder (R)
//!   Hello{count, fingerprint}     ──────▶   equal summaries? ── InSync (1 round trip, done)
//!                                 ◀──────   Probe{small table of R's ids}
//!   subtract my table; peels? (a difference of up to ~20 writes)
//!     yes: Records{my writes R lacks, want: ids I lack} ──▶ apply; Records{wanted} (2 round trips)
//!     no:  Estimate{my strata estimator} ──▶ estimate d, size a table for it
//!                                 ◀──────   Sketch{table of R's ids}  (d up to ~25,000)
//!   subtract, peel: Records{…, want} ─────▶ apply; Records{wanted}          (3 round trips)
//!                                 ◀──────   Ids{from, to, R's ids in [from, to]} (larger d)
//!   compare with my ids there: Records{…, want}, IdsFrom{next} ──▶ next page …
//! ```
//! A sketch that fails to peel gets `SketchTooSmall` and is resent twice as large; past the
//! largest table, R lists its ids instead, one page per `IdsFrom`. Every answer comes from what
//! the store keeps up to date as writes apply (its tally), so no message costs a store scan;
//! wanted writes are looked up by id, at most one message's worth per request, and writes one
//! side offers beyond that are asked for like any other. Every message is bounded by the
//! message limit; the writes it carries pass the same checks as gossip, and a table,
//! estimator, page or resize request that no honest peer could send is dropped as malformed.

use super::error::Refusal;
use super::iblt::{Iblt, StrataEstimator};
use super::write::Write;
use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use std::marker::PhantomData;

/// A direct message between two nodes reconciling their stores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReconcileMessage {
    /// Opens a session: the initiator's store summary.
    Hello {
        /// Writes stored, tombstones included.
        count: u64,
        /// Wrapping sum of the ids of every stored write.
        fingerprint: u64,
    },
    /// The stores are equal: nothing to do.
    InSync,
    /// A small table of all the sender's ids: enough to settle a small difference at once.
    Probe {
        /// The table, `PROBE_CELLS` cells.
        table: Iblt,
    },
    /// The sender's strata estimator, so the receiver can size a table for the difference.
    Estimate {
        /// Writes the sender stores, tombstones included: bounds the estimate.
        count: u64,
        /// The sender's estimator (decoded with at most its strata: see [`StrataEstimator`]).
        strata: StrataEstimator,
    },
    /// The sender's ids, in a table.
    Sketch {
        /// How many times the table has been resent larger.
        attempt: u8,
        /// The table.
        table: Iblt,
    },
    /// The sketch did not peel: send it larger.
    SketchTooSmall {
        /// The attempt that failed.
        attempt: u8,
        /// Cells of the failed table.
        cells: u32,
    },
    /// One page of the sender's ids: all it holds in `from..=to`, ascending.
    Ids {
        /// First id of the range.
        from: u64,
        /// Last id of the range (`u64::MAX`: the page ends the listing).
        to: u64,
        /// The ids, at most [`MAX_IDS_PER_PAGE`] (a longer page does not decode).
        #[serde(deserialize_with = "at_most::<_, _, MAX_IDS_PER_PAGE>")]
        ids: Vec<u64>,
    },
    /// Asks for the next page of the receiver's ids, from `from` on.
    IdsFrom {
        /// First id of the page.
        from: u64,
    },
    /// Writes the receiver lacks, ids of writes the sender lacks, and ids of further writes
    /// the receiver lacks that did not fit (for it to want).
    Records {
        /// Writes for the receiver to apply: at most [`MAX_LOOKUPS_PER_WANT`] (a message
        /// holding more does not decode).
        #[serde(deserialize_with = "at_most::<_, _, MAX_LOOKUPS_PER_WANT>")]
        writes: Vec<Write>,
        /// Ids of writes the receiver should send back: only the first
        /// [`MAX_LOOKUPS_PER_WANT`] are kept (no answer looks up more), the rest are read
        /// past.
        #[serde(deserialize_with = "first_ids::<_, MAX_LOOKUPS_PER_WANT>")]
        want: Vec<u64>,
        /// Ids of writes the sender holds and the receiver lacks, not sent yet: at most
        /// [`MAX_WANT_PER_MESSAGE`] (a message offering more does not decode).
        #[serde(deserialize_with = "at_most::<_, _, MAX_WANT_PER_MESSAGE>")]
        offer: Vec<u64>,
    },
}

/// The kinds of message in the order of their variants: an encoded message's first byte is
/// its kind's index here.
const KINDS: [&str; 9] = [
    "Hello",
    "InSync",
    "Probe",
    "Estimate",
    "Sketch",
    "SketchTooSmall",
    "Ids",
    "IdsFrom",
    "Records",
];

/// The kind of the encoded message `bytes` (see [`ReconcileMessage::name`]), read from its
/// first byte without decoding the rest, so a message out of order is dropped unread.
pub fn kind_of(bytes: &[u8]) -> Option<&'static str> {
    bytes
        .first()
        .and_then(|&tag| KINDS.get(usize::from(tag)))
        .copied()
}

impl ReconcileMessage {
    /// The message's kind, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            ReconcileMessage::Hello { .. } => "Hello",
            ReconcileMessage::InSync => "InSync",
            ReconcileMessage::Probe { .. } => "Probe",
            ReconcileMessage::Estimate { .. } => "Estimate",
            ReconcileMessage::Sketch { .. } => "Sketch",
            ReconcileMessage::SketchTooSmall { .. } => "SketchTooSmall",
            ReconcileMessage::Ids { .. } => "Ids",
            ReconcileMessage::IdsFrom { .. } => "IdsFrom",
            ReconcileMessage::Records { .. } => "Records",
        }
    }
}

/// Cells of a `Probe`: 768 bytes, peels differences of up to ~20 writes.
pub const PROBE_CELLS: usize = 48;
/// The largest table one `Sketch` carries (768 KiB, peels ~25,000 differing ids); a larger
/// difference is settled by listing ids.
pub const MAX_SKETCH_CELLS: usize = 3 << 14;
/// Most ids asked for (or offered) in one `Records` message.
pub const MAX_WANT_PER_MESSAGE: usize = 60_000;
/// Most ids in one `Ids` page (128 KiB).
pub const MAX_IDS_PER_PAGE: usize = 16_384;
/// Most writes one answer looks up by id (a `want`, or the writes a difference pushes): about
/// 4 ms of SQLite reads at 1,000,000 keys; the asker asks again for the rest, and pushed ids past
/// it are offered. A node looks up and asks for at most `Config::max_writes_per_message` (128)
/// at a time, below this bound; nodes built before that cap used the bound itself.
pub const MAX_LOOKUPS_PER_WANT: usize = 1_024;
/// Most times a sketch is resent larger before ids are listed instead.
pub const MAX_SKETCH_ATTEMPTS: u8 = 6;

/// Decodes a sequence of at most `N` elements: a longer one is refused from its length prefix,
/// before anything is allocated for it, so no message decodes into more than its caps allow
/// (postcard would otherwise build every element a length prefix claims: a 1 MiB frame of
/// empty tables was a million of them).
pub(crate) fn at_most<'de, D, T, const N: usize>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    deserializer.deserialize_seq(Bounded::<T, N> {
        keep_first: false,
        items: PhantomData,
    })
}

/// Decodes a sequence of ids, keeping the first `N` and reading past the rest (ids cost no
/// allocation to read past).
fn first_ids<'de, D, const N: usize>(deserializer: D) -> Result<Vec<u64>, D::Error>
where
    D: Deserializer<'de>,
{
    deserializer.deserialize_seq(Bounded::<u64, N> {
        keep_first: true,
        items: PhantomData,
    })
}

/// A sequence visitor that keeps at most `N` elements: with `keep_first`, the rest are read
/// and dropped one at a time; otherwise a longer sequence is an error.
struct Bounded<T, const N: usize> {
    keep_first: bool,
    items: PhantomData<T>,
}

impl<'de, T: Deserialize<'de>, const N: usize> Visitor<'de> for Bounded<T, N> {
    type Value = Vec<T>;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(formatter, "a sequence of at most {N} elements")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let claimed = seq.size_hint().unwrap_or(0);
        if claimed > N && !self.keep_first {
            return Err(de::Error::invalid_length(claimed, &self));
        }
        let mut items = Vec::with_capacity(claimed.min(N));
        while items.len() < N {
            match seq.next_element()? {
                Some(item) => items.push(item),
                None => return Ok(items),
            }
        }
        // Formats that do not say the length up front (postcard does) end up here too.
        if self.keep_first {
            while seq.next_element::<T>()?.is_some() {}
        } else if seq.next_element::<T>()?.is_some() {
            return Err(de::Error::invalid_length(N + 1, &self));
        }
        Ok(items)
    }
}

/// Encodes a message (postcard: compact binary) into a buffer of its exact size, so a large
/// answer does not pass through buffers that double as it grows.
pub fn encode(message: &ReconcileMessage) -> Vec<u8> {
    let size = postcard::experimental::serialized_size(message)
        .expect("reconciliation messages always serialize");
    postcard::to_extend(message, Vec::with_capacity(size))
        .expect("reconciliation messages always serialize")
}

/// Decodes a message, checking its length first.
pub fn decode(bytes: &[u8], max_message_bytes: usize) -> Result<ReconcileMessage, Refusal> {
    if bytes.len() > max_message_bytes {
        return Err(Refusal::TooLarge {
            len: bytes.len(),
            max: max_message_bytes,
        });
    }
    postcard::from_bytes(bytes).map_err(|error| Refusal::Malformed(error.to_string()))
}

/// The table size for an estimated difference of `estimate` ids; `None` past
/// [`MAX_SKETCH_CELLS`], where listing ids costs less than a sketch that may not peel.
pub fn sketch_cells(estimate: u64) -> Option<usize> {
    let cells = Iblt::rounded((estimate as usize).saturating_mul(2).saturating_add(30));
    (cells <= MAX_SKETCH_CELLS).then_some(cells)
}

/// Whether an `Ids` page is one an honest node sends: ascending ids within its range, no more
/// than a page holds.
pub fn is_page(from: u64, to: u64, ids: &[u64]) -> bool {
    from <= to
        && ids.len() <= MAX_IDS_PER_PAGE
        && ids.windows(2).all(|pair| pair[0] < pair[1])
        && ids.first().is_none_or(|&first| first >= from)
        && ids.last().is_none_or(|&last| last <= to)
}

/// The ids only in `left` and the ids only in `right`, both ascending, in one pass over the
/// two ascending lists (a page against this node's ids in its range).
pub fn sorted_difference(left: &[u64], right: &[u64]) -> (Vec<u64>, Vec<u64>) {
    let mut only_left = Vec::with_capacity(left.len());
    let mut only_right = Vec::with_capacity(right.len());
    let (mut l, mut r) = (left.iter().peekable(), right.iter().peekable());
    loop {
        match (l.peek(), r.peek()) {
            (Some(a), Some(b)) if a == b => {
                l.next();
                r.next();
            }
            (Some(&&a), Some(&&b)) if a < b => {
                only_left.push(a);
                l.next();
            }
            (_, Some(&&b)) => {
                only_right.push(b);
                r.next();
            }
            (Some(&&a), None) => {
                only_left.push(a);
                l.next();
            }
            (None, None) => return (only_left, only_right),
        }
    }
}

/// An upper bound of the encoded size of `write` in a `Records` message: lengths, timestamp
/// and tags take at most 32 bytes, a signature 65 (length and bytes).
pub fn record_size(write: &Write) -> usize {
    let signature_size = if write.signature.is_some() { 65 } else { 0 };
    32 + signature_size
        + write.key.len()
        + write.version.origin.len()
        + write.value.as_ref().map_or(0, String::len)
}

/// Packs writes, wanted and offered ids into `Records` messages that each stay under
/// `max_message_bytes`.
pub fn records_messages(
    writes: Vec<Write>,
    want: Vec<u64>,
    offer: Vec<u64>,
    max_message_bytes: usize,
) -> Vec<ReconcileMessage> {
    let budget = max_message_bytes.saturating_sub(64);
    let mut messages = Vec::new();
    let mut current = Vec::new();
    let mut size = 0;
    for write in writes {
        let write_size = record_size(&write);
        if !current.is_empty() && size + write_size > budget {
            messages.push(ReconcileMessage::Records {
                writes: std::mem::take(&mut current),
                want: Vec::new(),
                offer: Vec::new(),
            });
            size = 0;
        }
        size += write_size;
        current.push(write);
    }
    let mut want_chunks = want.chunks(MAX_WANT_PER_MESSAGE);
    let first_want = want_chunks.next().map(<[u64]>::to_vec).unwrap_or_default();
    if size + first_want.len() * 10 > budget {
        messages.push(ReconcileMessage::Records {
            writes: std::mem::take(&mut current),
            want: Vec::new(),
            offer: Vec::new(),
        });
        messages.push(ReconcileMessage::Records {
            writes: Vec::new(),
            want: first_want,
            offer: Vec::new(),
        });
    } else {
        messages.push(ReconcileMessage::Records {
            writes: current,
            want: first_want,
            offer: Vec::new(),
        });
    }
    messages.extend(want_chunks.map(|chunk| ReconcileMessage::Records {
        writes: Vec::new(),
        want: chunk.to_vec(),
        offer: Vec::new(),
    }));
    messages.extend(
        offer
            .chunks(MAX_WANT_PER_MESSAGE)
            .map(|chunk| ReconcileMessage::Records {
                writes: Vec::new(),
                want: Vec::new(),
                offer: chunk.to_vec(),
            }),
    );
    messages
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::{Hlc, Version};
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    proptest! {
        #[test]
        fn sorted_difference_is_the_set_difference_both_ways(
            left in proptest::collection::btree_set(0u64..200, 0..60),
            right in proptest::collection::btree_set(0u64..200, 0..60),
        ) {
            let as_vec = |set: &BTreeSet<u64>| set.iter().copied().collect::<Vec<_>>();
            let (only_left, only_right) = sorted_difference(&as_vec(&left), &as_vec(&right));
            prop_assert_eq!(only_left, as_vec(&(&left - &right)));
            prop_assert_eq!(only_right, as_vec(&(&right - &left)));
        }
    }

    fn write(i: usize, value_len: usize) -> Write {
        Write {
            key: format!("key-{i}"),
            value: Some("v".repeat(value_len)),
            version: Version {
                hlc: Hlc {
                    wall_ms: i as u64,
                    counter: 0,
                },
                origin: "n0".into(),
            },
            signature: None,
        }
    }

    #[test]
    fn messages_round_trip_and_garbage_is_an_error() {
        let mut table = Iblt::new(9);
        table.insert(42);
        let messages = [
            ReconcileMessage::Hello {
                count: 3,
                fingerprint: u64::MAX,
            },
            ReconcileMessage::InSync,
            ReconcileMessage::Probe {
                table: Iblt::new(60),
            },
            ReconcileMessage::Estimate {
                count: 9,
                strata: StrataEstimator::default(),
            },
            ReconcileMessage::Sketch { attempt: 1, table },
            ReconcileMessage::SketchTooSmall {
                attempt: 2,
                cells: 96,
            },
            ReconcileMessage::Ids {
                from: 3,
                to: u64::MAX,
                ids: vec![4, 9],
            },
            ReconcileMessage::IdsFrom { from: 10 },
            ReconcileMessage::Records {
                writes: vec![write(1, 3)],
                want: vec![7, 8],
                offer: vec![5],
            },
        ];
        for message in messages {
            let bytes = encode(&message);
            assert_eq!(kind_of(&bytes), Some(message.name()));
            assert_eq!(decode(&bytes, 1 << 20).unwrap(), message);
        }
        assert_eq!(kind_of(&[9]), None);
        assert!(matches!(
            decode(b"\xff\xff\xff", 1 << 20),
            Err(Refusal::Malformed(_))
        ));
        assert!(matches!(
            decode(&[0; 100], 10),
            Err(Refusal::TooLarge { .. })
        ));
    }

    /// A message's bytes: `tag` (its variant), then `fields`, then a length prefix claiming
    /// `len` elements followed by `len` copies of `element`.
    fn claiming(tag: u8, fields: &[u8], len: usize, element: &[u8]) -> Vec<u8> {
        let mut bytes = vec![tag];
        bytes.extend_from_slice(fields);
        bytes.extend(postcard::to_allocvec(&(len as u64)).unwrap());
        for _ in 0..len {
            bytes.extend_from_slice(element);
        }
        bytes
    }

    #[test]
    fn no_frame_decodes_into_more_elements_than_its_caps() {
        let malformed = |bytes: &[u8]| matches!(decode(bytes, 1 << 20), Err(Refusal::Malformed(_)));
        // An `Estimate` (variant 3, count 1) of a million empty tables: 1 MiB that decoded
        // into a million tables before anything looked at it.
        let strata_bomb = claiming(3, &[1], 1_000_000, &[0]);
        assert!(strata_bomb.len() <= 1 << 20);
        assert!(malformed(&strata_bomb));
        // The largest honest lists still decode; one more element does not.
        let page = |len: usize| ReconcileMessage::Ids {
            from: 0,
            to: u64::MAX,
            ids: (0..len as u64).collect(),
        };
        assert!(decode(&encode(&page(MAX_IDS_PER_PAGE)), 1 << 20).is_ok());
        assert!(malformed(&encode(&page(MAX_IDS_PER_PAGE + 1))));
        let offering = |len: usize| ReconcileMessage::Records {
            writes: Vec::new(),
            want: Vec::new(),
            offer: (0..len as u64).collect(),
        };
        assert!(decode(&encode(&offering(MAX_WANT_PER_MESSAGE)), 1 << 20).is_ok());
        assert!(malformed(&encode(&offering(MAX_WANT_PER_MESSAGE + 1))));
        let writes = |len: usize| ReconcileMessage::Records {
            writes: (0..len).map(|i| write(i, 0)).collect(),
            want: Vec::new(),
            offer: Vec::new(),
        };
        assert!(decode(&encode(&writes(MAX_LOOKUPS_PER_WANT)), 1 << 20).is_ok());
        assert!(malformed(&encode(&writes(MAX_LOOKUPS_PER_WANT + 1))));
        // A `Records` (variant 8) of 200,000 empty writes claimed in a few bytes.
        assert!(malformed(&claiming(8, &[], 200_000, &[])));
        // A want is read past its first `MAX_LOOKUPS_PER_WANT` ids (no answer looks up
        // more), whatever it claims: the message still brings its writes and offers.
        let wanting = ReconcileMessage::Records {
            writes: vec![write(1, 3)],
            want: (0..MAX_WANT_PER_MESSAGE as u64).collect(),
            offer: vec![7],
        };
        let ReconcileMessage::Records {
            writes,
            want,
            offer,
        } = decode(&encode(&wanting), 1 << 20).unwrap()
        else {
            panic!("a Records decodes as one");
        };
        assert_eq!((writes.len(), offer), (1, vec![7]));
        assert_eq!(want, (0..MAX_LOOKUPS_PER_WANT as u64).collect::<Vec<_>>());
    }

    #[test]
    fn an_equal_store_hello_is_tiny() {
        let hello = encode(&ReconcileMessage::Hello {
            count: 1_000_000,
            fingerprint: u64::MAX / 3,
        });
        assert!(hello.len() < 20, "{}", hello.len());
        assert_eq!(encode(&ReconcileMessage::InSync).len(), 1);
    }

    #[test]
    fn records_are_split_under_the_message_limit() {
        let writes: Vec<Write> = (0..100).map(|i| write(i, 1000)).collect();
        let want: Vec<u64> = (0..150_000).collect();
        let offer: Vec<u64> = (0..70_000).collect();
        let messages = records_messages(writes.clone(), want.clone(), offer.clone(), 20_000);
        let mut got_writes = Vec::new();
        let mut got_want = Vec::new();
        let mut got_offer = Vec::new();
        for message in messages {
            let bytes = encode(&message);
            assert!(bytes.len() <= 1 << 20);
            if let ReconcileMessage::Records {
                writes,
                want,
                offer,
            } = message
            {
                assert!(
                    writes.is_empty() || bytes.len() <= 20_000,
                    "{}",
                    bytes.len()
                );
                got_writes.extend(writes);
                got_want.extend(want);
                got_offer.extend(offer);
            }
        }
        assert_eq!((got_writes, got_want, got_offer), (writes, want, offer));
    }

    #[test]
    fn tables_are_sized_for_the_estimate_up_to_the_largest() {
        assert_eq!(sketch_cells(0), Some(48));
        assert_eq!(sketch_cells(1000), Some(3 * 1024));
        assert_eq!(sketch_cells(20_000), Some(MAX_SKETCH_CELLS));
        assert_eq!(sketch_cells(30_000), None);
        assert_eq!(sketch_cells(u64::MAX), None);
    }

    #[test]
    fn only_ascending_pages_within_their_range_are_honest() {
        assert!(is_page(0, u64::MAX, &[]));
        assert!(is_page(5, 9, &[5, 7, 9]));
        assert!(!is_page(5, 9, &[4, 7]), "below the range");
        assert!(!is_page(5, 9, &[7, 10]), "above the range");
        assert!(!is_page(5, 9, &[7, 7]), "not strictly ascending");
        assert!(!is_page(9, 5, &[]), "an empty range");
        let too_many: Vec<u64> = (0..=MAX_IDS_PER_PAGE as u64).collect();
        assert!(!is_page(0, u64::MAX, &too_many));
    }
}
