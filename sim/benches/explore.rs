//! Explorer speed: explores seeds 0..10,000 (or `EXPLORE_SEEDS`, e.g. `0..500`) with the
//! default options and prints seeds and events per second; fails if a seed fails.
//!
//! Run: `cargo bench -p p2p-sync-sim --bench explore`.

use p2p_sync_sim::explore::{self, Options};
use std::time::Instant;

fn main() {
    let range = std::env::var("EXPLORE_SEEDS").unwrap_or_else(|_| "0..10000".into());
    let (start, end) = range
        .split_once("..")
        .and_then(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?)))
        .unwrap_or_else(|| panic!("EXPLORE_SEEDS={range:?} is not a range like 0..500"));
    let options = Options {
        nodes: 2..=7,
        safety_ms: 60_000,
    };
    let started = Instant::now();
    let (mut events, mut failing) = (0u64, Vec::new());
    for seed in start..end {
        match explore::investigate(seed, &options) {
            Ok(played) => events += played,
            Err(found) => {
                println!("seed {seed} fails:\n{}", found.report.failure_text());
                failing.push(seed);
            }
        }
    }
    let wall = started.elapsed().as_secs_f64();
    let seeds = end - start;
    println!(
        "{:<12} {:>8} {:>9} {:>10} {:>12} {:>8}",
        "seeds", "count", "wall", "seeds/s", "events/s", "failing"
    );
    println!(
        "{:<12} {:>8} {:>8.1}s {:>10.1} {:>12.0} {:>8}",
        range,
        seeds,
        wall,
        seeds as f64 / wall,
        events as f64 / wall,
        failing.len()
    );
    assert!(failing.is_empty(), "failing seeds: {failing:?}");
}
