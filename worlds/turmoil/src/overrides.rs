//! Stand-ins for two C library functions, linked into this binary only, so that one process
//! runs one simulation the same way every time:
//!
//! - `getrandom`: the bytes come from a ChaCha stream seeded by the world's seed, so std's hash
//!   seeds, libp2p's and Noise's randomness (ephemeral keys, Gossipsub's mesh choice, request
//!   ids) and tokio's `select!` order are the seed's.
//! - `clock_gettime`: once the simulation starts, the monotonic and real-time clocks read
//!   virtual time (see `p2p_sync_turmoil::clock`); every other clock reads the kernel's.
//!
//! build.rs exports both symbols, so that libraries that look them up at run time find them.

use p2p_sync_turmoil::clock;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

static RANDOM: Mutex<Option<ChaCha8Rng>> = Mutex::new(None);

/// The machine's monotonic time when the simulation started, in ns: virtual monotonic time
/// counts from it.
static MONOTONIC_BASE_NANOS: AtomicU64 = AtomicU64::new(0);

/// Seeds the process's randomness with `seed` and switches its clocks to virtual time.
pub fn install(seed: u64) {
    *RANDOM.lock().unwrap_or_else(|poison| poison.into_inner()) =
        Some(ChaCha8Rng::seed_from_u64(seed ^ 0x005E_ED0F_7E57));
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec to write into.
    unsafe { kernel_clock(libc::CLOCK_MONOTONIC, &mut now) };
    let nanos = now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64;
    MONOTONIC_BASE_NANOS.store(nanos, Ordering::SeqCst);
    clock::enable();
}

/// The kernel's clock `clock`, without the stand-in.
///
/// # Safety
/// `time` must be valid to write a timespec into.
unsafe fn kernel_clock(clock: libc::clockid_t, time: *mut libc::timespec) -> libc::c_int {
    libc::syscall(libc::SYS_clock_gettime, clock, time) as libc::c_int
}

/// glibc's `getrandom`, from the seeded stream.
///
/// # Safety
/// `buffer` must be valid to write `length` bytes into.
#[no_mangle]
pub unsafe extern "C" fn getrandom(
    buffer: *mut libc::c_void,
    length: libc::size_t,
    _flags: libc::c_uint,
) -> libc::ssize_t {
    let bytes = std::slice::from_raw_parts_mut(buffer.cast::<u8>(), length);
    let mut random = RANDOM.lock().unwrap_or_else(|poison| poison.into_inner());
    random
        .get_or_insert_with(|| ChaCha8Rng::seed_from_u64(0))
        .fill_bytes(bytes);
    length as libc::ssize_t
}

/// glibc's `clock_gettime`: virtual time for the monotonic and real-time clocks once the
/// simulation runs, the kernel's otherwise.
///
/// # Safety
/// `time` must be valid to write a timespec into.
#[no_mangle]
pub unsafe extern "C" fn clock_gettime(
    clock_id: libc::clockid_t,
    time: *mut libc::timespec,
) -> libc::c_int {
    if !clock::enabled() {
        return kernel_clock(clock_id, time);
    }
    let elapsed = clock::elapsed().as_nanos() as u64;
    let nanos = match clock_id {
        libc::CLOCK_MONOTONIC | libc::CLOCK_MONOTONIC_COARSE | libc::CLOCK_BOOTTIME => {
            MONOTONIC_BASE_NANOS.load(Ordering::SeqCst) + elapsed
        }
        libc::CLOCK_REALTIME | libc::CLOCK_REALTIME_COARSE => {
            clock::EPOCH.as_nanos() as u64 + elapsed
        }
        _ => return kernel_clock(clock_id, time),
    };
    (*time).tv_sec = (nanos / 1_000_000_000) as libc::time_t;
    (*time).tv_nsec = (nanos % 1_000_000_000) as libc::c_long;
    0
}
