//! `delete KEY`: store a tombstone and publish it.

use super::failure;
use crate::escape::printable;
use crate::net::Node;
use std::io::{self, Write};

/// Deletes `key` and prints `✓ Deleted: key`; a key with no value here is still deleted
/// everywhere (a peer may hold a value this node has not seen yet).
pub fn run(node: &mut Node, key: &str, out: &mut dyn Write) -> io::Result<()> {
    match node.delete(key) {
        Ok(true) => writeln!(out, "✓ Deleted: {}", printable(key)),
        Ok(false) => writeln!(out, "✓ Deleted: {} (it had no value here)", printable(key)),
        Err(error) => writeln!(out, "{}", failure(&error)),
    }
}
