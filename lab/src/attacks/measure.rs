//! What the bench measures of the node, from outside: CPU (utime + stime of `/proc/PID/stat`,
//! every thread), peak resident memory (`VmHWM` of `/proc/PID/status`, reset before each
//! window through `/proc/PID/clear_refs`, and `VmRSS` sampled as a check), `get` latency typed
//! on its standard input, and how long an honest write added on it takes to reach a second
//! honest node.

use crate::node::status_mib;
use p2p_sync_lab::process::NodeProcess;
use std::time::{Duration, Instant};

/// Clock ticks per second of `/proc/PID/stat` (`USER_HZ`, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;
/// Pause between two `get`s.
const GET_EVERY: Duration = Duration::from_millis(20);
/// An honest write is added on the node this often.
const PROBE_EVERY: Duration = Duration::from_secs(2);
/// How long the second node is given to receive it before it counts as lost.
const PROBE_GIVE_UP: Duration = Duration::from_secs(10);

/// CPU ticks (user + system) the process has used, from `/proc/PID/stat`.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command (which may hold spaces), from field 3 on: utime is 14, stime 15.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    field(14).unwrap_or(0) + field(15).unwrap_or(0)
}

/// Resets the process's peak resident memory to its current one; whether the kernel let it.
fn reset_peak(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

/// Adds writes on the node while a window runs: `per_round` adds typed at once (one batch)
/// each round, with values of `value_bytes`.
#[derive(Debug, Clone, Copy)]
pub struct Writer {
    /// Adds typed at once.
    pub per_round: usize,
    /// Bytes of each value.
    pub value_bytes: usize,
}

/// What one window of time measured on the node.
#[derive(Debug, Default, Clone)]
pub struct Window {
    /// Its length, in seconds.
    pub seconds: f64,
    /// CPU the node used (s), all threads.
    pub cpu_s: f64,
    /// Resident memory at the start and the peak during it (MiB).
    pub rss_start_mib: f64,
    /// The peak (`VmHWM` since the reset, or the largest sample where it cannot be reset).
    pub rss_peak_mib: f64,
    /// `get` latencies (ms).
    pub gets_ms: Vec<f64>,
    /// Times honest writes took to reach the second node (ms).
    pub propagation_ms: Vec<f64>,
    /// Honest writes the second node had not received after [`PROBE_GIVE_UP`].
    pub lost: usize,
    /// Writes the honest writer added.
    pub written: usize,
}

impl Window {
    /// The `q` quantile of `values` (sorted here), or NaN when there are none.
    pub fn quantile(values: &[f64], q: f64) -> f64 {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        match sorted.len() {
            0 => f64::NAN,
            n => sorted[((n - 1) as f64 * q).round() as usize],
        }
    }
}

/// Measures `node` for `duration`: `get`s of its `keys` keys, an honest write added every
/// [`PROBE_EVERY`] and timed until `second` holds it, and `writer`'s adds if any. `label`
/// keeps the probes' keys apart from other windows'.
pub fn watch(
    node: &mut NodeProcess,
    second: &mut NodeProcess,
    keys: usize,
    duration: Duration,
    writer: Option<Writer>,
    label: &str,
) -> Result<Window, String> {
    let pid = node.pid();
    let can_reset = reset_peak(pid);
    let mut window = Window {
        rss_start_mib: status_mib(pid, "VmRSS:"),
        ..Window::default()
    };
    let mut sampled_peak = window.rss_start_mib;
    let ticks = cpu_ticks(pid);
    let started = Instant::now();
    let mut probe: Option<(String, Instant)> = None;
    let mut last_probe = started;
    let mut probes = 0usize;
    let mut i = 0usize;
    while started.elapsed() < duration {
        let key = format!("key-{}", (i * 7919) % keys);
        let asked = Instant::now();
        let value = node.get(&key)?;
        window.gets_ms.push(asked.elapsed().as_secs_f64() * 1000.0);
        if value.is_none() {
            return Err(format!("{key} not found"));
        }
        if let Some(writer) = writer {
            let value = "w".repeat(writer.value_bytes);
            let adds: Vec<String> = (0..writer.per_round)
                .map(|n| format!("add bulk-{label}-{}-{n} {value}", window.written))
                .collect();
            node.ask_all(&adds)?;
            window.written += writer.per_round;
        }
        match &probe {
            Some((key, added)) => {
                if second.get(key)?.is_some() {
                    window
                        .propagation_ms
                        .push(added.elapsed().as_secs_f64() * 1000.0);
                    probe = None;
                } else if added.elapsed() > PROBE_GIVE_UP {
                    window.lost += 1;
                    probe = None;
                }
            }
            None if last_probe.elapsed() >= PROBE_EVERY => {
                let key = format!("probe-{label}-{probes}");
                probes += 1;
                node.ask(&format!("add {key} honest"))?;
                probe = Some((key, Instant::now()));
                last_probe = Instant::now();
            }
            None => {}
        }
        sampled_peak = sampled_peak.max(status_mib(pid, "VmRSS:"));
        i += 1;
        std::thread::sleep(GET_EVERY);
    }
    // A probe still under way is waited for (a little), so a slow one is not lost from view.
    if let Some((key, added)) = probe {
        while added.elapsed() < PROBE_GIVE_UP {
            if second.get(&key)?.is_some() {
                window
                    .propagation_ms
                    .push(added.elapsed().as_secs_f64() * 1000.0);
                break;
            }
            std::thread::sleep(GET_EVERY);
        }
        if added.elapsed() >= PROBE_GIVE_UP {
            window.lost += 1;
        }
    }
    window.seconds = started.elapsed().as_secs_f64();
    window.cpu_s = (cpu_ticks(pid) - ticks) as f64 / TICKS_PER_SECOND;
    window.rss_peak_mib = if can_reset {
        status_mib(pid, "VmHWM:").max(sampled_peak)
    } else {
        sampled_peak
    };
    Ok(window)
}
