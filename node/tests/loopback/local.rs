//! Nodes on 127.0.0.1 without mDNS: free ports, starting a node that dials given peers, the
//! addresses others dial to reach it, and runs to completion on a given input.

use crate::driver::{start_command, Node};
use std::io::Write;
use std::path::Path;
use std::process::{ExitStatus, Stdio};

/// The options every loopback node gets before its own.
const LOOPBACK: [&str; 3] = ["--listen-ip", "127.0.0.1", "--no-mdns"];

pub use crate::driver::free_port;

/// Runs `p2p-sync start` with `args` (after the loopback defaults) to completion without
/// input; returns its exit status and standard error.
pub fn run_to_exit(args: &[&str]) -> (ExitStatus, String) {
    let (status, _, stderr) = run_with_input(args, Vec::new());
    (status, stderr)
}

/// Runs `p2p-sync start` with `args` (after the loopback defaults), `input` as its whole
/// standard input, to completion; returns its exit status, standard output and standard error.
pub fn run_with_input(args: &[&str], input: Vec<u8>) -> (ExitStatus, String, String) {
    let mut child = start_command(&[])
        .args(LOOPBACK)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run p2p-sync");
    let mut stdin = child.stdin.take().expect("stdin");
    // From a thread: the node reads its input while its output is being collected.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let output = child.wait_with_output().expect("wait for p2p-sync");
    writer.join().expect("the input writer");
    (
        output.status,
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Starts node `name` on `port` with `data_dir`, dialing `dial`; returns after the banner.
pub fn start(name: &str, data_dir: &Path, port: u16, dial: &[String]) -> Node {
    start_with(name, data_dir, port, dial, &[])
}

/// Like [`start`], with more options (e.g. `--psk-file`, `--allow`).
pub fn start_with(
    name: &str,
    data_dir: &Path,
    port: u16,
    dial: &[String],
    options: &[&str],
) -> Node {
    let mut command = start_command(&[]);
    command.args(options);
    command
        .args(LOOPBACK)
        .arg("--port")
        .arg(port.to_string())
        .arg("--data-dir")
        .arg(data_dir);
    for address in dial {
        command.args(["--dial", address]);
    }
    Node::start(name, command)
}

/// The addresses others dial to reach a loopback node.
pub trait Dialable {
    /// Over TCP.
    fn address(&self) -> String;
    /// Over QUIC.
    fn quic_address(&self) -> String;
}

impl Dialable for Node {
    fn address(&self) -> String {
        listed(self, "/tcp/")
    }

    fn quic_address(&self) -> String {
        listed(self, "/quic-v1/")
    }
}

/// The first address `node`'s banner lists that contains `transport`.
fn listed(node: &Node, transport: &str) -> String {
    node.listening
        .iter()
        .find(|address| address.contains(transport))
        .unwrap_or_else(|| node.fail(&format!("no {transport} address in its banner")))
        .clone()
}
