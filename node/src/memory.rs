//! Keeps the process from holding on to the memory of large messages it already dropped.
//!
//! glibc's allocator serves blocks from 128 KiB up with their own mappings, returned to the
//! system when freed; but each such free raises that threshold (up to 32 MiB), after which
//! 1 MiB frames come from the heap and their pages stay with the process. Under a flood of
//! 1 MiB direct messages that made a 100,000-key node's RSS 107 MiB where it needs 70 MiB
//! (`p2p-sync-siege`). Fixing the threshold keeps large buffers returned at once, at the cost
//! of a mapping per large buffer.

/// Smallest block the allocator maps on its own (glibc's initial value, then kept fixed).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD_BYTES: libc::c_int = 128 * 1024;

/// Makes freed large buffers go back to the system at once. Call it before the runtime
/// starts; where the allocator is not glibc's, it does nothing.
pub fn return_large_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `mallopt` only sets one of the allocator's tunables; it takes the
        // allocator's own locks and touches no memory of ours.
        let set = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) };
        if set != 1 {
            tracing::debug!(
                "the allocator refused a fixed mmap threshold: freed frames may linger"
            );
        }
    }
}
