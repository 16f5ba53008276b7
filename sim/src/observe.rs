//! What the simulator observes of its nodes, for the scenario crate to judge: the answers to
//! [`Observe`] for `expect` steps, and what a node holds ([`holding`]) for convergence.

use crate::checker::Checker;
use crate::network::Network;
use crate::node::SimNode;
use p2p_sync_core::store::{digest_where, Store, Summary};
use p2p_sync_core::{DropReason, Write};
use p2p_sync_scenario::judge::Observe;
use p2p_sync_scenario::report::Mismatch;

/// What a node holds, for [`p2p_sync_scenario::convergence::Convergence`]: its store's write
/// count (tombstones included) and fingerprint, which change with every stored write.
pub fn holding(summary: Summary) -> (u64, u64) {
    (summary.count, summary.fingerprint)
}

/// The digest of the writes `keep` selects in every node's store (`None`: the node is down).
pub fn holdings_where(nodes: &[SimNode], keep: &dyn Fn(&Write) -> bool) -> Vec<Option<u64>> {
    let digest = |core: &crate::node::Core| digest_where(core.store(), keep);
    nodes
        .iter()
        .map(|node| {
            node.core
                .as_ref()
                .map(|core| digest(core).expect("the store reads"))
        })
        .collect()
}

/// The simulated world at one moment, as `expect` steps see it.
pub struct SimView<'a> {
    /// The honest nodes.
    pub nodes: &'a [SimNode],
    /// Every participant's name, honest nodes first.
    pub names: &'a [String],
    /// The connections.
    pub net: &'a Network,
    /// The history checker.
    pub checker: &'a Checker,
    /// Virtual time now (ms).
    pub now_ms: u64,
}

impl Observe for SimView<'_> {
    fn value(&mut self, node: usize, key: &str) -> Result<Option<String>, String> {
        let write = self.nodes[node].store().get(key);
        Ok(write
            .expect("the in-memory store reads")
            .and_then(|write| write.value))
    }

    fn dropped(&mut self, node: usize, reasons: &[DropReason]) -> Result<Vec<u64>, String> {
        let dropped = self.nodes[node].counters().dropped;
        Ok(reasons.iter().map(|&reason| dropped.get(reason)).collect())
    }

    fn connected(&mut self, node: usize) -> Result<Vec<usize>, String> {
        Ok(self.net.connected(node).into_iter().collect())
    }

    fn sent_bytes(&mut self, node: usize) -> Result<u64, String> {
        Ok(self.nodes[node].bytes_sent)
    }

    fn live_keys(&mut self, node: usize) -> Result<u64, String> {
        Ok(self.nodes[node]
            .store()
            .live()
            .expect("the store reads")
            .len() as u64)
    }

    fn holdings(&mut self) -> Result<Vec<Option<u64>>, String> {
        Ok(holdings_where(self.nodes, &|_| true))
    }

    fn history(&mut self) -> Result<Result<(), Mismatch>, String> {
        let honest = &self.names[..self.nodes.len()];
        let verdict = self
            .checker
            .verdict(self.nodes, honest, self.names.len(), self.now_ms);
        Ok(verdict)
    }
}
