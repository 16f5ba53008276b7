//! Running a parsed command against the node; one file per command, each writing its output.

mod add;
pub mod allow;
mod delete;
mod get;
mod help;
mod list;
pub mod status;

use super::command::{self, Command};
use super::lines::Line;
use crate::escape::printable;
use crate::net::report::plural;
use crate::net::Node;
use p2p_sync_core::CommandError;
use std::io::{self, Write};

/// What the input loop does after a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Read the next line.
    Continue,
    /// Shut down.
    Quit,
}

/// Parses and runs input lines in order, writing their output (or hints, or why a line was
/// refused) to `out`. Consecutive `add`s are stored in one transaction and published together.
pub fn execute_all(node: &mut Node, lines: &[Line], out: &mut dyn Write) -> io::Result<Flow> {
    let mut adds = Vec::new();
    for line in lines {
        let parsed = match line {
            Ok(line) => command::parse(line),
            Err(bad) => Err(bad.to_string()),
        };
        if let Ok(Some(Command::Add { key, value })) = parsed {
            adds.push((key, value));
            continue;
        }
        add::run(node, &std::mem::take(&mut adds), out)?;
        match parsed {
            Ok(Some(command)) => {
                if execute(node, command, out)? == Flow::Quit {
                    out.flush()?;
                    return Ok(Flow::Quit);
                }
            }
            Ok(None) => {}
            Err(hint) => writeln!(out, "✗ {}", printable(&hint))?,
        }
    }
    add::run(node, &adds, out)?;
    out.flush()?;
    Ok(Flow::Continue)
}

/// Runs one command, writing its output to `out`.
fn execute(node: &mut Node, command: Command, out: &mut dyn Write) -> io::Result<Flow> {
    match command {
        Command::Add { key, value } => add::run(node, &[(key, value)], out)?,
        Command::Get { key } => get::run(node, &key, out)?,
        Command::Delete { key } => delete::run(node, &key, out)?,
        Command::List => list::run(node, out)?,
        Command::Status => status::run(node, out)?,
        Command::Allow(request) => allow::run(node, request, out)?,
        Command::Help => help::run(out)?,
        Command::Quit => return Ok(Flow::Quit),
    }
    Ok(Flow::Continue)
}

/// The line printed when a command fails: `✗ ` and the reason.
fn failure(error: &CommandError) -> String {
    match error {
        CommandError::Invalid(error) => format!("✗ Invalid input: {error} (nothing stored)"),
        CommandError::Store(error) => format!("✗ Storage error: {error}"),
    }
}
