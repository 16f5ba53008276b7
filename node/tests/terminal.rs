//! The node as a person runs it: in a real pseudo-terminal (the line editor on), typing ahead,
//! pasting several lines, pasting control characters; and as a service, with no input at all.
//! Every wait is bounded and every process is killed when its test ends.

#![cfg(unix)]

#[allow(dead_code)] // this target starts nodes with start_command alone
#[path = "common/driver.rs"]
mod driver;

use nix::pty::{openpty, OpenptyResult};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The line editor's prompt.
const PROMPT: &str = "> ";

/// How long a test waits for an expected screen.
const DEADLINE: Duration = Duration::from_secs(20);

/// A node whose standard input, output and error are one pseudo-terminal, as in a terminal
/// window; the screen is everything it has written.
struct Terminal {
    child: Child,
    keyboard: File,
    screen: mpsc::Receiver<Vec<u8>>,
    seen: String,
}

impl Terminal {
    /// Starts `p2p-sync start` on a new pseudo-terminal and waits for `ready` on the screen.
    fn start(data_dir: &std::path::Path, extra: &[&str], ready: &str) -> Terminal {
        let OpenptyResult { master, slave } = openpty(None, None).expect("openpty");
        let copy = |fd: &OwnedFd| Stdio::from(fd.try_clone().expect("dup the terminal"));
        let child = driver::start_command(&[])
            .args(["--port", "0", "--listen-ip", "127.0.0.1", "--no-mdns"])
            .arg("--data-dir")
            .arg(data_dir)
            .args(extra)
            .env("TERM", "xterm")
            .stdin(copy(&slave))
            .stdout(copy(&slave))
            .stderr(copy(&slave))
            .spawn()
            .expect("run p2p-sync");
        drop(slave);
        let keyboard = File::from(master.try_clone().expect("dup the terminal"));
        let (tx, screen) = mpsc::channel();
        let mut output = File::from(master);
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(read) = output.read(&mut buffer) {
                if read == 0 || tx.send(buffer[..read].to_vec()).is_err() {
                    break;
                }
            }
        });
        let mut terminal = Terminal {
            child,
            keyboard,
            screen,
            seen: String::new(),
        };
        terminal.wait_for(ready);
        terminal
    }

    /// Sends `bytes` in one write, as a burst of typing or a paste does.
    fn send(&mut self, bytes: &[u8]) {
        self.keyboard.write_all(bytes).expect("type");
    }

    /// Waits until the screen shows `text` (after what was already matched), or fails with
    /// the screen.
    fn wait_for(&mut self, text: &str) {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(at) = self.seen.find(text) {
                self.seen.drain(..at + text.len());
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.screen.recv_timeout(left) {
                Ok(bytes) => self.seen.push_str(&String::from_utf8_lossy(&bytes)),
                Err(_) => panic!("never saw {text:?}; the screen shows:\n{}", self.seen),
            }
        }
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `\e[200~ … \e[201~`: how a terminal with bracketed paste sends a paste.
fn bracketed(text: &str) -> Vec<u8> {
    format!("\x1b[200~{text}\x1b[201~").into_bytes()
}

#[test]
fn lines_typed_ahead_in_one_burst_all_run_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut terminal = Terminal::start(dir.path(), &[], PROMPT);
    terminal.send(b"add x1 1\radd x2 2\radd x3 3\rlist\r");
    terminal.wait_for("Stored items (3):");
    terminal.wait_for("x1 = 1");
    terminal.wait_for("x2 = 2");
    terminal.wait_for("x3 = 3");
}

#[test]
fn a_pasted_block_runs_as_the_lines_it_holds() {
    let dir = tempfile::tempdir().unwrap();
    let mut terminal = Terminal::start(dir.path(), &[], PROMPT);
    terminal.send(&bracketed("add p1 a\radd p2 b\rget p1"));
    terminal.send(b"\r");
    terminal.wait_for("✓ Added: p1 = a");
    terminal.wait_for("✓ Added: p2 = b");
    terminal.wait_for("✓ p1 = a");
    terminal.send(b"list\r");
    terminal.wait_for("Stored items (2):");
}

#[test]
fn plain_input_stores_pasted_control_characters_exactly_and_shows_them_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let mut terminal = Terminal::start(dir.path(), &["--plain-input"], "Commands:");
    terminal.send(b"add esc \x1b[31mRED\x1b[0m text\n");
    terminal.wait_for(r"✓ Added: esc = \u{1b}[31mRED\u{1b}[0m text");
    terminal.send(b"get \x1b[1m\n");
    terminal.wait_for(r"✗ Not found: \u{1b}[1m");
    terminal.send(b"frob\x1b[2J\n");
    terminal.wait_for(r"Unknown command 'frob\u{1b}[2J'");
}

#[test]
fn without_input_the_node_serves_until_sigterm_and_logs_to_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("node.log");
    let mut child = driver::start_command(&[])
        .args(["--port", "0", "--listen-ip", "127.0.0.1", "--no-mdns"])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("--log-file")
        .arg(&log)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run p2p-sync");
    let serving = driver::poll(|| {
        std::fs::read_to_string(&log)
            .is_ok_and(|text| text.contains("Reading no commands: serving until SIGTERM"))
    });
    std::thread::sleep(Duration::from_millis(500));
    let still_running = child.try_wait().expect("poll the node").is_none();
    let term = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(term.success());
    let output = child.wait_with_output().expect("wait for the node");
    assert!(serving.is_some(), "never logged that it serves");
    assert!(still_running, "a node on /dev/null stopped by itself");
    assert!(output.status.success(), "{:?}", output.status);
    let banner = String::from_utf8_lossy(&output.stdout);
    assert!(banner.contains("stop with SIGTERM"), "{banner}");
    assert!(output.stderr.is_empty(), "logs went to stderr too");
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("Shutting down"), "{logged}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&log).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the log file is readable by others");
}
