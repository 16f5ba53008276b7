//! The original app as its public repository describes it today, written from that
//! description alone (it shares no code with the node): a libp2p Gossipsub client on topic
//! `p2p-sync` whose messages travel in a signed envelope,
//! `{"data":{"Sync":{"Put":{…}}},"signature":[64 integers],"signer":"12D3KooW…"}`, signed with
//! plain Ed25519 by the identity key over SHA-256 of the bincode 1.3 encoding of `data`
//! (little-endian fixed-width integers, variant indices as u32, strings as u64 length + bytes).
//! It rides the foreign Gossipsub client of the loopback tests (`loopback/foreign.rs`), with
//! its own identity key.

use crate::foreign::{Foreign, Seen};
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use libp2p::identity::{Keypair, PublicKey};
use libp2p::PeerId;
use sha2::{Digest, Sha256};
use std::time::Duration;

/// `data` of an envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    /// `Sync(Put { key, value, timestamp })`.
    Put(String, String, String),
    /// `Sync(Delete { key, timestamp })`.
    Delete(String, String),
}

impl Data {
    /// bincode 1.3 of `Data::Sync(SyncMessage::…)`: the bytes whose SHA-256 is signed.
    pub fn bincode(&self) -> Vec<u8> {
        fn string(out: &mut Vec<u8>, text: &str) {
            out.extend_from_slice(&(text.len() as u64).to_le_bytes());
            out.extend_from_slice(text.as_bytes());
        }
        let mut out = 0u32.to_le_bytes().to_vec(); // Sync
        match self {
            Data::Put(key, value, timestamp) => {
                out.extend_from_slice(&0u32.to_le_bytes());
                string(&mut out, key);
                string(&mut out, value);
                string(&mut out, timestamp);
            }
            Data::Delete(key, timestamp) => {
                out.extend_from_slice(&1u32.to_le_bytes());
                string(&mut out, key);
                string(&mut out, timestamp);
            }
        }
        out
    }

    fn json(&self) -> serde_json::Value {
        match self {
            Data::Put(key, value, timestamp) => serde_json::json!(
                {"Sync": {"Put": {"key": key, "value": value, "timestamp": timestamp}}}
            ),
            Data::Delete(key, timestamp) => {
                serde_json::json!({"Sync": {"Delete": {"key": key, "timestamp": timestamp}}})
            }
        }
    }
}

/// The envelope of `data` signed over `signed` (normally `data` itself) by `key` as `signer`.
pub fn envelope(data: &Data, signed: &Data, key: &SigningKey, signer: &str) -> Vec<u8> {
    let signature = key.sign(&Sha256::digest(signed.bincode())).to_bytes();
    serde_json::to_vec(&serde_json::json!({
        "data": data.json(),
        "signature": signature.to_vec(),
        "signer": signer,
    }))
    .unwrap()
}

/// A key-distribution message, as the original app also sends on the topic.
pub fn key_distribution(key: &SigningKey, signer: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "data": {"KeyDistribution": {"peer_id": signer, "public_key": key.verifying_key().to_bytes().to_vec()}},
        "signature": vec![0u8; 64],
        "signer": signer,
    }))
    .unwrap()
}

/// Reads and checks an envelope as the original app does: the signature must be the
/// signer's over `data`, and the signer the gossip message's source. `Err` says why not;
/// `Ok(None)` is a message that is not an envelope (the node's own form).
pub fn open(bytes: &[u8], source: &PeerId) -> Result<Option<Data>, String> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let Some(data) = value.get("data") else {
        return Ok(None);
    };
    let text = |value: &serde_json::Value, name: &str| {
        value[name]
            .as_str()
            .map(str::to_string)
            .ok_or(format!("no {name}"))
    };
    let data = if let Some(put) = data["Sync"].get("Put") {
        Data::Put(
            text(put, "key")?,
            text(put, "value")?,
            text(put, "timestamp")?,
        )
    } else if let Some(delete) = data["Sync"].get("Delete") {
        Data::Delete(text(delete, "key")?, text(delete, "timestamp")?)
    } else {
        return Err(format!("unknown data {data}"));
    };
    let signer = text(&value, "signer")?;
    if signer != source.to_string() {
        return Err(format!("signer {signer} is not the source {source}"));
    }
    let signature: Vec<u8> = value["signature"]
        .as_array()
        .ok_or("no signature")?
        .iter()
        .map(|n| n.as_u64().and_then(|n| u8::try_from(n).ok()))
        .collect::<Option<_>>()
        .ok_or("signature is not bytes")?;
    let signature = ed25519_dalek::Signature::from_slice(&signature).map_err(|e| e.to_string())?;
    let peer: PeerId = signer.parse().map_err(|_| "signer is not a PeerId")?;
    let public = PublicKey::try_decode_protobuf(peer.as_ref().digest())
        .map_err(|e| e.to_string())?
        .try_into_ed25519()
        .map_err(|e| e.to_string())?;
    let key = VerifyingKey::from_bytes(&public.to_bytes()).map_err(|e| e.to_string())?;
    key.verify(&Sha256::digest(data.bincode()), &signature)
        .map_err(|e| format!("bad signature: {e}"))?;
    Ok(Some(data))
}

/// A running client of the original app: the foreign Gossipsub client with this identity.
pub struct Original {
    /// Its PeerId (the signer of its envelopes).
    pub peer_id: PeerId,
    /// Its identity key, as ed25519-dalek sees it.
    pub key: SigningKey,
    client: Foreign,
}

impl Original {
    /// Starts a client with identity `secret` that dials `address`.
    pub fn dial(address: &str, secret: [u8; 32]) -> Original {
        let keypair = Keypair::ed25519_from_bytes(secret).expect("an ed25519 key");
        let client = Foreign::dial_as(address, keypair);
        Original {
            peer_id: client.peer_id,
            key: SigningKey::from_bytes(&secret),
            client,
        }
    }

    /// Publishes `bytes` on the topic.
    pub fn publish(&self, bytes: Vec<u8>) {
        self.client.publish(&bytes);
    }

    /// Publishes `data` in its envelope, signed by this client.
    pub fn send(&self, data: &Data) {
        self.publish(envelope(data, data, &self.key, &self.peer_id.to_string()));
    }

    /// Waits up to `deadline` for `peer` to subscribe to the topic.
    pub fn wait_subscribed(&self, peer: &str, deadline: Duration) -> bool {
        self.client
            .wait_for(
                deadline,
                |seen| matches!(seen, Seen::Subscribed(subscriber) if subscriber.to_string() == peer),
            )
            .is_some()
    }

    /// Waits up to `deadline` for a message (bytes, source) `wanted` accepts.
    pub fn wait_for(
        &self,
        deadline: Duration,
        wanted: impl Fn(&[u8], &PeerId) -> bool,
    ) -> Option<(Vec<u8>, PeerId)> {
        match self.client.wait_for(
            deadline,
            |seen| matches!(seen, Seen::Message(data, source) if wanted(data, source)),
        )? {
            Seen::Message(data, source) => Some((data, source)),
            Seen::Subscribed(_) => None,
        }
    }
}
