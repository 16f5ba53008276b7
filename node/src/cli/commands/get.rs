//! `get KEY`: print the value.

use crate::escape::printable;
use crate::net::Node;
use std::io::{self, Write};

/// Prints `✓ key = value`, or `✗ Not found: key`.
pub fn run(node: &Node, key: &str, out: &mut dyn Write) -> io::Result<()> {
    match node.get(key) {
        Ok(Some(value)) => writeln!(out, "✓ {} = {}", printable(key), printable(&value)),
        Ok(None) => writeln!(out, "✗ Not found: {}", printable(key)),
        Err(error) => writeln!(out, "✗ Storage error: {error}"),
    }
}
