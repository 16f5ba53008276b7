//! The data directory's lock: one process at a time. Two nodes on one directory would run with
//! the same PeerId over one database, each with its own idea of what it holds.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The lock file inside the data directory; it holds the pid of the process that owns it.
pub const LOCK_FILE: &str = "p2p-sync.lock";

/// Why the data directory could not be locked.
#[derive(Debug, Error)]
pub enum LockError {
    /// Another process holds the lock.
    #[error(
        "data directory {} is in use by another p2p-sync{}: stop it, or give this one its own --data-dir",
        dir.display(),
        pid.map(|pid| format!(" (pid {pid})")).unwrap_or_default()
    )]
    Held {
        /// The data directory.
        dir: PathBuf,
        /// The other process, when the lock file names it.
        pid: Option<u32>,
    },
    /// The lock file cannot be created or locked.
    #[error("cannot lock data directory {}: {source} (choose a writable one with --data-dir)", dir.display())]
    Io {
        /// The data directory.
        dir: PathBuf,
        /// What went wrong.
        source: io::Error,
    },
}

/// An exclusive lock on a data directory, held until it is dropped (or the process ends: the
/// operating system releases it even after a crash or `kill -9`).
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

impl DataDirLock {
    /// Locks `dir` (which must exist) and writes this process's pid into the lock file.
    pub fn acquire(dir: &Path) -> Result<DataDirLock, LockError> {
        let io_error = |source| LockError::Io {
            dir: dir.to_path_buf(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join(LOCK_FILE))
            .map_err(io_error)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(LockError::Held {
                    dir: dir.to_path_buf(),
                    pid: read_pid(&mut file),
                })
            }
            Err(TryLockError::Error(error)) => return Err(io_error(error)),
        }
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| write!(file, "{}", std::process::id()))
            .and_then(|()| file.flush())
            .map_err(io_error)?;
        Ok(DataDirLock { _file: file })
    }
}

/// The pid written in a lock file, if it can be read (some systems refuse to read a file
/// another process has locked).
fn read_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_directory_is_refused_and_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let held = DataDirLock::acquire(dir.path()).unwrap();
        let error = DataDirLock::acquire(dir.path()).unwrap_err();
        let LockError::Held { pid, .. } = &error else {
            panic!("{error}")
        };
        assert_eq!(*pid, Some(std::process::id()));
        let message = error.to_string();
        assert!(
            message.contains(&format!("(pid {})", std::process::id())),
            "{message}"
        );
        assert!(!message.contains('\n'));
        drop(held);
        DataDirLock::acquire(dir.path()).expect("free again once the holder is gone");
    }
}
