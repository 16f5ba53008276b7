//! The allow-list as the user keeps it: `allow.txt` in the data directory, one PeerId a line,
//! optionally followed by a name and `until=<RFC 3339 time>`, `#` starting a comment:
//!
//! ```text
//! # the office machines
//! 12D3KooWRp…  desk-anna
//! 12D3KooWQx…  guest-laptop  until=2026-11-25T18:00:00Z
//! ```
//!
//! `--allow PEERID` adds peers for one run. The list is in force when the file exists or
//! `--allow` is given, even when it lists nobody: removing the last peer never opens the node
//! to everyone (delete the file for that). The `allow` commands edit the file line by line, so
//! the user's comments and order stay.

use libp2p::PeerId;
use p2p_sync_core::wire::{format_timestamp, parse_timestamp};
use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The file inside the data directory.
pub const ALLOW_FILE: &str = "allow.txt";

/// The first lines of a file the node creates.
const HEADER: &str = "\
# p2p-sync allow-list: only these peers may connect and write here.
# One PeerId a line, optionally a name and until=<RFC 3339 time>; # starts a comment.
# Edit by hand (then restart) or with `allow add` / `allow remove` while the node runs.
";

/// One listed peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The peer.
    pub peer: PeerId,
    /// A name for people, if given.
    pub name: Option<String>,
    /// When the entry stops admitting the peer (ms since the epoch), if ever.
    pub until_ms: Option<u64>,
}

impl Entry {
    /// Whether the entry admits its peer at wall time `now_ms`.
    pub fn is_live(&self, now_ms: u64) -> bool {
        self.until_ms.is_none_or(|until| now_ms < until)
    }

    /// The entry as a line of `allow.txt`.
    pub fn line(&self) -> String {
        let mut line = self.peer.to_string();
        if let Some(name) = &self.name {
            line.push_str("  ");
            line.push_str(name);
        }
        if let Some(until) = self.until_ms {
            line.push_str("  until=");
            line.push_str(&format_timestamp(until));
        }
        line
    }
}

/// Reads one line: `None` for a blank or comment line.
fn parse_line(line: &str) -> Result<Option<Entry>, String> {
    let content = line.split('#').next().unwrap_or_default();
    let mut words = content.split_whitespace();
    let Some(first) = words.next() else {
        return Ok(None);
    };
    let peer = first
        .parse::<PeerId>()
        .map_err(|_| format!("{first:?} is not a PeerId"))?;
    let (mut name, mut until_ms) = (Vec::new(), None);
    for word in words {
        match word.strip_prefix("until=") {
            Some(time) => {
                until_ms = Some(
                    parse_timestamp(time)
                        .ok_or_else(|| format!("until={time} is not an RFC 3339 time"))?,
                )
            }
            None => name.push(word),
        }
    }
    let name = (!name.is_empty()).then(|| name.join(" "));
    Ok(Some(Entry {
        peer,
        name,
        until_ms,
    }))
}

/// Reads a whole file's entries; an error names the line.
pub fn parse(text: &str) -> Result<Vec<Entry>, String> {
    text.lines()
        .enumerate()
        .filter_map(|(index, line)| {
            parse_line(line)
                .map_err(|problem| format!("line {}: {problem}", index + 1))
                .transpose()
        })
        .collect()
}

/// The node's allow-list: the file's entries plus the `--allow` peers.
#[derive(Debug)]
pub struct AllowList {
    path: PathBuf,
    /// The file's text, `None` while there is no file.
    text: Option<String>,
    entries: Vec<Entry>,
    extra: Vec<PeerId>,
}

impl AllowList {
    /// Loads `allow.txt` from `data_dir` (if there is one) and adds the `--allow` peers.
    pub fn load(data_dir: &Path, extra: Vec<PeerId>) -> io::Result<AllowList> {
        let path = data_dir.join(ALLOW_FILE);
        let text = match fs::read_to_string(&path) {
            Ok(text) => Some(text),
            Err(error) if error.kind() == io::ErrorKind::NotFound => None,
            Err(error) => return Err(error),
        };
        let entries = parse(text.as_deref().unwrap_or_default()).map_err(|problem| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {problem}", path.display()),
            )
        })?;
        Ok(AllowList {
            path,
            text,
            entries,
            extra,
        })
    }

    /// Whether the list is in force (the file exists or `--allow` was given).
    pub fn is_closed(&self) -> bool {
        self.text.is_some() || !self.extra.is_empty()
    }

    /// The file's entries, in file order, then the `--allow` peers not in the file.
    pub fn entries(&self) -> Vec<Entry> {
        let mut entries = self.entries.clone();
        for peer in &self.extra {
            if !entries.iter().any(|entry| entry.peer == *peer) {
                entries.push(Entry {
                    peer: *peer,
                    name: Some("(--allow)".into()),
                    until_ms: None,
                });
            }
        }
        entries
    }

    /// The peers admitted at wall time `now_ms`, or `None` when the list is not in force.
    pub fn admitted(&self, now_ms: u64) -> Option<HashSet<PeerId>> {
        self.is_closed().then(|| {
            self.entries
                .iter()
                .filter(|entry| entry.is_live(now_ms))
                .map(|entry| entry.peer)
                .chain(self.extra.iter().copied())
                .collect()
        })
    }

    /// Lists `entry` (replacing any line of the same peer) and saves the file.
    pub fn add(&mut self, entry: Entry) -> io::Result<()> {
        let mut text = self.without(&entry.peer);
        text.push_str(&entry.line());
        text.push('\n');
        self.save(text)
    }

    /// Takes `peer` off the file (its `--allow`, if any, too) and saves; says whether it was
    /// listed.
    pub fn remove(&mut self, peer: &PeerId) -> io::Result<bool> {
        let listed = self.entries().iter().any(|entry| entry.peer == *peer);
        self.extra.retain(|extra| extra != peer);
        let text = self.without(peer);
        self.save(text)?;
        Ok(listed)
    }

    /// The file's text without the lines that list `peer` (a new file starts with a header).
    fn without(&self, peer: &PeerId) -> String {
        let Some(text) = &self.text else {
            return HEADER.to_string();
        };
        let mut kept: String = text
            .lines()
            .filter(|line| !matches!(parse_line(line), Ok(Some(entry)) if entry.peer == *peer))
            .flat_map(|line| [line, "\n"])
            .collect();
        if kept.is_empty() {
            kept.push_str(HEADER);
        }
        kept
    }

    /// Writes `text` to a temporary file and renames it into place.
    fn save(&mut self, text: String) -> io::Result<()> {
        let entries =
            parse(&text).map_err(|problem| io::Error::new(io::ErrorKind::InvalidData, problem))?;
        let temporary = self.path.with_extension("tmp");
        fs::write(&temporary, &text)?;
        fs::rename(&temporary, &self.path)?;
        self.entries = entries;
        self.text = Some(text);
        Ok(())
    }
}

/// Reads a duration such as `90s`, `30m`, `24h` or `7d` into milliseconds.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let unit_ms = match text.chars().last() {
        Some('s') => 1_000,
        Some('m') => 60_000,
        Some('h') => 3_600_000,
        Some('d') => 86_400_000,
        _ => {
            return Err(format!(
                "{text:?}: expected a number and s, m, h or d, e.g. 24h"
            ))
        }
    };
    text[..text.len() - 1]
        .parse::<u64>()
        .ok()
        .filter(|&count| count > 0)
        .and_then(|count| count.checked_mul(unit_ms))
        .ok_or_else(|| {
            format!("{text:?}: expected a positive whole number and s, m, h or d, e.g. 24h")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_carry_a_peer_an_optional_name_and_expiry_and_comments() {
        let (a, b) = (PeerId::random(), PeerId::random());
        let text = format!(
            "# office\n\n{a}  desk anna  # by the window\n{b} until=2026-01-01T00:00:00Z\n"
        );
        let entries = parse(&text).unwrap();
        assert_eq!(entries[0].name.as_deref(), Some("desk anna"));
        assert_eq!(entries[1].until_ms, parse_timestamp("2026-01-01T00:00:00Z"));
        assert!(entries[1].is_live(0) && !entries[1].is_live(entries[1].until_ms.unwrap()));
        let error = parse(&format!("{a}\nnot-a-peer\n")).unwrap_err();
        assert!(error.starts_with("line 2:"), "{error}");
        assert_eq!(parse(&entries[0].line()).unwrap()[0], entries[0]);
    }

    #[test]
    fn add_and_remove_keep_the_users_comments_and_never_reopen_the_node() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (PeerId::random(), PeerId::random());
        fs::write(dir.path().join(ALLOW_FILE), format!("# mine\n{a} anna\n")).unwrap();
        let mut list = AllowList::load(dir.path(), Vec::new()).unwrap();
        list.add(Entry {
            peer: b,
            name: None,
            until_ms: Some(5),
        })
        .unwrap();
        assert_eq!(list.admitted(4), Some(HashSet::from([a, b])));
        assert_eq!(
            list.admitted(5),
            Some(HashSet::from([a])),
            "b's entry expired"
        );
        assert!(list.remove(&a).unwrap() && list.remove(&b).unwrap());
        assert!(!list.remove(&b).unwrap());
        let text = fs::read_to_string(dir.path().join(ALLOW_FILE)).unwrap();
        assert_eq!(text, "# mine\n");
        assert_eq!(
            list.admitted(0),
            Some(HashSet::new()),
            "an empty list admits nobody"
        );
    }

    #[test]
    fn without_a_file_or_allow_flags_the_node_is_open() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            AllowList::load(dir.path(), Vec::new()).unwrap().admitted(0),
            None
        );
        let peer = PeerId::random();
        let list = AllowList::load(dir.path(), vec![peer]).unwrap();
        assert_eq!(list.admitted(0), Some(HashSet::from([peer])));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("24h"), Ok(86_400_000));
        assert_eq!(parse_duration("90s"), Ok(90_000));
        assert!(parse_duration("0h").is_err() && parse_duration("soon").is_err());
    }
}
