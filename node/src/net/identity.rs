//! The node's identity key, kept in its data directory so its PeerId survives restarts.

use libp2p::identity::Keypair;
use p2p_sync_core::auth::{Identity, SigningKey};
use std::fs;
use std::io;
use std::path::Path;

/// The file inside the data directory that holds the key (protobuf encoding, owner-only).
pub const IDENTITY_FILE: &str = "identity.key";

/// Loads the key from `data_dir`, or creates and saves a new Ed25519 key when there is none.
pub fn load_or_create(data_dir: &Path) -> io::Result<Keypair> {
    let path = data_dir.join(IDENTITY_FILE);
    match fs::read(&path) {
        Ok(bytes) => Keypair::from_protobuf_encoding(&bytes).map_err(|error| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} is not a valid identity key: {error}", path.display()),
            )
        }),
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            let keypair = Keypair::generate_ed25519();
            let bytes = keypair
                .to_protobuf_encoding()
                .map_err(|error| io::Error::other(error.to_string()))?;
            write_private(&path, &bytes)?;
            Ok(keypair)
        }
        Err(error) => Err(error),
    }
}

/// The identity that signs the node's writes: the same ed25519 key as its PeerId, so any
/// peer can check a write's signature against the PeerId in its `origin`.
pub fn write_identity(keypair: &Keypair) -> io::Result<Identity> {
    let keypair = keypair.clone().try_into_ed25519().map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "the identity key is not an Ed25519 key; delete it to make a new one",
        )
    })?;
    let bytes = keypair.to_bytes();
    let secret: [u8; 32] = bytes[..32]
        .try_into()
        .expect("64 bytes: secret, then public");
    Ok(Identity {
        signing_key: SigningKey::from_bytes(&secret),
        keys: Box::new(super::verifier::BatchKeys::default()),
        // A bulk import signs on every core.
        signing_threads: std::thread::available_parallelism().map_or(1, |cores| cores.get()),
    })
}

/// Writes `bytes` to a temporary file readable only by its owner, then renames it into place,
/// so a crash never leaves a half-written key behind.
fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let temporary = path.with_extension("tmp");
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&temporary)?;
    io::Write::write_all(&mut file, bytes)?;
    file.sync_all()?;
    fs::rename(&temporary, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_key_comes_back_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(dir.path()).unwrap();
        let second = load_or_create(dir.path()).unwrap();
        assert_eq!(first.public().to_peer_id(), second.public().to_peer_id());
    }

    #[test]
    fn a_corrupt_key_file_is_an_error_not_a_new_identity() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(IDENTITY_FILE), b"not a key").unwrap();
        let error = load_or_create(dir.path()).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }
}
