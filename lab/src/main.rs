//! `p2p-sync-lab`: plays scenario files on real nodes in a LAN of network namespaces.
//! Exit 0 when every expectation holds (or the file's `worlds` leaves the LAN out: it says it
//! skipped it), 1 when one fails or the run breaks, 2 for a bad file, 3 when this machine
//! cannot run it (not root, no iproute2 or nftables, no netem), 130 when interrupted.

use clap::{Parser, Subcommand};
use p2p_sync_lab::compare;
use p2p_sync_lab::player::{self, Options, Outcome, RunError};
use p2p_sync_lab::world::Binaries;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    version,
    about = "Plays p2p-sync scenario files on real nodes in network namespaces"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Options every subcommand takes.
#[derive(clap::Args)]
struct Common {
    /// Overrides the file's seed (for the run's own choices: writers, drawn keys).
    #[arg(long)]
    seed: Option<u64>,
    /// Real seconds per scenario second.
    #[arg(long, default_value_t = 1.0, value_parser = positive)]
    time_scale: f64,
    /// The p2p-sync binary [default: next to this one]
    #[arg(long, value_name = "PATH")]
    node_bin: Option<PathBuf>,
    /// The p2p-sync-hostile binary [default: next to this one]
    #[arg(long, value_name = "PATH")]
    hostile_bin: Option<PathBuf>,
    /// Keeps each run's data directories and node logs (the path goes to stderr).
    #[arg(long)]
    keep: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Plays a scenario on the LAN and prints its summary.
    Run {
        /// The scenario file (TOML).
        file: String,
        #[command(flatten)]
        common: Common,
    },
    /// Plays scenarios in the simulator and on the LAN and prints the fidelity table; exit 1
    /// when a file passes in one world and fails in the other.
    Compare {
        /// The scenario files.
        #[arg(required = true)]
        files: Vec<String>,
        #[command(flatten)]
        common: Common,
    },
}

fn positive(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(scale) if scale.is_finite() && scale > 0.0 => Ok(scale),
        _ => Err("expected a number above 0, e.g. 1.5".into()),
    }
}

fn options(common: &Common) -> Options {
    let sibling = |name: &str| {
        let exe = std::env::current_exe().unwrap_or_default();
        exe.with_file_name(name)
    };
    Options {
        seed: common.seed,
        keep: common.keep,
        time_scale: common.time_scale,
        binaries: Binaries {
            node: common
                .node_bin
                .clone()
                .unwrap_or_else(|| sibling("p2p-sync")),
            hostile: common
                .hostile_bin
                .clone()
                .unwrap_or_else(|| sibling("p2p-sync-hostile")),
        },
    }
}

const CANNOT_RUN: u8 = 3;
const INTERRUPTED: u8 = 130;

fn run(file: &str, options: &Options) -> ExitCode {
    let scenario = match p2p_sync_scenario::load(file) {
        Ok(scenario) => scenario,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    match player::play(&scenario, options) {
        Ok(Outcome::Skipped(reason)) => {
            println!("skipped: {reason}");
            ExitCode::SUCCESS
        }
        Ok(Outcome::Played(report)) => {
            print!("{report}{}", report.failure_text());
            ExitCode::from(if report.summary.passed() { 0 } else { 1 })
        }
        Err(RunError::CannotRun(reason)) => {
            eprintln!("cannot run here: {reason}");
            ExitCode::from(CANNOT_RUN)
        }
        Err(RunError::Broken(reason)) => {
            eprintln!("FAILED: the run broke: {reason}");
            ExitCode::from(1)
        }
        Err(RunError::Interrupted) => {
            eprintln!("interrupted; everything the run made is removed");
            ExitCode::from(INTERRUPTED)
        }
    }
}

fn compare(files: &[String], options: &Options) -> ExitCode {
    let mut rows = Vec::new();
    for file in files {
        match compare::row(file, options) {
            Ok(row) => {
                eprintln!("{}: sim {}, lan {}", row.scenario, row.sim, row.lan);
                rows.push(row);
            }
            Err(reason) => {
                eprintln!("cannot run here: {reason}");
                return ExitCode::from(CANNOT_RUN);
            }
        }
    }
    print!("{}", compare::table(&rows));
    let bad = rows
        .iter()
        .any(|row| row.differs() || row.lan.starts_with("broken"));
    ExitCode::from(if bad { 1 } else { 0 })
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Run { file, common } => run(&file, &options(&common)),
        Command::Compare { files, common } => compare(&files, &options(&common)),
    }
}
