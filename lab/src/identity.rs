//! Node identities in the simulator's order. Writes that tie on timestamp are ordered by their
//! origin; in the simulator the origins are `n0 < n1 < …`, on the LAN they are PeerIds. Steps
//! that share an `at` run within the same millisecond on the LAN, so the lab gives each node,
//! before its first start, an identity key (drawn from the run's seed) whose PeerId sorts in
//! node order: ties then break as in the simulator.

use libp2p::identity::Keypair;
use rand::Rng;
use std::path::Path;

/// The file in a data directory that holds the node's key (as `p2p-sync` reads it).
const IDENTITY_FILE: &str = "identity.key";

/// `count` keys, drawn from `rng`, whose PeerIds sort ascending.
pub fn ordered_keys(count: usize, rng: &mut impl Rng) -> Vec<Keypair> {
    let mut keys: Vec<Keypair> = (0..count)
        .map(|_| {
            let secret: [u8; 32] = rng.random();
            Keypair::ed25519_from_bytes(secret).expect("32 bytes are an Ed25519 secret")
        })
        .collect();
    keys.sort_by_key(|key| key.public().to_peer_id().to_string());
    keys
}

/// Writes `key` as the identity of the node whose data directory is `data_dir`.
pub fn install(key: &Keypair, data_dir: &Path) -> Result<(), String> {
    let bytes = key
        .to_protobuf_encoding()
        .map_err(|error| format!("cannot encode a key: {error}"))?;
    std::fs::create_dir_all(data_dir)
        .and_then(|()| std::fs::write(data_dir.join(IDENTITY_FILE), bytes))
        .map_err(|error| format!("cannot write {}: {error}", data_dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn peer_ids_sort_in_node_order_and_follow_the_seed() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let ids: Vec<String> = ordered_keys(5, &mut rng)
            .iter()
            .map(|key| key.public().to_peer_id().to_string())
            .collect();
        assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "{ids:?}");
        let mut again = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let first = ordered_keys(5, &mut again)[0]
            .public()
            .to_peer_id()
            .to_string();
        assert_eq!(first, ids[0]);
    }
}
