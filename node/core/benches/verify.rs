//! Signature checks per second, each rule beside the others in one run: `verify_strict` one at a
//! time (the rule before ZIP-215), ZIP-215 one at a time, ZIP-215 in batches of one message
//! (128 writes) on one core, and the same batches split over threads; then signing a bulk
//! import's batch of writes on one thread and on every core (what a node does).
//!
//! Run: `cargo bench -p p2p-sync-core --bench verify` (`-- --threads N` caps the cores used).

use ed25519_dalek::{Signer, SigningKey};
use p2p_sync_core::auth::sign_all;
use p2p_sync_core::testkit::{write, SeededCoefficients};
use p2p_sync_core::verify::{verify, verify_in_parallel, verify_until_failure, Check};
use std::time::Instant;

/// Signatures per measurement, from this many signers, in messages of this many writes.
const SIGNATURES: usize = 32_768;
const SIGNERS: u8 = 16;
const PER_MESSAGE: usize = 128;

type Signed = ([u8; 32], Vec<u8>, [u8; 64]);

fn main() {
    let cores = std::thread::available_parallelism().map_or(1, |cores| cores.get());
    let threads = std::env::args()
        .skip_while(|arg| arg != "--threads")
        .nth(1)
        .and_then(|value| value.parse().ok())
        .unwrap_or(cores);
    let signed: Vec<Signed> = (0..SIGNATURES)
        .map(|i| {
            let key = SigningKey::from_bytes(&[(i % usize::from(SIGNERS)) as u8 + 1; 32]);
            let message = format!("p2p-sync/write/1 key-{i} value-{i}").into_bytes();
            let signature = key.sign(&message).to_bytes();
            (key.verifying_key().to_bytes(), message, signature)
        })
        .collect();
    let checks: Vec<Check<'_>> = signed
        .iter()
        .map(|(key, message, signature)| Check {
            key,
            message,
            signature,
        })
        .collect();
    let rate = |name: &str, run: &dyn Fn() -> usize| {
        let started = Instant::now();
        let passed = run();
        assert_eq!(passed, SIGNATURES, "{name}: every signature is good");
        SIGNATURES as f64 / started.elapsed().as_secs_f64()
    };
    let strict = rate("verify_strict", &|| {
        let ok = |(key, message, signature): &Signed| {
            let key = ed25519_dalek::VerifyingKey::from_bytes(key).unwrap();
            let signature = ed25519_dalek::Signature::from_bytes(signature);
            key.verify_strict(message, &signature).is_ok()
        };
        signed.iter().filter(|signed| ok(signed)).count()
    });
    let single = rate("ZIP-215", &|| {
        checks.iter().filter(|check| verify(check)).count()
    });
    let checks = &checks;
    let batched = |threads: usize| {
        move || {
            checks
                .chunks(PER_MESSAGE)
                .map(|message| match threads {
                    1 => verify_until_failure(message, &mut SeededCoefficients(7)),
                    n => verify_in_parallel(message, n, || SeededCoefficients(7)),
                })
                .map(|verdicts| verdicts.iter().filter(|ok| **ok).count())
                .sum()
        }
    };
    let batch = rate("batch", &batched(1));
    let every_core = rate("batch on every core", &batched(threads));
    println!("ed25519 checks per second, {SIGNATURES} signatures of {SIGNERS} signers, messages of {PER_MESSAGE}\n");
    println!("| rule | checks/s | × verify_strict |");
    println!("|---|---:|---:|");
    let signing = |threads: usize| {
        let key = SigningKey::from_bytes(&[1; 32]);
        let mut writes: Vec<_> = (0..SIGNATURES)
            .map(|i| write(&format!("key-{i}"), Some("value"), i as u64, "n0"))
            .collect();
        let started = Instant::now();
        for batch in writes.chunks_mut(4096) {
            sign_all(&key, batch, threads);
        }
        SIGNATURES as f64 / started.elapsed().as_secs_f64()
    };
    let (sign_one, sign_every) = (signing(1), signing(threads));
    for (name, value) in [
        ("verify_strict, one at a time (the rule before)", strict),
        ("ZIP-215, one at a time", single),
        ("ZIP-215, batch per message, 1 core", batch),
        (
            &*format!("ZIP-215, batch per message, {threads} threads"),
            every_core,
        ),
    ] {
        println!("| {name} | {value:.0} | {:.2} |", value / strict);
    }
    println!("\n| signing batches of 4,096 writes | signatures/s | × one thread |");
    println!("|---|---:|---:|");
    println!("| 1 thread | {sign_one:.0} | 1.00 |");
    println!(
        "| {threads} threads | {sign_every:.0} | {:.2} |",
        sign_every / sign_one
    );
}
