//! The `writes` workload: which node makes command `index` of a `writes` step and the keys and
//! values it writes, the same in every world.

use crate::scenario::Writes;
use rand::Rng;

/// Command `index` of `writes`: the writing node and its `(key, value)` pairs, or `None` when
/// the step names no node and none is `live` (the live honest nodes, ascending). The node
/// (when the step names none) and then the drawn keys come from `rng`, in that order. Keys are
/// the step's prefix and the write's number (or a number drawn below `keys`), values `v` and
/// the write's number.
pub fn command(
    writes: &Writes,
    index: u64,
    live: impl FnOnce() -> Vec<usize>,
    rng: &mut impl Rng,
) -> Option<(usize, Vec<(String, String)>)> {
    let node = match writes.node {
        Some(node) => node,
        None => {
            let live = live();
            if live.is_empty() {
                return None;
            }
            live[rng.random_range(0..live.len())]
        }
    };
    let first = index * writes.batch;
    let entries = (first..writes.count.min(first + writes.batch))
        .map(|number| {
            let key = match writes.keys {
                Some(keys) => rng.random_range(0..keys),
                None => number,
            };
            (format!("{}{key}", writes.prefix), format!("v{number}"))
        })
        .collect();
    Some((node, entries))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn writes(node: Option<usize>, keys: Option<u64>) -> Writes {
        Writes {
            node,
            count: 5,
            batch: 2,
            interval_ms: 10,
            prefix: "k".into(),
            keys,
        }
    }

    #[test]
    fn batches_number_their_writes_and_the_last_is_short() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let (node, entries) = command(&writes(Some(3), None), 2, Vec::new, &mut rng).unwrap();
        assert_eq!(node, 3);
        assert_eq!(entries, vec![("k4".to_string(), "v4".to_string())]);
    }

    #[test]
    fn no_live_node_makes_no_command() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert_eq!(command(&writes(None, Some(3)), 0, Vec::new, &mut rng), None);
        let (node, entries) = command(&writes(None, Some(3)), 0, || vec![4], &mut rng).unwrap();
        assert_eq!(node, 4);
        assert!(entries
            .iter()
            .all(|(key, _)| ["k0", "k1", "k2"].contains(&key.as_str())));
    }
}
