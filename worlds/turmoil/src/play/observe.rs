//! What the judge asks of a turmoil world, answered from the nodes' latest reports.

use crate::host::View;
use p2p_sync_core::DropReason;
use p2p_sync_scenario::judge::Observe;
use p2p_sync_scenario::report::{content_digest, Mismatch};

/// The nodes' reports, taken right before an `expect` step is judged; `connected` maps each
/// node's peers to participant indexes.
pub struct Reports {
    /// Each node's latest report.
    pub views: Vec<View>,
    /// Each node's peers, as participant indexes, ascending.
    pub connected: Vec<Vec<usize>>,
}

/// What a node holds, as the digest of its `list` every world uses (`None`: it is down).
pub fn holding(view: &View) -> Option<u64> {
    view.running.then(|| content_digest(&view.list))
}

impl Observe for Reports {
    fn value(&mut self, node: usize, key: &str) -> Result<Option<String>, String> {
        Ok(self.views[node]
            .list
            .iter()
            .find(|(held, _)| held == key)
            .map(|(_, value)| value.clone()))
    }

    fn dropped(&mut self, node: usize, reasons: &[DropReason]) -> Result<Vec<u64>, String> {
        let drops = &self.views[node].counters.dropped;
        Ok(reasons.iter().map(|reason| drops.get(*reason)).collect())
    }

    fn connected(&mut self, node: usize) -> Result<Vec<usize>, String> {
        Ok(self.connected[node].clone())
    }

    fn sent_bytes(&mut self, _node: usize) -> Result<u64, String> {
        Err("turmoil does not count the bytes a node sends".into())
    }

    fn live_keys(&mut self, node: usize) -> Result<u64, String> {
        Ok(self.views[node].list.len() as u64)
    }

    fn holdings(&mut self) -> Result<Vec<Option<u64>>, String> {
        Ok(self.views.iter().map(holding).collect())
    }

    fn history(&mut self) -> Result<Result<(), Mismatch>, String> {
        Err("the history checker runs in the simulator only".into())
    }
}
