//! Logs go to standard error (standard output is the commands' output), or appended to
//! `--log-file`, filtered by `--log-level`, else `RUST_LOG`, else [`DEFAULT_FILTER`].

use std::fs::{File, OpenOptions};
use std::io::{self, IsTerminal};
use std::path::Path;
use std::sync::Mutex;
use tracing_subscriber::EnvFilter;

/// Info, without Kademlia's warning that a lone node has nobody to bootstrap from (it says so
/// every few minutes until the first peer arrives, which is normal here), and without
/// libp2p-mdns's line per announced address: anyone on the LAN can announce thousands a
/// second; the node logs the peers it dials (`Discovered peer by mDNS`), within its budget.
pub const DEFAULT_FILTER: &str = "info,libp2p_kad=error,libp2p_mdns=warn";

/// Installs the global subscriber, writing to `file` (appended) or else standard error. A bad
/// filter falls back to the default with a warning; a log file that cannot be opened is an
/// error.
pub fn init(level: Option<&str>, file: Option<&Path>) -> io::Result<()> {
    let requested = level
        .map(str::to_string)
        .or_else(|| std::env::var(EnvFilter::DEFAULT_ENV).ok());
    let (filter, bad) = match requested.as_deref().map(EnvFilter::try_new) {
        None => (EnvFilter::new(DEFAULT_FILTER), None),
        Some(Ok(filter)) => (filter, None),
        Some(Err(error)) => (EnvFilter::new(DEFAULT_FILTER), Some(error)),
    };
    let subscriber = tracing_subscriber::fmt().with_env_filter(filter);
    match file {
        Some(path) => subscriber
            .with_writer(Mutex::new(open_log(path)?))
            .with_ansi(false)
            .init(),
        None => subscriber
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .init(),
    }
    if let Some(error) = bad {
        tracing::warn!("Ignoring the log filter ({error}); using the default");
    }
    Ok(())
}

/// Opens a log file for appending, created readable and writable by its owner alone (logs
/// name peers and keys).
fn open_log(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map_err(|error| {
        io::Error::new(
            error.kind(),
            format!("log file {}: {error}", path.display()),
        )
    })
}
