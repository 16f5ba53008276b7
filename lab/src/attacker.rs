//! Drives one `p2p-sync-hostile` process (an attacker in its own namespace): starts it, waits
//! until every node it dialled has subscribed, and hands it payloads to publish.

use std::collections::BTreeMap;
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
    /// The PeerId that signs what goes to every node (`all`) or to node N only (`N`).
    identities: BTreeMap<String, String>,
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
        let mut attacker = Attacker {
            child,
            stdin,
            identities: BTreeMap::new(),
        };
        match rx.recv_timeout(READY_DEADLINE) {
            Ok(line) if line.starts_with("ready ") => {
                attacker.identities = line
                    .split_whitespace()
                    .skip(1)
                    .filter_map(|pair| pair.split_once('='))
                    .map(|(target, id)| (target.to_string(), id.to_string()))
                    .collect();
                Ok(attacker)
            }
            _ => Err("the attacker did not connect to every node in time".into()),
        }
    }

    fn target(to: Option<usize>) -> String {
        to.map_or_else(|| "all".to_string(), |node| node.to_string())
    }

    /// The PeerId that signs messages for `to` (one node, or every node).
    pub fn identity(&self, to: Option<usize>) -> &str {
        self.identities
            .get(&Self::target(to))
            .map_or("", String::as_str)
    }

    /// Publishes `payload` to node `to`'s own connection (one of the `solos`), or to every
    /// node it is connected to.
    pub fn publish(&mut self, to: Option<usize>, payload: &[u8]) -> Result<(), String> {
        let target = Self::target(to);
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
