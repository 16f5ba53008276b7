//! The gossip wire format: the legacy app's JSON, one write per message, plus a batch form.
//!
//! ```text
//! {"Put":{"key":"hello","value":"world","timestamp":"2025-01-04T08:30:15Z"}}
//! {"Delete":{"key":"hello","timestamp":"2025-01-04T08:30:15Z"}}
//! {"Batch":[{"Put":{…}},{"Delete":{…}}]}
//! ```
//! Writes we publish add two optional fields, `counter` (the HLC counter, omitted when 0) and
//! `origin` (the node that made the write); a message without them is read with counter 0 and
//! the signing author as origin. Unknown fields are ignored, so older nodes read our single writes.
//!
//! The codec only decodes: the rules every remote write must follow are checked by the node,
//! for gossip and reconciliation alike.

use crate::error::Refusal;
use crate::version::{Hlc, Version};
use crate::write::{Signature, Write};
use serde::{Deserialize, Serialize};

/// The RFC 3339 form gossip carries timestamps in.
pub use crate::timestamp::{format_timestamp, parse_timestamp};

/// The body of a put or a delete on the wire.
#[derive(Debug, Serialize, Deserialize)]
struct Body {
    key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value: Option<String>,
    timestamp: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    counter: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    origin: Option<String>,
    /// The origin's signature, 128 hex digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sig: Option<String>,
}

fn is_zero(counter: &u32) -> bool {
    *counter == 0
}

/// A message on the gossip topic.
#[derive(Debug, Serialize, Deserialize)]
enum Envelope {
    Put(Body),
    Delete(Body),
    Batch(Vec<Envelope>),
}

fn envelope(write: &Write) -> Envelope {
    let body = Body {
        key: write.key.clone(),
        value: write.value.clone(),
        timestamp: format_timestamp(write.version.hlc.wall_ms),
        counter: write.version.hlc.counter,
        origin: Some(write.version.origin.clone()),
        sig: write.signature.as_ref().map(Signature::to_hex),
    };
    match write.value {
        Some(_) => Envelope::Put(body),
        None => Envelope::Delete(body),
    }
}

/// Encodes one write in the legacy app's single-write form.
pub fn encode_write(write: &Write) -> Vec<u8> {
    serde_json::to_vec(&envelope(write)).expect("a write always serializes")
}

/// Encodes writes for publishing: the single form for one write, otherwise batches that each
/// stay under `max_message_bytes`.
pub fn encode_writes(writes: &[Write], max_message_bytes: usize) -> Vec<Vec<u8>> {
    if let [write] = writes {
        return vec![encode_write(write)];
    }
    let mut messages = Vec::new();
    let mut batch: Vec<Vec<u8>> = Vec::new();
    let mut batch_len = 0;
    const FRAME: usize = r#"{"Batch":[]}"#.len();
    for write in writes {
        let encoded = encode_write(write);
        if !batch.is_empty() && FRAME + batch_len + batch.len() + encoded.len() > max_message_bytes
        {
            messages.push(join_batch(&batch));
            batch.clear();
            batch_len = 0;
        }
        batch_len += encoded.len();
        batch.push(encoded);
    }
    if !batch.is_empty() {
        messages.push(join_batch(&batch));
    }
    messages
}

fn join_batch(items: &[Vec<u8>]) -> Vec<u8> {
    let mut out = b"{\"Batch\":[".to_vec();
    out.extend(items.join(&b","[..]));
    out.extend_from_slice(b"]}");
    out
}

/// A decoded message: each write decoded on its own, in message order.
pub type Decoded = Vec<Result<Write, Refusal>>;

/// Decodes a gossip message from `author`: each write's form, and that `author` is its origin
/// (gossip carries only its author's own writes). The length is checked before parsing;
/// errors are typed and nothing panics.
pub fn decode(bytes: &[u8], author: &str, max_message_bytes: usize) -> Result<Decoded, Refusal> {
    if bytes.len() > max_message_bytes {
        return Err(Refusal::TooLarge {
            len: bytes.len(),
            max: max_message_bytes,
        });
    }
    let envelope: Envelope =
        serde_json::from_slice(bytes).map_err(|error| Refusal::Malformed(error.to_string()))?;
    match envelope {
        Envelope::Batch(items) => items
            .into_iter()
            .map(|item| match item {
                Envelope::Batch(_) => Err(Refusal::Malformed("nested batch".into())),
                single => Ok(read(single, author)),
            })
            .collect(),
        single => match read(single, author) {
            Err(error @ Refusal::Malformed(_)) => Err(error),
            result => Ok(vec![result]),
        },
    }
}

fn read(envelope: Envelope, author: &str) -> Result<Write, Refusal> {
    let (body, is_put) = match envelope {
        Envelope::Put(body) => (body, true),
        Envelope::Delete(body) => (body, false),
        Envelope::Batch(_) => unreachable!("batches are unpacked by decode"),
    };
    if is_put != body.value.is_some() {
        let problem = if is_put {
            "put without a value"
        } else {
            "delete with a value"
        };
        return Err(Refusal::Malformed(problem.into()));
    }
    let wall_ms = parse_timestamp(&body.timestamp)
        .ok_or_else(|| Refusal::BadTimestamp(body.timestamp.clone()))?;
    // Gossip is signed by its author, who only ever publishes its own writes.
    if let Some(origin) = body.origin.as_deref().filter(|&origin| origin != author) {
        return Err(Refusal::Forged(format!(
            "origin {origin:?} in a message signed by {author}"
        )));
    }
    let signature = match body.sig.as_deref() {
        None => None,
        Some(hex) => Some(
            Signature::from_hex(hex)
                .ok_or_else(|| Refusal::Malformed("signature is not 128 hex digits".into()))?,
        ),
    };
    let write = Write {
        key: body.key,
        value: body.value,
        version: Version {
            hlc: Hlc {
                wall_ms,
                counter: body.counter,
            },
            origin: body.origin.unwrap_or_else(|| author.to_string()),
        },
        signature,
    };
    Ok(write)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::error::ValidationError;
    use crate::validate::check_remote_write;

    const NOW: u64 = 1_736_000_000_000; // 2025-01-04T14:13:20Z
    const MAX_BYTES: usize = 1 << 20;
    const LEGACY_PUT: &str =
        r#"{"Put":{"key":"hello","value":"world","timestamp":"2025-01-04T08:30:15Z"}}"#;

    /// Decodes a message of one write and checks it as the node checks every remote write.
    fn decode_one(bytes: &[u8]) -> Result<Write, Refusal> {
        let mut writes = decode(bytes, "author", MAX_BYTES)?;
        assert_eq!(writes.len(), 1);
        let write = writes.remove(0)?;
        check_remote_write(&write, NOW, &Config::default())?;
        Ok(write)
    }

    #[test]
    fn the_legacy_put_decodes_exactly() {
        let write = decode_one(LEGACY_PUT.as_bytes()).unwrap();
        assert_eq!(write.key, "hello");
        assert_eq!(write.value.as_deref(), Some("world"));
        assert_eq!(
            write.version.hlc,
            Hlc {
                wall_ms: parse_timestamp("2025-01-04T08:30:15Z").unwrap(),
                counter: 0
            }
        );
        assert_eq!(write.version.origin, "author");
    }

    #[test]
    fn the_legacy_delete_decodes() {
        let write = decode_one(br#"{"Delete":{"key":"hello","timestamp":"2025-01-04T08:30:15Z"}}"#)
            .unwrap();
        assert!(write.is_delete());
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let json =
            r#"{"Put":{"key":"k","value":"v","timestamp":"2025-01-04T08:30:15Z","future":[1,2]}}"#;
        assert!(decode_one(json.as_bytes()).is_ok());
    }

    #[test]
    fn a_single_write_round_trips_in_the_legacy_form_plus_optional_fields() {
        let write = Write {
            key: "hello".into(),
            value: Some("world".into()),
            version: Version {
                hlc: Hlc {
                    wall_ms: parse_timestamp("2025-01-04T08:30:15Z").unwrap(),
                    counter: 0,
                },
                origin: "author".into(),
            },
            signature: None,
        };
        let bytes = encode_write(&write);
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            r#"{"Put":{"key":"hello","value":"world","timestamp":"2025-01-04T08:30:15Z","origin":"author"}}"#
        );
        assert_eq!(decode_one(&bytes).unwrap(), write);
    }

    #[test]
    fn milliseconds_and_counters_survive_the_wire() {
        let write = Write {
            key: "k".into(),
            value: None,
            version: Version {
                hlc: Hlc {
                    wall_ms: NOW - 1,
                    counter: 3,
                },
                origin: "author".into(),
            },
            signature: None,
        };
        assert_eq!(decode_one(&encode_write(&write)).unwrap(), write);
    }

    #[test]
    fn batches_split_under_the_message_limit_and_round_trip() {
        let writes: Vec<Write> = (0..100)
            .map(|i| Write {
                key: format!("key-{i}"),
                value: Some("x".repeat(100)),
                version: Version {
                    hlc: Hlc {
                        wall_ms: NOW,
                        counter: i,
                    },
                    origin: "n0".into(),
                },
                signature: None,
            })
            .collect();
        let messages = encode_writes(&writes, 4096);
        assert!(messages.len() > 1);
        let mut decoded = Vec::new();
        for message in &messages {
            assert!(message.len() <= 4096, "{}", message.len());
            decoded.extend(
                decode(message, "n0", MAX_BYTES)
                    .unwrap()
                    .into_iter()
                    .map(Result::unwrap),
            );
        }
        assert_eq!(decoded, writes);
    }

    #[test]
    fn a_bad_write_in_a_batch_spoils_only_itself() {
        let long_key = "k".repeat(300);
        let json = format!(
            r#"{{"Batch":[{{"Put":{{"key":"ok","value":"v","timestamp":"2025-01-04T08:30:15Z"}}}},{{"Put":{{"key":"{long_key}","value":"v","timestamp":"2025-01-04T08:30:15Z"}}}}]}}"#
        );
        let decoded: Vec<_> = decode(json.as_bytes(), "a", MAX_BYTES)
            .unwrap()
            .into_iter()
            .map(|write| {
                write.and_then(|write| check_remote_write(&write, NOW, &Config::default()))
            })
            .collect();
        assert!(decoded[0].is_ok());
        assert!(matches!(
            decoded[1],
            Err(Refusal::Invalid(ValidationError::KeyTooLong { .. }))
        ));
    }

    #[test]
    fn legacy_attack_oversized_key() {
        let json = format!(
            r#"{{"Put":{{"key":"{}","value":"v","timestamp":"2025-01-04T08:30:15Z"}}}}"#,
            "k".repeat(257)
        );
        assert!(matches!(
            decode_one(json.as_bytes()),
            Err(Refusal::Invalid(ValidationError::KeyTooLong {
                len: 257,
                ..
            }))
        ));
    }

    #[test]
    fn legacy_attack_oversized_value() {
        let json = format!(
            r#"{{"Put":{{"key":"k","value":"{}","timestamp":"2025-01-04T08:30:15Z"}}}}"#,
            "v".repeat(65 * 1024)
        );
        assert!(matches!(
            decode_one(json.as_bytes()),
            Err(Refusal::Invalid(ValidationError::ValueTooLong { .. }))
        ));
    }

    #[test]
    fn legacy_attack_ten_megabyte_message_is_refused_before_parsing() {
        let bytes = vec![b'{'; 10 * 1024 * 1024];
        assert_eq!(
            decode(&bytes, "a", MAX_BYTES).unwrap_err(),
            Refusal::TooLarge {
                len: 10 * 1024 * 1024,
                max: 1024 * 1024
            }
        );
    }

    #[test]
    fn legacy_attack_malformed_json() {
        for bytes in [
            &b"not json"[..],
            b"{\"Put\":",
            b"\xff\xfe",
            b"{}",
            b"[]",
            b"{\"Put\":{\"key\":\"k\"}}",
            b"{\"Batch\":[{\"Batch\":[]}]}",
        ] {
            assert!(
                matches!(decode(bytes, "a", MAX_BYTES), Err(Refusal::Malformed(_))),
                "{bytes:?}"
            );
        }
    }

    #[test]
    fn legacy_attack_valid_json_with_invalid_key() {
        let json = r#"{"Put":{"key":"","value":"v","timestamp":"2025-01-04T08:30:15Z"}}"#;
        assert_eq!(
            decode_one(json.as_bytes()),
            Err(Refusal::Invalid(ValidationError::EmptyKey))
        );
        let json = r#"{"Put":{"key":"a\u0000b","value":"v","timestamp":"2025-01-04T08:30:15Z"}}"#;
        assert_eq!(
            decode_one(json.as_bytes()),
            Err(Refusal::Invalid(ValidationError::KeyControlCharacter))
        );
    }

    #[test]
    fn put_and_delete_bodies_must_match_their_kind() {
        assert!(matches!(
            decode(
                br#"{"Put":{"key":"k","timestamp":"2025-01-04T08:30:15Z"}}"#,
                "a",
                MAX_BYTES
            ),
            Err(Refusal::Malformed(_))
        ));
        assert!(matches!(
            decode(
                br#"{"Delete":{"key":"k","value":"v","timestamp":"2025-01-04T08:30:15Z"}}"#,
                "a",
                MAX_BYTES
            ),
            Err(Refusal::Malformed(_))
        ));
    }

    #[test]
    fn gossip_may_only_carry_its_authors_own_writes() {
        let forged = r#"{"Put":{"key":"k","value":"v","timestamp":"2025-01-04T08:30:15Z","origin":"someone-else"}}"#;
        assert!(matches!(
            decode_one(forged.as_bytes()),
            Err(Refusal::Forged(_))
        ));
        let own = r#"{"Put":{"key":"k","value":"v","timestamp":"2025-01-04T08:30:15Z","origin":"author"}}"#;
        assert!(decode_one(own.as_bytes()).is_ok());
    }

    #[test]
    fn timestamps_too_far_ahead_are_refused() {
        let config = Config::default();
        let ahead = |ms: u64| {
            format!(
                r#"{{"Put":{{"key":"k","value":"v","timestamp":"{}"}}}}"#,
                format_timestamp(NOW + ms)
            )
        };
        assert!(decode_one(ahead(config.max_clock_ahead_ms).as_bytes()).is_ok());
        assert!(matches!(
            decode_one(ahead(config.max_clock_ahead_ms + 1).as_bytes()),
            Err(Refusal::FutureTimestamp { .. })
        ));
        assert!(matches!(
            decode_one(br#"{"Put":{"key":"k","value":"v","timestamp":"yesterday"}}"#),
            Err(Refusal::BadTimestamp(_))
        ));
    }

    #[test]
    fn timestamps_with_offsets_and_fractions_parse() {
        assert_eq!(
            parse_timestamp("2025-01-04T09:30:15.250+01:00"),
            parse_timestamp("2025-01-04T08:30:15.250Z")
        );
        assert_eq!(
            format_timestamp(parse_timestamp("2025-01-04T08:30:15.250Z").unwrap()),
            "2025-01-04T08:30:15.250Z"
        );
    }
}
