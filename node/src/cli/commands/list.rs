//! `list`: every live key and value, sorted by key.

use crate::escape::printable;
use crate::net::Node;
use std::io::{self, Write};

/// Prints `Stored items (N):` and then `  key = value` lines.
pub fn run(node: &Node, out: &mut dyn Write) -> io::Result<()> {
    match node.list() {
        Ok(items) => {
            writeln!(out, "Stored items ({}):", items.len())?;
            for (key, value) in items {
                writeln!(out, "  {} = {}", printable(&key), printable(&value))?;
            }
            Ok(())
        }
        Err(error) => writeln!(out, "✗ Storage error: {error}"),
    }
}
