//! Authorship: every write a node makes carries its origin's ed25519 signature over a
//! canonical encoding of the write, and every receiver checks it before applying, whichever
//! path (gossip or reconciliation) the write took. So no peer can make a node store a write
//! attributed to another node that this node never made.

use crate::write::{Signature, Write};
use std::cell::RefCell;
use std::collections::HashMap;

use ed25519_dalek::Signer;
pub use ed25519_dalek::SigningKey;

/// The origin given to writes that no node signed: rows of the legacy app's database, which
/// recorded no origin. They are accepted by reconciliation as plainly unsigned data.
pub const LEGACY_ORIGIN: &str = "legacy";

/// Signs `write` with `key` (the key of its origin).
pub fn sign(key: &SigningKey, write: &mut Write) {
    let signature = key.sign(&write.signed_bytes());
    write.signature = Some(Signature(signature.to_bytes()));
}

/// Fewest writes one signing thread is given: below it a thread costs more than it saves.
const MIN_SIGNED_PER_THREAD: usize = 64;

/// Signs every write of `writes` with `key`, split over at most `threads` threads (scoped,
/// pure computation; ed25519 signatures are deterministic, so the result does not depend on
/// the split).
pub fn sign_all(key: &SigningKey, writes: &mut [Write], threads: usize) {
    let threads = threads.clamp(1, writes.len().div_ceil(MIN_SIGNED_PER_THREAD).max(1));
    if threads == 1 {
        writes.iter_mut().for_each(|write| sign(key, write));
        return;
    }
    let per_thread = writes.len().div_ceil(threads);
    std::thread::scope(|scope| {
        for part in writes.chunks_mut(per_thread) {
            scope.spawn(move || part.iter_mut().for_each(|write| sign(key, write)));
        }
    });
}

/// A node's own signing key and the way it checks other origins' signatures.
pub struct Identity {
    /// Signs every write the node makes.
    pub signing_key: SigningKey,
    /// Checks the signatures of writes from other origins.
    pub keys: Box<dyn Keys>,
    /// Threads that sign a batch of the node's own writes (1: the calling thread alone, as in
    /// the simulator; a real node gives its cores).
    pub signing_threads: usize,
}

impl Identity {
    /// A real node: its libp2p ed25519 key; origins are PeerIds.
    pub fn peer_id(signing_key: SigningKey) -> Identity {
        Identity {
            signing_key,
            keys: Box::new(PeerIdKeys),
            signing_threads: 1,
        }
    }

    /// A node named `name` in a simulation or test, checking others through `keys` (share one
    /// [`NamedKeys`] among all nodes of a run so each signature is verified once).
    pub fn named(name: &str, keys: std::rc::Rc<NamedKeys>) -> Identity {
        Identity {
            signing_key: NamedKeys::signing_key(name),
            keys: Box::new(keys),
            signing_threads: 1,
        }
    }
}

/// Checks whether a signature was made by an origin's key.
pub trait Keys {
    /// Whether `signature` over `message` was made by the key of the node named `origin`.
    fn verify(&self, origin: &str, message: &[u8], signature: &Signature) -> bool;

    /// The signatures of one message, about to be checked one by one with [`Keys::verify`]:
    /// an implementation may check them all at once (in a batch, on every core) and answer
    /// those calls from the verdicts. The verdicts must be exactly [`Keys::verify`]'s.
    fn prefetch(&self, _signed: &[(&str, &[u8], &Signature)]) {}
}

/// Whether `key` (its 32 bytes) signed `message`, by the one rule ([`crate::verify`]).
fn verify_with(key: &[u8; 32], message: &[u8], signature: &Signature) -> bool {
    crate::verify::verify(&crate::verify::Check {
        key,
        message,
        signature: &signature.0,
    })
}

/// Origins that are libp2p ed25519 PeerIds, as on real networks: the public key is inside
/// the id (an identity multihash of the protobuf-encoded key), so nothing else is needed.
#[derive(Debug, Clone, Copy, Default)]
pub struct PeerIdKeys;

/// The multihash and protobuf header of an ed25519 PeerId: identity hash (0x00) of 36 bytes,
/// then `KeyType = Ed25519` (0x08 0x01) and 32 bytes of key data (0x12 0x20).
const ED25519_PEER_ID_PREFIX: [u8; 6] = [0x00, 36, 0x08, 0x01, 0x12, 0x20];

impl PeerIdKeys {
    /// The public key inside an ed25519 PeerId (its 32 bytes), if `origin` is one.
    pub fn key_of(origin: &str) -> Option<[u8; 32]> {
        let bytes = bs58::decode(origin).into_vec().ok()?;
        bytes
            .strip_prefix(&ED25519_PEER_ID_PREFIX[..])?
            .try_into()
            .ok()
    }
}

impl Keys for PeerIdKeys {
    fn verify(&self, origin: &str, message: &[u8], signature: &Signature) -> bool {
        PeerIdKeys::key_of(origin).is_some_and(|key| verify_with(&key, message, signature))
    }
}

/// Keys derived from node names (`n0`, `a1`): for the simulator and tests, where nodes have
/// names instead of PeerIds. Never for real use: anyone can derive anyone's key. Verdicts are
/// remembered (verification is a pure function), so a thousand simulated nodes checking the
/// same write pay for it once.
#[derive(Debug, Default)]
pub struct NamedKeys {
    verdicts: RefCell<HashMap<(u64, [u8; 64]), bool>>,
}

impl NamedKeys {
    /// The signing key of the node named `name`.
    pub fn signing_key(name: &str) -> SigningKey {
        let mut secret = [0u8; 32];
        for (index, chunk) in secret.chunks_mut(8).enumerate() {
            let word = xxhash_rust::xxh3::xxh3_64_with_seed(name.as_bytes(), index as u64);
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        SigningKey::from_bytes(&secret)
    }
}

impl<K: Keys> Keys for std::rc::Rc<K> {
    fn verify(&self, origin: &str, message: &[u8], signature: &Signature) -> bool {
        (**self).verify(origin, message, signature)
    }
}

impl Keys for NamedKeys {
    fn verify(&self, origin: &str, message: &[u8], signature: &Signature) -> bool {
        let memo = (
            xxhash_rust::xxh3::xxh3_64(&[origin.as_bytes(), message].concat()),
            signature.0,
        );
        if let Some(&verdict) = self.verdicts.borrow().get(&memo) {
            return verdict;
        }
        let key = NamedKeys::signing_key(origin).verifying_key().to_bytes();
        let verdict = verify_with(&key, message, signature);
        self.verdicts.borrow_mut().insert(memo, verdict);
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::write;

    #[test]
    fn a_signed_write_verifies_and_any_change_breaks_it() {
        let keys = NamedKeys::default();
        let mut signed = write("k", Some("v"), 10, "n0");
        sign(&NamedKeys::signing_key("n0"), &mut signed);
        let signature = signed.signature.clone().unwrap();
        assert!(keys.verify("n0", &signed.signed_bytes(), &signature));
        let mut changed = signed.clone();
        changed.value = Some("w".into());
        assert!(!keys.verify("n0", &changed.signed_bytes(), &signature));
        assert!(
            !keys.verify("n1", &signed.signed_bytes(), &signature),
            "another origin"
        );
    }

    #[test]
    fn signing_on_several_threads_gives_the_same_signatures() {
        let key = NamedKeys::signing_key("n0");
        let writes: Vec<Write> = (0..300)
            .map(|i| write(&format!("k{i}"), Some("v"), 10 + i, "n0"))
            .collect();
        let mut alone = writes.clone();
        sign_all(&key, &mut alone, 1);
        let mut split = writes;
        sign_all(&key, &mut split, 3);
        assert_eq!(alone, split);
        assert!(split.iter().all(|write| write.signature.is_some()));
    }

    #[test]
    fn signatures_round_trip_through_hex_and_bad_hex_is_refused() {
        let mut signed = write("k", None, 10, "n0");
        sign(&NamedKeys::signing_key("n0"), &mut signed);
        let signature = signed.signature.unwrap();
        assert_eq!(Signature::from_hex(&signature.to_hex()), Some(signature));
        assert_eq!(Signature::from_hex("abc"), None);
        assert_eq!(Signature::from_hex(&"zz".repeat(64)), None);
    }

    #[test]
    fn the_key_inside_an_ed25519_peer_id_checks_its_signatures() {
        let key = NamedKeys::signing_key("real");
        let public = key.verifying_key().to_bytes();
        let peer_id = bs58::encode([&ED25519_PEER_ID_PREFIX[..], &public].concat()).into_string();
        assert!(peer_id.starts_with("12D3KooW"), "{peer_id}");
        let mut signed = write("k", Some("v"), 10, &peer_id);
        sign(&key, &mut signed);
        let signature = signed.signature.clone().unwrap();
        assert!(PeerIdKeys.verify(&peer_id, &signed.signed_bytes(), &signature));
        assert!(!PeerIdKeys.verify("n0", &signed.signed_bytes(), &signature));
    }
}
