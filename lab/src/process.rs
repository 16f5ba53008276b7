//! One real `p2p-sync start` process: typed commands on its standard input, replies read from
//! its standard output (its log goes to a file), `kill -9` on demand and on drop.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::Duration;

/// The longest a node may take to print its banner or answer one command.
const REPLY_DEADLINE: Duration = Duration::from_secs(30);

/// A running node.
pub struct NodeProcess {
    name: String,
    child: Child,
    stdin: ChildStdin,
    stdout: Receiver<String>,
    /// Its PeerId, from the banner.
    pub peer_id: String,
}

impl NodeProcess {
    /// Spawns `command` (a `p2p-sync start …`, possibly behind `ip netns exec`) as node
    /// `name`, its log appended to `log`; returns once the banner is printed.
    pub fn start(name: &str, mut command: Command, log: &Path) -> Result<Self, String> {
        let log = File::options()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|error| format!("cannot open {}: {error}", log.display()))?;
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(|error| format!("cannot start node {name}: {error}"))?;
        let (tx, stdout) = mpsc::channel();
        let out = BufReader::new(child.stdout.take().expect("piped stdout"));
        thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take().expect("piped stdin");
        let mut node = NodeProcess {
            name: name.to_string(),
            child,
            stdin,
            stdout,
            peer_id: String::new(),
        };
        node.expect_line("=== P2P Sync System Started ===")?;
        let line = node.line()?;
        node.peer_id = line
            .strip_prefix("Peer ID: ")
            .ok_or_else(|| format!("node {name}: not a PeerId line: {line}"))?
            .to_string();
        while !node.line()?.starts_with("Commands: ") {}
        Ok(node)
    }

    fn expect_line(&mut self, expected: &str) -> Result<(), String> {
        let line = self.line()?;
        if line == expected {
            Ok(())
        } else {
            Err(format!(
                "node {}: expected {expected:?}, got {line:?}",
                self.name
            ))
        }
    }

    /// The next line of output.
    fn line(&mut self) -> Result<String, String> {
        self.stdout
            .recv_timeout(REPLY_DEADLINE)
            .map_err(|error| match error {
                RecvTimeoutError::Timeout => format!("node {}: no reply in time", self.name),
                RecvTimeoutError::Disconnected => format!("node {} exited", self.name),
            })
    }

    /// The process id, to read its resident memory from `/proc`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Types `lines` at once (consecutive `add`s become one batch) and reads one reply line
    /// for each.
    pub fn ask_all(&mut self, lines: &[String]) -> Result<Vec<String>, String> {
        let mut text = lines.join("\n");
        text.push('\n');
        self.stdin
            .write_all(text.as_bytes())
            .and_then(|()| self.stdin.flush())
            .map_err(|error| format!("node {}: cannot type: {error}", self.name))?;
        lines.iter().map(|_| self.line()).collect()
    }

    /// Types `line` and returns its one reply line.
    pub fn ask(&mut self, line: &str) -> Result<String, String> {
        Ok(self.ask_all(&[line.to_string()])?.remove(0))
    }

    /// `get key`: the value, or `None` when not found.
    pub fn get(&mut self, key: &str) -> Result<Option<String>, String> {
        let reply = self.ask(&format!("get {key}"))?;
        if let Some(value) = reply.strip_prefix(&format!("✓ {key} = ")) {
            return Ok(Some(value.to_string()));
        }
        if reply == format!("✗ Not found: {key}") {
            return Ok(None);
        }
        Err(format!(
            "node {}: unexpected reply to get: {reply}",
            self.name
        ))
    }

    /// `list`: every live key and value, in key order.
    pub fn list(&mut self) -> Result<Vec<(String, String)>, String> {
        let header = self.ask("list")?;
        let count: usize = header
            .strip_prefix("Stored items (")
            .and_then(|rest| rest.strip_suffix("):"))
            .and_then(|count| count.parse().ok())
            .ok_or_else(|| format!("node {}: not a list header: {header}", self.name))?;
        (0..count)
            .map(|_| {
                let line = self.line()?;
                line.strip_prefix("  ")
                    .and_then(|item| item.split_once(" = "))
                    .map(|(key, value)| (key.to_string(), value.to_string()))
                    .ok_or_else(|| format!("node {}: not a list item: {line}", self.name))
            })
            .collect()
    }

    /// `status`: every line of it (the last is always `Dropped messages: …`).
    pub fn status(&mut self) -> Result<Vec<String>, String> {
        let mut lines = vec![self.ask("status")?];
        while !lines
            .last()
            .expect("one line")
            .starts_with("Dropped messages: ")
        {
            lines.push(self.line()?);
        }
        Ok(lines)
    }

    /// Kills the process with SIGKILL (a crash: nothing is flushed or said goodbye).
    pub fn kill(mut self) {
        self.stop();
    }

    /// Types `quit` and waits (briefly) for a clean exit, else kills it.
    pub fn quit(mut self) {
        let _ = writeln!(self.stdin, "quit");
        for _ in 0..100 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        self.stop();
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.stop();
    }
}
