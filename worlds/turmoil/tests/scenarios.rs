//! Scenario files played by the simulator and by the turmoil world: the same outcome and the
//! same final lists (the short files; ci/fidelity.sh plays every file turmoil can).

use p2p_sync_turmoil::compare;

/// Scenario files that take seconds in a debug build.
const FILES: [&str; 5] = [
    "two-node-sync",
    "partition-heal",
    "concurrent-equal-clocks",
    "delete-races-put",
    "oneway-partition",
];

#[test]
fn short_files_pass_in_both_worlds_with_the_same_lists() {
    let world = env!("CARGO_BIN_EXE_p2p-sync-turmoil");
    for file in FILES {
        let path = format!("{}/../../scenarios/{file}.toml", env!("CARGO_MANIFEST_DIR"));
        let row = compare::row(&path, world);
        assert_eq!(
            (
                row.sim.as_str(),
                row.turmoil.as_str(),
                row.same_lists.as_str()
            ),
            ("pass", "pass", "yes"),
            "{file}: {:?}",
            row.note
        );
    }
}
