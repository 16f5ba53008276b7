//! The LAN runner's own tests: a bad file exits 2, a machine that cannot run it exits 3, a
//! file for the simulator only is skipped, and (as root: CI) a scenario whose expectation
//! cannot hold on real nodes exits 1 with the simulator's failure text, a Ctrl-C ends a run
//! with everything it made removed. Without root the real runs say `SKIPPED` on stderr, and in
//! CI (`CI=true`) they fail instead.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const LAB: &str = env!("CARGO_BIN_EXE_p2p-sync-lab");

/// A scenario file with `text` in a fresh directory (kept alive by the returned guard).
fn scenario(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

fn lab(args: &[&str], path: &Path, env: &[(&str, &str)]) -> Output {
    Command::new(LAB)
        .args(args)
        .arg(path)
        .envs(env.iter().copied())
        .output()
        .expect("run p2p-sync-lab")
}

fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

/// Whether real runs can happen here (root, iproute2, nftables); says why not (and fails in
/// CI, which installs them: `ci/install-deps.sh`).
fn root_or_skip() -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0");
    let has = |program: &str, flag: &str| {
        Command::new(program)
            .arg(flag)
            .output()
            .is_ok_and(|out| out.status.success())
    };
    let missing = if !root {
        Some("real runs need root")
    } else if !has("ip", "-V") {
        Some("real runs need iproute2 (bash ci/install-deps.sh installs it)")
    } else if !has("nft", "--version") {
        Some("real runs need nftables (bash ci/install-deps.sh installs it)")
    } else {
        None
    };
    if let Some(why) = missing {
        if std::env::var("CI").is_ok_and(|ci| ci == "true") {
            panic!("CI must run the LAN runner for real, but {why}");
        }
        let _ = writeln!(std::io::stderr(), "lab: SKIPPED: {why}");
    }
    missing.is_none()
}

/// Builds the node binary next to this one (the runner's default), as `cargo test -p
/// p2p-sync-lab` does not.
fn build_node() {
    let release = Path::new(LAB)
        .parent()
        .is_some_and(|dir| dir.ends_with("release"));
    let mut cargo = Command::new(env!("CARGO"));
    cargo.args(["build", "-p", "p2p-sync", "--bin", "p2p-sync"]);
    if release {
        cargo.arg("--release");
    }
    assert!(cargo.status().expect("run cargo").success());
}

/// Namespaces whose names carry process id `pid` (the runner's prefix).
fn namespaces_of(pid: u32) -> Vec<String> {
    let list = Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&list.stdout)
        .lines()
        .filter(|line| line.starts_with(&format!("p2psync-lab-{pid}-")))
        .map(str::to_string)
        .collect()
}

const HEAD: &str = "name = \"t\"\nnodes = 2\n";

#[test]
fn a_bad_file_exits_2_naming_its_line() {
    let (_dir, path) = scenario(&format!("{HEAD}[[step]]\nat = \"1s\"\nexplode = true\n"));
    let output = lab(&["run"], &path, &[]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(text(&output).contains("t.toml:5:"), "{}", text(&output));
}

#[test]
fn without_root_it_cannot_run_and_exits_3() {
    let (_dir, path) = scenario(&format!("{HEAD}[[step]]\nat = \"1s\"\nheal = true\n"));
    let output = lab(&["run"], &path, &[("P2P_SYNC_LAB_UID", "1000")]);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output));
    assert!(text(&output).contains("needs root"), "{}", text(&output));
}

#[test]
fn a_file_for_the_simulator_only_is_skipped() {
    let file = format!("worlds = [\"sim\"]\n{HEAD}[[step]]\nat = \"1s\"\nheal = true\n");
    let (_dir, path) = scenario(&file);
    let output = lab(&["run"], &path, &[("P2P_SYNC_LAB_UID", "1000")]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(text(&output).starts_with("skipped: "), "{}", text(&output));
}

#[test]
fn a_file_the_lan_cannot_play_is_skipped_the_same_way_whatever_it_holds() {
    for step in [
        "disk_full = { node = \"n0\" }",
        "estimate_bomb = { from = \"a0\", to = \"n0\" }",
        "allow_add = { node = \"n0\", peer = \"n1\" }",
    ] {
        let file =
            format!("name = \"t\"\nnodes = 2\nattackers = 1\n[[step]]\nat = \"1s\"\n{step}\n");
        let (_dir, path) = scenario(&file);
        let output = lab(&["run"], &path, &[("P2P_SYNC_LAB_UID", "1000")]);
        assert_eq!(output.status.code(), Some(0), "{step}: {}", text(&output));
        assert!(
            text(&output).starts_with("skipped: "),
            "{step}: {}",
            text(&output)
        );
    }
}

#[test]
fn every_scenario_file_the_lan_cannot_play_declares_its_worlds() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut undeclared = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let scenario = p2p_sync_scenario::load(&path.display().to_string()).unwrap();
        if let Some(reason) = p2p_sync_lab::player::unsupported(&scenario) {
            if scenario.plays_in("lan") {
                undeclared.push(format!("{} ({reason})", path.display()));
            }
        }
    }
    assert!(
        undeclared.is_empty(),
        "add worlds = [\"sim\"] and say why: {undeclared:#?}"
    );
}

/// A partition holds (n1 never gets `cut`), then an expectation no world can meet fails.
const IMPOSSIBLE: &str = r#"name = "impossible"
nodes = 2

[[step]]
at = "0s"
put = { node = "n0", key = "k", value = "v" }

[[step]]
at = "0.5s"
partition = [["n0"], ["n1"]]

[[step]]
at = "1s"
put = { node = "n0", key = "cut", value = "x" }

[[step]]
at = "2s"
expect = { node = "n1", key = "cut", absent = true }

[[step]]
at = "2s"
expect = { node = "n1", key = "k", value = "other" }
"#;

#[test]
fn an_expectation_that_cannot_hold_exits_1_with_the_failure_text() {
    if !root_or_skip() {
        return;
    }
    build_node();
    let (_dir, path) = scenario(IMPOSSIBLE);
    let output = lab(&["run"], &path, &[]);
    let all = text(&output);
    assert_eq!(output.status.code(), Some(1), "{all}");
    let file = path.display().to_string();
    for line in [
        format!("FAILED: expect at line 20 (2.000s) of {file}\n"),
        "  node:     n1\n  key:      k\n  expected: \"other\"\n  found:    \"v\"\n".to_string(),
        format!("  replay:   p2p-sync-lab run {file} --seed 0\n"),
        "expectations: 1 passed, 1 failed".to_string(),
    ] {
        assert!(all.contains(&line), "missing {line:?} in:\n{all}");
    }
    // Word for word what the simulator says about the same file, but for the replay command.
    let sim = p2p_sync_sim::run(&p2p_sync_scenario::load(&file).unwrap(), None, None);
    let without_replay = |text: &str| -> String {
        let lines = text.lines().filter(|line| !line.starts_with("  replay:"));
        lines.map(|line| format!("{line}\n")).collect()
    };
    let failure = &all[all.find("FAILED: ").unwrap()..];
    assert_eq!(without_replay(failure), without_replay(&sim.failure_text()));
}

#[test]
fn ctrl_c_ends_a_run_and_removes_what_it_made() {
    if !root_or_skip() {
        return;
    }
    build_node();
    let long = format!("{HEAD}[[step]]\nat = \"60s\"\nexpect = {{ converged = true }}\n");
    let (_dir, path) = scenario(&long);
    let mut child = Command::new(LAB).arg("run").arg(&path).spawn().unwrap();
    let pid = child.id();
    let started = Instant::now();
    while namespaces_of(pid).len() < 3 && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(namespaces_of(pid).len(), 3, "a switch and two hosts");
    std::thread::sleep(Duration::from_secs(1));
    let killed = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status();
    assert!(killed.unwrap().success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert_eq!(namespaces_of(pid), Vec::<String>::new());
}
