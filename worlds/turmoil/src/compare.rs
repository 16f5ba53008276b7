//! The fidelity table: each file played by the simulator and by the turmoil world (in a
//! process of its own: one simulation per process), side by side.

use p2p_sync_scenario::convergence::ConvergenceReport;
use p2p_sync_scenario::duration::format_ms;
use serde_json::Value;
use std::fmt::Write as _;
use std::process::Command;

/// One file's row.
#[derive(Debug, Clone)]
pub struct Row {
    /// The scenario's name, or the file when it is bad.
    pub scenario: String,
    /// The simulator's outcome: `pass`, `FAIL`, `bad file`.
    pub sim: String,
    /// turmoil's outcome: `pass`, `FAIL`, `skipped`, `broken`.
    pub turmoil: String,
    /// Why turmoil skipped the file or broke, if it did.
    pub note: Option<String>,
    /// Whether every node up in both worlds ends with the same `list` (`-`: not comparable).
    pub same_lists: String,
    /// Time to converge in the simulator.
    pub sim_converge: String,
    /// Time to converge in turmoil (observed every 100 ms).
    pub turmoil_converge: String,
}

fn outcome(passed: bool) -> String {
    if passed { "pass" } else { "FAIL" }.to_string()
}

fn converge(convergence: &ConvergenceReport) -> String {
    convergence
        .time_to_converge_ms()
        .map_or_else(|| "-".to_string(), format_ms)
}

/// Plays `file` in both worlds; `world` is this binary, run as `world run FILE --json`.
pub fn row(file: &str, world: &str) -> Row {
    let scenario = match p2p_sync_scenario::load(file) {
        Ok(scenario) => scenario,
        Err(error) => {
            eprintln!("error: {error}");
            return Row {
                scenario: file.into(),
                sim: "bad file".into(),
                turmoil: "bad file".into(),
                note: None,
                same_lists: "-".into(),
                sim_converge: "-".into(),
                turmoil_converge: "-".into(),
            };
        }
    };
    let sim = p2p_sync_sim::run(&scenario, None, None);
    let mut row = Row {
        scenario: scenario.name.clone(),
        sim: outcome(sim.passed()),
        turmoil: String::new(),
        note: None,
        same_lists: "-".into(),
        sim_converge: converge(&sim.convergence),
        turmoil_converge: "-".into(),
    };
    let played = Command::new(world).args(["run", file, "--json"]).output();
    let json: Option<Value> = played
        .as_ref()
        .ok()
        .and_then(|output| serde_json::from_slice(&output.stdout).ok());
    let Some(json) = json else {
        let why = played.map_or_else(
            |e| e.to_string(),
            |o| String::from_utf8_lossy(&o.stderr).trim().to_string(),
        );
        row.turmoil = "broken".into();
        row.note = Some(why);
        return row;
    };
    if let Some(reason) = json["skipped"].as_str() {
        // Refused with a failure: the file names turmoil among its worlds.
        let named = played.is_ok_and(|output| !output.status.success());
        row.turmoil = if named { "FAIL" } else { "skipped" }.into();
        row.note = Some(reason.to_string());
        return row;
    }
    row.turmoil = outcome(json["passed"].as_bool() == Some(true));
    row.turmoil_converge = json["time_to_converge_ms"]
        .as_u64()
        .map_or_else(|| "-".to_string(), format_ms);
    let digests = json["nodes"].as_array().cloned().unwrap_or_default();
    let same = sim.nodes.iter().zip(&digests).all(|(sim, turmoil)| {
        !(sim.up && turmoil["up"].as_bool() == Some(true))
            || turmoil["content"].as_str() == Some(sim.content.as_str())
    });
    row.same_lists = if same { "yes" } else { "no" }.into();
    row
}

impl Row {
    /// Whether both worlds played the file and disagree: on passing it, or on the final lists.
    pub fn differs(&self) -> bool {
        matches!(self.turmoil.as_str(), "pass" | "FAIL")
            && (self.sim != self.turmoil || self.same_lists == "no")
    }
}

/// The table of `rows`, with a header, then why each skipped file was skipped.
pub fn table(rows: &[Row]) -> String {
    let mut text = format!(
        "{:<38} {:<5} {:<8} {:<10} {:>10} {:>12}\n",
        "scenario", "sim", "turmoil", "same lists", "sim conv.", "turmoil conv."
    );
    for row in rows {
        let _ = writeln!(
            text,
            "{:<38} {:<5} {:<8} {:<10} {:>10} {:>12}",
            row.scenario,
            row.sim,
            row.turmoil,
            row.same_lists,
            row.sim_converge,
            row.turmoil_converge
        );
    }
    for row in rows {
        if let Some(note) = &row.note {
            let _ = writeln!(text, "{} {}: {note}", row.turmoil, row.scenario);
        }
    }
    text
}
