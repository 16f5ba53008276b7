//! How fast p2p-sync replicates, each figure beside the limit it runs against, measured in one run.
//!
//! Run: `cargo bench -p p2p-sync --bench sync` (release build; real processes on 127.0.0.1,
//! `--no-mdns`). `-- --quick` shrinks every workload tenfold for a smoke run.

#[path = "../../tests/common/driver.rs"]
#[allow(dead_code)]
mod driver;
#[path = "../../tests/loopback/local.rs"]
#[allow(dead_code)]
mod local;

mod baselines;
mod cluster;

use std::time::{Duration, Instant};

/// Workload sizes, full or `--quick`.
struct Sizes {
    replication_writes: usize,
    latency_writes: usize,
    catch_up_writes: usize,
    footprint_keys: usize,
}

fn main() {
    let quick = std::env::args().any(|arg| arg == "--quick");
    let sizes = if quick {
        Sizes {
            replication_writes: 10_000,
            latency_writes: 20,
            catch_up_writes: 10_000,
            footprint_keys: 100_000,
        }
    } else {
        Sizes {
            replication_writes: 100_000,
            latency_writes: 100,
            catch_up_writes: 100_000,
            footprint_keys: 1_000_000,
        }
    };
    println!(
        "p2p-sync benchmarks ({}), 64-byte keys, 100-byte values\n",
        if quick { "quick" } else { "full" }
    );
    replication(sizes.replication_writes);
    latency(sizes.latency_writes);
    catch_up(sizes.catch_up_writes);
    footprint(sizes.footprint_keys);
}

fn rate(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

/// 1. A writes `count` keys as fast as its stdin takes them; time until B holds them all.
fn replication(count: usize) {
    let entries = cluster::entries("rep", count);
    let storage = baselines::sqlite_insert_rate(&entries);
    let store = baselines::store_apply_rate(&entries);
    let gossip = baselines::gossip_rate(&entries);
    let limit = storage.min(gossip);
    let (mut a, mut b, _dirs) = cluster::pair();
    let started = Instant::now();
    cluster::pipe_adds(&mut a, &entries);
    let converged = cluster::wait_for_keys(&mut b, count, started, Duration::from_secs(300));
    let end_to_end = rate(count, converged);
    a.quit();
    b.quit();
    println!("## 1. Replication throughput ({count} writes, A → B over loopback)\n");
    println!("| what | writes/s | ratio |");
    println!("|---|---:|---:|");
    println!("| SQLite, one prepared transaction (storage limit) | {storage:.0} | 1.00 |");
    println!(
        "| our store's apply-if-newer, one transaction | {store:.0} | {:.2} of storage |",
        store / storage
    );
    println!("| two bare gossipsub swarms, signed, same batches (network limit) | {gossip:.0} | {:.2} of storage |", gossip / storage);
    println!("| **p2p-sync end to end** (first `add` typed → B holds all; {:.2} s) | **{end_to_end:.0}** | **{:.2} of min(limits)** |", converged.as_secs_f64(), end_to_end / limit);
    println!();
}

/// 2. One write every 100 ms on node 0 of 5 and of 10; time until the last node applied it.
fn latency(writes: usize) {
    println!("## 2. Propagation latency (one write every 100 ms; add on n0 → applied on the last node)\n");
    println!("| nodes | writes | p50 ms | p99 ms | max ms |");
    println!("|---:|---:|---:|---:|---:|");
    for nodes in [5, 10] {
        let mut samples = cluster::propagation_latencies(nodes, writes);
        samples.sort_by(f64::total_cmp);
        let pick = |q: f64| {
            samples[((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1]
        };
        println!(
            "| {nodes} | {} | {:.2} | {:.2} | {:.2} |",
            samples.len(),
            pick(0.5),
            pick(0.99),
            pick(1.0)
        );
    }
    println!();
}

/// 3. B offline while A writes `count` keys; time and bytes for B to converge after it returns.
fn catch_up(count: usize) {
    let entries = cluster::entries("cu", count);
    let outcome = cluster::catch_up(&entries);
    let raw = cluster::raw_bytes(&entries, &outcome.origin);
    println!("## 3. Catch-up ({count} writes made while B was offline)\n");
    println!("| B restarted → B holds all | reconciliation bytes A→B | B→A | raw record bytes | total / raw |");
    println!("|---:|---:|---:|---:|---:|");
    let total = outcome.bytes_to_b + outcome.bytes_from_b;
    println!(
        "| {:.2} s | {} | {} | {raw} | {:.2} |",
        outcome.elapsed.as_secs_f64(),
        outcome.bytes_to_b,
        outcome.bytes_from_b,
        total as f64 / raw as f64
    );
    println!();
}

/// 5. Resident memory idle and with `keys` keys, and database bytes per key.
fn footprint(keys: usize) {
    let outcome = cluster::footprint(keys);
    println!("## 5. Footprint\n");
    println!("| idle RSS | RSS with {keys} keys | database bytes | bytes per key |");
    println!("|---:|---:|---:|---:|");
    println!(
        "| {:.1} MB | {:.1} MB | {} | {:.0} |",
        outcome.idle_rss_kb as f64 / 1024.0,
        outcome.loaded_rss_kb as f64 / 1024.0,
        outcome.database_bytes,
        outcome.database_bytes as f64 / keys as f64
    );
    println!("\n(Simulator speed, item 4: `cargo bench -p p2p-sync-sim --bench speed`.)");
}
