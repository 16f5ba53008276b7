//! Who belongs: the node's allow-list. Open (the default) admits every peer and author; closed
//! admits only the listed ids (and the node itself). Members (listed ids, or in a private
//! network without a list every peer, as each holds the key) get higher limits. The world
//! keeps it current: the real node from `allow.txt`, `--allow` and the `allow` commands (expiry
//! included), the simulator from a scenario's `allow`, `allow_add` and `allow_remove`.

use std::collections::BTreeSet;

/// The ids a node accepts writes from and grants members' limits to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Membership {
    closed: bool,
    all_members: bool,
    members: BTreeSet<String>,
}

impl Membership {
    /// Every peer is welcome; nobody is a member.
    pub fn open() -> Self {
        Membership::default()
    }

    /// Every peer is welcome and a member: a private network without a list, where only nodes
    /// holding the network key can connect.
    pub fn all_members() -> Self {
        Membership {
            all_members: true,
            ..Membership::default()
        }
    }

    /// Who a node admits and grants members' limits to, the same in every world (the real
    /// node and the simulator both ask this): the peers on its allow-list when one is in
    /// force; else, in a `private` network, every peer (each holds the network key); else
    /// everyone is welcome and nobody is a member.
    pub fn of_network<I: IntoIterator<Item = S>, S: Into<String>>(
        private: bool,
        listed: Option<I>,
    ) -> Self {
        match listed {
            Some(members) => Membership::closed(members),
            None if private => Membership::all_members(),
            None => Membership::open(),
        }
    }

    /// Only `members` are admitted (an empty list admits nobody but the node itself).
    pub fn closed<I: IntoIterator<Item = S>, S: Into<String>>(members: I) -> Self {
        Membership {
            closed: true,
            all_members: false,
            members: members.into_iter().map(Into::into).collect(),
        }
    }

    /// Whether `id` may connect and author writes here.
    pub fn admits(&self, id: &str) -> bool {
        !self.closed || self.members.contains(id)
    }

    /// Whether `id` gets members' limits: it is on the list (or everyone is a member).
    pub fn is_member(&self, id: &str) -> bool {
        self.admits(id) && (self.all_members || self.members.contains(id))
    }

    /// Adds `id` to the list, closing an open membership. Says whether it was new.
    pub fn insert(&mut self, id: impl Into<String>) -> bool {
        self.closed = true;
        self.members.insert(id.into())
    }

    /// Takes `id` off the list; the membership stays closed even when the list empties.
    /// Says whether it was listed.
    pub fn remove(&mut self, id: &str) -> bool {
        self.members.remove(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_admits_everyone_and_lists_nobody() {
        let open = Membership::open();
        assert!(open.admits("anyone") && !open.is_member("anyone"));
    }

    #[test]
    fn a_private_network_without_a_list_makes_every_peer_a_member() {
        let none: Option<[&str; 0]> = None;
        assert!(Membership::of_network(true, none).is_member("anyone"));
        assert_eq!(Membership::of_network(false, none), Membership::open());
        let listed = Membership::of_network(true, Some(["n1"]));
        assert!(listed.is_member("n1") && !listed.admits("n2"));
    }

    #[test]
    fn closed_admits_only_members_and_stays_closed_when_emptied() {
        let mut list = Membership::closed(["n1"]);
        assert!(list.admits("n1") && list.is_member("n1"));
        assert!(!list.admits("n2"));
        assert!(list.insert("n2") && list.admits("n2"));
        assert!(list.remove("n1") && list.remove("n2") && !list.remove("n2"));
        assert!(!list.admits("n1") && !list.admits("n3"));
    }

    #[test]
    fn in_a_private_network_without_a_list_everyone_is_a_member() {
        let private = Membership::all_members();
        assert!(private.admits("anyone") && private.is_member("anyone"));
    }

    #[test]
    fn inserting_closes_an_open_membership() {
        let mut list = Membership::open();
        list.insert("n1");
        assert!(list.admits("n1") && !list.admits("n2"));
    }
}
