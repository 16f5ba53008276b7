//! Gossip on the node: a message's budgets (its author's and its forwarder's), its decoding
//! (our form, or the original app's envelope), its writes checked and applied, and the verdict
//! the gossip layer gets.

use super::{Event, NodeCore, PeerId, Transport, Verdict};
use crate::clock::{Clock, Now};
use crate::counters::DropReason;
use crate::error::Refusal;
use crate::legacy;
use crate::rate_limit::Cost;
use crate::store::{Store, StoreError};
use crate::wire;
use crate::write::Write;

impl<S: Store, C: Clock, P: PeerId> NodeCore<S, C, P> {
    /// See [`NodeCore::handle_gossip`].
    pub(super) fn gossip(
        &mut self,
        net: &mut dyn Transport<P>,
        now: Now,
        author: &P,
        forwarder: &P,
        bytes: &[u8],
    ) -> Result<Verdict, StoreError> {
        if bytes.len() > self.config.max_message_bytes {
            let error = Refusal::TooLarge {
                len: bytes.len(),
                max: self.config.max_message_bytes,
            };
            self.drop_error(net, now, forwarder, error);
            return Ok(self.refusal(author, forwarder));
        }
        if self.refuse_author(net, now, forwarder, &author.to_string()) {
            return Ok(Verdict::Ignore);
        }
        if !self.charge_gossip(net, now, author, forwarder, Cost::of(0, bytes.len())) {
            return Ok(Verdict::Ignore);
        }
        let signer = author.to_string();
        let decoded = match wire::decode(bytes, &signer, self.config.max_message_bytes) {
            Ok(decoded) => decoded,
            // Not our form: perhaps the original app's signed envelope.
            Err(error @ Refusal::Malformed(_)) => {
                // Larger than the original app's frames: not parsed again as an envelope.
                let envelope = (bytes.len() <= legacy::MAX_ENVELOPE_BYTES)
                    .then(|| legacy::decode(bytes, &signer))
                    .flatten();
                match envelope {
                    Some(legacy::Decoded::Write(write)) => vec![write],
                    Some(legacy::Decoded::KeyDistribution) => {
                        self.counters.dropped.count(DropReason::KeyDistribution);
                        return Ok(Verdict::Ignore);
                    }
                    None => {
                        self.drop_error(net, now, author, error);
                        return Ok(self.refusal(author, forwarder));
                    }
                }
            }
            Err(error) => {
                self.drop_error(net, now, author, error);
                return Ok(self.refusal(author, forwarder));
            }
        };
        // Every write counts: a batch of 10,000 writes is 10,000 writes of the budgets.
        if !self.charge_gossip(net, now, author, forwarder, Cost::writes(decoded.len())) {
            return Ok(Verdict::Ignore);
        }
        // Unchecked, not forwarded, not penalised (nodes built before the cap sent larger
        // batches): the writes come by reconciliation, a message's worth at a time.
        let max_writes = self.config.max_writes_per_message;
        if decoded.len() > max_writes {
            let detail = format!(
                "{} writes in one message, the limit is {max_writes}",
                decoded.len()
            );
            self.drop_message(net, now, forwarder, DropReason::TooLarge, detail);
            self.reconcile_soon(now, forwarder);
            return Ok(Verdict::Ignore);
        }
        self.prefetch_signatures(decoded.iter().filter_map(|result| result.as_ref().ok()));
        let mut valid = Vec::with_capacity(decoded.len());
        for result in decoded {
            // The decoder made sure the origin is the author, who signed the whole message.
            match result
                .and_then(|write| self.check_remote(&write, now.wall_ms, true).map(|()| write))
            {
                Ok(write) => valid.push(write),
                // The first forged write ends the message: none of it applies or travels on.
                Err(error @ Refusal::Forged(_)) => {
                    self.drop_error(net, now, author, error);
                    if self.answers_for(author, forwarder) {
                        self.strike(now, forwarder);
                    }
                    return Ok(self.refusal(author, forwarder));
                }
                Err(error) => self.drop_error(net, now, author, error),
            }
        }
        if valid.is_empty() {
            return Ok(self.refusal(author, forwarder));
        }
        let applied = self
            .apply_remote(now, &valid)
            .inspect_err(|_| self.retry_after_store_failure(now, forwarder))?;
        let writes: Vec<Write> = valid
            .into_iter()
            .zip(applied)
            .filter_map(|(write, applied)| applied.then_some(write))
            .collect();
        if !writes.is_empty() {
            net.notify(Event::Applied {
                from: author.clone(),
                writes,
            });
        }
        Ok(Verdict::Accept)
    }

    /// Whether `forwarder` answers for a bad message of `author`: it is the author, or a
    /// p2p-sync node, which checks every write before it forwards. A relay that cannot check
    /// (the original app forwards what it cannot verify) is not blamed for what a third party
    /// wrote: a hostile host could otherwise get honest relays struck and disconnected.
    fn answers_for(&self, author: &P, forwarder: &P) -> bool {
        author == forwarder || self.peers.contains(forwarder)
    }

    /// The verdict on a gossip message refused as bad: `Reject` (forwarded nowhere, and the
    /// gossip layer scores its sender down) when the forwarder answers for it, else `Ignore`
    /// (forwarded nowhere, nobody scored).
    fn refusal(&self, author: &P, forwarder: &P) -> Verdict {
        match self.answers_for(author, forwarder) {
            true => Verdict::Reject,
            false => Verdict::Ignore,
        }
    }

    /// Charges gossip from `author` via `forwarder` to both budgets. Over either, the message is
    /// dropped as rate limited, and a reconciliation with the forwarder is due soon after (the
    /// writes are not lost: they arrive within the budgets, by reconciliation).
    fn charge_gossip(
        &mut self,
        net: &mut dyn Transport<P>,
        now: Now,
        author: &P,
        forwarder: &P,
        cost: Cost,
    ) -> bool {
        let forwarder_ok = self
            .budgets
            .forwarder
            .admit(forwarder, now.monotonic_ms, cost, 1);
        let author_name = author.to_string();
        let factor = self.rate_factor(&author_name);
        if forwarder_ok
            && self
                .budgets
                .author
                .admit(&author_name, now.monotonic_ms, cost, factor)
        {
            return true;
        }
        let limited = if forwarder_ok { author } else { forwarder };
        self.drop_message(
            net,
            now,
            limited,
            DropReason::RateLimited,
            format!("rate limit exceeded for peer {limited}"),
        );
        self.reconcile_soon(now, forwarder);
        false
    }
}
