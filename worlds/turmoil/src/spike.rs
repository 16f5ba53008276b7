//! The spike: two real nodes in turmoil put and get, are partitioned and healed, and one
//! crashes and comes back on its SQLite file. Each stage checks what both nodes list.

use crate::world::{Layout, TurmoilWorld};
use std::time::Duration;

/// The keys both nodes must list at the end, and their values.
const FINAL: [(&str, &str); 4] = [("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")];

/// Runs the spike with `seed`; returns the trace and the stages that failed (none if it
/// passed).
pub fn run(seed: u64) -> turmoil::Result<(String, Vec<String>)> {
    let mut world = TurmoilWorld::new(&Layout::new(2, seed))?;
    let mut failed = Vec::new();
    world.run_for(Duration::from_secs(3))?;
    world.put(0, "a", "1");
    world.run_for(Duration::from_secs(2))?;
    failed.extend(check(&mut world, "put/get", &FINAL[..1])?);

    world.partition(0, 1);
    world.put(0, "b", "2");
    world.put(1, "c", "3");
    world.run_for(Duration::from_secs(5))?;
    let views = world.report()?;
    if views[0].list.len() != 2 || views[1].list.len() != 2 {
        failed.push(format!("partition: a write crossed it: {views:?}"));
    }
    world.repair(0, 1);
    world.run_for(Duration::from_secs(30))?;
    failed.extend(check(&mut world, "heal", &FINAL[..3])?);

    world.crash(1);
    world.put(0, "d", "4");
    world.run_for(Duration::from_secs(3))?;
    world.bounce(1);
    world.run_for(Duration::from_secs(30))?;
    failed.extend(check(&mut world, "crash and restart", &FINAL)?);
    Ok((world.trace().text(), failed))
}

/// What each node lists that differs from `want`, one line per node, named by `stage`.
fn check(
    world: &mut TurmoilWorld,
    stage: &str,
    want: &[(&str, &str)],
) -> turmoil::Result<Vec<String>> {
    let mut failed = Vec::new();
    for (index, view) in world.report()?.iter().enumerate() {
        let got: Vec<(&str, &str)> = view
            .list
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
            .collect();
        if got != want {
            failed.push(format!("{stage}: n{index} lists {got:?}, want {want:?}"));
        }
    }
    Ok(failed)
}
