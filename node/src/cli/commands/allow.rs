//! `allow add PEERID [--name NAME] [--for DURATION]`, `allow remove PEERID`, `allow list`:
//! the allow-list of a running node (kept in `allow.txt`).

use crate::net::allow::parse_duration;
use crate::net::Node;
use crate::net::SystemClock;
use libp2p::PeerId;
use p2p_sync_core::wire::format_timestamp;
use p2p_sync_core::Clock;
use std::io::{self, Write};

/// What an `allow` line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// List `peer`, with a name and for a while if given.
    Add {
        /// The peer.
        peer: PeerId,
        /// A name for people.
        name: Option<String>,
        /// How long the entry lasts, in ms.
        for_ms: Option<u64>,
    },
    /// Take `peer` off the list.
    Remove {
        /// The peer.
        peer: PeerId,
    },
    /// Show the list.
    List,
}

const USAGE: &str =
    "Usage: allow add PEERID [--name NAME] [--for DURATION] | allow remove PEERID | allow list";

fn peer(word: Option<&str>) -> Result<PeerId, String> {
    let word = word.ok_or_else(|| USAGE.to_string())?;
    word.parse()
        .map_err(|_| format!("{word:?} is not a PeerId (status shows a node's Peer ID)"))
}

/// Parses the words after `allow`.
pub fn parse(rest: &str) -> Result<Request, String> {
    let mut words = rest.split_whitespace();
    let request = match words.next() {
        Some("add") => {
            let peer = peer(words.next())?;
            let (mut name, mut for_ms) = (None, None);
            while let Some(option) = words.next() {
                let value = words
                    .next()
                    .ok_or_else(|| format!("{option} needs a value; {USAGE}"))?;
                match option {
                    "--name" => name = Some(value.to_string()),
                    "--for" => for_ms = Some(parse_duration(value)?),
                    _ => return Err(USAGE.into()),
                }
            }
            return Ok(Request::Add { peer, name, for_ms });
        }
        Some("remove" | "rm") => Request::Remove {
            peer: peer(words.next())?,
        },
        Some("list" | "ls") => Request::List,
        _ => return Err(USAGE.into()),
    };
    match words.next() {
        None => Ok(request),
        Some(_) => Err(USAGE.into()),
    }
}

/// Carries out `request` and prints the outcome.
pub fn run(node: &mut Node, request: Request, out: &mut dyn Write) -> io::Result<()> {
    match request {
        Request::Add { peer, name, for_ms } => match node.allow_add(peer, name, for_ms) {
            Ok(()) => {
                let size = node.allow_entries().len();
                writeln!(
                    out,
                    "✓ Allowed: {peer} ({size} on the allow-list; every other peer is refused)"
                )
            }
            Err(error) => writeln!(out, "✗ Cannot save the allow-list: {error}"),
        },
        Request::Remove { peer } => match node.allow_remove(&peer) {
            Ok(true) => writeln!(
                out,
                "✓ Removed: {peer} (its connections are closed, its new writes refused)"
            ),
            Ok(false) => writeln!(out, "✗ {peer} is not on the allow-list"),
            Err(error) => writeln!(out, "✗ Cannot save the allow-list: {error}"),
        },
        Request::List => {
            let entries = node.allow_entries();
            if entries.is_empty() {
                let mode = node.status().map(|status| status.allow_list.is_some());
                return match mode {
                    Ok(true) => writeln!(out, "The allow-list is empty: every peer is refused"),
                    _ => writeln!(
                        out,
                        "No allow-list: any peer may connect (allow add PEERID starts one)"
                    ),
                };
            }
            let now = SystemClock::new().now_ms();
            for entry in entries {
                let name = entry.name.as_deref().unwrap_or("-");
                let until = match entry.until_ms {
                    None => "no expiry".to_string(),
                    Some(ms) if entry.is_live(now) => format!("until {}", format_timestamp(ms)),
                    Some(ms) => format!("expired {} (refused)", format_timestamp(ms)),
                };
                writeln!(out, "{}  {name}  {until}", entry.peer)?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_lines_parse_with_options_in_any_order() {
        let peer = PeerId::random();
        assert_eq!(
            parse(&format!("add {peer} --for 24h --name laptop")),
            Ok(Request::Add {
                peer,
                name: Some("laptop".into()),
                for_ms: Some(86_400_000)
            })
        );
        assert_eq!(
            parse(&format!("remove {peer}")),
            Ok(Request::Remove { peer })
        );
        assert_eq!(parse("list"), Ok(Request::List));
        for bad in [
            "",
            "add",
            "add bob",
            "list x",
            &format!("add {peer} --for"),
            &format!("add {peer} --for ever"),
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
