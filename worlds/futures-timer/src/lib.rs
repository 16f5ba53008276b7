//! `futures_timer::Delay` on tokio's timer.
//!
//! crates.io's futures-timer fires its delays from a thread of its own that reads the operating
//! system's clock. libp2p arms every protocol timer with it (Gossipsub's heartbeat, ping,
//! request timeouts, the idle-connection timeout, Identify), so in a paused tokio runtime or a
//! simulated world those timers would still fire in real seconds. This crate keeps the API
//! (`Delay::new`, `Delay::reset`, `Future<Output = ()>`) and arms a `tokio::time::Sleep`
//! instead: on the runtime the delay is made in, whose clock is the system's in production and
//! virtual where the runtime is paused. A delay made outside any runtime is armed on a
//! runtime of its own, on a background thread, as futures-timer's own thread does.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::runtime::{Builder, Handle};
use tokio::time::{Instant, Sleep};

/// A future that completes once its duration has passed, on tokio's clock.
pub struct Delay {
    sleep: Pin<Box<Sleep>>,
}

impl Delay {
    /// A delay that completes `dur` from now.
    pub fn new(dur: Duration) -> Delay {
        let sleep = match Handle::try_current() {
            Ok(_) => tokio::time::sleep(dur),
            Err(_) => {
                let _entered = background().enter();
                tokio::time::sleep(dur)
            }
        };
        Delay {
            sleep: Box::pin(sleep),
        }
    }

    /// Sets the delay to complete `dur` from now, whether or not it has completed.
    pub fn reset(&mut self, dur: Duration) {
        let deadline = Instant::now() + dur;
        self.sleep.as_mut().reset(deadline);
    }
}

impl Future for Delay {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.sleep.as_mut().poll(cx)
    }
}

impl fmt::Debug for Delay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delay")
            .field("deadline", &self.sleep.deadline())
            .finish()
    }
}

/// A runtime with a timer on a thread of its own, for delays made outside any runtime.
fn background() -> &'static Handle {
    static HANDLE: OnceLock<Handle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let runtime = Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a timer runtime");
        let handle = runtime.handle().clone();
        std::thread::Builder::new()
            .name("futures-timer".into())
            .spawn(move || runtime.block_on(std::future::pending::<()>()))
            .expect("a timer thread");
        handle
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_delay_follows_a_paused_clock() {
        let start = Instant::now();
        Delay::new(Duration::from_secs(3600)).await;
        assert_eq!(start.elapsed(), Duration::from_secs(3600));
    }

    #[tokio::test(start_paused = true)]
    async fn a_reset_delay_completes_at_its_new_deadline() {
        let start = Instant::now();
        let mut delay = Delay::new(Duration::from_secs(1));
        delay.reset(Duration::from_secs(5));
        (&mut delay).await;
        assert_eq!(start.elapsed(), Duration::from_secs(5));
        delay.reset(Duration::from_secs(2));
        delay.await;
        assert_eq!(start.elapsed(), Duration::from_secs(7));
    }

    #[test]
    fn a_delay_outside_any_runtime_fires_in_real_time() {
        let start = std::time::Instant::now();
        futures::executor::block_on(Delay::new(Duration::from_millis(50)));
        assert!(start.elapsed() >= Duration::from_millis(50));
    }
}
