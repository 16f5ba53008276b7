//! One rule for every signature check: ZIP-215 ed25519 (the `ed25519-zebra` crate), whose single
//! and batch verification always agree. So whether a write is forged never depends on which
//! writes it was checked with, and a node may check many at once, in batches split over its
//! cores (scoped threads of pure computation; the randomness comes from the caller: the driver
//! brings the operating system's, so the core reads none).
//!
//! ZIP-215 accepts every signature `verify_strict` accepted (it only adds cofactored checks of
//! keys and `R` values of small order and their non-canonical encodings, which no honest
//! signer makes), so writes stored by nodes of the previous version still verify.

use ed25519_zebra::batch;
use ed25519_zebra::{Signature, VerificationKey, VerificationKeyBytes};

/// One signature to check: the signer's public key, the signed bytes, the signature.
#[derive(Debug, Clone, Copy)]
pub struct Check<'a> {
    /// The signer's ed25519 public key (32 bytes, as in its PeerId).
    pub key: &'a [u8; 32],
    /// The bytes signed.
    pub message: &'a [u8],
    /// The signature (64 bytes).
    pub signature: &'a [u8; 64],
}

/// Whether `check` holds under ZIP-215.
pub fn verify(check: &Check<'_>) -> bool {
    let signature = Signature::from_bytes(check.signature);
    VerificationKey::try_from(*check.key)
        .is_ok_and(|key| key.verify(&signature, check.message).is_ok())
}

/// The verdicts of `checks` in order, up to and including the first that fails (all of them
/// when none fails): each exactly [`verify`]'s. One batch verification, with random
/// coefficients from `rng`, settles a run of good signatures; a batch that fails is halved to
/// find its first bad signature, so a message whose last write is forged costs about two
/// batches, not a batch and then every signature alone. `rng` must be unpredictable to whoever
/// made the signatures.
pub fn verify_until_failure<R: rand_core::CryptoRng>(
    checks: &[Check<'_>],
    rng: &mut R,
) -> Vec<bool> {
    if checks.is_empty() {
        return Vec::new();
    }
    if batch_holds(checks, &mut *rng) {
        return vec![true; checks.len()];
    }
    if checks.len() == 1 {
        return vec![false];
    }
    let (first, second) = checks.split_at(checks.len() / 2);
    let mut verdicts = verify_until_failure(first, rng);
    if verdicts.iter().all(|&ok| ok) {
        verdicts.extend(verify_until_failure(second, rng));
    }
    verdicts
}

/// Whether every signature of `checks` holds, by one batch verification.
fn batch_holds<R: rand_core::CryptoRng>(checks: &[Check<'_>], rng: &mut R) -> bool {
    if let [check] = checks {
        return verify(check);
    }
    let mut batch = batch::Verifier::new();
    for check in checks {
        let key = VerificationKeyBytes::from(*check.key);
        let signature = Signature::from_bytes(check.signature);
        batch.queue((key, signature, &check.message));
    }
    batch.verify(rng).is_ok()
}

/// [`verify_until_failure`] split over `threads` threads, each part a batch of its own with a
/// generator from `rng`: the verdicts in order up to the first failure.
pub fn verify_in_parallel<R, F>(checks: &[Check<'_>], threads: usize, rng: F) -> Vec<bool>
where
    R: rand_core::CryptoRng,
    F: Fn() -> R + Sync,
{
    let threads = threads.clamp(1, checks.len().max(1));
    if threads == 1 {
        return verify_until_failure(checks, &mut rng());
    }
    let per_thread = checks.len().div_ceil(threads);
    let parts: Vec<Vec<bool>> = std::thread::scope(|scope| {
        let rng = &rng;
        let handles: Vec<_> = checks
            .chunks(per_thread)
            .map(|part| scope.spawn(move || verify_until_failure(part, &mut rng())))
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("a verification thread panicked"))
            .collect()
    });
    let mut verdicts = Vec::with_capacity(checks.len());
    for part in parts {
        let whole = part.iter().all(|&ok| ok);
        verdicts.extend(part);
        if !whole {
            break;
        }
    }
    verdicts
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
