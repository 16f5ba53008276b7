//! Shrinking a failing run: fewer nodes, attackers, steps and writes, as long as the run still
//! fails the same way (same [`signature`]). Greedy and bounded: each pass tries removing each
//! participant, then chunks of steps from halves down to single steps, then halving counts;
//! it stops when a pass changes nothing or the budget of runs is spent.

use super::{signature, Run};
use p2p_sync_scenario::scenario::{Action, Attack, Step, Writes};

/// Most runs one shrink may play.
pub const BUDGET: usize = 400;

/// Plays candidates, counting them against the budget.
struct Judge {
    seed: u64,
    wanted: Option<String>,
    tries: usize,
}

impl Judge {
    fn spent(&self) -> bool {
        self.tries >= BUDGET
    }

    fn fails(&mut self, candidate: &Run) -> bool {
        self.tries += 1;
        self.wanted.is_some() && signature(&candidate.play(self.seed, "").1) == self.wanted
    }
}

/// The smallest run found that fails like `run` does with `seed`, and the runs it took.
pub fn shrink(run: &Run, seed: u64) -> (Run, usize) {
    let mut judge = Judge {
        seed,
        wanted: signature(&run.play(seed, "").1),
        tries: 0,
    };
    let mut best = run.clone();
    loop {
        let before = best.clone();
        for candidate in participants_removed(&best) {
            if judge.spent() {
                break;
            }
            if judge.fails(&candidate) {
                best = candidate;
                break;
            }
        }
        let mut chunk = best.steps.len().div_ceil(2);
        while chunk > 0 && !judge.spent() {
            let mut start = 0;
            while start < best.steps.len() && !judge.spent() {
                let mut candidate = best.clone();
                let end = (start + chunk).min(candidate.steps.len());
                candidate.steps.drain(start..end);
                if judge.fails(&candidate) {
                    best = candidate;
                } else {
                    start += chunk;
                }
            }
            chunk /= 2;
        }
        for index in 0..best.steps.len() {
            if judge.spent() {
                break;
            }
            if let Some(candidate) = halved(&best, index) {
                if judge.fails(&candidate) {
                    best = candidate;
                }
            }
        }
        if best == before || judge.spent() {
            return (best, judge.tries);
        }
    }
}

/// `run` without each one of its participants in turn (the last one first), keeping at least
/// one honest node.
fn participants_removed(run: &Run) -> Vec<Run> {
    let everyone = run.nodes + run.attackers;
    (0..everyone)
        .rev()
        .filter(|&gone| gone >= run.nodes || run.nodes > 1)
        .map(|gone| without(run, gone))
        .collect()
}

/// `run` without participant `gone`: its steps go, the others are renumbered.
fn without(run: &Run, gone: usize) -> Run {
    let honest = gone < run.nodes;
    let map = |index: usize| match index {
        _ if index == gone => None,
        _ if index > gone => Some(index - 1),
        _ => Some(index),
    };
    Run {
        nodes: run.nodes - usize::from(honest),
        attackers: run.attackers - usize::from(!honest),
        steps: run
            .steps
            .iter()
            .filter_map(|step| {
                Some(Step {
                    action: remap(&step.action, &map)?,
                    ..step.clone()
                })
            })
            .collect(),
        ..run.clone()
    }
}

/// `action` with participants renamed by `map`; `None` when it concerned only the one removed.
fn remap(action: &Action, map: &dyn Fn(usize) -> Option<usize>) -> Option<Action> {
    let all = |list: &[usize]| -> Vec<usize> { list.iter().filter_map(|&i| map(i)).collect() };
    Some(match action {
        Action::Put { node, key, value } => Action::Put {
            node: map(*node)?,
            key: key.clone(),
            value: value.clone(),
        },
        Action::Delete { node, key } => Action::Delete {
            node: map(*node)?,
            key: key.clone(),
        },
        Action::AllowAdd { node, peer } => Action::AllowAdd {
            node: map(*node)?,
            peer: map(*peer)?,
        },
        Action::AllowRemove { node, peer } => Action::AllowRemove {
            node: map(*node)?,
            peer: map(*peer)?,
        },
        Action::Partition(groups) => {
            let groups: Vec<Vec<usize>> = groups
                .iter()
                .map(|group| all(group))
                .filter(|group| !group.is_empty())
                .collect();
            if groups.is_empty() {
                return None;
            }
            Action::Partition(groups)
        }
        Action::OneWay { from, to } => {
            let (from, to) = (all(from), all(to));
            if from.is_empty() || to.is_empty() {
                return None;
            }
            Action::OneWay { from, to }
        }
        Action::Crash(node) => Action::Crash(map(*node)?),
        Action::Restart(node) => Action::Restart(map(*node)?),
        Action::Skew { node, ms } => Action::Skew {
            node: map(*node)?,
            ms: *ms,
        },
        Action::StoreFail { node, rate } => Action::StoreFail {
            node: map(*node)?,
            rate: *rate,
        },
        Action::DiskFull(node) => Action::DiskFull(map(*node)?),
        Action::DiskOk(node) => Action::DiskOk(map(*node)?),
        Action::StoreSlow { node, ms } => Action::StoreSlow {
            node: map(*node)?,
            ms: *ms,
        },
        Action::Writes(writes) => Action::Writes(Writes {
            node: match writes.node {
                Some(node) => Some(map(node)?),
                None => None,
            },
            ..writes.clone()
        }),
        Action::Attack(attack) => Action::Attack(Attack {
            from: map(attack.from)?,
            to: match attack.to {
                Some(to) => Some(map(to)?),
                None => None,
            },
            ..attack.clone()
        }),
        Action::Heal | Action::Network(_) | Action::Expect(_) => action.clone(),
    })
}

/// `run` with step `index`'s repetitions halved, if it repeats.
fn halved(run: &Run, index: usize) -> Option<Run> {
    let mut candidate = run.clone();
    match &mut candidate.steps[index].action {
        Action::Writes(writes) if writes.count > 1 => {
            writes.count /= 2;
            writes.batch = writes.batch.min(writes.count);
        }
        Action::Attack(attack) if attack.count > 1 => attack.count /= 2,
        _ => return None,
    }
    Some(candidate)
}

#[cfg(test)]
mod tests {
    use super::*;
    use p2p_sync_scenario::scenario::NetworkParams;

    #[test]
    fn removing_a_node_renumbers_the_rest_and_drops_its_steps() {
        let step = |action| Step {
            at_ms: 0,
            line: 0,
            action,
        };
        let run = Run {
            nodes: 3,
            attackers: 1,
            network: NetworkParams::default(),
            safety_ms: 1_000,
            steps: vec![
                step(Action::Crash(1)),
                step(Action::Crash(2)),
                step(Action::Partition(vec![vec![0, 1], vec![2, 3]])),
                step(Action::OneWay {
                    from: vec![1],
                    to: vec![0],
                }),
            ],
        };
        let smaller = without(&run, 1);
        assert_eq!((smaller.nodes, smaller.attackers), (2, 1));
        let actions: Vec<Action> = smaller.steps.into_iter().map(|s| s.action).collect();
        assert_eq!(
            actions,
            [
                Action::Crash(1),
                Action::Partition(vec![vec![0], vec![1, 2]])
            ]
        );
    }
}
