//! `add KEY VALUE`: validate, store, publish — one entry, or a batch of consecutive adds.

use super::failure;
use crate::core::validate::{validate_key, validate_value};
use crate::core::CommandError;
use crate::escape::printable;
use crate::net::Node;
use std::io::{self, Write};

/// Stores every valid `key = value` of `entries` in one transaction, publishes them together,
/// and prints `✓ Added: key = value` for each (the value escaped as `get` shows it), or why
/// it was refused.
pub fn run(node: &mut Node, entries: &[(String, String)], out: &mut dyn Write) -> io::Result<()> {
    let config = node.config().clone();
    let mut valid = Vec::with_capacity(entries.len());
    let mut lines = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        match validate_key(key, &config).and_then(|()| validate_value(value, &config)) {
            Ok(()) => {
                valid.push((key.clone(), value.clone()));
                lines.push(format!("✓ Added: {key} = {}", printable(value)));
            }
            Err(error) => lines.push(failure(&CommandError::Invalid(error))),
        }
    }
    if !valid.is_empty() {
        if let Err(error) = node.put_many(&valid) {
            return writeln!(out, "{}", failure(&error));
        }
    }
    for line in lines {
        writeln!(out, "{line}")?;
    }
    Ok(())
}
