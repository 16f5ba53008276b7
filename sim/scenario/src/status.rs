//! The real node's `status` text (node/src/cli/commands/status.rs) as a world reads it: the
//! peers it is connected to, its mesh, its key counts and its dropped messages by reason. Every
//! reader of `status` (the LAN world, the node's process tests and benches) goes through
//! [`Status::parse`]; the node's own test of its `status` text reads it back with it.

use p2p_sync_core::DropReason;
use std::collections::BTreeMap;

/// What a `status` says, as far as worlds and tests read it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    /// The PeerIds listed under `Connected peers (N):`, in its order.
    pub connected: Vec<String>,
    /// `Gossipsub mesh peers: 2; …` → 2.
    pub mesh: Option<u64>,
    /// `Keys: 3 (4 including deleted)` → 3.
    pub live_keys: Option<u64>,
    /// `Keys: 3 (4 including deleted)` → 4.
    pub stored_keys: Option<u64>,
    /// `Dropped messages: 3 (rate_limited 0, too_large 2, …)` → reason → count.
    pub dropped: BTreeMap<String, u64>,
}

impl Status {
    /// Reads the lines of one `status` answer; lines it does not know are passed over.
    pub fn parse<S: AsRef<str>>(lines: &[S]) -> Status {
        let mut status = Status::default();
        let mut lines = lines.iter().map(AsRef::as_ref).peekable();
        while let Some(line) = lines.next() {
            if line.starts_with("Connected peers (") {
                while let Some(peer) = lines.peek().and_then(|line| line.strip_prefix("  ")) {
                    status
                        .connected
                        .extend(peer.split_whitespace().next().map(String::from));
                    lines.next();
                }
            } else if let Some(mesh) = line.strip_prefix("Gossipsub mesh peers: ") {
                status.mesh = mesh.split(';').next().and_then(|count| count.parse().ok());
            } else if let Some(keys) = line.strip_prefix("Keys: ") {
                let mut numbers = keys
                    .split(|c: char| !c.is_ascii_digit())
                    .filter(|part| !part.is_empty())
                    .map(|number| number.parse().ok());
                status.live_keys = numbers.next().flatten();
                status.stored_keys = numbers.next().flatten();
            } else if let Some(dropped) = line.strip_prefix("Dropped messages: ") {
                let inside = dropped
                    .split_once('(')
                    .and_then(|(_, rest)| rest.strip_suffix(')'))
                    .unwrap_or_default();
                status.dropped = inside
                    .split(", ")
                    .filter_map(|pair| pair.rsplit_once(' '))
                    .filter_map(|(reason, count)| Some((reason.to_string(), count.parse().ok()?)))
                    .collect();
            }
        }
        status
    }

    /// Messages dropped for `reason` (0 when the line does not name it).
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped.get(reason.name()).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_give_peers_keys_and_drops() {
        let status = Status::parse(&[
            "Peer ID: x",
            "Connected peers (2):",
            "  12D3a (subscribed to p2p-sync, mesh peer)",
            "  12D3b (not subscribed to p2p-sync yet)",
            "Gossipsub mesh peers: 1; other subscribed (gossip) peers: 0",
            "Keys: 3 (4 including deleted)",
            "Dropped messages: 3 (rate_limited 0, too_large 2, malformed 1)",
        ]);
        assert_eq!(status.connected, ["12D3a", "12D3b"]);
        assert_eq!(status.mesh, Some(1));
        assert_eq!((status.live_keys, status.stored_keys), (Some(3), Some(4)));
        assert_eq!(status.dropped(DropReason::TooLarge), 2);
        assert_eq!(status.dropped(DropReason::Malformed), 1);
        assert_eq!(status.dropped(DropReason::Invalid), 0);
        assert_eq!(status.dropped.get("invalid"), None);
    }
}
