//! `delete KEY`: store a tombstone and publish it.

use super::failure;
use crate::net::Node;
use std::io::{self, Write};

/// Deletes `key` and prints `✓ Deleted: key`; a key with no value here is still deleted
/// everywhere (a peer may hold a value this node has not seen yet).
pub fn run(node: &mut Node, key: &str, out: &mut dyn Write) -> io::Result<()> {
    match node.delete(key) {
        Ok(true) => writeln!(out, "✓ Deleted: {key}"),
        Ok(false) => writeln!(out, "✓ Deleted: {key} (it had no value here)"),
        Err(error) => writeln!(out, "{}", failure(&error)),
    }
}
