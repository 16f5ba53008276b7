//! Running a parsed command against the node; one file per command, each writing its output.

mod add;
mod delete;
mod get;
mod help;
mod list;
mod status;

use super::command::{self, Command};
use crate::core::CommandError;
use crate::net::Node;
use std::io::{self, Write};

/// What the input loop does after a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Read the next line.
    Continue,
    /// Shut down.
    Quit,
}

/// Parses and runs one input line, writing its output (or a hint) to `out`.
pub fn execute(node: &mut Node, line: &str, out: &mut dyn Write) -> io::Result<Flow> {
    let command = match command::parse(line) {
        Ok(Some(command)) => command,
        Ok(None) => return Ok(Flow::Continue),
        Err(hint) => {
            writeln!(out, "{hint}")?;
            return Ok(Flow::Continue);
        }
    };
    match command {
        Command::Add { key, value } => add::run(node, &key, &value, out)?,
        Command::Get { key } => get::run(node, &key, out)?,
        Command::Delete { key } => delete::run(node, &key, out)?,
        Command::List => list::run(node, out)?,
        Command::Status => status::run(node, out)?,
        Command::Help => help::run(out)?,
        Command::Quit => return Ok(Flow::Quit),
    }
    out.flush()?;
    Ok(Flow::Continue)
}

/// The line printed when a command fails: `✗ ` and the reason.
fn failure(error: &CommandError) -> String {
    match error {
        CommandError::Invalid(error) => format!("✗ Invalid input: {error} (nothing stored)"),
        CommandError::Store(error) => format!("✗ Storage error: {error}"),
    }
}
