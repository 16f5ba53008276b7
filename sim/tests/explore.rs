//! The explorer: generated runs read back as the same scenario, seeds enable different faults,
//! a failing run shrinks and replays byte for byte from its file, and a fixed range of seeds
//! passes the history checker (the CI-sized exploration).

use p2p_sync_scenario::parse;
use p2p_sync_scenario::scenario::{Action, Step};
use p2p_sync_sim::explore::{self, shrink, Options, Run};
use p2p_sync_sim::run;
use std::collections::BTreeSet;
use std::time::Instant;

fn options() -> Options {
    Options {
        nodes: 2..=7,
        safety_ms: 60_000,
    }
}

/// The kind of each step, as the file names it.
fn kinds(run: &Run) -> BTreeSet<String> {
    let names = run.scenario(0).names();
    run.steps
        .iter()
        .map(|step| {
            let text = p2p_sync_scenario::emit::action(&step.action, &names);
            text.split(' ').next().unwrap_or_default().to_string()
        })
        .collect()
}

#[test]
fn a_generated_run_reads_back_as_the_same_scenario() {
    for seed in 0..40 {
        let scenario = Run::generate(seed, &options()).scenario(seed);
        let text = p2p_sync_scenario::emit::emit(&scenario, "generated");
        let again = parse(&text, "generated.toml").unwrap_or_else(|e| panic!("{e}\n{text}"));
        let actions = |steps: &[Step]| -> Vec<(u64, Action)> {
            steps.iter().map(|s| (s.at_ms, s.action.clone())).collect()
        };
        assert_eq!(
            actions(&scenario.steps),
            actions(&again.steps),
            "seed {seed}"
        );
        assert_eq!(scenario.network, again.network);
    }
}

#[test]
fn seeds_draw_which_faults_they_enable() {
    let runs: Vec<BTreeSet<String>> = (0..60)
        .map(|seed| kinds(&Run::generate(seed, &options())))
        .collect();
    let every_kind = [
        "put",
        "delete",
        "writes",
        "partition",
        "partition_oneway",
        "heal",
        "crash",
        "restart",
        "network",
        "skew",
        "flood",
        "oversized",
        "malformed",
        "invalid",
        "raw",
        "store_fail",
        "disk_full",
        "disk_ok",
        "store_slow",
    ];
    for kind in every_kind {
        let with = runs.iter().filter(|kinds| kinds.contains(kind)).count();
        assert!(with > 0, "no seed generated {kind}");
        if !["put", "writes"].contains(&kind) {
            assert!(
                with < runs.len(),
                "every seed generated {kind}: nothing is left out"
            );
        }
    }
}

/// A run the checker must fail: n1's clock is beyond the bound, so honest writes are dropped as
/// from the future. The noise around it must shrink away.
fn failing_run() -> Run {
    let mut run = Run::generate(7, &options());
    run.steps
        .retain(|step| !matches!(step.action, Action::Skew { .. }));
    let skew = Step {
        at_ms: 0,
        line: 0,
        action: Action::Skew {
            node: 1,
            ms: 400_000,
        },
    };
    run.steps.insert(0, skew);
    run.steps.push(Step {
        at_ms: 1_000,
        line: 0,
        action: Action::Put {
            node: 1,
            key: "ahead".into(),
            value: "v".into(),
        },
    });
    run.steps.sort_by_key(|step| step.at_ms);
    run
}

#[test]
fn a_failing_run_shrinks_and_its_file_replays_byte_for_byte() {
    let seed = 7;
    let original = failing_run();
    let (_, report) = original.play(seed, "");
    assert!(!report.passed(), "{report}");
    let wanted = explore::signature(&report);
    let (shrunk, tries) = shrink::shrink(&original, seed);
    assert!(tries <= shrink::BUDGET);
    assert!(
        shrunk.steps.len() < original.steps.len() && shrunk.steps.len() <= 3,
        "{shrunk:?}"
    );
    assert!(shrunk.nodes <= 2, "{shrunk:?}");
    let found = explore::Found {
        seed,
        original,
        report: shrunk.play(seed, "").1,
        shrunk,
        tries,
    };
    assert_eq!(explore::signature(&found.report), wanted);
    let text = found.file("found.toml");
    assert!(
        text.starts_with("# Found by `p2p-sync-sim explore`, seed 7"),
        "{text}"
    );
    let scenario = parse(&text, "found.toml").unwrap_or_else(|e| panic!("{e}"));
    let (mut one, mut two) = (Vec::new(), Vec::new());
    let first = run(&scenario, None, Some(&mut one));
    let second = run(&scenario, None, Some(&mut two));
    assert!(!first.passed());
    assert_eq!(one, two, "the file replays byte for byte");
    assert_eq!(first.to_string(), second.to_string());
    assert_eq!(
        explore::signature(&first),
        wanted,
        "and fails as the explorer saw"
    );
}

/// Seeds the CI explores: about a minute of debug-build time on two cores (about 12 seeds a
/// second; the release bench explores 10,000).
const CI_SEEDS: std::ops::Range<u64> = 0..800;

#[test]
fn a_fixed_range_of_seeds_passes_the_history_checker() {
    let started = Instant::now();
    let mut events = 0;
    for seed in CI_SEEDS {
        match explore::investigate(seed, &options()) {
            Ok(played) => events += played,
            Err(found) => panic!(
                "seed {seed} fails:\n{}\n{}",
                found.report.failure_text(),
                found.file(&format!("explore-seed-{seed}.toml"))
            ),
        }
    }
    let wall = started.elapsed().as_secs_f64();
    println!(
        "explored {} seeds in {wall:.1}s: {:.1} seeds/s, {:.0} events/s",
        CI_SEEDS.end - CI_SEEDS.start,
        (CI_SEEDS.end - CI_SEEDS.start) as f64 / wall,
        events as f64 / wall
    );
}
