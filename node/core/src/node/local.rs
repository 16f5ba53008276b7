//! The user's commands on the node: its own writes, stamped by its clock, signed, stored and
//! published (also in the original app's envelope, where configured).

use super::{CommandError, NodeCore, PeerId, Transport};
use crate::auth;
use crate::clock::{Clock, Now};
use crate::error::ValidationError;
use crate::legacy;
use crate::rate_limit::Cost;
use crate::store::{Store, StoreError};
use crate::validate::{validate_key, validate_value};
use crate::version::Version;
use crate::wire;
use crate::write::Write;

impl<S: Store, C: Clock, P: PeerId> NodeCore<S, C, P> {
    /// Stores `key = value` and publishes it. The write is committed before this returns.
    pub fn put(
        &mut self,
        net: &mut dyn Transport<P>,
        key: &str,
        value: &str,
    ) -> Result<Write, CommandError> {
        validate_value(value, &self.config)?;
        let now = Now::read(&self.clock);
        self.write_local(net, now, key, Some(value.to_string()))
    }

    /// Deletes `key` (a tombstone) and publishes the delete. Returns the tombstone and
    /// whether the key was live here before.
    pub fn delete(
        &mut self,
        net: &mut dyn Transport<P>,
        key: &str,
    ) -> Result<(Write, bool), CommandError> {
        validate_key(key, &self.config)?;
        let was_live = self.get(key)?.is_some();
        let now = Now::read(&self.clock);
        Ok((self.write_local(net, now, key, None)?, was_live))
    }

    /// Stores every valid put of `entries` in one transaction and publishes them in batches.
    /// Returns each entry's verdict in order: its write, or the rule it breaks (such an entry
    /// is skipped). A store failure stores and publishes none of them.
    pub fn put_many(
        &mut self,
        net: &mut dyn Transport<P>,
        entries: &[(String, String)],
    ) -> Result<Vec<Result<Write, ValidationError>>, StoreError> {
        let now = Now::read(&self.clock);
        let before = self.hlc;
        let mut verdicts = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let verdict =
                validate_key(key, &self.config).and_then(|()| validate_value(value, &self.config));
            verdicts.push(match verdict {
                Ok(()) => Ok(self
                    .stamp(now, key, Some(value.clone()))
                    .inspect_err(|_| self.hlc = before)?),
                Err(error) => Err(error),
            });
        }
        // Signed together, on every thread the identity gives.
        let mut writes: Vec<Write> = verdicts.iter().flatten().cloned().collect();
        if writes.is_empty() {
            return Ok(verdicts);
        }
        auth::sign_all(&self.signing_key, &mut writes, self.signing_threads);
        let mut signed = writes.iter();
        for write in verdicts.iter_mut().flatten() {
            *write = signed
                .next()
                .expect("one signed write per stamped one")
                .clone();
        }
        // A refused write leaves no trace: the clock goes back to where it was.
        self.store
            .apply(&writes)
            .inspect_err(|_| self.hlc = before)?;
        // No batch holds more writes than a receiver checks in one message.
        for batch in writes.chunks(self.config.max_writes_per_message.max(1)) {
            for message in wire::encode_writes(batch, self.config.max_message_bytes) {
                net.publish(message);
            }
        }
        if let [write] = writes.as_slice() {
            self.publish_envelope(net, now, write);
        }
        Ok(verdicts)
    }

    /// The live value of `key`, if any.
    pub fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.store.get(key)?.and_then(|write| write.value))
    }

    /// A local write of `key` (not signed yet), stamped after everything this node did and after the
    /// write it holds for `key`. Remote writes stamped ahead of the local clock (a peer whose
    /// clock runs fast, within the bound) do not move the node's clock; only a write that
    /// overwrites one of them is stamped past it, so a user's overwrite still wins.
    fn stamp(&mut self, now: Now, key: &str, value: Option<String>) -> Result<Write, StoreError> {
        self.hlc = self.hlc.tick(now.wall_ms);
        let mut hlc = self.hlc;
        if self.store.summary().max_hlc >= hlc {
            if let Some(stored) = self.store.get(key)? {
                hlc = hlc.max(stored.version.hlc.tick(now.wall_ms));
            }
        }
        let write = Write {
            key: key.to_string(),
            value,
            version: Version {
                hlc,
                origin: self.origin.clone(),
            },
            signature: None,
        };
        Ok(write)
    }

    fn write_local(
        &mut self,
        net: &mut dyn Transport<P>,
        now: Now,
        key: &str,
        value: Option<String>,
    ) -> Result<Write, CommandError> {
        validate_key(key, &self.config)?;
        let before = self.hlc;
        let mut write = self.stamp(now, key, value)?;
        auth::sign(&self.signing_key, &mut write);
        self.store
            .apply(std::slice::from_ref(&write))
            .inspect_err(|_| self.hlc = before)?;
        net.publish(wire::encode_write(&write));
        self.publish_envelope(net, now, &write);
        Ok(write)
    }

    /// With [`crate::Config::legacy_envelope`], publishes the node's single write `write` also in the
    /// original app's signed envelope, if it fits the app's frame and the envelope budget
    /// ([`legacy::ENVELOPE_RATE`]). Otherwise only counted: the original app has no catch-up,
    /// so it gets that key with a later write that goes out. Batches never go in the envelope.
    fn publish_envelope(&mut self, net: &mut dyn Transport<P>, now: Now, write: &Write) {
        if !self.config.legacy_envelope {
            return;
        }
        match legacy::encode(write, &self.signing_key, &self.origin) {
            Ok(bytes)
                if self.budgets.envelope.admit(
                    &(),
                    now.monotonic_ms,
                    Cost::of(1, bytes.len()),
                    1,
                ) =>
            {
                net.publish(bytes);
                self.counters.legacy_envelopes_sent += 1;
            }
            _ => self.counters.legacy_envelopes_not_sent += 1,
        }
    }
}
