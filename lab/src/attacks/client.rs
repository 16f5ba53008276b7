//! What every attacking client shares: a bare libp2p swarm (TCP, Noise, Yamux, the attack's own
//! behaviour) whose TCP streams count every byte they carry each way (what the attacker sends
//! and what the node sends it, on the wire: Noise and Yamux framing included) and can stop
//! reading; the tally of one attack; and identity after identity, several at a time.

use futures::StreamExt;
use futures::{AsyncRead, AsyncWrite};
use libp2p::core::upgrade::Version;
use libp2p::identity::Keypair;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{noise, tcp, yamux, Multiaddr, PeerId, Swarm, SwarmBuilder, Transport};
use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

/// The node under attack.
#[derive(Debug, Clone)]
pub struct Target {
    /// Its TCP address.
    pub address: Multiaddr,
    /// Its identity.
    pub peer: PeerId,
    /// Its log file (some attacks look for what it says about them).
    pub log: PathBuf,
}

/// What one attack did, all its clients together.
#[derive(Debug, Default)]
pub struct Tally {
    /// Bytes the attacker's clients wrote to their TCP connections.
    pub sent: AtomicU64,
    /// Bytes the attacker's clients read from their TCP connections: the node's egress to them.
    pub received: AtomicU64,
    /// Messages (or requests, or connections) the attack sent.
    pub messages: AtomicU64,
    /// Identities the attack used.
    pub identities: AtomicU64,
    /// Connections the node closed (or refused) while the attack still ran.
    pub closed_by_node: AtomicU64,
    /// Set when the attack is to end.
    pub stop: Arc<AtomicBool>,
    /// What the attack found worth saying, beside the numbers.
    pub notes: Mutex<Vec<String>>,
}

impl Tally {
    /// Whether the attack is to end.
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Adds one to `counter`.
    pub fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds a note for the report.
    pub fn note(&self, note: String) {
        self.notes.lock().expect("notes").push(note);
    }
}

/// A TCP stream that counts its bytes into a [`Tally`] and, once `paused`, reads no more.
struct Counted<S> {
    inner: S,
    tally: Arc<Tally>,
    paused: Arc<AtomicBool>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.paused.load(Ordering::Relaxed) {
            // Never woken again: the connection reads nothing more (a reader that stopped).
            return Poll::Pending;
        }
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(read)) = &poll {
            this.tally
                .received
                .fetch_add(*read as u64, Ordering::Relaxed);
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(written)) = &poll {
            this.tally
                .sent
                .fetch_add(*written as u64, Ordering::Relaxed);
        }
        poll
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }
}

/// A swarm of a fresh identity running `behaviour`, its bytes counted into `tally`; it stops
/// reading once `paused` is set.
pub fn swarm<B: NetworkBehaviour>(
    tally: &Arc<Tally>,
    paused: Arc<AtomicBool>,
    behaviour: impl FnOnce(&Keypair) -> B,
) -> Result<Swarm<B>, String> {
    let tally = tally.clone();
    let builder = SwarmBuilder::with_existing_identity(Keypair::generate_ed25519())
        .with_tokio()
        .with_other_transport(
            move |key| -> Result<_, Box<dyn std::error::Error + Send + Sync>> {
                let counted = tcp::tokio::Transport::new(tcp::Config::default().nodelay(true)).map(
                    move |stream, _| Counted {
                        inner: stream,
                        tally: tally.clone(),
                        paused: paused.clone(),
                    },
                );
                Ok(counted
                    .upgrade(Version::V1)
                    .authenticate(noise::Config::new(key)?)
                    .multiplex(yamux::Config::default()))
            },
        )
        .map_err(|error| error.to_string())?;
    Ok(builder
        .with_behaviour(behaviour)
        .unwrap_or_else(|never| match never {})
        .with_swarm_config(|config| config.with_idle_connection_timeout(Duration::from_secs(3600)))
        .build())
}

/// Runs `one(target, tally, seed)` for identity after identity (each call makes its own),
/// `lanes` at a time, until the attack stops; `one` must return soon after it does.
pub async fn rotate<F, Fut>(lanes: u64, target: &Target, tally: &Arc<Tally>, one: F)
where
    F: Fn(Target, Arc<Tally>, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let one = Arc::new(one);
    let tasks: Vec<_> = (0..lanes)
        .map(|lane| {
            let (one, target, tally) = (one.clone(), target.clone(), tally.clone());
            tokio::spawn(async move {
                let mut seed = lane;
                while !tally.stopped() {
                    Tally::count(&tally.identities);
                    one(target.clone(), tally.clone(), seed).await;
                    seed += lanes;
                }
            })
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
}

/// The swarm's next event, or `None` once `quiet` passes without one.
pub async fn next_event<B: NetworkBehaviour>(
    swarm: &mut Swarm<B>,
    quiet: Duration,
) -> Option<SwarmEvent<B::ToSwarm>> {
    tokio::time::timeout(quiet, swarm.select_next_some())
        .await
        .ok()
}

/// A small xorshift generator: the attack's filler bytes (not secrets).
pub fn noise(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}
