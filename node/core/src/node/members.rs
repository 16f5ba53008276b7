//! The allow-list on the node: writes by authors not on it are refused on every path (gossip,
//! reconciliation, also when a listed peer relays them), and members get higher limits.

use super::{NodeCore, PeerId, Transport};
use crate::clock::{Clock, Now};
use crate::counters::DropReason;
use crate::membership::Membership;
use crate::store::Store;

impl<S: Store, C: Clock, P: PeerId> NodeCore<S, C, P> {
    /// Who this node admits.
    pub fn membership(&self) -> &Membership {
        &self.membership
    }

    /// Replaces the allow-list. Writes already stored stay; from now on writes by authors
    /// not admitted are refused.
    pub fn set_membership(&mut self, membership: Membership) {
        self.membership = membership;
    }

    /// Whether writes by `author` are refused here; counts and logs (once per interval) a
    /// refusal of something received from `from`.
    pub(super) fn refuse_author(
        &mut self,
        net: &mut dyn Transport<P>,
        now: Now,
        from: &P,
        author: &str,
    ) -> bool {
        if author == self.origin || self.membership.admits(author) {
            return false;
        }
        let detail = if from.to_string() == author {
            format!("peer {author} is not on the allow-list")
        } else {
            format!("write by {author} (relayed by {from}): author not on the allow-list")
        };
        self.drop_message(net, now, from, DropReason::NotAllowed, detail);
        true
    }

    /// How many times the ordinary limits `peer` gets: more for members.
    pub(super) fn rate_factor(&self, peer: &str) -> u32 {
        if self.membership.is_member(peer) {
            self.config.member_rate_factor
        } else {
            1
        }
    }
}
