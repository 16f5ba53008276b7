//! The engine's guarantees: determinism per seed, seeds that matter, and the fault model
//! (crashes lose messages in flight but not the store; partitions stop gossip and direct sync).

use p2p_sync_scenario::{parse, Scenario};
use p2p_sync_sim::{run, Report};

fn scenario(steps: &str, nodes: usize, network: &str) -> Scenario {
    let text = format!("name = \"t\"\nseed = 1\nnodes = {nodes}\n{network}\n{steps}");
    parse(&text, "inline.toml").unwrap_or_else(|e| panic!("{e}"))
}

fn traced(scenario: &Scenario, seed: u64) -> (Report, String) {
    let mut trace = Vec::new();
    let report = run(scenario, Some(seed), Some(&mut trace));
    (report, String::from_utf8(trace).expect("the trace is text"))
}

const LOSSY: &str = "[network]\nlatency_ms = [1, 50]\nloss = 0.3\nduplicate = 0.2\n";

const WRITES: &str = r#"
[[step]]
at = "0s"
writes = { count = 100, per_second = 50, keys = 10 }
[[step]]
at = "60s"
expect = { converged = true }
"#;

#[test]
fn the_same_seed_gives_the_same_trace_and_another_seed_another() {
    let scenario = scenario(WRITES, 12, LOSSY);
    let (one, trace_one) = traced(&scenario, 5);
    let (two, trace_two) = traced(&scenario, 5);
    assert!(one.passed(), "{one}");
    assert_eq!(trace_one, trace_two);
    assert_eq!(one.to_json(), two.to_json());
    let (three, trace_three) = traced(&scenario, 6);
    assert!(three.passed(), "{three}");
    assert_ne!(trace_one, trace_three);
}

#[test]
fn tracing_does_not_change_the_run() {
    let scenario = scenario(WRITES, 12, LOSSY);
    let (traced_report, _) = traced(&scenario, 5);
    let untraced = run(&scenario, Some(5), None);
    assert_eq!(traced_report.to_string(), untraced.to_string());
}

#[test]
fn events_run_in_time_order() {
    let (_, trace) = traced(&scenario(WRITES, 12, LOSSY), 2);
    let times: Vec<f64> = trace
        .lines()
        .map(|line| {
            let time = line.split_whitespace().next().expect("a time");
            time.trim_end_matches('s').parse().expect("seconds")
        })
        .collect();
    assert!(times.windows(2).all(|pair| pair[0] <= pair[1]));
}

#[test]
fn a_crash_loses_messages_in_flight_but_not_the_store() {
    let steps = r#"
[[step]]
at = "1s"
put = { node = "n0", key = "k", value = "v" }
[[step]]
at = "1s"
crash = "n1"
[[step]]
at = "2s"
expect = { node = "n1", key = "k", absent = true }
[[step]]
at = "3s"
restart = "n1"
[[step]]
at = "4s"
expect = { node = "n1", key = "k", value = "v" }
"#;
    let (report, trace) = traced(&scenario(steps, 2, ""), 1);
    assert!(report.passed(), "{report}{}", report.failure_text());
    assert!(report.network.dropped_disconnected >= 1, "{report}");
    assert!(trace.contains("connection n0-n1 down"));
    assert_eq!(
        report.convergence.after_recovery_ms.map(|ms| ms < 1000),
        Some(true)
    );
}

#[test]
fn a_partition_stops_gossip_and_a_heal_reconciles() {
    let steps = r#"
[[step]]
at = "1s"
partition = [["n0"], ["n1", "n2"]]
[[step]]
at = "2s"
put = { node = "n1", key = "k", value = "v" }
[[step]]
at = "3s"
expect = { node = "n2", key = "k", value = "v" }
[[step]]
at = "3s"
expect = { node = "n0", key = "k", absent = true }
[[step]]
at = "4s"
heal = true
[[step]]
at = "5s"
expect = { converged = true }
"#;
    let report = run(&scenario(steps, 3, ""), None, None);
    assert!(report.passed(), "{report}{}", report.failure_text());
    assert!(
        report.nodes[0].counters.reconciled_writes_received >= 1,
        "{report}"
    );
}

#[test]
fn thirty_nodes_receive_about_the_mesh_degree_of_copies_per_write_not_one_per_peer() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/mesh-thirty-nodes.toml"
    );
    let text = std::fs::read_to_string(path).expect("the scenario file");
    let scenario = parse(&text, path).unwrap_or_else(|e| panic!("{e}"));
    let report = run(&scenario, None, None);
    assert!(report.passed(), "{}", report.failure_text());
    let config = p2p_sync_core::Config::default();
    let copies = report
        .gossip_per_write_per_node
        .expect("the scenario publishes writes");
    // One copy flood-published by the author, then one from each mesh peer that has not
    // already had it from us: about D, never near the 29 peers each node is connected to.
    assert!(
        (config.mesh_n_low as f64 - 1.0..=config.mesh_n_high as f64).contains(&copies),
        "{copies:.2} copies per write per node\n{report}"
    );
    for node in &report.nodes {
        assert_eq!(node.peers, scenario.nodes - 1, "every pair is connected");
        assert!(
            (config.mesh_n_low..=config.mesh_n_high).contains(&node.mesh),
            "{} has {} mesh peers",
            node.name,
            node.mesh
        );
    }
}

/// A private network's peers are members, with `Config::member_rate_factor` times a stranger's
/// budgets, in the simulator as on a real node: both take who is a member from
/// `Membership::of_network` (the real node when it enforces its allow-list). 300 puts in 3 s by
/// one author are over a stranger's 100 gossip messages a minute, within a member's 1,000.
#[test]
fn private_network_members_get_the_member_factor_as_on_a_real_node() {
    let steps = r#"
[[step]]
at = "0s"
writes = { node = "n1", count = 300, per_second = 100 }
[[step]]
at = "20s"
expect = { converged = true }
"#;
    let rate_limited = |private: &str| {
        let report = run(&scenario(steps, 2, private), None, None);
        assert!(report.passed(), "{report}");
        report.nodes[0].counters.dropped.rate_limited
    };
    assert!(rate_limited("") > 0, "a stranger's budget is spent");
    assert_eq!(rate_limited("private = true"), 0, "a member's is not");
}
