//! `p2p-sync-sim`: plays scenario files and explores generated runs. `run` and `check` exit 0
//! when every expectation holds (or the file's `worlds` leaves out the simulator: `run` says
//! it skipped it), 1 when one fails, 2 for a bad scenario file; `explore` exits 0 when every
//! seed passed, 1 when one failed (its shrunk run is written as a scenario file), 2 for bad
//! arguments.

use clap::{Parser, Subcommand};
use p2p_sync_scenario::duration::format_ms;
use p2p_sync_sim::engine::{Progress, Simulation};
use p2p_sync_sim::explore::{self, Options};
use std::io::{IsTerminal, Write};
use std::ops::Range;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

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
    /// Generates a run from every seed, faults included, and checks it against the history of
    /// acknowledged writes; writes each failing run, shrunk, as a scenario file.
    Explore {
        /// Seeds to explore: `A..B` (B excluded) or `A..=B`.
        #[arg(long, value_parser = parse_range)]
        seeds: Range<u64>,
        /// Honest nodes per run, drawn from `N..M` (M excluded) or `N..=M`.
        #[arg(long, value_parser = parse_range, default_value = "2..=7")]
        nodes: Range<u64>,
        /// Virtual minutes of each run's safety phase (the liveness phase adds 2).
        #[arg(long, default_value_t = 1.0)]
        minutes: f64,
        /// Directory for the scenario files of failing seeds.
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
}

/// `A..B` or `A..=B` as a half-open range.
fn parse_range(text: &str) -> Result<Range<u64>, String> {
    let number = |part: &str| {
        part.trim()
            .parse::<u64>()
            .map_err(|_| format!("{part:?} is not a whole number"))
    };
    let (start, end) = match text.split_once("..=") {
        Some((a, b)) => (number(a)?, number(b)?.saturating_add(1)),
        None => match text.split_once("..") {
            Some((a, b)) => (number(a)?, number(b)?),
            None => return Err(format!("{text:?} is not a range like 0..100 or 0..=99")),
        },
    };
    if start >= end {
        return Err(format!("{text:?} is empty"));
    }
    Ok(start..end)
}

/// Prints `line` over the previous one on standard error, at most every quarter second, and
/// only when standard error is a terminal.
struct Meter {
    on: bool,
    last: Option<Instant>,
}

impl Meter {
    fn new() -> Self {
        Meter {
            on: std::io::stderr().is_terminal(),
            last: None,
        }
    }

    fn show(&mut self, line: impl FnOnce() -> String) {
        let due = self
            .last
            .is_none_or(|last| last.elapsed() >= Duration::from_millis(250));
        if self.on && due {
            self.last = Some(Instant::now());
            eprint!("\r\x1b[2K{}", line());
        }
    }

    fn clear(&mut self) {
        if self.on && self.last.is_some() {
            eprint!("\r\x1b[2K");
            self.last = None;
        }
    }
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Run {
            file,
            seed,
            json,
            trace,
        } => run(&file, seed, json, trace),
        Command::Check { file } => match p2p_sync_scenario::load(&file) {
            Ok(scenario) => {
                println!(
                    "ok: {} ({} nodes, {} attackers, {} steps)",
                    scenario.name,
                    scenario.nodes,
                    scenario.attackers,
                    scenario.steps.len()
                );
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::from(2)
            }
        },
        Command::Explore {
            seeds,
            nodes,
            minutes,
            out,
        } => {
            if nodes.start == 0 || !(minutes > 0.0 && minutes.is_finite()) {
                eprintln!("error: --nodes must start at 1 or more and --minutes be above 0");
                return ExitCode::from(2);
            }
            let options = Options {
                nodes: nodes.start as usize..=nodes.end as usize - 1,
                safety_ms: (minutes * 60_000.0).round() as u64,
            };
            explore_seeds(seeds, &options, &out)
        }
    }
}

fn run(file: &str, seed: Option<u64>, json: bool, trace: bool) -> ExitCode {
    let scenario = match p2p_sync_scenario::load(file) {
        Ok(scenario) => scenario,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
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
    let mut meter = Meter::new();
    let simulation = Simulation::new(
        &scenario,
        seed.unwrap_or(scenario.seed),
        trace.then_some(&mut out as &mut dyn Write),
    );
    let report = simulation.run_observed(&mut |p: Progress| {
        meter.show(|| {
            format!(
                "{}: {} of {} virtual, {} events",
                scenario.file,
                format_ms(p.now_ms),
                format_ms(p.end_ms),
                p.events
            )
        })
    });
    meter.clear();
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

fn explore_seeds(seeds: Range<u64>, options: &Options, out: &std::path::Path) -> ExitCode {
    // Made before the first seed, so a failing seed's shrunk file is never lost to a
    // missing directory.
    if let Err(error) = std::fs::create_dir_all(out) {
        eprintln!("error: cannot make {}: {error}", out.display());
        return ExitCode::from(2);
    }
    let started = Instant::now();
    let total = seeds.end - seeds.start;
    let mut meter = Meter::new();
    let (mut events, mut failing) = (0u64, 0u64);
    for (done, seed) in seeds.clone().enumerate() {
        meter.show(|| {
            let rate = done as f64 / started.elapsed().as_secs_f64().max(1e-9);
            format!("explore: seed {seed} ({done}/{total}), {rate:.1} seeds/s, {failing} failing")
        });
        match explore::investigate(seed, options) {
            Ok(played) => events += played,
            Err(found) => {
                failing += 1;
                meter.clear();
                let path = out.join(format!("explore-seed-{seed}.toml"));
                let shown = path.display().to_string();
                let written = std::fs::write(&path, found.file(&shown));
                let m = &found.report.failures[0].mismatch;
                println!(
                    "seed {seed} FAILED: expected {}; found {}",
                    m.expected, m.found
                );
                println!(
                    "  shrunk from {} nodes, {} steps to {} nodes, {} steps in {} runs",
                    found.original.nodes,
                    found.original.steps.len(),
                    found.shrunk.nodes,
                    found.shrunk.steps.len(),
                    found.tries
                );
                match written {
                    Ok(()) => println!("  wrote {shown}; replay: p2p-sync-sim run {shown} --trace"),
                    Err(error) => {
                        eprintln!("error: cannot write {shown}: {error}");
                        return ExitCode::from(2);
                    }
                }
            }
        }
    }
    meter.clear();
    let wall = started.elapsed().as_secs_f64().max(1e-9);
    println!(
        "explored seeds {}..{} ({total}) in {wall:.1}s: {:.1} seeds/s, {:.0} events/s; {failing} failing",
        seeds.start,
        seeds.end,
        total as f64 / wall,
        events as f64 / wall
    );
    if failing == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
