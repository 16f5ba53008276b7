//! The gossip mesh over the connections, as Gossipsub keeps it with the node's parameters
//! (`Config::mesh_n`, `mesh_n_low`, `mesh_n_high`, read here, not copied): a peer whose
//! subscription arrives while a node's mesh is below D_low is grafted at once; every heartbeat
//! a node below D_low grafts random connected peers up to D, and a node above D_high prunes
//! random mesh peers down to D. A GRAFT is accepted and a PRUNE obeyed by the other side, so
//! mesh links are symmetric. Not modelled: peer scores, prune backoff, lazy gossip (IHAVE/IWANT);
//! reconciliation covers what lazy gossip would repair.

use p2p_sync_core::Config;
use rand::Rng;
use std::collections::BTreeSet;

/// What one heartbeat changed at one node.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Repair {
    /// Peers grafted into the node's mesh.
    pub grafted: Vec<usize>,
    /// Peers pruned from it.
    pub pruned: Vec<usize>,
}

/// The mesh of every honest node.
#[derive(Debug)]
pub struct Mesh {
    degree: usize,
    low: usize,
    high: usize,
    peers: Vec<BTreeSet<usize>>,
}

impl Mesh {
    /// An empty mesh among `nodes` nodes with the degree and bounds of `config`.
    pub fn new(nodes: usize, config: &Config) -> Self {
        Mesh {
            degree: config.mesh_n,
            low: config.mesh_n_low,
            high: config.mesh_n_high,
            peers: vec![BTreeSet::new(); nodes],
        }
    }

    /// The mesh peers of `node`.
    pub fn peers(&self, node: usize) -> &BTreeSet<usize> {
        &self.peers[node]
    }

    /// `a` and `b` connected and learnt of each other's subscription: either grafts the other
    /// if its mesh is below D_low.
    pub fn connected(&mut self, a: usize, b: usize) {
        if self.peers[a].len() < self.low || self.peers[b].len() < self.low {
            self.link(a, b);
        }
    }

    /// The connection between `a` and `b` went down: neither is in the other's mesh.
    pub fn disconnected(&mut self, a: usize, b: usize) {
        self.peers[a].remove(&b);
        self.peers[b].remove(&a);
    }

    /// Whether `node`'s next heartbeat has work: its mesh is below D_low or above D_high.
    pub fn needs_repair(&self, node: usize) -> bool {
        let size = self.peers[node].len();
        size < self.low || size > self.high
    }

    /// One heartbeat of `node`, whose connected honest peers are `connected`: graft up to D
    /// below D_low, prune down to D above D_high, choosing at random.
    pub fn heartbeat(&mut self, node: usize, connected: &[usize], rng: &mut impl Rng) -> Repair {
        let mut repair = Repair::default();
        let size = self.peers[node].len();
        if size < self.low {
            let mut candidates: Vec<usize> = connected
                .iter()
                .copied()
                .filter(|peer| !self.peers[node].contains(peer))
                .collect();
            shuffle(&mut candidates, rng);
            candidates.truncate(self.degree - size);
            for &peer in &candidates {
                self.link(node, peer);
            }
            repair.grafted = candidates;
        } else if size > self.high {
            let mut members: Vec<usize> = self.peers[node].iter().copied().collect();
            shuffle(&mut members, rng);
            members.truncate(size - self.degree);
            for &peer in &members {
                self.disconnected(node, peer);
            }
            repair.pruned = members;
        }
        repair
    }

    fn link(&mut self, a: usize, b: usize) {
        self.peers[a].insert(b);
        self.peers[b].insert(a);
    }
}

/// Fisher–Yates with the simulation's rng, so the same seed picks the same peers.
fn shuffle(items: &mut [usize], rng: &mut impl Rng) {
    for i in (1..items.len()).rev() {
        items.swap(i, rng.random_range(0..=i));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// Thirty nodes, all connected, as on one LAN.
    fn lan(n: usize) -> (Mesh, Config) {
        let config = Config::default();
        let mut mesh = Mesh::new(n, &config);
        for a in 0..n {
            for b in a + 1..n {
                mesh.connected(a, b);
            }
        }
        (mesh, config)
    }

    fn heartbeats(mesh: &mut Mesh, n: usize, rounds: usize) {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for _ in 0..rounds {
            for node in 0..n {
                let connected: Vec<usize> = (0..n).filter(|&peer| peer != node).collect();
                mesh.heartbeat(node, &connected, &mut rng);
            }
        }
    }

    #[test]
    fn heartbeats_bring_every_mesh_within_the_configured_bounds() {
        let n = 30;
        let (mut mesh, config) = lan(n);
        heartbeats(&mut mesh, n, 5);
        for node in 0..n {
            let size = mesh.peers(node).len();
            assert!(
                (config.mesh_n_low..=config.mesh_n_high).contains(&size),
                "node {node} has {size} mesh peers"
            );
            for &peer in mesh.peers(node) {
                assert!(mesh.peers(peer).contains(&node), "mesh links are symmetric");
            }
        }
    }

    #[test]
    fn a_small_network_meshes_everyone() {
        let n = 4;
        let (mut mesh, _) = lan(n);
        heartbeats(&mut mesh, n, 1);
        for node in 0..n {
            assert_eq!(mesh.peers(node).len(), n - 1);
        }
    }

    #[test]
    fn a_lost_connection_leaves_the_mesh_and_a_heartbeat_refills_it() {
        let n = 30;
        let (mut mesh, config) = lan(n);
        heartbeats(&mut mesh, n, 3);
        let lost: Vec<usize> = mesh.peers(0).iter().copied().collect();
        for &peer in &lost {
            mesh.disconnected(0, peer);
        }
        assert!(mesh.needs_repair(0));
        let connected: Vec<usize> = (1..n).filter(|peer| !lost.contains(peer)).collect();
        let repair = mesh.heartbeat(0, &connected, &mut ChaCha8Rng::seed_from_u64(1));
        assert_eq!(repair.grafted.len(), config.mesh_n);
        assert!(repair.grafted.iter().all(|peer| !lost.contains(peer)));
    }
}
