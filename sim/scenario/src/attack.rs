//! What attackers put on the wire: floods of valid writes, oversized, malformed, invalid and
//! forged messages, raw payloads, and hostile reconciliation messages.

use crate::scenario::AttackKind;
use p2p_sync_core::auth::{self, NamedKeys, SigningKey};
use p2p_sync_core::iblt::StrataEstimator;
use p2p_sync_core::reconciliation::{self, ReconcileMessage};
use p2p_sync_core::wire::{encode_write, encode_writes, format_timestamp};
use p2p_sync_core::{Config, Hlc, Version, Write};

/// One message an attacker sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// Published on the gossip topic.
    Gossip(Vec<u8>),
    /// Sent over the direct (reconciliation) protocol.
    Direct(Vec<u8>),
}

/// Who attacks, as the nodes see it.
#[derive(Debug, Clone)]
pub struct Attacker {
    /// Its name in the scenario (`a0`): names its flood's keys.
    pub name: String,
    /// The origin its own writes carry: the peer id the nodes know it by (its name in the
    /// simulator, its PeerId on a real network).
    pub origin: String,
    /// The key that signs its writes; without one they go in the legacy unsigned form, which
    /// nodes accept on gossip from their author.
    pub key: Option<SigningKey>,
}

impl Attacker {
    /// The simulator's attacker `name`, signing with its name-derived key.
    pub fn named(name: &str) -> Attacker {
        Attacker {
            name: name.to_string(),
            origin: name.to_string(),
            key: Some(NamedKeys::signing_key(name)),
        }
    }

    fn sign(&self, write: &mut Write) {
        if let Some(key) = &self.key {
            auth::sign(key, write);
        }
    }
}

/// The messages of repetition `index` of an attack of `kind` by `attacker` at wall time
/// `wall_ms`, in order.
pub fn packets(kind: &AttackKind, attacker: &Attacker, index: u64, wall_ms: u64) -> Vec<Packet> {
    let own = |count: u64| own_writes(attacker, index, count, wall_ms);
    match kind {
        AttackKind::Flood => vec![Packet::Gossip(encode_write(&own(1)[0]))],
        AttackKind::Oversized(bytes) => vec![Packet::Gossip(oversized(*bytes, wall_ms))],
        AttackKind::Malformed => vec![Packet::Gossip(b"{\"Put\": this is not JSON".to_vec())],
        AttackKind::Invalid {
            key_bytes,
            value_bytes,
        } => {
            let (key, value) = ("k".repeat(*key_bytes), "v".repeat(*value_bytes));
            // Signed where the attacker has a key, so that when the sizes happen to be valid the
            // write travels by reconciliation like any other; else in the legacy form.
            let bytes = match attacker.key {
                Some(_) => {
                    let mut write = write(&key, &value, wall_ms, &attacker.origin);
                    attacker.sign(&mut write);
                    encode_write(&write)
                }
                None => legacy_put(&key, &value, wall_ms),
            };
            vec![Packet::Gossip(bytes)]
        }
        AttackKind::Raw(bytes) => vec![Packet::Gossip(bytes.clone())],
        AttackKind::Forge {
            origin,
            key,
            value,
            ahead_ms,
            by_reconciliation,
        } => {
            let mut write = write(key, value, wall_ms + ahead_ms, origin);
            attacker.sign(&mut write);
            if *by_reconciliation {
                vec![hello(), records(vec![write], Vec::new())]
            } else {
                vec![Packet::Gossip(encode_write(&write))]
            }
        }
        AttackKind::BatchFlood { writes_per_message } => {
            let largest = Config::default().max_message_bytes;
            encode_writes(&own(*writes_per_message), largest)
                .into_iter()
                .map(Packet::Gossip)
                .collect()
        }
        AttackKind::EstimateBomb => {
            let mut strata = StrataEstimator::default();
            for id in 0..200_000u64 {
                strata.insert(id.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ index);
            }
            let estimate = ReconcileMessage::Estimate {
                count: u64::MAX,
                strata,
            };
            vec![hello(), Packet::Direct(reconciliation::encode(&estimate))]
        }
        AttackKind::WantFlood { ids } => {
            let want = (0..*ids)
                .map(|i| i.wrapping_mul(0x2545_f491_4f6c_dd1d))
                .collect();
            vec![hello(), records(Vec::new(), want)]
        }
        AttackKind::RecordsFlood { writes_per_message } => {
            vec![records(own(*writes_per_message), Vec::new())]
        }
    }
}

/// An opening `Hello` that matches no honest store.
fn hello() -> Packet {
    Packet::Direct(reconciliation::encode(&ReconcileMessage::Hello {
        count: 1,
        fingerprint: 1,
    }))
}

fn records(writes: Vec<Write>, want: Vec<u64>) -> Packet {
    Packet::Direct(reconciliation::encode(&ReconcileMessage::Records {
        writes,
        want,
        offer: Vec::new(),
    }))
}

/// `count` distinct valid writes of the attacker's own, signed by it.
fn own_writes(attacker: &Attacker, index: u64, count: u64, wall_ms: u64) -> Vec<Write> {
    (0..count)
        .map(|i| {
            let key = format!("flood-{}-{index}-{i}", attacker.name);
            let mut write = write(&key, "x", wall_ms, &attacker.origin);
            attacker.sign(&mut write);
            write
        })
        .collect()
}

fn write(key: &str, value: &str, wall_ms: u64, origin: &str) -> Write {
    Write {
        key: key.to_string(),
        value: Some(value.to_string()),
        version: Version {
            hlc: Hlc {
                wall_ms,
                counter: 0,
            },
            origin: origin.to_string(),
        },
        signature: None,
    }
}

/// A put in the legacy app's exact JSON form.
fn legacy_put(key: &str, value: &str, wall_ms: u64) -> Vec<u8> {
    serde_json::json!({"Put": {"key": key, "value": value, "timestamp": format_timestamp(wall_ms)}})
        .to_string()
        .into_bytes()
}

/// A well-formed put padded with a long value to exactly `bytes` bytes (or just `bytes` of
/// padding when that is too short for a put).
fn oversized(bytes: usize, wall_ms: u64) -> Vec<u8> {
    let frame = legacy_put("big", "", wall_ms);
    if bytes <= frame.len() {
        return vec![b'x'; bytes];
    }
    legacy_put("big", &"x".repeat(bytes - frame.len()), wall_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gossip(kind: &AttackKind, index: u64) -> Vec<u8> {
        match &packets(kind, &Attacker::named("a0"), index, 0)[..] {
            [Packet::Gossip(bytes)] => bytes.clone(),
            other => panic!("one gossip message expected, got {other:?}"),
        }
    }

    #[test]
    fn oversized_messages_have_exactly_the_size_asked_for() {
        for bytes in [5, 100, 10_000_000] {
            assert_eq!(gossip(&AttackKind::Oversized(bytes), 0).len(), bytes);
        }
    }

    #[test]
    fn flood_writes_are_distinct() {
        assert_ne!(gossip(&AttackKind::Flood, 1), gossip(&AttackKind::Flood, 2));
    }

    #[test]
    fn hostile_reconciliation_opens_with_a_hello_except_unsolicited_records() {
        let a0 = Attacker::named("a0");
        let bomb = packets(&AttackKind::EstimateBomb, &a0, 0, 0);
        assert_eq!(bomb.len(), 2);
        assert_eq!(bomb[0], hello());
        let flood = AttackKind::RecordsFlood {
            writes_per_message: 3,
        };
        assert!(matches!(
            &packets(&flood, &a0, 0, 0)[..],
            [Packet::Direct(_)]
        ));
    }
}
