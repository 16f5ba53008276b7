//! The bytes attackers put on the wire: floods of valid writes, oversized, malformed and
//! invalid messages, or raw payloads.

use crate::scenario::AttackKind;
use p2p_sync_core::wire::{encode_write, format_timestamp};
use p2p_sync_core::{Hlc, Version, Write};

/// Message number `index` of an attack of `kind` by `attacker` at wall time `wall_ms`; writes
/// name `origin` as their author (the attacker's name in the simulator, its PeerId on a real
/// network: nodes refuse gossip whose origin is not the peer that signed it).
pub fn payload(
    kind: &AttackKind,
    attacker: &str,
    origin: &str,
    index: u64,
    wall_ms: u64,
) -> Vec<u8> {
    match kind {
        AttackKind::Flood => encode_write(&Write {
            key: format!("flood-{attacker}-{index}"),
            value: Some("x".into()),
            version: Version {
                hlc: Hlc {
                    wall_ms,
                    counter: 0,
                },
                origin: origin.to_string(),
            },
            signature: None,
        }),
        AttackKind::Oversized(bytes) => oversized(*bytes, wall_ms),
        AttackKind::Malformed => b"{\"Put\": this is not JSON".to_vec(),
        AttackKind::Invalid {
            key_bytes,
            value_bytes,
        } => legacy_put(&"k".repeat(*key_bytes), &"v".repeat(*value_bytes), wall_ms),
        AttackKind::Raw(bytes) => bytes.clone(),
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

    #[test]
    fn oversized_messages_have_exactly_the_size_asked_for() {
        for bytes in [5, 100, 10_000_000] {
            assert_eq!(
                payload(&AttackKind::Oversized(bytes), "a0", "a0", 0, 0).len(),
                bytes
            );
        }
    }

    #[test]
    fn flood_writes_are_distinct() {
        let one = payload(&AttackKind::Flood, "a0", "a0", 1, 0);
        let two = payload(&AttackKind::Flood, "a0", "a0", 2, 0);
        assert_ne!(one, two);
    }
}
