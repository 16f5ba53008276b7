//! What the LAN observes of its real nodes, for the scenario crate to judge, reading what a
//! user would: `get` for a value, `list` for what a node holds ([`holding`]), `status` for
//! live keys, dropped messages and connections.

use crate::world::World;
use p2p_sync_core::DropReason;
use p2p_sync_scenario::judge::Observe;
use p2p_sync_scenario::report::{content_digest, Mismatch};
use p2p_sync_scenario::status::Status;

/// What a node holds, for convergence and the `converged` expectation: the digest of its
/// `list` (live keys and values; a real node does not show its tombstones).
pub fn holding(list: &[(String, String)]) -> u64 {
    content_digest(list)
}

/// What every honest node holds (`None`: its process is down).
pub fn holdings(world: &mut World) -> Result<Vec<Option<u64>>, String> {
    let mut holdings = vec![None; world.honest()];
    for (node, process) in world.live() {
        holdings[node] = Some(holding(&process.list()?));
    }
    Ok(holdings)
}

/// The LAN at one moment, as `expect` steps see it.
pub struct LanView<'w, 'a> {
    /// The world.
    pub world: &'w mut World<'a>,
    /// Every participant's name, honest nodes first.
    pub names: &'w [String],
}

impl LanView<'_, '_> {
    fn status(&mut self, node: usize) -> Result<Status, String> {
        Ok(Status::parse(
            &self.world.ask(node, |process| process.status())?,
        ))
    }
}

impl Observe for LanView<'_, '_> {
    fn value(&mut self, node: usize, key: &str) -> Result<Option<String>, String> {
        self.world.ask(node, |process| process.get(key))
    }

    fn dropped(&mut self, node: usize, reasons: &[DropReason]) -> Result<Vec<u64>, String> {
        let status = self.status(node)?;
        Ok(reasons
            .iter()
            .map(|&reason| status.dropped(reason))
            .collect())
    }

    fn connected(&mut self, node: usize) -> Result<Vec<usize>, String> {
        let status = self.status(node)?;
        let world = &*self.world;
        let listed = |peer: &usize| status.connected.iter().any(|id| id == world.peer_id(*peer));
        Ok((0..self.names.len()).filter(listed).collect())
    }

    fn sent_bytes(&mut self, _: usize) -> Result<u64, String> {
        Err("`sent_bytes_at_most` is checked only in the simulator so far".into())
    }

    fn live_keys(&mut self, node: usize) -> Result<u64, String> {
        let status = self.status(node)?;
        let name = &self.names[node];
        status
            .live_keys
            .ok_or_else(|| format!("{name}: status has no `Keys:` line"))
    }

    fn holdings(&mut self) -> Result<Vec<Option<u64>>, String> {
        holdings(self.world)
    }

    fn history(&mut self) -> Result<Result<(), Mismatch>, String> {
        Err("`history` is checked only in the simulator so far".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p2p_sync_core::store::Summary;
    use p2p_sync_core::testkit::write;
    use p2p_sync_core::Write;
    use p2p_sync_scenario::convergence::Convergence;
    use p2p_sync_scenario::judge;

    /// What a node holds, as the simulator observes it: its store's summary.
    fn sim_holding(writes: &[&Write]) -> (u64, u64) {
        let mut summary = Summary::default();
        for write in writes {
            summary.replace(None, write);
        }
        p2p_sync_sim::observe::holding(summary)
    }

    /// What a node holds, as the LAN observes it: its `list`.
    fn lan_holding(writes: &[&Write]) -> u64 {
        let mut list: Vec<(String, String)> = writes
            .iter()
            .filter_map(|write| Some((write.key.clone(), write.value.clone()?)))
            .collect();
        list.sort();
        holding(&list)
    }

    /// The fidelity table's two "time to converge" columns come from one definition: the
    /// same observations (what each node holds over time, crashes, a heal and a restart) fed
    /// through the simulator's adapter and the LAN's give the same convergence, and the same
    /// verdicts on `converged`. (Live writes only: a real node does not show its tombstones.)
    #[test]
    fn both_worlds_adapters_give_the_same_convergence() {
        let (a, b, c) = (
            write("k", Some("1"), 1, "n0"),
            write("k", Some("2"), 2, "n1"),
            write("j", Some("3"), 3, "n1"),
        );
        let none: &[&Write] = &[];
        // (scenario ms, node, what it holds; `None`: down), and recoveries.
        let observations: &[(u64, usize, Option<&[&Write]>)] = &[
            (0, 0, Some(none)),
            (0, 1, Some(none)),
            (0, 2, Some(none)),
            (10, 0, Some(&[&a])),
            (20, 1, Some(&[&b, &c])),
            (30, 2, None),
            (45, 0, Some(&[&b, &c])),
            (60, 2, Some(none)),
            (75, 2, Some(&[&c, &b])),
        ];
        let recoveries = [40, 60];
        let names: Vec<String> = ["n0", "n1", "n2"].map(String::from).to_vec();
        let mut sim = Convergence::new(3);
        let mut lan = Convergence::new(3);
        let (mut sim_now, mut lan_now) = (vec![None; 3], vec![None; 3]);
        for &(at, node, holds) in observations {
            for recovery in recoveries.iter().filter(|&&ms| ms <= at) {
                sim.recovered(*recovery);
                lan.recovered(*recovery);
            }
            sim.observe(node, holds.map(sim_holding), at);
            lan.observe(node, holds.map(lan_holding), at);
            sim_now[node] = holds.map(|writes| sim_holding(writes).1);
            lan_now[node] = holds.map(lan_holding);
            for expected in [true, false] {
                assert_eq!(
                    judge::converged(expected, &sim_now, &names).is_ok(),
                    judge::converged(expected, &lan_now, &names).is_ok(),
                    "at {at} ms"
                );
            }
            assert_eq!(sim.report(), lan.report(), "at {at} ms");
        }
        let report = lan.report();
        assert_eq!(report.since_ms, Some(75));
        assert_eq!(report.time_to_converge_ms(), Some(15));
    }
}
