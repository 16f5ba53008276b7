//! The trace: one line per event, in order, written only when asked for.

use p2p_sync_scenario::duration::format_ms;
use std::fmt;
use std::io::Write;

/// Where trace lines go, if anywhere.
pub struct Trace<'w> {
    out: Option<&'w mut dyn Write>,
}

impl<'w> Trace<'w> {
    /// A trace into `out`, or none.
    pub fn new(out: Option<&'w mut dyn Write>) -> Self {
        Trace { out }
    }

    /// Writes one line stamped with virtual time `now`; the arguments are only formatted when
    /// tracing. A failing writer (a closed pipe) ends the trace, not the run.
    pub fn line(&mut self, now: u64, what: fmt::Arguments) {
        if let Some(out) = &mut self.out {
            if writeln!(out, "{:>10} {what}", format_ms(now)).is_err() {
                self.out = None;
            }
        }
    }
}
