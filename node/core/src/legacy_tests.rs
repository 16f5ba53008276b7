//! Tests of the original app's envelope: its exact signed bytes, timestamps to the
//! nanosecond, what is refused and why, and a node reading and writing it.

use super::*;
use crate::auth::{NamedKeys, PeerIdKeys};
use crate::counters::DropReason;
use crate::node::{NodeCore, Verdict};
use crate::outbox::Outbox;
use crate::store::{MemoryStore, Store};
use crate::{auth::Identity, Config, ManualClock};

const NOW: u64 = 1_754_372_800_000; // 2025-08-05T05:46:40Z
const NANOS: &str = "2025-08-05T05:46:34.123456789Z";

/// An envelope as the original app sends it, signed by `key` (hash and signature computed
/// here, not by the module under test).
fn envelope(key: &SigningKey, signer: &str, data_bytes: &[u8], data_json: &str) -> Vec<u8> {
    let digest = Sha256::digest(data_bytes);
    let signature = key.sign(&digest).to_bytes();
    let numbers: Vec<String> = signature.iter().map(u8::to_string).collect();
    format!(
        r#"{{"data":{data_json},"signature":[{}],"signer":"{signer}"}}"#,
        numbers.join(",")
    )
    .into_bytes()
}

/// An honest put of `key = value` at `timestamp` by the test node `name`.
fn signed_put(name: &str, key: &str, value: &str, timestamp: &str) -> Vec<u8> {
    envelope(
        &NamedKeys::signing_key(name),
        name,
        &put_bytes(key, value, timestamp),
        &put_json(key, value, timestamp),
    )
}

/// bincode 1.3 of `Data::Sync(SyncMessage::Put { key, value, timestamp })`, by hand.
fn put_bytes(key: &str, value: &str, timestamp: &str) -> Vec<u8> {
    let mut out = vec![0, 0, 0, 0, 0, 0, 0, 0];
    for text in [key, value, timestamp] {
        out.extend_from_slice(&(text.len() as u64).to_le_bytes());
        out.extend_from_slice(text.as_bytes());
    }
    out
}

fn put_json(key: &str, value: &str, timestamp: &str) -> String {
    format!(r#"{{"Sync":{{"Put":{{"key":"{key}","value":"{value}","timestamp":"{timestamp}"}}}}}}"#)
}

fn decode_write(bytes: &[u8], author: &str) -> Result<Write, Refusal> {
    match decode(bytes, author) {
        Some(Decoded::Write(write)) => write,
        other => panic!("not a write: {other:?}"),
    }
}

#[test]
fn nanosecond_timestamps_are_read_exactly_and_written_back_the_same() {
    let hlc = hlc_of(NANOS).unwrap();
    assert_eq!(hlc.wall_ms, 1_754_372_794_123);
    assert_eq!(hlc.counter, 456_789);
    assert_eq!(timestamp_of(hlc).as_deref(), Some(NANOS));
    for text in [
        "2025-08-05T05:46:34Z",
        "2025-08-05T05:46:34.120Z",
        "2025-08-05T05:46:34.000001Z",
        "2025-08-05T05:46:34.000000001Z",
    ] {
        assert_eq!(timestamp_of(hlc_of(text).unwrap()).as_deref(), Some(text));
    }
    // Ordered as the nanoseconds are.
    assert!(hlc_of("2025-08-05T05:46:34.123456790Z").unwrap() > hlc);
    assert!(hlc_of("2025-08-05T05:46:34.124Z").unwrap() > hlc);
    // Not chrono's form: the signed bytes could not be rebuilt from the write.
    for text in [
        "2025-08-05T05:46:34.12Z",
        "2025-08-05T05:46:34.123456789+00:00",
        "2025-08-05T07:46:34Z+02:00",
        "1969-12-31T23:59:59Z",
        "yesterday",
    ] {
        assert_eq!(hlc_of(text), None, "{text}");
    }
    assert_eq!(
        timestamp_of(Hlc {
            wall_ms: 0,
            counter: NANOS_PER_MS
        }),
        None
    );
}

#[test]
fn the_signed_bytes_are_bincode_with_u32_variant_indices() {
    let put = decode_write(&signed_put("a", "k", "v", NANOS), "a").unwrap();
    let timestamp = timestamp_of(put.version.hlc).unwrap();
    assert_eq!(data_bytes(&put, &timestamp), put_bytes("k", "v", NANOS));
    let delete = Write { value: None, ..put };
    let mut expected = vec![0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, b'k'];
    expected.extend_from_slice(&(NANOS.len() as u64).to_le_bytes());
    expected.extend_from_slice(NANOS.as_bytes());
    assert_eq!(data_bytes(&delete, NANOS), expected);
}

#[test]
fn a_signed_put_and_delete_decode_and_verify_with_the_signers_peer_id_key() {
    let key = NamedKeys::signing_key("real");
    let public = key.verifying_key().to_bytes();
    let peer_id =
        bs58::encode([&[0x00, 36, 0x08, 0x01, 0x12, 0x20][..], &public].concat()).into_string();
    let put = decode_write(
        &envelope(
            &key,
            &peer_id,
            &put_bytes("hello", "world", NANOS),
            &put_json("hello", "world", NANOS),
        ),
        &peer_id,
    )
    .unwrap();
    assert_eq!(put.key, "hello");
    assert_eq!(put.value.as_deref(), Some("world"));
    assert_eq!(put.version.origin, peer_id);
    assert_eq!(put.version.hlc, hlc_of(NANOS).unwrap());
    assert!(verifies(&PeerIdKeys, &put, put.signature.as_ref().unwrap()));

    let mut delete_bytes = vec![0, 0, 0, 0, 1, 0, 0, 0];
    for text in ["hello", NANOS] {
        delete_bytes.extend_from_slice(&(text.len() as u64).to_le_bytes());
        delete_bytes.extend_from_slice(text.as_bytes());
    }
    let json = format!(r#"{{"Sync":{{"Delete":{{"key":"hello","timestamp":"{NANOS}"}}}}}}"#);
    let delete = decode_write(&envelope(&key, &peer_id, &delete_bytes, &json), &peer_id).unwrap();
    assert!(delete.is_delete());
    assert!(verifies(
        &PeerIdKeys,
        &delete,
        delete.signature.as_ref().unwrap()
    ));
}

#[test]
fn a_wrong_signature_does_not_verify() {
    let key = NamedKeys::signing_key("a");
    // Signed over other bytes: another value.
    let bytes = envelope(
        &key,
        "a",
        &put_bytes("k", "other", NANOS),
        &put_json("k", "v", NANOS),
    );
    let write = decode_write(&bytes, "a").unwrap();
    let keys = NamedKeys::default();
    assert!(!verifies(&keys, &write, write.signature.as_ref().unwrap()));
    // Signed by another key.
    let bytes = envelope(
        &NamedKeys::signing_key("b"),
        "a",
        &put_bytes("k", "v", NANOS),
        &put_json("k", "v", NANOS),
    );
    let write = decode_write(&bytes, "a").unwrap();
    assert!(!verifies(&keys, &write, write.signature.as_ref().unwrap()));
}

#[test]
fn a_signer_other_than_the_author_is_forged() {
    let bytes = signed_put("b", "k", "v", NANOS);
    assert!(matches!(decode_write(&bytes, "a"), Err(Refusal::Forged(_))));
}

#[test]
fn key_distribution_is_recognised_and_other_shapes_are_not_writes() {
    let signature = vec!["0"; 64].join(",");
    let key_distribution = format!(
        r#"{{"data":{{"KeyDistribution":{{"public_key":[1,2,3],"peer":"x"}}}},"signature":[{signature}],"signer":"a"}}"#
    );
    assert_eq!(
        decode(key_distribution.as_bytes(), "a"),
        Some(Decoded::KeyDistribution)
    );
    // Not an envelope at all: left to the caller's error.
    assert_eq!(decode(b"{}", "a"), None);
    assert_eq!(decode(b"not json", "a"), None);
    // An envelope, broken.
    for broken in [
        format!(r#"{{"data":{{"Other":{{}}}},"signature":[{signature}],"signer":"a"}}"#),
        r#"{"data":{"Sync":{"Put":{"key":"k"}}},"signature":[1,2],"signer":"a"}"#.into(),
    ] {
        assert!(
            matches!(
                decode_write(broken.as_bytes(), "a"),
                Err(Refusal::Malformed(_))
            ),
            "{broken}"
        );
    }
    let non_canonical = signed_put("a", "k", "v", "2025-08-05T05:46:34.12Z");
    assert!(matches!(
        decode_write(&non_canonical, "a"),
        Err(Refusal::BadTimestamp(_))
    ));
}

#[test]
fn our_envelope_round_trips_and_verifies() {
    let mut write = crate::testkit::write("k", Some("v \" ✓"), NOW, "a");
    write.version.hlc.counter = 7;
    let bytes = encode(&write, &NamedKeys::signing_key("a"), "a").unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(
        text.starts_with(r#"{"data":{"Sync":{"Put":{"key":"k","value":"v \" ✓","timestamp":"2025-08-05T05:46:40.000000007Z"}}},"signature":["#),
        "{text}"
    );
    assert!(text.ends_with(r#"],"signer":"a"}"#), "{text}");
    let decoded = decode_write(&bytes, "a").unwrap();
    assert_eq!(decoded.version, write.version);
    assert_eq!(decoded.value, write.value);
    assert!(verifies(
        &NamedKeys::default(),
        &decoded,
        decoded.signature.as_ref().unwrap()
    ));
    let big = crate::testkit::write("k", Some(&"v".repeat(64 * 1024)), NOW, "a");
    assert_eq!(
        encode(&big, &NamedKeys::signing_key("a"), "a"),
        Err(NotSent::TooLarge)
    );
}

type Node = NodeCore<MemoryStore, ManualClock>;

fn node(name: &str, config: Config) -> Node {
    let identity = Identity::named(name, Default::default());
    let clock = ManualClock::new(NOW);
    NodeCore::new(
        name.to_string(),
        identity,
        config,
        MemoryStore::new(),
        clock,
        1,
    )
}

fn gossip(node: &mut Node, author: &str, bytes: &[u8]) -> Verdict {
    let author = author.to_string();
    node.handle_gossip(&mut Outbox::default(), &author, &author, bytes)
        .unwrap()
}

#[test]
fn a_node_applies_envelope_writes_and_counts_each_refusal_under_its_reason() {
    let mut n = node("n", Config::default());
    let key = NamedKeys::signing_key("a");
    let put = signed_put("a", "k", "v", NANOS);
    assert_eq!(gossip(&mut n, "a", &put), Verdict::Accept);
    let stored = n.store().get("k").unwrap().unwrap();
    assert_eq!(stored.version.hlc, hlc_of(NANOS).unwrap());
    assert_eq!(stored.version.origin, "a");

    let wrong = envelope(
        &key,
        "a",
        &put_bytes("k", "x", NANOS),
        &put_json("k", "v2", NANOS),
    );
    assert_eq!(gossip(&mut n, "a", &wrong), Verdict::Reject);
    assert_eq!(n.counters().dropped.get(DropReason::Forged), 1);
    assert_eq!(
        gossip(&mut n, "b", &put),
        Verdict::Reject,
        "b is not the signer"
    );
    assert_eq!(n.counters().dropped.get(DropReason::Forged), 2);
    let signature = vec!["0"; 64].join(",");
    let key_distribution = format!(
        r#"{{"data":{{"KeyDistribution":{{"key":[1]}}}},"signature":[{signature}],"signer":"a"}}"#
    );
    assert_eq!(
        gossip(&mut n, "a", key_distribution.as_bytes()),
        Verdict::Ignore
    );
    let dropped = n.counters().dropped;
    assert_eq!(dropped.get(DropReason::KeyDistribution), 1);
    assert_eq!(dropped.get(DropReason::Malformed), 0);
    assert_eq!(n.get("k").unwrap().as_deref(), Some("v"));
}

#[test]
fn an_envelope_write_travels_by_reconciliation_and_is_checked_again() {
    let mut n = node("n", Config::default());
    let put = signed_put("a", "k", "v", NANOS);
    assert_eq!(gossip(&mut n, "a", &put), Verdict::Accept);
    let mut m = node("m", Config::default());
    crate::testkit::connect(&mut n, &mut m).unwrap();
    assert_eq!(m.store().get("k").unwrap(), n.store().get("k").unwrap());
    assert_eq!(m.counters().dropped.total(), 0);
}

#[test]
fn with_the_option_single_writes_also_go_out_in_the_envelope_within_its_budget() {
    let config = Config {
        legacy_envelope: true,
        ..Config::default()
    };
    let mut n = node("n", config);
    let mut out = Outbox::default();
    n.put(&mut out, "k", "v").unwrap();
    n.delete(&mut out, "k").unwrap();
    assert_eq!(out.published.len(), 4, "each in both forms");
    let mut reader = node("r", Config::default());
    for message in &out.published[..] {
        assert_eq!(gossip(&mut reader, "n", message), Verdict::Accept);
    }
    assert_eq!(reader.counters().dropped.total(), 0);
    let envelope = String::from_utf8(out.published[1].clone()).unwrap();
    assert!(
        envelope.starts_with(r#"{"data":{"Sync":{"Put":"#),
        "{envelope}"
    );
    // A batch goes in our form only.
    let mut out = Outbox::default();
    let entries: Vec<(String, String)> = (0..3).map(|i| (format!("b{i}"), "v".into())).collect();
    n.put_many(&mut out, &entries).unwrap();
    assert_eq!(out.published.len(), 1);
    // Past the budget, writes go out in our form only, and are counted.
    let mut out = Outbox::default();
    for i in 0..100 {
        n.put(&mut out, &format!("k{i}"), "v").unwrap();
    }
    let budget = u64::from(ENVELOPE_RATE.max_messages);
    assert_eq!(n.counters().legacy_envelopes_sent, budget);
    assert_eq!(n.counters().legacy_envelopes_not_sent, 102 - budget);
    assert_eq!(out.published.len() as u64, 100 + budget - 2);
}
