//! The `p2p-sync-sim` command: exit 0 when every expectation holds, 1 (with the step, node, key,
//! expected and found values, seed and replay command) when one fails, 2 (with file and line)
//! for a bad file.

use std::path::PathBuf;
use std::process::{Command, Output};

fn scenario_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("p2p-sync-sim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write scenario");
    path
}

fn sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_p2p-sync-sim"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const PASSING: &str = r#"
name = "cli-pass"
seed = 3
nodes = 2
[[step]]
at = "1s"
put = { node = "n0", key = "k", value = "v" }
[[step]]
at = "2s"
expect = { node = "n1", key = "k", value = "v" }
"#;

#[test]
fn a_passing_scenario_exits_0_and_is_reproducible() {
    let path = scenario_file("pass.toml", PASSING);
    let path = path.to_str().unwrap();
    let one = sim(&["run", path, "--trace"]);
    assert_eq!(one.status.code(), Some(0), "{}", text(&one.stderr));
    let two = sim(&["run", path, "--trace"]);
    assert_eq!(one.stdout, two.stdout, "byte-identical trace and summary");
    assert!(text(&one.stdout).contains("n0 applied") || text(&one.stdout).contains("n1 applied"));
    let json = sim(&["run", path, "--json"]);
    let parsed: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(parsed["seed"], 3);
    assert_eq!(sim(&["check", path]).status.code(), Some(0));
}

#[test]
fn a_failing_expectation_exits_1_with_what_and_how_to_replay() {
    let failing = PASSING.replace(
        "expect = { node = \"n1\", key = \"k\", value = \"v\" }",
        "expect = { node = \"n1\", key = \"k\", value = \"w\" }",
    );
    let path = scenario_file("fail.toml", &failing);
    let path = path.to_str().unwrap();
    let output = sim(&["run", path, "--seed", "9"]);
    assert_eq!(output.status.code(), Some(1));
    let stdout = text(&output.stdout);
    for needle in [
        "FAILED: expect at line 8",
        "node:     n1",
        "key:      k",
        "expected: \"w\"",
        "found:    \"v\"",
        "seed:     9",
        &format!("replay:   p2p-sync-sim run {path} --seed 9 --trace"),
    ] {
        assert!(
            stdout.contains(needle),
            "{needle:?} missing from:\n{stdout}"
        );
    }
}

#[test]
fn a_bad_file_exits_2_with_its_line() {
    let bad = PASSING.replace(
        "key = \"k\", value = \"v\" }\n[[step]]",
        "key = \"k\" }\n[[step]]",
    );
    let path = scenario_file("bad.toml", &bad);
    let path = path.to_str().unwrap();
    for command in ["run", "check"] {
        let output = sim(&[command, path]);
        assert_eq!(output.status.code(), Some(2));
        let stderr = text(&output.stderr);
        assert!(stderr.contains(&format!("{path}:7:")), "{stderr}");
        assert!(stderr.contains("value"), "{stderr}");
    }
    let missing = sim(&["check", "/nonexistent/scenario.toml"]);
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn explore_reports_its_seeds_and_refuses_a_bad_range() {
    // --out need not exist yet: it is made before the first seed (a failing seed's file is
    // never lost to a missing directory).
    let dir = std::env::temp_dir().join(format!("p2p-sync-sim-explore-{}", std::process::id()));
    let out = dir.join("not/yet");
    let out = out.to_str().unwrap();
    let output = sim(&["explore", "--seeds", "0..2", "--out", out]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stdout));
    assert!(std::path::Path::new(out).is_dir());
    assert!(
        text(&output.stdout).contains("explored seeds 0..2 (2)"),
        "{}",
        text(&output.stdout)
    );
    for range in ["5..5", "x..3", "7"] {
        let output = sim(&["explore", "--seeds", range, "--out", out]);
        assert_eq!(output.status.code(), Some(2), "{range}");
        assert!(
            text(&output.stderr).contains(range),
            "{}",
            text(&output.stderr)
        );
    }
    std::fs::remove_dir_all(&dir).expect("clean up");
}
