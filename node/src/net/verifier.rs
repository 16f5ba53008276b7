//! Signature checks of a real node: the core's one rule (ZIP-215, `p2p_sync_core::verify`), in
//! batches. When the core is about to check the writes of one message, they are checked at
//! once first, in one batch with coefficients nobody can predict, up to the first bad
//! signature (where the core ends the message); the core's one-by-one questions are then
//! answered from those verdicts, which are exactly the single verdicts. Origins' keys are
//! decoded from their PeerIds once and kept (a bounded number of them).
//!
//! One batch on the calling thread: a message holds at most 128 writes, and the verify bench
//! measured splitting that over two threads slower than one batch (the halves lose the
//! batch's sharing of terms of one signer, and threads cost their start).

use p2p_sync_core::auth::{Keys, PeerIdKeys};
use p2p_sync_core::verify::{verify, verify_until_failure, Check};
use p2p_sync_core::write::Signature;
use std::cell::RefCell;
use std::collections::HashMap;
use std::convert::Infallible;

/// Fewer signatures than this are checked one by one when asked: a batch and a thread pay off
/// from there.
const MIN_BATCH: usize = 8;

/// Most origins whose keys are kept; past it the cache starts again.
const MAX_KEYS: usize = 4096;

/// A checked signature's origin, signed bytes and verdict, filed under the signature.
type Checked = (String, Vec<u8>, bool);

/// [`Keys`] for PeerId origins, checked in batches.
#[derive(Default)]
pub struct BatchKeys {
    /// Decoded keys by origin (`None`: not an ed25519 PeerId).
    keys: RefCell<HashMap<String, Option<[u8; 32]>>>,
    /// The verdicts of the message being checked.
    verdicts: RefCell<HashMap<[u8; 64], Checked>>,
}

impl BatchKeys {
    /// The public key of `origin`, decoded once.
    fn key(&self, origin: &str) -> Option<[u8; 32]> {
        if let Some(key) = self.keys.borrow().get(origin) {
            return *key;
        }
        let key = PeerIdKeys::key_of(origin);
        let mut keys = self.keys.borrow_mut();
        if keys.len() >= MAX_KEYS {
            keys.clear();
        }
        keys.insert(origin.to_string(), key);
        key
    }
}

impl Keys for BatchKeys {
    fn verify(&self, origin: &str, message: &[u8], signature: &Signature) -> bool {
        if let Some((checked_origin, checked_message, verdict)) =
            self.verdicts.borrow().get(&signature.0)
        {
            if checked_origin == origin && checked_message == message {
                return *verdict;
            }
        }
        self.key(origin).is_some_and(|key| {
            verify(&Check {
                key: &key,
                message,
                signature: &signature.0,
            })
        })
    }

    fn prefetch(&self, signed: &[(&str, &[u8], &Signature)]) {
        let mut verdicts = self.verdicts.borrow_mut();
        verdicts.clear();
        if signed.len() < MIN_BATCH {
            return;
        }
        let keyed: Vec<([u8; 32], &str, &[u8], &Signature)> = signed
            .iter()
            .filter_map(|&(origin, message, signature)| {
                Some((self.key(origin)?, origin, message, signature))
            })
            .collect();
        let checks: Vec<Check<'_>> = keyed
            .iter()
            .map(|(key, _, message, signature)| Check {
                key,
                message,
                signature: &signature.0,
            })
            .collect();
        let found = verify_until_failure(&checks, &mut Unpredictable);
        for ((_, origin, message, signature), verdict) in keyed.iter().zip(found) {
            let checked = (origin.to_string(), message.to_vec(), verdict);
            verdicts.insert(signature.0, checked);
        }
    }
}

/// A batch's coefficients, from `rand`'s thread generator (a CSPRNG the operating system
/// seeds), so a peer cannot craft a batch that passes with a bad signature in it.
struct Unpredictable;

impl rand_core::TryRng for Unpredictable {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(rand::RngCore::next_u32(&mut rand::rng()))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(rand::RngCore::next_u64(&mut rand::rng()))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        rand::RngCore::fill_bytes(&mut rand::rng(), dst);
        Ok(())
    }
}

impl rand_core::TryCryptoRng for Unpredictable {}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    /// A PeerId's text for a key, and `count` signatures of it (every third one, from the
    /// second, tampered with).
    fn signed(count: usize) -> (String, Vec<(Vec<u8>, Signature)>) {
        let key = SigningKey::from_bytes(&[7; 32]);
        let public = key.verifying_key().to_bytes();
        let peer_id =
            bs58::encode([&[0x00, 36, 0x08, 0x01, 0x12, 0x20][..], &public].concat()).into_string();
        let messages = (0..count)
            .map(|i| {
                let message = format!("write {i}").into_bytes();
                let mut signature = key.sign(&message).to_bytes();
                if i % 3 == 1 {
                    signature[5] ^= 1;
                }
                (message, Signature(signature))
            })
            .collect();
        (peer_id, messages)
    }

    #[test]
    fn prefetched_verdicts_are_the_single_verdicts() {
        let (origin, messages) = signed(40);
        let single = BatchKeys::default();
        let expected: Vec<bool> = messages
            .iter()
            .map(|(message, signature)| single.verify(&origin, message, signature))
            .collect();
        assert_eq!(expected.iter().filter(|ok| !**ok).count(), 13);
        {
            let batched = BatchKeys::default();
            let asked: Vec<(&str, &[u8], &Signature)> = messages
                .iter()
                .map(|(message, signature)| (origin.as_str(), &message[..], signature))
                .collect();
            batched.prefetch(&asked);
            // Up to the first bad signature (the second write): the core stops there.
            assert_eq!(batched.verdicts.borrow().len(), 2);
            let found: Vec<bool> = messages
                .iter()
                .map(|(message, signature)| batched.verify(&origin, message, signature))
                .collect();
            assert_eq!(found, expected);
        }
    }
}
