//! The determinism meta-test: the same scenario file and seed, played in two separate
//! processes, writes byte-identical traces (the nodes' own log lines included); another seed
//! writes a different one. The file has four nodes, a crash and a restart: without the
//! binary's seeded `getrandom` two processes already diverge on it (gossip arrives in another
//! order), which the spike's two nodes do not show.

use std::process::Command;
use std::thread;

/// The world's binary's standard output for `args`, from a process of its own.
fn world(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_p2p-sync-turmoil"))
        .args(args)
        .output()
        .expect("the world's binary runs");
    let stdout = String::from_utf8(output.stdout).expect("a text trace");
    assert!(
        output.status.success(),
        "{args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The trace of the crash-and-restart scenario played with `seed`.
fn played(seed: u64) -> String {
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scenarios/crash-restart-during-writes.toml"
    );
    world(&["run", file, "--trace", "--seed", &seed.to_string()])
}

/// The first line where `a` and `b` differ, for the failure message.
fn first_difference(a: &str, b: &str) -> String {
    let mut lines = a.lines().zip(b.lines()).enumerate();
    match lines.find(|(_, (x, y))| x != y) {
        Some((number, (x, y))) => format!("line {}:\n  {x}\n  {y}", number + 1),
        None => format!("{} lines against {}", a.lines().count(), b.lines().count()),
    }
}

#[test]
fn the_same_seed_in_two_processes_writes_the_same_trace_and_another_seed_does_not() {
    let other = thread::spawn(|| played(11));
    let first = played(11);
    let second = other.join().expect("the second run");
    assert!(
        first.lines().count() > 300,
        "a trace worth comparing:\n{first}"
    );
    assert!(
        first == second,
        "two processes, seed 11: {}",
        first_difference(&first, &second)
    );
    assert_ne!(first, played(12), "seeds 11 and 12 wrote the same trace");
}

#[test]
fn the_spike_passes() {
    let out = world(&["spike", "--seed", "7"]);
    assert!(out.contains("spike passed"), "{out}");
}
