//! Acknowledgements held back from peers that spent their direct budget.
//!
//! The core drops, undecoded, every direct message a peer sends past its budget; but each one
//! was still read off the connection, decrypted and buffered (up to 1 MiB a frame). A peer
//! only sends its next message once the last is acknowledged (an honest node keeps one in
//! flight, and a connection carries at most a few direct streams at a time), so holding the
//! acknowledgement back until the budget refills is what stops such a peer at its source.

use libp2p::request_response::ResponseChannel;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Longest an acknowledgement is held. The direct timeout (5 s) runs from the moment the
/// stream opened, so this leaves a housekeeping tick (1 s) and the frame's reading to spare,
/// and the stream ends in an answer rather than a timeout on both sides.
pub const MAX_HOLD: Duration = Duration::from_secs(2);

/// Acknowledgements waiting for their release time, oldest first.
#[derive(Default)]
pub struct HeldAcks {
    held: VecDeque<(Instant, ResponseChannel<Vec<u8>>)>,
}

impl HeldAcks {
    /// Holds `channel` until `until`, or for [`MAX_HOLD`] from `now` if that is sooner.
    pub fn hold(&mut self, channel: ResponseChannel<Vec<u8>>, now: Instant, until: Instant) {
        let release = until.min(now + MAX_HOLD);
        let at = self.held.partition_point(|(held, _)| *held <= release);
        self.held.insert(at, (release, channel));
    }

    /// How many acknowledgements are held.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// The acknowledgements due at `now`, removed from the hold.
    pub fn due(&mut self, now: Instant) -> Vec<ResponseChannel<Vec<u8>>> {
        let count = self.held.partition_point(|(release, _)| *release <= now);
        self.held
            .drain(..count)
            .map(|(_, channel)| channel)
            .collect()
    }
}
