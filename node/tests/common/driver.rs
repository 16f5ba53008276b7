//! Drives real `p2p-sync` processes: start one with the caller's options (and, if it asks, a
//! launch prefix such as `ip netns exec NS`), type commands, read their output, wait for
//! conditions and log lines with deadlines, kill on drop. Shared by the test targets that
//! include it with `#[path = "../common/driver.rs"] mod driver;`.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, UdpSocket};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// The binary under test, built by Cargo for this test target.
pub const BIN: &str = env!("CARGO_BIN_EXE_p2p-sync");

/// The longest any single wait may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// How often a condition is polled.
const POLL: Duration = Duration::from_millis(50);

/// `p2p-sync start`, run through `prefix` (e.g. `["ip", "netns", "exec", "ns1"]`, or none),
/// logging at `info`; the caller adds the options.
pub fn start_command(prefix: &[&str]) -> Command {
    let mut command = match prefix.split_first() {
        Some((program, args)) => {
            let mut command = Command::new(program);
            command.args(args).arg(BIN);
            command
        }
        None => Command::new(BIN),
    };
    command.arg("start").env("RUST_LOG", "info");
    command
}

/// Runs `p2p-sync keygen-psk FILE`; returns its exit code and what it printed (stdout, then
/// stderr).
#[allow(dead_code)] // used by the tests of private networks, not by every target
pub fn keygen_psk(file: &std::path::Path) -> (Option<i32>, String) {
    let output = Command::new(BIN)
        .arg("keygen-psk")
        .arg(file)
        .output()
        .expect("run p2p-sync keygen-psk");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.code(), text)
}

#[allow(dead_code)] // used by the loopback and API tests, not by every target
/// A port free for both TCP and UDP on 127.0.0.1.
pub fn free_port() -> u16 {
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("bind a TCP port")
            .port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Polls `done` until it holds; returns how long that took, or `None` after [`DEADLINE`].
pub fn poll(mut done: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > DEADLINE {
            return None;
        }
        thread::sleep(POLL);
    }
    Some(start.elapsed())
}

/// One running node.
pub struct Node {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Receiver<String>,
    stderr: Arc<Mutex<Vec<String>>>,
    /// Its PeerId, as printed in the banner.
    pub peer_id: String,
    /// The addresses the banner lists under `Listening on:`, each ending in `/p2p/<PeerId>`.
    pub listening: Vec<String>,
    /// The HTTP API's address (`host:port`) from the banner's `API: http://…` line, if any.
    pub api: Option<String>,
}

impl Node {
    /// Spawns `command` (from [`start_command`]) as node `name`; returns after the banner.
    pub fn start(name: &str, mut command: Command) -> Node {
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("spawn p2p-sync");
        let (tx, stdout) = mpsc::channel();
        let out = BufReader::new(child.stdout.take().expect("stdout"));
        thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let err = BufReader::new(child.stderr.take().expect("stderr"));
        let sink = Arc::clone(&stderr);
        thread::spawn(move || {
            for line in err.lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let mut node = Node {
            name: name.to_string(),
            stdin: child.stdin.take(),
            child,
            stdout,
            stderr,
            peer_id: String::new(),
            listening: Vec::new(),
            api: None,
        };
        assert_eq!(node.line(), "=== P2P Sync System Started ===");
        node.peer_id = node
            .line()
            .strip_prefix("Peer ID: ")
            .expect("the banner's second line names the PeerId")
            .to_string();
        assert_eq!(node.line(), "Listening on:");
        loop {
            let line = node.line();
            match line.strip_prefix("  ") {
                Some(address) => node.listening.push(address.to_string()),
                None if line.starts_with("API: http://") => {
                    node.api = Some(line["API: http://".len()..].to_string());
                }
                None if line.starts_with("Commands: add, get, delete, list, status") => break,
                None => {}
            }
        }
        node
    }

    /// Types `line`.
    pub fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        writeln!(stdin, "{line}").expect("write to the node");
        stdin.flush().expect("flush");
    }

    /// The next line of output.
    pub fn line(&mut self) -> String {
        match self.stdout.recv_timeout(DEADLINE) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => self.fail("no output in time"),
            Err(RecvTimeoutError::Disconnected) => self.fail("the node closed its output"),
        }
    }

    /// Types `command` and returns its one line of output.
    pub fn ask(&mut self, command: &str) -> String {
        self.send(command);
        self.line()
    }

    /// `add key value`, checking the confirmation.
    pub fn add(&mut self, key: &str, value: &str) {
        let reply = self.ask(&format!("add {key} {value}"));
        assert_eq!(reply, format!("✓ Added: {key} = {value}"), "{}", self.name);
    }

    /// `get key`: the value, or `None` when the node says it is not found.
    pub fn get(&mut self, key: &str) -> Option<String> {
        let reply = self.ask(&format!("get {key}"));
        if let Some(value) = reply.strip_prefix(&format!("✓ {key} = ")) {
            return Some(value.to_string());
        }
        assert_eq!(reply, format!("✗ Not found: {key}"), "{}", self.name);
        None
    }

    /// `list`: the item lines.
    pub fn list(&mut self) -> Vec<String> {
        let header = self.ask("list");
        let count: usize = header
            .strip_prefix("Stored items (")
            .and_then(|rest| rest.strip_suffix("):"))
            .and_then(|count| count.parse().ok())
            .unwrap_or_else(|| self.fail(&format!("not a list header: {header}")));
        (0..count).map(|_| self.line()).collect()
    }

    /// `status`: every line of it.
    pub fn status(&mut self) -> Vec<String> {
        self.send("status");
        let mut lines = vec![self.line()];
        while !lines.last().unwrap().starts_with("Dropped messages: ") {
            lines.push(self.line());
        }
        lines
    }

    /// Polls `get key` until it gives `expected`; returns how long that took.
    pub fn wait_for_value(&mut self, key: &str, expected: Option<&str>) -> Duration {
        poll(|| self.get(key).as_deref() == expected)
            .unwrap_or_else(|| self.fail(&format!("{key} never became {expected:?}")))
    }

    /// Waits until a log line contains `needle`; returns how long that took.
    pub fn wait_for_log(&self, needle: &str) -> Duration {
        poll(|| self.logged(needle))
            .unwrap_or_else(|| self.fail(&format!("never logged {needle:?}")))
    }

    /// Every log line so far that contains `needle`.
    pub fn log_lines(&self, needle: &str) -> Vec<String> {
        let lines = self.stderr.lock().unwrap();
        lines
            .iter()
            .filter(|line| line.contains(needle))
            .cloned()
            .collect()
    }

    /// The process id, e.g. to read its memory use in `/proc`.
    #[allow(dead_code)] // used by the benchmarks and loopback tests, not by every test target
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether a log line so far contains `needle`.
    pub fn logged(&self, needle: &str) -> bool {
        !self.log_lines(needle).is_empty()
    }

    /// Types `quit` and waits for the process to exit.
    pub fn quit(mut self) -> ExitStatus {
        self.send("quit");
        self.stdin = None;
        poll(|| self.child.try_wait().expect("wait for the node").is_some())
            .unwrap_or_else(|| self.fail("did not exit after quit"));
        self.child.wait().expect("wait for the node")
    }

    /// Fails the test, showing this node's log.
    pub fn fail(&self, problem: &str) -> ! {
        let log = self.stderr.lock().unwrap().join("\n");
        panic!("node {}: {problem}\n--- its log ---\n{log}", self.name);
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if thread::panicking() {
            let log = self.stderr.lock().unwrap().join("\n");
            eprintln!("--- log of node {} ---\n{log}", self.name);
        }
    }
}
