//! `add KEY VALUE`: validate, store, publish.

use super::failure;
use crate::net::Node;
use std::io::{self, Write};

/// Stores `key = value` and prints `✓ Added: key = value`.
pub fn run(node: &mut Node, key: &str, value: &str, out: &mut dyn Write) -> io::Result<()> {
    match node.put(key, value) {
        Ok(()) => writeln!(out, "✓ Added: {key} = {value}"),
        Err(error) => writeln!(out, "{}", failure(&error)),
    }
}
