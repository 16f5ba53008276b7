//! `status`: identity, addresses, peers, keys and counters.

use super::plural;
use crate::net::behaviour::TOPIC;
use crate::net::{Node, Status};
use p2p_sync_core::DropReason;
use std::fmt::Write as _;
use std::io::{self, Write};

/// Prints the node's status; the last line is always the `Dropped messages:` line.
pub fn run(node: &Node, out: &mut dyn Write) -> io::Result<()> {
    match node.status() {
        Ok(status) => write!(out, "{}", format(&status)),
        Err(error) => writeln!(out, "✗ Storage error: {error}"),
    }
}

/// The node's mode: open, private network, allow-list (with its size), or both.
pub fn mode(status: &Status) -> String {
    let private = status.network_key.as_ref().map(|key| {
        format!("private network, key fingerprint {key} (TCP only; QUIC is off with a network key)")
    });
    let listed = status
        .allow_list
        .map(|size| format!("allow-list ({})", plural(size as u64, "peer")));
    match (private, listed) {
        (None, None) => "open (any peer may connect)".into(),
        (Some(mode), None) | (None, Some(mode)) => mode,
        (Some(private), Some(listed)) => format!("{private}, {listed}"),
    }
}

/// Whether a peer's clock looks off: the latest write refused as stamped too far ahead.
pub fn clock_text(status: &Status) -> String {
    match &status.clock_ahead {
        None => "no write refused for a timestamp ahead of this clock".into(),
        Some((ahead, ago_ms)) => format!(
            "peer {} sent a write stamped {:.1} s ahead of this clock {} s ago: its clock \
             or this one is off (check NTP on both)",
            ahead.peer,
            ahead.ahead_ms as f64 / 1000.0,
            ago_ms / 1000
        ),
    }
}

/// The status report as text.
pub fn format(status: &Status) -> String {
    let mut text = String::new();
    let counters = &status.counters;
    let _ = writeln!(text, "Peer ID: {}", status.peer_id);
    let _ = writeln!(text, "Mode: {}", mode(status));
    let _ = writeln!(text, "Listening on:");
    for address in &status.listen_addresses {
        let _ = writeln!(text, "  {address}");
    }
    let _ = writeln!(text, "Connected peers ({}):", status.peers.len());
    for peer in &status.peers {
        let role = match (peer.mesh, peer.subscribed) {
            (true, _) => format!("subscribed to {TOPIC}, mesh peer"),
            (false, true) => format!("subscribed to {TOPIC}, gossip peer"),
            (false, false) => format!("not subscribed to {TOPIC} yet"),
        };
        let kind = if peer.p2p_sync {
            ""
        } else {
            "; not identified as a p2p-sync node: gossip only"
        };
        let _ = writeln!(text, "  {} ({role}{kind})", peer.peer);
    }
    let mesh = status.peers.iter().filter(|peer| peer.mesh).count();
    let gossip = status
        .peers
        .iter()
        .filter(|peer| peer.subscribed && !peer.mesh)
        .count();
    let _ = writeln!(
        text,
        "Gossipsub mesh peers: {mesh}; other subscribed (gossip) peers: {gossip} \
         (own writes go to every subscribed peer, others' are forwarded through the mesh)"
    );
    let _ = writeln!(
        text,
        "Keys: {} ({} including deleted)",
        status.live_keys, status.stored_keys
    );
    let _ = writeln!(
        text,
        "Writes from peers: {} applied, {} older ignored",
        counters.applied, counters.ignored_older
    );
    let _ = writeln!(
        text,
        "Reconciliation: {} started, {} received, {} sent ({} in, {} out)",
        counters.reconciliations_started,
        plural(counters.reconciled_writes_received, "write"),
        counters.reconciled_writes_sent,
        plural(counters.reconcile_bytes_received, "byte"),
        counters.reconcile_bytes_sent
    );
    let _ = writeln!(
        text,
        "Gossip waiting for send queues: {}",
        status.pending_gossip
    );
    let _ = writeln!(text, "Clock: {}", clock_text(status));
    let envelopes = counters.legacy_envelopes_sent + counters.legacy_envelopes_not_sent;
    if envelopes > 0 {
        let _ = writeln!(
            text,
            "Original app's envelope (--legacy-envelope): {} published, {} not (over {} a \
             minute, or over its 64 KiB frame)",
            plural(counters.legacy_envelopes_sent, "write"),
            counters.legacy_envelopes_not_sent,
            p2p_sync_core::legacy::ENVELOPE_RATE.max_messages
        );
    }
    let reasons: Vec<String> = DropReason::ALL
        .iter()
        .map(|&reason| format!("{reason} {}", counters.dropped.get(reason)))
        .collect();
    let _ = writeln!(
        text,
        "Dropped messages: {} ({})",
        counters.dropped.total(),
        reasons.join(", ")
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::PeerStatus;
    use libp2p::PeerId;
    use p2p_sync_core::Counters;

    #[test]
    fn status_shows_peers_keys_and_drops_by_reason() {
        let (peer, stranger, meshed) = (PeerId::random(), PeerId::random(), PeerId::random());
        let mut counters = Counters::default();
        counters.dropped.too_large = 2;
        counters.dropped.malformed = 1;
        let status = Status {
            peer_id: PeerId::random(),
            listen_addresses: vec!["/ip4/127.0.0.1/tcp/4002".parse().unwrap()],
            peers: vec![
                PeerStatus {
                    peer,
                    subscribed: true,
                    mesh: false,
                    p2p_sync: true,
                },
                PeerStatus {
                    peer: meshed,
                    subscribed: true,
                    mesh: true,
                    p2p_sync: true,
                },
                PeerStatus {
                    peer: stranger,
                    subscribed: false,
                    mesh: false,
                    p2p_sync: false,
                },
            ],
            live_keys: 3,
            stored_keys: 4,
            pending_gossip: 0,
            counters,
            network_key: None,
            allow_list: Some(1),
            clock_ahead: Some((
                p2p_sync_core::ClockAhead {
                    peer: stranger,
                    ahead_ms: 60_000,
                    at_ms: 0,
                },
                3_000,
            )),
        };
        let text = format(&status);
        assert!(
            text.contains(&format!(
                "Clock: peer {stranger} sent a write stamped 60.0 s ahead of this clock 3 s ago"
            )),
            "{text}"
        );
        assert!(text.contains("  /ip4/127.0.0.1/tcp/4002\n"));
        assert!(text.contains(&format!(
            "Connected peers (3):\n  {peer} (subscribed to p2p-sync, gossip peer)\n  \
             {meshed} (subscribed to p2p-sync, mesh peer)\n  \
             {stranger} (not subscribed to p2p-sync yet; not identified as a p2p-sync node: \
             gossip only)\n"
        )));
        assert!(text.contains("Gossipsub mesh peers: 1; other subscribed (gossip) peers: 1 "));
        assert!(text.contains("Keys: 3 (4 including deleted)\n"));
        assert!(text.contains("Mode: allow-list (1 peer)\n"), "{text}");
        assert!(
            text.contains("0 started, 0 writes received, 0 sent (0 bytes in, 0 out)"),
            "{text}"
        );
        assert!(text.ends_with(
            "Dropped messages: 3 (rate_limited 0, too_large 2, malformed 1, invalid 0, future_timestamp 0, forged 0, not_allowed 0, unsolicited 0, key_distribution 0)\n"
        ));
        // Worlds and tests read this text with one parser: it reads back what was shown.
        let read = p2p_sync_scenario::status::Status::parse(&text.lines().collect::<Vec<_>>());
        assert_eq!(
            read.connected,
            [peer, meshed, stranger].map(|id| id.to_string())
        );
        assert_eq!(read.mesh, Some(1));
        assert_eq!((read.live_keys, read.stored_keys), (Some(3), Some(4)));
        assert_eq!(read.dropped.len(), DropReason::ALL.len());
        assert_eq!(read.dropped(DropReason::TooLarge), 2);
    }
}
