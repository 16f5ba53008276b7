//! The node's identity key, kept in its data directory so its PeerId survives restarts.

use libp2p::identity::Keypair;
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
