//! Who is connected to whom, as the real node makes connections: on one LAN mDNS connects every
//! pair of nodes ([`Connections::All`]); larger shapes, or a connection limit, use a random
//! connected graph of about the given degree ([`Connections::Degree`]). The gossip mesh is a
//! subset of these connections (see [`crate::mesh`]).

use p2p_sync_scenario::scenario::Connections;
use rand::Rng;
use std::collections::BTreeSet;

/// Edges `(a, b)` with `a < b` between `n` nodes in the shape `connections` asks for.
pub fn connections(
    n: usize,
    connections: Connections,
    rng: &mut impl Rng,
) -> BTreeSet<(usize, usize)> {
    match connections {
        Connections::All => all(n),
        Connections::Degree(degree) if n <= degree + 1 => all(n),
        Connections::Degree(degree) => random(n, degree, rng),
    }
}

/// Every pair of `n` nodes.
fn all(n: usize) -> BTreeSet<(usize, usize)> {
    (0..n)
        .flat_map(|a| (a + 1..n).map(move |b| (a, b)))
        .collect()
}

/// A random ring (so the graph is connected) filled up to `degree` connections per node; no
/// node takes more than twice that.
fn random(n: usize, degree: usize, rng: &mut impl Rng) -> BTreeSet<(usize, usize)> {
    let mut edges = BTreeSet::new();
    let mut degrees = vec![0usize; n];
    let mut ring: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        ring.swap(i, rng.random_range(0..=i));
    }
    for i in 0..n {
        connect(&mut edges, &mut degrees, ring[i], ring[(i + 1) % n]);
    }
    for a in 0..n {
        let mut attempts = 0;
        while degrees[a] < degree && attempts < 20 * n {
            attempts += 1;
            let b = rng.random_range(0..n);
            if degrees[b] < 2 * degree {
                connect(&mut edges, &mut degrees, a, b);
            }
        }
    }
    edges
}

fn connect(edges: &mut BTreeSet<(usize, usize)>, degrees: &mut [usize], a: usize, b: usize) {
    if a != b && edges.insert((a.min(b), a.max(b))) {
        degrees[a] += 1;
        degrees[b] += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn degrees(n: usize, edges: &BTreeSet<(usize, usize)>) -> Vec<usize> {
        let mut degree = vec![0; n];
        for &(a, b) in edges {
            degree[a] += 1;
            degree[b] += 1;
        }
        degree
    }

    #[test]
    fn a_lan_connects_every_pair() {
        let edges = connections(30, Connections::All, &mut ChaCha8Rng::seed_from_u64(1));
        assert_eq!(edges.len(), 30 * 29 / 2);
        let edges = connections(4, Connections::Degree(6), &mut ChaCha8Rng::seed_from_u64(1));
        assert_eq!(edges.len(), 6, "fewer nodes than the degree: every pair");
    }

    #[test]
    fn a_degree_bounds_connections_and_keeps_the_graph_connected() {
        let n = 200;
        let edges = connections(n, Connections::Degree(6), &mut ChaCha8Rng::seed_from_u64(7));
        for degree in degrees(n, &edges) {
            assert!((6..=12).contains(&degree), "{degree}");
        }
        let mut reached = BTreeSet::from([0]);
        let mut frontier = vec![0];
        while let Some(node) = frontier.pop() {
            for &(a, b) in &edges {
                let other = if a == node {
                    b
                } else if b == node {
                    a
                } else {
                    continue;
                };
                if reached.insert(other) {
                    frontier.push(other);
                }
            }
        }
        assert_eq!(reached.len(), n);
    }

    #[test]
    fn the_same_seed_gives_the_same_graph() {
        let shape = Connections::Degree(6);
        let one = connections(50, shape, &mut ChaCha8Rng::seed_from_u64(3));
        let two = connections(50, shape, &mut ChaCha8Rng::seed_from_u64(3));
        assert_eq!(one, two);
    }
}
