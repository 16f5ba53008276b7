//! The determinism meta-test: the same world and seed, played in two separate processes,
//! writes byte-identical traces (the nodes' own log lines included); another seed writes a
//! different one.

use std::process::Command;
use std::thread;

/// The spike's standard output for `seed`, from a process of its own.
fn spike(seed: u64) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_p2p-sync-turmoil"))
        .args(["spike", "--trace", "--seed", &seed.to_string()])
        .output()
        .expect("the world's binary runs");
    let stdout = String::from_utf8(output.stdout).expect("a text trace");
    assert!(
        output.status.success(),
        "the spike failed (seed {seed}):\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
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
    let other = thread::spawn(|| spike(7));
    let first = spike(7);
    let second = other.join().expect("the second run");
    assert!(
        first.lines().count() > 30,
        "a trace worth comparing:\n{first}"
    );
    assert!(
        first == second,
        "two processes, seed 7: {}",
        first_difference(&first, &second)
    );
    assert_ne!(first, spike(8), "seeds 7 and 8 wrote the same trace");
}
