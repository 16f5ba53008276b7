//! Who is connected to whom: a random mesh of bounded degree, like gossipsub's (D = 6, 5..12).

use rand::Rng;
use std::collections::BTreeSet;

/// Target degree of every node.
pub const MESH_DEGREE: usize = 6;
/// No node takes more connections than this.
pub const MESH_DEGREE_HIGH: usize = 12;

/// Edges `(a, b)` with `a < b` between `n` nodes: everyone when `n <= MESH_DEGREE + 1`,
/// otherwise a random ring (so the mesh is connected) filled up to `MESH_DEGREE` per node.
pub fn mesh(n: usize, rng: &mut impl Rng) -> BTreeSet<(usize, usize)> {
    let mut edges = BTreeSet::new();
    if n <= MESH_DEGREE + 1 {
        for a in 0..n {
            for b in a + 1..n {
                edges.insert((a, b));
            }
        }
        return edges;
    }
    let mut degree = vec![0usize; n];
    let mut ring: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        ring.swap(i, rng.random_range(0..=i));
    }
    for i in 0..n {
        connect(&mut edges, &mut degree, ring[i], ring[(i + 1) % n]);
    }
    for a in 0..n {
        let mut attempts = 0;
        while degree[a] < MESH_DEGREE && attempts < 20 * n {
            attempts += 1;
            let b = rng.random_range(0..n);
            if degree[b] < MESH_DEGREE_HIGH {
                connect(&mut edges, &mut degree, a, b);
            }
        }
    }
    edges
}

fn connect(edges: &mut BTreeSet<(usize, usize)>, degree: &mut [usize], a: usize, b: usize) {
    if a != b && edges.insert((a.min(b), a.max(b))) {
        degree[a] += 1;
        degree[b] += 1;
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
    fn small_networks_are_fully_connected() {
        let edges = mesh(4, &mut ChaCha8Rng::seed_from_u64(1));
        assert_eq!(edges.len(), 6);
    }

    #[test]
    fn large_networks_have_bounded_degree_and_are_connected() {
        let n = 200;
        let edges = mesh(n, &mut ChaCha8Rng::seed_from_u64(7));
        for degree in degrees(n, &edges) {
            assert!(
                (MESH_DEGREE..=MESH_DEGREE_HIGH).contains(&degree),
                "{degree}"
            );
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
    fn the_same_seed_gives_the_same_mesh() {
        let one = mesh(50, &mut ChaCha8Rng::seed_from_u64(3));
        let two = mesh(50, &mut ChaCha8Rng::seed_from_u64(3));
        assert_eq!(one, two);
    }
}
