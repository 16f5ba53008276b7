//! The private network's pre-shared key: made by `p2p-sync keygen-psk`, read by
//! `start --psk-file`, in the file format libp2p pnet (and go-libp2p, IPFS) use:
//! `/key/swarm/psk/1.0.0/`, `/base16/`, then 64 hex digits.

use libp2p::pnet::PreSharedKey;
use std::fs;
use std::io::{self, Write};
use std::path::Path;

/// Writes a fresh random 256-bit key to `path`, readable only by its owner. Refuses to
/// overwrite an existing file (a key in use would be lost). Returns the key.
pub fn write_new(path: &Path) -> io::Result<PreSharedKey> {
    let key = PreSharedKey::new(rand::random());
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|error| {
        if error.kind() == io::ErrorKind::AlreadyExists {
            io::Error::new(
                error.kind(),
                format!(
                    "{} exists already; not overwriting a key that may be in use",
                    path.display()
                ),
            )
        } else {
            io::Error::new(error.kind(), format!("{}: {error}", path.display()))
        }
    })?;
    file.write_all(key.to_key_file().as_bytes())?;
    file.sync_all()?;
    Ok(key)
}

/// Reads the key in `path`, with the file named in any error.
pub fn read(path: &Path) -> io::Result<PreSharedKey> {
    let text = fs::read_to_string(path)
        .map_err(|error| io::Error::new(error.kind(), format!("{}: {error}", path.display())))?;
    text.trim().parse().map_err(|error| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} is not a network key ({error}); make one with `p2p-sync keygen-psk FILE`",
                path.display()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_key_reads_back_is_private_and_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("swarm.key");
        let key = write_new(&path).unwrap();
        assert_eq!(read(&path).unwrap().to_string(), key.to_string());
        let text = fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("/key/swarm/psk/1.0.0/\n/base16/\n"),
            "{text}"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let error = write_new(&path).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read_to_string(&path).unwrap(), text, "left as it was");
        assert_ne!(
            write_new(&dir.path().join("other.key"))
                .unwrap()
                .to_string(),
            key.to_string()
        );
    }

    #[test]
    fn a_file_that_is_not_a_key_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.key");
        fs::write(&path, "hello").unwrap();
        let error = read(&path).unwrap_err().to_string();
        assert!(
            error.contains("bad.key") && error.contains("keygen-psk"),
            "{error}"
        );
    }
}
