//! `p2p-sync-turmoil`: the real node in a deterministic turmoil world.
//!
//! - `spike [--seed N] [--trace]`: two nodes through put/get, a partition and a crash.
//! - `timing [--hosts 2,5,10,20,30] [--seconds N]`: wall time per virtual second.
//!
//! One simulation per process: the process's randomness and clocks are the world's
//! (src/overrides.rs).

mod overrides;

use clap::{Parser, Subcommand};
use p2p_sync_turmoil::{clock, spike, timing};
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
        Command::Timing {
            hosts,
            seconds,
            seed,
        } => {
            overrides::install(seed);
            println!("| hosts | start-up 5 virtual s (wall) | wall per virtual s | × real time | converged |");
            println!("|---|---|---|---|---|");
            for count in hosts {
                match timing::measure(count, seed, 5, seconds) {
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
