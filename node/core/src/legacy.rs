//! The original app's signed envelope, as it speaks today (see `docs/legacy-protocol.md`):
//!
//! ```text
//! {"data":{"Sync":{"Put":{"key":"k","value":"v","timestamp":"2025-08-05T05:46:34.123456789Z"}}},
//!  "signature":[64 integers],"signer":"12D3KooW…"}
//! ```
//! A delete is `{"Delete":{"key","timestamp"}}` inside `Sync`; the same topic also carries
//! `{"data":{"KeyDistribution":{…}}}`, which p2p-sync does not use. The signature is plain
//! Ed25519 by the signer's identity key over SHA-256 of the bincode 1.3 encoding of `data`
//! (little-endian, fixed-width integers, variant indices as u32, strings as u64 length + UTF-8):
//! `u32 Sync=0 ‖ u32 Put=0|Delete=1 ‖ key ‖ [value] ‖ timestamp`.
//!
//! **Timestamps.** The envelope's timestamp is chrono's RFC 3339 form (`Z`, and 0, 3, 6 or 9
//! fraction digits, as few as the value needs). A write read from it keeps every nanosecond:
//! the milliseconds are its HLC wall time and the nanoseconds below them its HLC counter
//! (0..1,000,000). That mapping is one-to-one with chrono's form, so the exact signed bytes
//! can be rebuilt from the write alone: an envelope's write keeps the envelope's signature and
//! travels by reconciliation like any signed write; every node re-checks it ([`verifies`]).
//! A timestamp not in chrono's form could not be rebuilt, and is refused.

use crate::auth::{Keys, SigningKey};
use crate::config::RateLimit;
use crate::error::Refusal;
use crate::version::{Hlc, Version};
use crate::write::{Signature, Write};
use chrono::{DateTime, SecondsFormat, Utc};
use ed25519_dalek::Signer;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The original app's largest gossip frame: a larger envelope is not published.
pub const MAX_ENVELOPE_BYTES: usize = 64 * 1024;

/// How many envelopes a node publishes: the original app accepts about 60 messages a minute
/// from each forwarder, and counts every message it gets from us against that, our own form
/// of each write too (which it cannot read). 25 envelopes a minute are 50 messages with their
/// p2p-sync form, under its limit with room for a few forwarded ones.
pub const ENVELOPE_RATE: RateLimit = RateLimit {
    max_messages: 25,
    max_writes: u64::MAX,
    max_bytes: u64::MAX,
    window_ms: 60_000,
};

/// Nanoseconds in a millisecond: HLC counters of envelope writes stay below it.
const NANOS_PER_MS: u32 = 1_000_000;

/// Any JSON object, its `data` skipped unread if present.
#[derive(Deserialize)]
struct Probe {
    data: Option<serde::de::IgnoredAny>,
}

/// The signed envelope, as read.
#[derive(Debug, Deserialize)]
struct Envelope {
    data: Data,
    signature: Signature,
    signer: String,
}

/// What an envelope carries.
#[derive(Debug, Deserialize)]
enum Data {
    Sync(Sync),
    /// Key distribution of the original app: not used here, its content is not read.
    KeyDistribution(serde::de::IgnoredAny),
}

/// A write inside `Sync`.
#[derive(Debug, Deserialize)]
enum Sync {
    Put {
        key: String,
        value: String,
        timestamp: String,
    },
    Delete {
        key: String,
        timestamp: String,
    },
}

/// The signed envelope, as published (only writes are).
#[derive(Serialize)]
struct OutEnvelope<'a> {
    data: OutData<'a>,
    signature: &'a Signature,
    signer: &'a str,
}

#[derive(Serialize)]
enum OutData<'a> {
    Sync(OutSync<'a>),
}

#[derive(Serialize)]
enum OutSync<'a> {
    Put {
        key: &'a str,
        value: &'a str,
        timestamp: &'a str,
    },
    Delete {
        key: &'a str,
        timestamp: &'a str,
    },
}

/// A message in the original app's envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// A put or a delete, its origin the signer, its signature the envelope's (not yet
    /// checked: see [`verifies`]); or why it cannot be stored.
    Write(Result<Write, Refusal>),
    /// A key-distribution message, ignored.
    KeyDistribution,
}

/// Reads `bytes` as the original app's envelope from gossip `author` (only decoded: the node
/// checks the write as every remote write). `None` if the bytes are not an envelope at all (a
/// JSON object without `data`); a broken envelope is `Malformed`.
pub fn decode(bytes: &[u8], author: &str) -> Option<Decoded> {
    // A first pass that allocates nothing: is this a JSON object with `data`?
    let probe: Probe = serde_json::from_slice(bytes).ok()?;
    probe.data?;
    let envelope: Envelope = match serde_json::from_slice(bytes) {
        Ok(envelope) => envelope,
        Err(error) => {
            return Some(Decoded::Write(Err(Refusal::Malformed(format!(
                "signed envelope: {error}"
            )))))
        }
    };
    let sync = match envelope.data {
        Data::Sync(sync) => sync,
        Data::KeyDistribution(_) => return Some(Decoded::KeyDistribution),
    };
    Some(Decoded::Write(to_write(
        sync,
        envelope.signature,
        envelope.signer,
        author,
    )))
}

fn to_write(
    sync: Sync,
    signature: Signature,
    signer: String,
    author: &str,
) -> Result<Write, Refusal> {
    let (key, value, timestamp) = match sync {
        Sync::Put {
            key,
            value,
            timestamp,
        } => (key, Some(value), timestamp),
        Sync::Delete { key, timestamp } => (key, None, timestamp),
    };
    if signer != author {
        let signer: String = signer.chars().take(64).collect();
        return Err(Refusal::Forged(format!(
            "envelope signer {signer:?} is not the message's author {author}"
        )));
    }
    let hlc = hlc_of(&timestamp).ok_or(Refusal::BadTimestamp(timestamp))?;
    let write = Write {
        key,
        value,
        version: Version {
            hlc,
            origin: signer,
        },
        signature: Some(signature),
    };
    Ok(write)
}

/// The write's time for an envelope timestamp in chrono's RFC 3339 form (UTC, `Z`, as few
/// fraction digits as needed): milliseconds, and the nanoseconds below them as the counter.
pub fn hlc_of(timestamp: &str) -> Option<Hlc> {
    let time = DateTime::parse_from_rfc3339(timestamp).ok()?.to_utc();
    let nanos = u64::try_from(time.timestamp_nanos_opt()?).ok()?;
    let hlc = Hlc {
        wall_ms: nanos / u64::from(NANOS_PER_MS),
        counter: (nanos % u64::from(NANOS_PER_MS)) as u32,
    };
    (timestamp_of(hlc).as_deref() == Some(timestamp)).then_some(hlc)
}

/// The envelope timestamp of a write's time: `None` when its counter is not a count of
/// nanoseconds (a million or more writes in one millisecond).
pub fn timestamp_of(hlc: Hlc) -> Option<String> {
    if hlc.counter >= NANOS_PER_MS {
        return None;
    }
    let nanos = i64::try_from(hlc.wall_ms.checked_mul(u64::from(NANOS_PER_MS))?).ok()?;
    let time = DateTime::<Utc>::from_timestamp_nanos(nanos + i64::from(hlc.counter));
    Some(time.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

/// The bincode 1.3 encoding of a write's `data` with envelope timestamp `timestamp`.
fn data_bytes(write: &Write, timestamp: &str) -> Vec<u8> {
    let value_len = write.value.as_ref().map_or(0, |value| 8 + value.len());
    let mut out = Vec::with_capacity(24 + write.key.len() + value_len + timestamp.len());
    let string = |out: &mut Vec<u8>, text: &str| {
        out.extend_from_slice(&(text.len() as u64).to_le_bytes());
        out.extend_from_slice(text.as_bytes());
    };
    out.extend_from_slice(&0u32.to_le_bytes()); // Data::Sync
    let variant: u32 = if write.value.is_some() { 0 } else { 1 }; // Put, Delete
    out.extend_from_slice(&variant.to_le_bytes());
    string(&mut out, &write.key);
    if let Some(value) = &write.value {
        string(&mut out, value);
    }
    string(&mut out, timestamp);
    out
}

/// What the original app signs for `write`: SHA-256 of its `data`'s bincode encoding. `None`
/// when the write's time has no envelope timestamp ([`timestamp_of`]).
pub fn signed_digest(write: &Write) -> Option<[u8; 32]> {
    let timestamp = timestamp_of(write.version.hlc)?;
    Some(Sha256::digest(data_bytes(write, &timestamp)).into())
}

/// Whether `signature` is the original app's envelope signature of `write` by its origin.
pub fn verifies(keys: &dyn Keys, write: &Write, signature: &Signature) -> bool {
    signed_digest(write)
        .is_some_and(|digest| keys.verify(&write.version.origin, &digest, signature))
}

/// Why a write is not published in the envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotSent {
    /// More than a million writes in its millisecond: no envelope timestamp.
    NoTimestamp,
    /// Larger than the original app's frame.
    TooLarge,
}

/// `write` (made by `signer`, whose key is `key`) in the original app's envelope.
pub fn encode(write: &Write, key: &SigningKey, signer: &str) -> Result<Vec<u8>, NotSent> {
    let timestamp = timestamp_of(write.version.hlc).ok_or(NotSent::NoTimestamp)?;
    let digest: [u8; 32] = Sha256::digest(data_bytes(write, &timestamp)).into();
    let signature = Signature(key.sign(&digest).to_bytes());
    let sync = match &write.value {
        Some(value) => OutSync::Put {
            key: &write.key,
            value,
            timestamp: &timestamp,
        },
        None => OutSync::Delete {
            key: &write.key,
            timestamp: &timestamp,
        },
    };
    let bytes = serde_json::to_vec(&OutEnvelope {
        data: OutData::Sync(sync),
        signature: &signature,
        signer,
    })
    .expect("an envelope always serializes");
    if bytes.len() > MAX_ENVELOPE_BYTES {
        return Err(NotSent::TooLarge);
    }
    Ok(bytes)
}

#[cfg(test)]
#[path = "legacy_tests.rs"]
mod tests;
