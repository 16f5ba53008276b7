//! `add KEY VALUE`: store and publish one entry, or a batch of consecutive adds; the core
//! judges every entry and this prints its verdict.

use super::failure;
use crate::escape::printable;
use crate::net::Node;
use p2p_sync_core::CommandError;
use std::io::{self, Write};

/// Stores every valid `key = value` of `entries` in one transaction, publishes them together,
/// and prints `✓ Added: key = value` for each (the value escaped as `get` shows it), or why
/// it was refused.
pub fn run(node: &mut Node, entries: &[(String, String)], out: &mut dyn Write) -> io::Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let verdicts = match node.put_many(entries) {
        Ok(verdicts) => verdicts,
        Err(error) => return writeln!(out, "{}", failure(&CommandError::Store(error))),
    };
    for ((key, value), verdict) in entries.iter().zip(verdicts) {
        match verdict {
            Ok(_) => writeln!(out, "✓ Added: {} = {}", printable(key), printable(value))?,
            Err(error) => writeln!(out, "{}", failure(&CommandError::Invalid(error)))?,
        }
    }
    Ok(())
}
