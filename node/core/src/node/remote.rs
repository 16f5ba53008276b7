//! Writes from other nodes: the one place every remote write is checked, whichever path it
//! took (gossip in our form or the original app's envelope, or reconciliation), and applied.

use super::{NodeCore, PeerId};
use crate::auth::LEGACY_ORIGIN;
use crate::clock::{Clock, Now};
use crate::error::Refusal;
use crate::legacy;
use crate::store::{Store, StoreError};
use crate::validate::check_remote_write;
use crate::write::{Signature, Write};

impl<S: Store, C: Clock, P: PeerId> NodeCore<S, C, P> {
    /// Checks a remote `write` received at wall time `wall_ms`: the rules of
    /// [`check_remote_write`], then its origin's signature (see `authenticate`; `unsigned_ok`
    /// where the peer it came from is its origin).
    pub(super) fn check_remote(
        &self,
        write: &Write,
        wall_ms: u64,
        unsigned_ok: bool,
    ) -> Result<(), Refusal> {
        check_remote_write(write, wall_ms, &self.config)?;
        self.authenticate(write, unsigned_ok)
    }

    /// Checks that a remote `write`'s origin made it: a signature must verify against the
    /// origin's key. An unsigned write (from a node that predates signatures) is accepted only
    /// from its author on gossip, or on reconciliation from the peer that is its origin; never
    /// one of origin [`LEGACY_ORIGIN`]: those are rows of this node's own legacy database, and
    /// no peer's word makes one (refused as invalid, not forged: nodes built before this rule
    /// still offer theirs, honestly).
    fn authenticate(&self, write: &Write, unsigned_ok: bool) -> Result<(), Refusal> {
        match &write.signature {
            None if write.version.origin == LEGACY_ORIGIN => {
                Err(Refusal::BadOrigin(LEGACY_ORIGIN.to_string()))
            }
            Some(signature) => {
                let message = write.signed_bytes();
                // Ours, or the original app's envelope signature kept with its write.
                if self.keys.verify(&write.version.origin, &message, signature)
                    || legacy::verifies(&*self.keys, write, signature)
                {
                    Ok(())
                } else {
                    Err(Refusal::Forged(format!(
                        "signature of {write} does not match origin {}",
                        write.version.origin
                    )))
                }
            }
            None if unsigned_ok => Ok(()),
            None => Err(Refusal::Forged(format!(
                "unsigned {write} claims origin {}",
                write.version.origin
            ))),
        }
    }

    /// Lets the keys check the signatures of one message's `writes` at once, in order, before
    /// [`NodeCore::authenticate`] asks for them one by one ([`crate::auth::Keys::prefetch`]).
    pub(super) fn prefetch_signatures<'w>(&self, writes: impl Iterator<Item = &'w Write>) {
        let signed: Vec<(&str, Vec<u8>, &Signature)> = writes
            .filter_map(|write| {
                let signature = write.signature.as_ref()?;
                Some((
                    write.version.origin.as_str(),
                    write.signed_bytes(),
                    signature,
                ))
            })
            .collect();
        let signed: Vec<(&str, &[u8], &Signature)> = signed
            .iter()
            .map(|(origin, message, signature)| (*origin, &message[..], *signature))
            .collect();
        self.keys.prefetch(&signed);
    }

    /// Whether the store holds `write`'s key at an equal or newer version, so applying it
    /// would change nothing. A store that cannot be read answers no: applying meets the error.
    pub(super) fn holds_as_new(&self, write: &Write) -> bool {
        self.store.tally().holds(write.id())
            || matches!(self.store.get(&write.key), Ok(Some(held)) if !write.supersedes(&held))
    }

    /// Applies checked remote writes; moves the clock past them; counts applied and ignored.
    pub(super) fn apply_remote(
        &mut self,
        now: Now,
        writes: &[Write],
    ) -> Result<Vec<bool>, StoreError> {
        let before = self.hlc;
        for write in writes
            .iter()
            .filter(|write| write.version.hlc.wall_ms <= now.wall_ms)
        {
            self.hlc = self.hlc.observe(write.version.hlc, now.wall_ms);
        }
        let applied = self
            .store
            .apply(writes)
            .inspect_err(|_| self.hlc = before)?;
        self.store_retry_ms = 0;
        let count = applied.iter().filter(|&&a| a).count() as u64;
        self.counters.applied += count;
        self.counters.ignored_older += applied.len() as u64 - count;
        Ok(applied)
    }
}
