//! The data directory and its database are the owner's alone: every synced value is in the
//! database, so a new directory is made 0700 and the database file 0600 (SQLite gives its WAL
//! and shared-memory files the database's mode). A database left readable by others by an
//! earlier version is made 0600 when the node opens it.

use std::io;
use std::path::Path;

/// Makes `dir` (and its parents) if missing; a directory this call makes is 0700.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Makes `file` if missing with mode 0600, or takes the group's and others' access from an
/// existing one.
pub fn restrict_file(file: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(file)?;
        let mode = std::fs::metadata(file)?.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(mode & 0o700))?;
        }
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_new_directory_and_database_are_the_owners_alone() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data");
        create_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        let database = dir.join("p2p-sync.db");
        restrict_file(&database).unwrap();
        assert_eq!(mode(&database), 0o600);
    }

    #[test]
    fn an_existing_readable_database_is_restricted_and_kept() {
        let root = tempfile::tempdir().unwrap();
        let database = root.path().join("p2p-sync.db");
        std::fs::write(&database, b"data").unwrap();
        std::fs::set_permissions(&database, std::fs::Permissions::from_mode(0o644)).unwrap();
        restrict_file(&database).unwrap();
        assert_eq!(mode(&database), 0o600);
        assert_eq!(std::fs::read(&database).unwrap(), b"data");
    }
}
