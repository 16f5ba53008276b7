//! The step timeline: steps by time, then in file order; a `writes` step acts once per batch
//! and an attack once per message, [`repetitions`] apart. A world that keeps its own event
//! queue (the simulator, whose steps interleave with deliveries) schedules steps there and takes
//! only [`repetitions`]; any other plays [`Timeline`].

use crate::scenario::{Action, Step};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// How many times a step acts and how far apart (ms): a `writes` step once per batch, an
/// attack once per message; `None` for a step that acts once.
pub fn repetitions(action: &Action) -> Option<(u64, u64)> {
    match action {
        Action::Writes(writes) => Some((writes.count.div_ceil(writes.batch), writes.interval_ms)),
        Action::Attack(attack) => Some((attack.count, attack.interval_ms)),
        _ => None,
    }
}

/// A step due to act.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    /// When (scenario ms).
    pub at_ms: u64,
    /// The step's index in the scenario.
    pub step: usize,
    /// Which of its [`repetitions`] this is (0 for a step that acts once).
    pub repetition: u64,
}

/// A scenario's steps in the order a world plays them. Taking a repetition queues the next
/// one, after the steps already due at its time.
#[derive(Debug)]
pub struct Timeline<'a> {
    steps: &'a [Step],
    /// (time, sequence number, step, repetition), earliest first.
    queue: BinaryHeap<Reverse<(u64, usize, usize, u64)>>,
    sequence: usize,
}

impl<'a> Timeline<'a> {
    /// The timeline of `steps`.
    pub fn new(steps: &'a [Step]) -> Self {
        let queue: BinaryHeap<_> = steps
            .iter()
            .enumerate()
            .map(|(index, step)| Reverse((step.at_ms, index, index, 0)))
            .collect();
        Timeline {
            steps,
            sequence: queue.len(),
            queue,
        }
    }
}

impl Iterator for Timeline<'_> {
    type Item = Due;

    fn next(&mut self) -> Option<Due> {
        let Reverse((at_ms, _, step, repetition)) = self.queue.pop()?;
        if let Some((count, interval_ms)) = repetitions(&self.steps[step].action) {
            if repetition + 1 < count {
                let next = (at_ms + interval_ms, self.sequence, step, repetition + 1);
                self.queue.push(Reverse(next));
                self.sequence += 1;
            }
        }
        Some(Due {
            at_ms,
            step,
            repetition,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    #[test]
    fn steps_run_by_time_then_file_order_and_repetitions_after_the_steps_already_due() {
        let scenario = parse(
            r#"name = "t"
nodes = 2
[[step]]
at = "1s"
heal = true
[[step]]
at = "0s"
writes = { node = "n0", count = 3, per_second = 1 }
[[step]]
at = "1s"
crash = "n1"
"#,
            "t.toml",
        )
        .unwrap();
        let order: Vec<(u64, usize, u64)> = Timeline::new(&scenario.steps)
            .map(|due| (due.at_ms, due.step, due.repetition))
            .collect();
        assert_eq!(
            order,
            [
                (0, 1, 0),
                (1000, 0, 0),
                (1000, 2, 0),
                (1000, 1, 1),
                (2000, 1, 2)
            ]
        );
    }
}
