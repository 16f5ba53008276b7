//! `help`: what each command does.

use std::io::{self, Write};

/// The help text, one command a line.
const HELP: &str = "\
Commands:
  add KEY VALUE   store VALUE (the rest of the line) under KEY and send it to every peer
  get KEY         show the value of KEY
  delete KEY      delete KEY on every node
  list            show every key and value, sorted by key
  status          show this node's id, mode, addresses, peers and counters
  allow add PEERID [--name NAME] [--for DURATION]
                  let PEERID connect and write (for a while, e.g. --for 24h); with anyone
                  listed, every peer not listed is refused
  allow remove PEERID
                  take PEERID off the list: its connections close now, its new writes are
                  refused (those already stored stay)
  allow list      show the allow-list with names and expiry
  help            show this help
  quit            stop the node (Ctrl-D or end of input does the same)";

/// Prints the help text.
pub fn run(out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "{HELP}")
}
