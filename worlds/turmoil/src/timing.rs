//! How fast the world runs: wall time per virtual second at a number of hosts, with a write
//! every virtual second on one host after another.

use crate::world::{Layout, TurmoilWorld};
use std::time::Duration;

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    /// Hosts in the world.
    pub hosts: usize,
    /// Wall time to start the nodes and let them connect (the first `warmup` virtual seconds).
    pub warmup_wall: Duration,
    /// Wall time per virtual second after that.
    pub wall_per_virtual_second: Duration,
    /// How many hosts listed every write at the end.
    pub converged: usize,
}

/// Measures a world of `hosts` hosts stepping `tick` at a time for `warmup` then `measured`
/// virtual seconds.
pub fn measure(
    hosts: usize,
    seed: u64,
    tick: Duration,
    warmup: u64,
    measured: u64,
) -> turmoil::Result<Row> {
    let layout = Layout {
        tick,
        ..Layout::new(hosts, seed)
    };
    let mut world = TurmoilWorld::new(&layout)?;
    let started = real_now();
    world.run_for(Duration::from_secs(warmup))?;
    let warmed = real_now();
    for second in 0..measured {
        let index = second as usize % hosts;
        world.put(index, &format!("k{second}"), &format!("v{second}"));
        world.run_for(Duration::from_secs(1))?;
    }
    let done = real_now();
    let converged = world
        .report()?
        .iter()
        .filter(|view| view.list.len() as u64 == measured)
        .count();
    Ok(Row {
        hosts,
        warmup_wall: warmed - started,
        wall_per_virtual_second: (done - warmed) / measured.max(1) as u32,
        converged,
    })
}

/// The machine's monotonic clock, which the simulation's virtual time leaves alone.
fn real_now() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec to write into.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_RAW, &mut now) };
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}
