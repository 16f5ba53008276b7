//! Simulator speed: wall time and events per second for the 100-node scenario and a 1,000-node,
//! 10-simulated-minute scenario with steady writes. Prints a table.
//!
//! Run: `cargo bench -p p2p-sync-sim --bench speed`.

use std::time::Instant;

const RUNS: [&str; 2] = [
    "scenarios/hundred-nodes.toml",
    "sim/benches/thousand-nodes.toml",
];

fn main() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    println!(
        "{:<18} {:>6} {:>10} {:>10} {:>9} {:>12} {:>10}",
        "scenario", "nodes", "simulated", "events", "wall", "events/s", "converged"
    );
    for file in RUNS {
        let text = std::fs::read_to_string(format!("{root}/{file}")).expect("scenario file");
        let scenario = p2p_sync_scenario::parse(&text, file).unwrap_or_else(|e| panic!("{e}"));
        let started = Instant::now();
        let report = p2p_sync_sim::run(&scenario, None, None);
        let wall = started.elapsed().as_secs_f64();
        println!(
            "{:<18} {:>6} {:>9}s {:>10} {:>8.2}s {:>12.0} {:>10}",
            scenario.name,
            scenario.nodes,
            report.ended_at_ms / 1000,
            report.events,
            wall,
            report.events as f64 / wall,
            report.convergence.converged
        );
        assert!(report.passed(), "{}", report.failure_text());
    }
}
