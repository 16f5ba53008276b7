//! Both worlds side by side: each file played by the simulator and on the LAN, in one table
//! (outcome in each, whether the final lists are the same, time to converge in each).

use crate::player::{self, Options, Outcome, RunError};
use p2p_sync_scenario::convergence::ConvergenceReport;
use p2p_sync_scenario::duration::format_ms;
use std::fmt::Write as _;
use std::time::Instant;

/// One file's row.
#[derive(Debug, Clone)]
pub struct Row {
    /// The scenario's name (or the file, when it is bad).
    pub scenario: String,
    /// The simulator's outcome: `pass`, `FAIL`, `bad file`.
    pub sim: String,
    /// The LAN's outcome: `pass`, `FAIL`, `broken: …`, `skipped`.
    pub lan: String,
    /// Whether every node up in both worlds ends with the same `list` (`-` when not comparable).
    pub same_lists: String,
    /// Time to converge in the simulator (after the last heal/restart, else after t = 0).
    pub sim_converge: String,
    /// The same on the LAN (sampled every 250 ms).
    pub lan_converge: String,
    /// Real seconds the LAN run took, setup included.
    pub lan_seconds: f64,
}

impl Row {
    /// Whether both worlds played the file and disagree on passing it.
    pub fn differs(&self) -> bool {
        matches!(self.sim.as_str(), "pass" | "FAIL")
            && matches!(self.lan.as_str(), "pass" | "FAIL")
            && self.sim != self.lan
    }
}

fn outcome(passed: bool) -> String {
    if passed { "pass" } else { "FAIL" }.to_string()
}

/// Plays `file` in both worlds. `Err` only when this machine cannot run the LAN world.
pub fn row(file: &str, options: &Options) -> Result<Row, String> {
    let scenario = match p2p_sync_scenario::load(file) {
        Ok(scenario) => scenario,
        Err(error) => {
            eprintln!("error: {error}");
            let bad = "bad file".to_string();
            return Ok(Row {
                scenario: file.to_string(),
                sim: bad.clone(),
                lan: bad,
                same_lists: "-".into(),
                sim_converge: "-".into(),
                lan_converge: "-".into(),
                lan_seconds: 0.0,
            });
        }
    };
    let sim = p2p_sync_sim::run(&scenario, options.seed, None);
    let started = Instant::now();
    let lan = player::play(&scenario, options);
    let lan_seconds = started.elapsed().as_secs_f64();
    let show = |convergence: &ConvergenceReport| {
        let ms = convergence.time_to_converge_ms();
        ms.map_or_else(|| "-".to_string(), format_ms)
    };
    let mut row = Row {
        scenario: scenario.name.clone(),
        sim: outcome(sim.passed()),
        lan: String::new(),
        same_lists: "-".into(),
        sim_converge: show(&sim.convergence),
        lan_converge: "-".into(),
        lan_seconds,
    };
    match lan {
        Ok(Outcome::Played(report)) => {
            if !report.summary.passed() {
                eprint!("{}", report.failure_text());
            }
            row.lan = outcome(report.summary.passed());
            row.lan_converge = show(&report.summary.convergence);
            let same = sim
                .nodes
                .iter()
                .zip(&report.summary.nodes)
                .all(|(sim, lan)| {
                    !(sim.up && lan.up)
                        || lan.content.map(|digest| format!("{digest:016x}"))
                            == Some(sim.content.clone())
                });
            row.same_lists = if same { "yes" } else { "no" }.into();
        }
        Ok(Outcome::Skipped(_)) => row.lan = "skipped".into(),
        Err(RunError::CannotRun(reason)) => return Err(reason),
        Err(RunError::Broken(reason)) => row.lan = format!("broken: {reason}"),
        Err(RunError::Interrupted) => return Err("interrupted".into()),
    }
    Ok(row)
}

/// The table of `rows`, one line each, with a header and a total line.
pub fn table(rows: &[Row]) -> String {
    let mut text = format!(
        "{:<38} {:<5} {:<8} {:<11} {:>12} {:>12} {:>7}\n",
        "scenario", "sim", "lan", "same lists", "sim conv.", "lan conv.", "lan s"
    );
    for row in rows {
        let _ = writeln!(
            text,
            "{:<38} {:<5} {:<8} {:<11} {:>12} {:>12} {:>7.1}",
            row.scenario,
            row.sim,
            row.lan,
            row.same_lists,
            row.sim_converge,
            row.lan_converge,
            row.lan_seconds
        );
    }
    let played = rows
        .iter()
        .filter(|row| matches!(row.lan.as_str(), "pass" | "FAIL"));
    let agree = played.clone().filter(|row| !row.differs()).count();
    let total: f64 = rows.iter().map(|row| row.lan_seconds).sum();
    let _ = writeln!(
        text,
        "same outcome in both worlds: {agree} of {} played on the LAN; LAN time {total:.0} s",
        played.count()
    );
    text
}
