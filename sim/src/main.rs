//! `p2p-sync-sim`: plays scenario files. Exit 0 when every expectation holds (or the file's
//! `worlds` leaves out the simulator: it says it skipped it), 1 when one fails, 2 for a bad
//! scenario file.

use clap::{Parser, Subcommand};
use std::io::Write;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    version,
    about = "Deterministic simulator for p2p-sync scenario files",
    after_help = "\
Exit codes:
  0  every expectation held (or, for `check`, the file is valid)
  1  an expectation failed: the step, node, key, expected and found values, seed and replay
     command are printed
  2  a bad scenario file (its line and what is wrong), or bad arguments

The scenario format (TOML) is documented in docs/scenario-format.md and the README's
\"Scenarios\" section; every file in scenarios/ starts with a comment saying what it proves."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Plays a scenario and prints its summary.
    Run {
        /// The scenario file (TOML).
        file: String,
        /// Overrides the file's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Prints the summary as JSON.
        #[arg(long)]
        json: bool,
        /// Prints every event, in order, before the summary.
        #[arg(long)]
        trace: bool,
    },
    /// Checks a scenario file without running it.
    Check {
        /// The scenario file (TOML).
        file: String,
    },
}

fn main() -> ExitCode {
    let (file, run) = match Cli::parse().command {
        Command::Run {
            file,
            seed,
            json,
            trace,
        } => (file, Some((seed, json, trace))),
        Command::Check { file } => (file, None),
    };
    let scenario = match p2p_sync_sim::load(&file) {
        Ok(scenario) => scenario,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let Some((seed, json, trace)) = run else {
        println!(
            "ok: {} ({} nodes, {} attackers, {} steps)",
            scenario.name,
            scenario.nodes,
            scenario.attackers,
            scenario.steps.len()
        );
        return ExitCode::SUCCESS;
    };
    if !scenario.plays_in("sim") {
        println!(
            "skipped: {} declares worlds = {:?}; the simulator does not play it",
            scenario.file, scenario.worlds
        );
        return ExitCode::SUCCESS;
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let report = p2p_sync_sim::run(&scenario, seed, trace.then_some(&mut out as &mut dyn Write));
    let summary = if json {
        report.to_json()
    } else {
        report.to_string()
    };
    // A closed pipe (`| head`) is not the scenario's failure: ignore write errors.
    let _ = writeln!(out, "{summary}");
    if json {
        // Standard output stays one JSON document; the failure explanation goes beside it.
        eprint!("{}", report.failure_text());
    } else {
        let _ = write!(out, "{}", report.failure_text());
    }
    let _ = out.flush();
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
