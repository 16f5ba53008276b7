//! `p2p-sync-turmoil`: the real node in a deterministic turmoil world.
//!
//! - `spike [--seed N] [--trace]`: two nodes through put/get, a partition and a crash.
//! - `timing [--hosts 2,5,10,20,30] [--seconds N]`: wall time per virtual second.
//! - `run FILE [--seed N] [--json] [--trace]`: plays a scenario file.
//! - `compare FILE…`: the fidelity table, simulator against turmoil.
//!
//! One simulation per process: the process's randomness and clocks are the world's
//! (src/overrides.rs).

mod overrides;

use clap::{Parser, Subcommand};
use p2p_sync_scenario::report::failure_text;
use p2p_sync_turmoil::{clock, compare, play, spike, timing};
use std::process::ExitCode;

#[derive(Parser)]
#[command(about = "The real p2p-sync node in a deterministic turmoil world")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Two nodes: put/get, partition and heal, crash and restart on the same SQLite file.
    Spike {
        /// The world's seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Print the trace (and the nodes' own log lines, stamped with virtual time).
        #[arg(long)]
        trace: bool,
    },
    /// Plays a scenario file.
    Run {
        /// The scenario file.
        file: String,
        /// The seed (the file's own by default).
        #[arg(long)]
        seed: Option<u64>,
        /// Print the outcome as one JSON document.
        #[arg(long)]
        json: bool,
        /// Print the trace (and the nodes' own log lines) first.
        #[arg(long)]
        trace: bool,
    },
    /// The fidelity table: each file in the simulator and in turmoil; exit 1 when a file
    /// passes in one and fails in the other, or their final lists differ.
    Compare {
        /// Scenario files.
        #[arg(required = true)]
        files: Vec<String>,
    },
    /// Wall time per virtual second at each number of hosts.
    Timing {
        /// Numbers of hosts, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "2,5,10,20,30")]
        hosts: Vec<usize>,
        /// Virtual seconds measured after a warm-up of 5.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// The world's seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// How far virtual time moves per step, in ms.
        #[arg(long, default_value_t = 1)]
        tick_ms: u64,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    match args.command {
        Command::Spike { seed, trace } => {
            overrides::install(seed);
            if trace {
                log_to_stdout();
            }
            match spike::run(seed) {
                Ok((text, failed)) => {
                    if trace {
                        print!("{text}");
                    }
                    for failure in &failed {
                        println!("FAILED {failure}");
                    }
                    if failed.is_empty() {
                        println!("spike passed (seed {seed})");
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::FAILURE
                    }
                }
                Err(error) => {
                    println!("spike stopped: {error}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Run {
            file,
            seed,
            json,
            trace,
        } => run(&file, seed, json, trace),
        Command::Compare { files } => {
            let world = std::env::current_exe().expect("this binary's path");
            let world = world.to_string_lossy();
            let rows: Vec<compare::Row> = files
                .iter()
                .map(|file| compare::row(file, &world))
                .collect();
            print!("{}", compare::table(&rows));
            match rows.iter().any(compare::Row::differs) {
                true => ExitCode::FAILURE,
                false => ExitCode::SUCCESS,
            }
        }
        Command::Timing {
            hosts,
            seconds,
            seed,
            tick_ms,
        } => {
            overrides::install(seed);
            println!("| hosts | start-up 5 virtual s (wall) | wall per virtual s | × real time | converged |");
            println!("|---|---|---|---|---|");
            for count in hosts {
                let tick = std::time::Duration::from_millis(tick_ms);
                match timing::measure(count, seed, tick, 5, seconds) {
                    Ok(row) => println!(
                        "| {} | {:.2} s | {:.3} s | {:.1} | {}/{} |",
                        row.hosts,
                        row.warmup_wall.as_secs_f64(),
                        row.wall_per_virtual_second.as_secs_f64(),
                        1.0 / row.wall_per_virtual_second.as_secs_f64().max(1e-9),
                        row.converged,
                        row.hosts
                    ),
                    Err(error) => println!("| {count} | stopped: {error} | | | |"),
                }
            }
            ExitCode::SUCCESS
        }
    }
}

/// Plays `file`: exit 0 when every expectation held (or turmoil cannot play it: said why),
/// 1 when one failed or the run broke, 2 for a bad file.
fn run(file: &str, seed: Option<u64>, json: bool, trace: bool) -> ExitCode {
    let scenario = match p2p_sync_scenario::load(file) {
        Ok(scenario) => scenario,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let seed = seed.unwrap_or(scenario.seed);
    if let Some(reason) = play::refuse::unplayable(&scenario) {
        match json {
            true => println!(
                "{}",
                serde_json::json!({ "scenario": scenario.name, "skipped": reason })
            ),
            false => println!("skipped: turmoil cannot play {file}: {reason}"),
        }
        // A file that names turmoil among its worlds must be played: a step it cannot play
        // would otherwise drop the file's turmoil coverage without a word.
        let named = scenario.worlds.iter().any(|world| world == "turmoil");
        return if named {
            eprintln!("{file} names turmoil in its worlds, but turmoil cannot play it");
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        };
    }
    overrides::install(seed);
    if trace {
        log_to_stdout();
    }
    let outcome = match play::run(&scenario, seed) {
        Ok(outcome) => outcome,
        Err(error) => {
            eprintln!("broken: {error}");
            return ExitCode::FAILURE;
        }
    };
    if trace {
        print!("{}", outcome.trace);
    }
    let passed = outcome.failures.is_empty();
    if json {
        let nodes: Vec<serde_json::Value> = outcome
            .lists
            .iter()
            .zip(&outcome.up)
            .map(|(list, up)| {
                serde_json::json!({
                    "up": up,
                    "content": format!("{:016x}", p2p_sync_scenario::report::content_digest(list)),
                    "keys": list.len(),
                })
            })
            .collect();
        let summary = serde_json::json!({
            "scenario": scenario.name,
            "seed": seed,
            "passed": passed,
            "failures": outcome.failures,
            "convergence": outcome.convergence,
            "time_to_converge_ms": outcome.convergence.time_to_converge_ms(),
            "nodes": nodes,
        });
        println!("{summary}");
    } else {
        println!(
            "{}: {} (seed {seed})",
            scenario.name,
            if passed { "passed" } else { "FAILED" }
        );
        println!("{}", outcome.convergence);
        let replay = format!("p2p-sync-turmoil run {file} --seed {seed}");
        print!("{}", failure_text(file, seed, &outcome.failures, &replay));
    }
    if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The nodes' log lines (p2p_sync's, debug and up) on standard output, stamped with virtual
/// time and the host (turmoil's `node` span).
fn log_to_stdout() {
    struct Virtual;
    impl tracing_subscriber::fmt::time::FormatTime for Virtual {
        fn format_time(
            &self,
            w: &mut tracing_subscriber::fmt::format::Writer<'_>,
        ) -> std::fmt::Result {
            write!(w, "{:>9.3}", clock::elapsed().as_secs_f64())
        }
    }
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("p2p_sync=debug"))
        .with_timer(Virtual)
        .with_ansi(false)
        .with_writer(std::io::stdout)
        .init();
}
