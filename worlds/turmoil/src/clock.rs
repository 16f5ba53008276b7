//! The world's virtual time, as the whole process reads it: the binary's `clock_gettime`
//! stand-in (src/overrides.rs) answers `Instant::now()` and `SystemTime::now()` with it once
//! [`enable`]d, so libp2p's own reads of the clock (Gossipsub's backoffs and caches,
//! Kademlia's query deadlines, ping's round trips) follow the simulation, not the machine.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The wall time at which every simulation starts (2023-11-14 22:13:20 UTC): a fixed epoch, so
/// that writes' timestamps are the same in every run.
pub const EPOCH: Duration = Duration::from_secs(1_700_000_000);

static ACTIVE: AtomicBool = AtomicBool::new(false);
static ELAPSED_NANOS: AtomicU64 = AtomicU64::new(0);

/// The wall time at which every simulation starts, as a `SystemTime`.
pub fn epoch() -> SystemTime {
    UNIX_EPOCH + EPOCH
}

/// From now on the process reads virtual time (where the binary's stand-in is linked in).
pub fn enable() {
    ACTIVE.store(true, Ordering::SeqCst);
}

/// Whether the process reads virtual time.
pub fn enabled() -> bool {
    ACTIVE.load(Ordering::SeqCst)
}

/// Sets how long the simulation has run.
pub fn set_elapsed(elapsed: Duration) {
    ELAPSED_NANOS.store(elapsed.as_nanos() as u64, Ordering::SeqCst);
}

/// How long the simulation has run.
pub fn elapsed() -> Duration {
    Duration::from_nanos(ELAPSED_NANOS.load(Ordering::SeqCst))
}
