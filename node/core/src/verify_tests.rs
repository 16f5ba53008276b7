use super::*;
use crate::testkit::SeededCoefficients as TestRandom;
use ed25519_dalek::{Signer, SigningKey};
use proptest::prelude::*;

/// The encoding of the identity point (order 1).
const IDENTITY: [u8; 32] = {
    let mut bytes = [0u8; 32];
    bytes[0] = 1;
    bytes
};

/// The identity point encoded non-canonically: y = p + 1.
const IDENTITY_NON_CANONICAL: [u8; 32] = {
    let mut bytes = [0xff; 32];
    bytes[0] = 0xee;
    bytes[31] = 0x7f;
    bytes
};

/// The point of order 2, (0, -1).
const ORDER_TWO: [u8; 32] = {
    let mut bytes = [0xff; 32];
    bytes[0] = 0xec;
    bytes[31] = 0x7f;
    bytes
};

/// The group order l, as a (non-canonical) `s`.
const ORDER_L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// A signature check: key, message, signature, owned.
type Owned = ([u8; 32], Vec<u8>, [u8; 64]);

fn honest(seed: u8, message: &[u8]) -> Owned {
    let key = SigningKey::from_bytes(&[seed; 32]);
    let signature = key.sign(message).to_bytes();
    (key.verifying_key().to_bytes(), message.to_vec(), signature)
}

/// `r ‖ s` as a signature.
fn signature(r: [u8; 32], s: [u8; 32]) -> [u8; 64] {
    let mut bytes = [0u8; 64];
    bytes[..32].copy_from_slice(&r);
    bytes[32..].copy_from_slice(&s);
    bytes
}

/// One check of kind `kind` (honest, tampered, or adversarial).
fn made(kind: u8, seed: u8, message: &[u8]) -> Owned {
    let (key, message, mut sig) = honest(seed, message);
    match kind % 8 {
        0 | 1 => (key, message, sig),
        2 => {
            sig[usize::from(seed) % 64] ^= 1 << (seed % 8);
            (key, message, sig)
        }
        3 => (key, [&message[..], b"!"].concat(), sig),
        // Small-order key, small-order R and s = 0: accepted by ZIP-215 for any message.
        4 => (IDENTITY, message, signature(IDENTITY, [0; 32])),
        5 => (
            ORDER_TWO,
            message,
            signature(IDENTITY_NON_CANONICAL, [0; 32]),
        ),
        // s not reduced: refused by every rule.
        6 => {
            sig[32..].copy_from_slice(&ORDER_L);
            (key, message, sig)
        }
        _ => (
            key,
            message,
            signature(ORDER_TWO, sig[32..].try_into().unwrap()),
        ),
    }
}

fn check(owned: &Owned) -> Check<'_> {
    Check {
        key: &owned.0,
        message: &owned.1,
        signature: &owned.2,
    }
}

fn strict(owned: &Owned) -> bool {
    let signature = ed25519_dalek::Signature::from_bytes(&owned.2);
    ed25519_dalek::VerifyingKey::from_bytes(&owned.0)
        .is_ok_and(|key| key.verify_strict(&owned.1, &signature).is_ok())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Whatever its neighbours in a batch, each signature gets its single verdict.
    #[test]
    fn batch_verdicts_equal_single_verdicts(
        kinds in proptest::collection::vec((any::<u8>(), any::<u8>(), any::<[u8; 8]>()), 0..40),
        seed in 1u64..,
        threads in 1usize..4,
    ) {
        let owned: Vec<Owned> = kinds
            .iter()
            .map(|(kind, seed, message)| made(*kind, *seed, message))
            .collect();
        let checks: Vec<Check<'_>> = owned.iter().map(check).collect();
        let single: Vec<bool> = checks.iter().map(verify).collect();
        // Up to the first failure, as the core reads them: a message ends at its first forgery.
        let until = single.iter().position(|ok| !ok).map_or(single.len(), |at| at + 1);
        prop_assert_eq!(&verify_until_failure(&checks, &mut TestRandom(seed)), &single[..until]);
        let parallel = verify_in_parallel(&checks, threads, || TestRandom(seed));
        prop_assert_eq!(&parallel, &single[..until]);
    }

    /// Every signature the previous rule (`verify_strict`) accepted is still accepted.
    #[test]
    fn what_verify_strict_accepted_is_still_accepted(
        kind in any::<u8>(),
        seed in any::<u8>(),
        message in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let owned = made(kind, seed, &message);
        if strict(&owned) {
            prop_assert!(verify(&check(&owned)));
        }
    }
}

#[test]
fn honest_signatures_verify_and_the_adversarial_kinds_are_what_they_claim() {
    let message = b"p2p-sync";
    assert!(verify(&check(&honest(7, message))));
    assert!(!verify(&check(&made(2, 7, message))), "a flipped bit");
    assert!(!verify(&check(&made(3, 7, message))), "another message");
    let small_order = made(4, 7, message);
    assert!(!strict(&small_order) && verify(&check(&small_order)));
    assert!(!verify(&check(&made(6, 7, message))), "s not reduced");
}
