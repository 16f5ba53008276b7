//! The local HTTP API (`start --api ADDR`): the node's store, status, changes and metrics over
//! HTTP/JSON, served by axum on the node's own runtime.
//!
//! One owner of the state: the [`Node`] belongs to the start loop (`cli::start`), so handlers
//! never touch it. Each sends a [`Job`] — a closure run against `&mut Node`, answering through a
//! oneshot channel — over a bounded channel that the start loop serves beside the REPL and the
//! network, at most [`JOBS_PER_TURN`] per turn. Only the watch endpoint reads without a job: it
//! subscribes to the store's [`feed::Feed`] of applied changes.
//!
//! - [`feed`]: the store wrapper that reports every applied write, and the feed it feeds.
//! - `routes`: the key-value, import and status endpoints, errors and access; `local`: without
//!   a token, requests from this machine's own name and origin only.
//! - `watch`: Server-Sent Events of changes; `metrics`: Prometheus text; `page.html`: `GET /`.

pub mod feed;
mod local;
mod metrics;
mod routes;
mod watch;

use crate::net::Node;
use feed::Feed;
use p2p_sync_core::Config;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Where the API listens unless `--api` says otherwise: loopback, clear of the nodes' 4002/4003.
pub const DEFAULT_ADDRESS: &str = "127.0.0.1:4080";

/// API requests waiting for the start loop; a handler waits for room beyond these.
const QUEUED_JOBS: usize = 64;

/// Most API requests the start loop serves before it looks at input and the network again.
pub const JOBS_PER_TURN: usize = 16;

/// One API request's work on the node; it sends its answer itself.
pub type Job = Box<dyn FnOnce(&mut Node) + Send>;

/// `--api`: where to listen, or not at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiSetting {
    /// No API.
    Off,
    /// Listen on this address (port 0: any free port).
    At(SocketAddr),
}

/// Parses `--api`: `off`, or an IP address and port such as `127.0.0.1:4080`.
pub fn parse_setting(text: &str) -> Result<ApiSetting, String> {
    if text.eq_ignore_ascii_case("off") {
        return Ok(ApiSetting::Off);
    }
    text.parse()
        .map(ApiSetting::At)
        .map_err(|_| format!("expected an IP address and port such as {DEFAULT_ADDRESS}, or `off`"))
}

/// A bound listener, not serving yet.
pub struct Bound {
    listener: tokio::net::TcpListener,
    token: Option<String>,
    /// The address it is bound to (the real port when 0 was asked).
    pub address: SocketAddr,
}

/// Binds the API's listener. `setting` is `None` when `--api` was not given: the default
/// address, and if it is taken (say, a second node on this machine) a warning and no API. A
/// non-loopback address needs a token file.
pub async fn bind(
    setting: Option<ApiSetting>,
    token_file: Option<&Path>,
) -> Result<Option<Bound>, String> {
    let (address, explicit) = match setting {
        Some(ApiSetting::Off) => return Ok(None),
        Some(ApiSetting::At(address)) => (address, true),
        None => (DEFAULT_ADDRESS.parse().expect("a socket address"), false),
    };
    let token = match token_file {
        Some(path) => Some(read_token(path)?),
        None if !address.ip().is_loopback() => {
            return Err(format!(
                "--api {address} is not a loopback address: the API grants full read and write \
                 access, so give a token with --api-token-file FILE (or keep it on 127.0.0.1)"
            ))
        }
        None => None,
    };
    match tokio::net::TcpListener::bind(address).await {
        Ok(listener) => {
            let address = listener
                .local_addr()
                .map_err(|error| format!("cannot use the API's address {address}: {error}"))?;
            Ok(Some(Bound {
                listener,
                token,
                address,
            }))
        }
        Err(error) if !explicit => {
            tracing::warn!(
                "HTTP API not started: cannot listen on {address} ({error}); another p2p-sync \
                 has it? Give this node its own with --api ADDR, or --api off"
            );
            Ok(None)
        }
        Err(error) => Err(format!(
            "cannot listen on {address} for the HTTP API: {error} (pick another with --api ADDR, \
             or --api off)"
        )),
    }
}

/// The token in `path`, surrounding white space removed; an empty file is refused.
fn read_token(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read the API token file {}: {error}", path.display()))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(format!("the API token file {} is empty", path.display()));
    }
    Ok(token.to_string())
}

/// What every handler shares: the way to the node, the feed, the limits, the token.
#[derive(Clone)]
struct Shared {
    jobs: mpsc::Sender<Job>,
    feed: Arc<Feed>,
    config: Arc<Config>,
    token: Option<Arc<str>>,
}

impl Shared {
    /// Runs `work` on the node in the start loop and returns its answer; `None` when the node
    /// is shutting down.
    async fn call<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Node) -> T + Send + 'static,
    ) -> Option<T> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |node| {
            let _ = reply.send(work(node));
        });
        self.jobs.send(job).await.ok()?;
        answer.await.ok()
    }
}

impl Bound {
    /// Starts serving on the current runtime; returns the jobs for the start loop to run.
    pub fn spawn(self, node: &Node) -> mpsc::Receiver<Job> {
        let (jobs, receiver) = mpsc::channel(QUEUED_JOBS);
        let shared = Shared {
            jobs,
            feed: Arc::clone(node.store().feed()),
            config: Arc::new(node.config().clone()),
            token: self.token.map(Arc::from),
        };
        let app = routes::router(shared);
        let address = self.address;
        tokio::spawn(async move {
            if let Err(error) = axum::serve(self.listener, app).await {
                tracing::error!("The HTTP API on {address} stopped: {error}");
            }
        });
        tracing::info!("HTTP API on http://{address}");
        receiver
    }
}

/// Runs `first` and then the jobs already waiting, at most [`JOBS_PER_TURN`] in all.
pub fn run_jobs(node: &mut Node, first: Job, jobs: &mut mpsc::Receiver<Job>) {
    first(node);
    for _ in 1..JOBS_PER_TURN {
        match jobs.try_recv() {
            Ok(job) => job(node),
            Err(_) => break,
        }
    }
}

/// Whether `given` equals `expected`, in time that depends on their lengths alone.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    if given.len() != expected.len() {
        return false;
    }
    given
        .iter()
        .zip(expected)
        .fold(0u8, |difference, (a, b)| difference | (a ^ b))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_settings_parse() {
        assert_eq!(parse_setting("off"), Ok(ApiSetting::Off));
        assert_eq!(
            parse_setting("127.0.0.1:0"),
            Ok(ApiSetting::At("127.0.0.1:0".parse().unwrap()))
        );
        assert!(parse_setting("localhost:4080").is_err());
        assert!(parse_setting(DEFAULT_ADDRESS).is_ok());
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"ab", b"abc"));
        assert!(!same_secret(b"", b"abc"));
    }

    #[tokio::test]
    async fn a_non_loopback_address_needs_a_token() {
        let error = bind(parse_setting("0.0.0.0:0").ok(), None)
            .await
            .err()
            .expect("refused");
        assert!(error.contains("--api-token-file"), "{error}");
    }
}
