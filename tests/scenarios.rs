//! The scenario suite: every file in `scenarios/` played in the simulator with its own seed.
//! Each run must meet its expectations; its summary (digests per node, counters, network
//! counts by reason, convergence time) is compared with an insta snapshot, so a change in
//! behaviour shows up as a snapshot diff. Each scenario is played twice with the same seed and
//! must give the same trace byte for byte, then with a few more seeds, which must also pass.

use p2p_sync_scenario::{parse, Scenario};
use p2p_sync_sim::{run, Report};

fn load(name: &str) -> Scenario {
    let path = format!("{}/../scenarios/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    parse(&text, &format!("scenarios/{name}.toml")).unwrap_or_else(|e| panic!("{e}"))
}

fn traced(scenario: &Scenario) -> (Report, Vec<u8>) {
    let mut trace = Vec::new();
    let report = run(scenario, None, Some(&mut trace));
    (report, trace)
}

fn assert_passed(report: &Report) {
    assert!(report.passed(), "{report}\n{}", report.failure_text());
}

fn assert_same_trace(one: &[u8], two: &[u8]) {
    if one == two {
        return;
    }
    let (one, two) = (String::from_utf8_lossy(one), String::from_utf8_lossy(two));
    let (line, (a, b)) = one
        .lines()
        .zip(two.lines())
        .enumerate()
        .find(|(_, (a, b))| a != b)
        .unwrap_or((
            one.lines().count().min(two.lines().count()),
            ("<end>", "<end>"),
        ));
    panic!("traces differ at line {}:\n  {a}\n  {b}", line + 1);
}

/// Plays scenario `name` as described above, with `extra_seeds` more seeds.
fn play(name: &str, extra_seeds: u64) {
    let scenario = load(name);
    let (report, trace) = traced(&scenario);
    assert_passed(&report);
    let (again, trace_again) = traced(&scenario);
    assert_eq!(
        report.to_string(),
        again.to_string(),
        "same seed, same summary"
    );
    assert_same_trace(&trace, &trace_again);
    insta::assert_snapshot!(name, report.to_string());
    for seed in scenario.seed + 1..=scenario.seed + extra_seeds {
        assert_passed(&run(&scenario, Some(seed), None));
    }
}

macro_rules! scenarios {
    ($($test:ident: $extra_seeds:literal;)*) => {
        $(
            #[test]
            fn $test() {
                play(&stringify!($test).replace('_', "-"), $extra_seeds);
            }
        )*
        const LISTED: &[&str] = &[$(stringify!($test)),*];
    };
}

scenarios! {
    allow_revoke_partition_heal: 3;
    attack_batch_flood: 2;
    attack_estimate_bomb: 2;
    attack_flood: 3;
    attack_forge: 3;
    attack_invalid_key: 3;
    attack_malformed: 3;
    attack_oversized: 3;
    attack_records_flood: 2;
    attack_want_flood: 2;
    catchup_loss: 3;
    catchup_offline_burst: 2;
    catchup_partition_writes_both_sides: 3;
    catchup_rate_limited_bulk: 3;
    clock_skew_beyond_bound: 3;
    clock_slow_peer: 3;
    concurrent_equal_clocks: 3;
    connection_loss_recovery: 3;
    crash_restart_during_writes: 3;
    delete_races_put: 3;
    four_node_mesh: 3;
    hundred_nodes: 1;
    loss_duplication: 3;
    mesh_forwarding: 3;
    mesh_thirty_nodes: 2;
    oneway_partition: 3;
    partition_heal: 3;
    partition_long_heal: 2;
    legacy_wire_format: 3;
    private_outsider: 3;
    reconcile_crossed_sessions: 2;
    silent_peers: 3;
    storage_catch_up_after_disk_full: 3;
    storage_commit_failures: 3;
    storage_disk_full: 3;
    storage_retry_cost: 3;
    storage_slow_disk: 3;
    two_node_sync: 3;
}

#[test]
fn every_scenario_file_has_a_test() {
    let dir = format!("{}/../scenarios", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("scenarios/ exists")
        .map(|entry| {
            entry
                .expect("readable")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter_map(|name| {
            name.strip_suffix(".toml")
                .map(|stem| stem.replace('-', "_"))
        })
        .collect();
    files.sort();
    let mut listed: Vec<String> = LISTED.iter().map(|name| name.to_string()).collect();
    listed.sort();
    assert_eq!(
        files, listed,
        "add the new scenario to the `scenarios!` list"
    );
}
