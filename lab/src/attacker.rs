//! Drives one `p2p-sync-hostile` process (an attacker in its own namespace): starts it, waits
//! until every node it dialled has subscribed, and hands it payloads to publish.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

/// The longest an attacker may take to connect to every node.
const READY_DEADLINE: Duration = Duration::from_secs(30);

/// A running attacker.
pub struct Attacker {
    child: Child,
    stdin: ChildStdin,
}

impl Attacker {
    /// Starts `binary` in namespace `namespace`, dialling `peers` (honest nodes' addresses, in
    /// node order) with one more connection to each node in `solos`; logs to `log`.
    pub fn start(
        binary: &Path,
        namespace: &str,
        peers: &[String],
        solos: &[usize],
        log: &Path,
    ) -> Result<Attacker, String> {
        let log = File::create(log).map_err(|error| format!("{}: {error}", log.display()))?;
        let mut command = Command::new("ip");
        command.args(["netns", "exec", namespace]).arg(binary);
        for peer in peers {
            command.args(["--peer", peer]);
        }
        for solo in solos {
            command.args(["--solo", &solo.to_string()]);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(|error| format!("cannot start {}: {error}", binary.display()))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let stdin = child.stdin.take().expect("piped stdin");
        let attacker = Attacker { child, stdin };
        match rx.recv_timeout(READY_DEADLINE) {
            Ok(line) if line.starts_with("ready") => Ok(attacker),
            _ => Err("the attacker did not connect to every node in time".into()),
        }
    }

    /// Publishes `payload` to node `to`'s own connection (one of the `solos`), or to every
    /// node it is connected to.
    pub fn publish(&mut self, to: Option<usize>, payload: &[u8]) -> Result<(), String> {
        let target = to.map_or_else(|| "all".to_string(), |node| node.to_string());
        let hex: String = payload.iter().map(|byte| format!("{byte:02x}")).collect();
        writeln!(self.stdin, "publish {target} {hex}")
            .and_then(|()| self.stdin.flush())
            .map_err(|error| format!("the attacker is gone: {error}"))
    }
}

impl Drop for Attacker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
