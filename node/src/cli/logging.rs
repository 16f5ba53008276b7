//! Logs go to standard error (standard output is the commands' output), filtered by
//! `--log-level`, else `RUST_LOG`, else [`DEFAULT_FILTER`].

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// Info, without Kademlia's warning that a lone node has nobody to bootstrap from (it says so
/// every few minutes until the first peer arrives, which is normal here).
pub const DEFAULT_FILTER: &str = "info,libp2p_kad=error";

/// Installs the global subscriber. A bad filter falls back to the default with a warning.
pub fn init(level: Option<&str>) {
    let requested = level
        .map(str::to_string)
        .or_else(|| std::env::var(EnvFilter::DEFAULT_ENV).ok());
    let (filter, bad) = match requested.as_deref().map(EnvFilter::try_new) {
        None => (EnvFilter::new(DEFAULT_FILTER), None),
        Some(Ok(filter)) => (filter, None),
        Some(Err(error)) => (EnvFilter::new(DEFAULT_FILTER), Some(error)),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    if let Some(error) = bad {
        tracing::warn!("Ignoring the log filter ({error}); using the default");
    }
}
