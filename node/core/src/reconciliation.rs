//! The reconciliation protocol: messages and their codec.
//!
//! ```text
//! initiator (I)                             responder (R)
//!   Hello{count, fingerprint}     ──────▶   equal summaries? ── InSync (1 round trip, done)
//!                                 ◀──────   Probe{small table of R's ids}
//!   subtract my table; peels? (a difference of up to ~20 writes)
//!     yes: Records{my writes R lacks, want: ids I lack} ──▶ apply; Records{wanted} (2 round trips)
//!     no:  Estimate{my strata estimator} ──▶ estimate d, size a table for it
//!                                 ◀──────   Sketch{table of R's ids}×parts
//!   subtract, peel: Records{…, want} ─────▶ apply; Records{wanted}          (3 round trips)
//! ```
//! A sketch that fails to peel gets `SketchTooSmall` and is resent twice as large (split in two
//! parts once it would pass the message limit). Each message is handled on its own (no session
//! state is needed to answer it) and is bounded by the message limit; the writes it carries pass
//! the same checks as gossip, and a table, estimator or resize request that no honest peer
//! could send is dropped as malformed.

use super::iblt::{Iblt, StrataEstimator};
use super::version::Write;
use super::wire::WireError;
use serde::{Deserialize, Serialize};

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
        /// The sender's estimator.
        strata: StrataEstimator,
    },
    /// The sender's ids of one part of the id space (`part` of `parts`), in a table.
    Sketch {
        /// How many times this part has been resent larger.
        attempt: u8,
        /// Number of parts the id space is split into.
        parts: u32,
        /// Which part this table covers.
        part: u32,
        /// The table.
        table: Iblt,
    },
    /// The sketch for this part did not peel: send it larger.
    SketchTooSmall {
        /// The attempt that failed.
        attempt: u8,
        /// Number of parts of the failed sketch.
        parts: u32,
        /// Which part failed.
        part: u32,
        /// Cells of the failed table.
        cells: u32,
    },
    /// Writes the receiver lacks, and ids of writes the sender lacks.
    Records {
        /// Writes for the receiver to apply.
        writes: Vec<Write>,
        /// Ids of writes the receiver should send back.
        want: Vec<u64>,
    },
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
            ReconcileMessage::Records { .. } => "Records",
        }
    }
}

/// Cells of a `Probe`: about 1 KiB, peels differences of up to ~20 writes.
pub const PROBE_CELLS: usize = 60;
/// The largest table one `Sketch` carries (under 1 MiB); larger ones are split into parts.
pub const MAX_SKETCH_CELLS: usize = 40_000;
/// Most ids asked for in one `Records` message.
pub const MAX_WANT_PER_MESSAGE: usize = 60_000;
/// Most wanted ids one `Records` request makes a node look up (by index): about what one
/// answer of small writes holds; the asker asks again for the rest.
pub const MAX_LOOKUPS_PER_WANT: usize = 8_192;
/// Most attempts at one part before giving up until the next session.
pub const MAX_SKETCH_ATTEMPTS: u8 = 6;

/// Encodes a message (postcard: compact binary).
pub fn encode(message: &ReconcileMessage) -> Vec<u8> {
    postcard::to_allocvec(message).expect("reconciliation messages always serialize")
}

/// Decodes a message, checking its length first.
pub fn decode(bytes: &[u8], max_message_bytes: usize) -> Result<ReconcileMessage, WireError> {
    if bytes.len() > max_message_bytes {
        return Err(WireError::TooLarge {
            len: bytes.len(),
            max: max_message_bytes,
        });
    }
    postcard::from_bytes(bytes).map_err(|error| WireError::Malformed(error.to_string()))
}

/// Which part of a `parts`-way split of the id space `id` falls in. Splitting part `p` of `n`
/// gives parts `p` and `p + n` of `2n`.
pub fn part_of(id: u64, parts: u32) -> u32 {
    ((id >> 32) % u64::from(parts.max(1))) as u32
}

/// The table size for an estimated difference of `estimate` ids, and the number of parts
/// needed to keep each table under `MAX_SKETCH_CELLS`.
pub fn sketch_shape(estimate: u64) -> (u32, usize) {
    let cells = (estimate as usize).saturating_mul(2).saturating_add(30);
    let parts = cells.div_ceil(MAX_SKETCH_CELLS).max(1);
    (parts as u32, cells.div_ceil(parts))
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

/// Packs writes and wanted ids into `Records` messages that each stay under `max_message_bytes`.
pub fn records_messages(
    writes: Vec<Write>,
    want: Vec<u64>,
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
        });
        messages.push(ReconcileMessage::Records {
            writes: Vec::new(),
            want: first_want,
        });
    } else {
        messages.push(ReconcileMessage::Records {
            writes: current,
            want: first_want,
        });
    }
    messages.extend(want_chunks.map(|chunk| ReconcileMessage::Records {
        writes: Vec::new(),
        want: chunk.to_vec(),
    }));
    messages
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::{Hlc, Version};

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
            ReconcileMessage::Sketch {
                attempt: 1,
                parts: 2,
                part: 1,
                table,
            },
            ReconcileMessage::Records {
                writes: vec![write(1, 3)],
                want: vec![7, 8],
            },
        ];
        for message in messages {
            assert_eq!(decode(&encode(&message), 1 << 20).unwrap(), message);
        }
        assert!(matches!(
            decode(b"\xff\xff\xff", 1 << 20),
            Err(WireError::Malformed(_))
        ));
        assert!(matches!(
            decode(&[0; 100], 10),
            Err(WireError::TooLarge { .. })
        ));
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
        let messages = records_messages(writes.clone(), want.clone(), 20_000);
        let mut got_writes = Vec::new();
        let mut got_want = Vec::new();
        for message in messages {
            let bytes = encode(&message);
            assert!(bytes.len() <= 1 << 20);
            if let ReconcileMessage::Records { writes, want } = message {
                assert!(
                    writes.is_empty() || bytes.len() <= 20_000,
                    "{}",
                    bytes.len()
                );
                got_writes.extend(writes);
                got_want.extend(want);
            }
        }
        assert_eq!((got_writes, got_want), (writes, want));
    }

    #[test]
    fn parts_split_in_two() {
        for id in [0u64, 1 << 32, 7 << 32, u64::MAX] {
            let p = part_of(id, 3);
            assert!([p, p + 3].contains(&part_of(id, 6)));
        }
        assert_eq!(sketch_shape(0), (1, 30));
        let (parts, cells) = sketch_shape(100_000);
        assert!(parts >= 4 && cells <= MAX_SKETCH_CELLS);
    }
}
