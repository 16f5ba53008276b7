//! The node under test: its binary, a free port, a `p2p-sync start` on 127.0.0.1 (no mDNS,
//! no HTTP API), its keys, and its memory from `/proc`.

use p2p_sync_lab::process::NodeProcess;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The node binary: `given`, or `p2p-sync` beside this one; an error if there is none.
pub fn binary(given: Option<PathBuf>) -> Result<PathBuf, String> {
    let binary = match given {
        Some(path) => path,
        None => std::env::current_exe()
            .map_err(|e| e.to_string())?
            .with_file_name("p2p-sync"),
    };
    if !binary.is_file() {
        return Err(format!(
            "no node binary at {} (build it with `cargo build --release -p p2p-sync`, \
             or give --node PATH)",
            binary.display()
        ));
    }
    Ok(binary)
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|e| e.to_string())
}

/// Starts node `name` on `listen`:`port` with its data and log in `dir`, dialling `dial`.
pub fn start(
    binary: &Path,
    name: &str,
    dir: &Path,
    (listen, port): (&str, u16),
    dial: Option<&str>,
) -> Result<NodeProcess, String> {
    let mut command = Command::new(binary);
    command.arg("start").arg("--data-dir").arg(dir);
    command.args(["--no-mdns", "--api", "off", "--listen-ip", listen]);
    command.args(["--port", &port.to_string()]);
    if let Some(peer) = dial {
        command.args(["--dial", peer]);
    }
    NodeProcess::start(name, command, &dir.join("node.log"))
}

/// Adds keys `key-0`… `key-{keys - 1}` (values of about 50 bytes), 5,000 a batch; how long
/// it took.
pub fn load_keys(node: &mut NodeProcess, keys: usize) -> Result<Duration, String> {
    let loading = Instant::now();
    for chunk in (0..keys).collect::<Vec<_>>().chunks(5_000) {
        let adds: Vec<String> = chunk
            .iter()
            .map(|i| format!("add key-{i} value-{i}-{}", "x".repeat(40)))
            .collect();
        node.ask_all(&adds)?;
    }
    Ok(loading.elapsed())
}

/// A memory figure of `/proc/PID/status` (`VmRSS:`, `VmHWM:`) in MiB.
pub fn status_mib(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}
