//! The bench's one table: each attack's figures, each beside the goal of issue 20 it is held
//! to (✓ met, ✗ missed), and the notes each attack made.

use crate::client::Tally;
use crate::measure::Window;
use std::sync::atomic::Ordering;

/// Goals: CPU per message (ms), share of one core (%), resident memory (MiB), `get` p99 (ms),
/// egress over attacker bytes, honest write propagation (ms), and what four stalled
/// subscribers may cost beyond one reading one (MiB).
const CPU_PER_MESSAGE_MS: f64 = 10.0;
const CORE_PERCENT: f64 = 25.0;
const RSS_MIB: f64 = 100.0;
const GET_P99_MS: f64 = 50.0;
const EGRESS_RATIO: f64 = 10.0;
const PROPAGATION_MS: f64 = 2_000.0;
const STALLED_EXTRA_MIB: f64 = 32.0;

/// One row: the node idle, or under one attack.
#[derive(Debug)]
pub struct Row {
    name: String,
    /// (identities, messages, bytes sent, bytes received) of the attacker; none when idle.
    attacker: Option<(u64, u64, u64, u64)>,
    window: Window,
    notes: Vec<String>,
    /// Whether the attackers are subscribers: sent the gossip they asked for, so the egress
    /// and per-message goals do not apply.
    subscribers: bool,
}

impl Row {
    /// The node with no attacker.
    pub fn idle(window: Window) -> Row {
        Row {
            name: "idle (no attacker)".into(),
            attacker: None,
            window,
            notes: Vec::new(),
            subscribers: false,
        }
    }

    /// The node under the attack `name` that `tally` counted, by `subscribers` or not.
    pub fn attack(name: &str, tally: &Tally, window: Window, subscribers: bool) -> Row {
        let load = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed);
        Row {
            name: name.into(),
            attacker: Some((
                load(&tally.identities),
                load(&tally.messages),
                load(&tally.sent),
                load(&tally.received),
            )),
            window,
            notes: tally.notes.lock().expect("notes").clone(),
            subscribers,
        }
    }
}

/// `value` with ✓ when `met`, in bold with ✗ otherwise.
fn judged(value: String, met: bool) -> String {
    if met {
        format!("{value} ✓")
    } else {
        format!("**{value} ✗**")
    }
}

fn megabytes(bytes: u64) -> String {
    format!("{:.2} MB", bytes as f64 / 1e6)
}

/// The row's cells, in the table's order.
fn cells(row: &Row) -> Vec<String> {
    let w = &row.window;
    let core = w.cpu_s / w.seconds.max(1e-9) * 100.0;
    let p99 = Window::quantile(&w.gets_ms, 0.99);
    let worst_write = Window::quantile(&w.propagation_ms, 1.0);
    let (identities, sent, egress, per_message) = match row.attacker {
        None => ("–".into(), "–".into(), "–".into(), "–".into()),
        Some((identities, messages, sent, received)) => {
            let ratio = received as f64 / sent.max(1) as f64;
            let per_message = if messages == 0 || row.subscribers {
                "–".into()
            } else {
                let ms = w.cpu_s * 1000.0 / messages as f64;
                judged(
                    format!("{ms:.2} ({messages} msgs)"),
                    ms <= CPU_PER_MESSAGE_MS,
                )
            };
            (
                identities.to_string(),
                megabytes(sent),
                if row.subscribers {
                    format!("{} (its gossip)", megabytes(received))
                } else {
                    judged(
                        format!("{} ({ratio:.1}×)", megabytes(received)),
                        ratio <= EGRESS_RATIO,
                    )
                },
                per_message,
            )
        }
    };
    let writes = if w.propagation_ms.is_empty() && w.lost == 0 {
        "–".into()
    } else {
        judged(
            format!(
                "{:.0} / {:.0}{}",
                Window::quantile(&w.propagation_ms, 0.5),
                worst_write,
                if w.lost > 0 {
                    format!(", {} lost", w.lost)
                } else {
                    String::new()
                }
            ),
            w.lost == 0 && worst_write <= PROPAGATION_MS,
        )
    };
    vec![
        row.name.clone(),
        identities,
        sent,
        egress,
        judged(
            format!("{:.1} s ({core:.0}%)", w.cpu_s),
            core <= CORE_PERCENT,
        ),
        per_message,
        judged(
            format!("{:.0} → {:.0}", w.rss_start_mib, w.rss_peak_mib),
            w.rss_peak_mib <= RSS_MIB,
        ),
        judged(format!("{p99:.1}"), p99 <= GET_P99_MS),
        writes,
    ]
}

/// Prints the table, the notes under it, and the slow-reader comparison.
pub fn print(rows: &[Row]) {
    println!(
        "\n| attack | identities | attacker sent | node egress to it (≤ {EGRESS_RATIO}×) | node CPU \
         (≤ {CORE_PERCENT}% of a core) | CPU ms/msg (≤ {CPU_PER_MESSAGE_MS}) | RSS start → peak MiB \
         (≤ {RSS_MIB}) | get p99 ms (≤ {GET_P99_MS}) | honest write p50 / max ms (≤ {PROPAGATION_MS}) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        println!("| {} |", cells(row).join(" | "));
    }
    println!();
    for row in rows.iter().filter(|row| !row.notes.is_empty()) {
        println!("- {}: {}", row.name, row.notes.join("; "));
    }
    let peak = |prefix: &str| {
        rows.iter()
            .find(|row| row.name.starts_with(prefix))
            .map(|row| row.window.rss_peak_mib)
    };
    if let (Some(one), Some(four)) = (peak("7a."), peak("7.")) {
        let extra = four - one;
        println!(
            "- four stalled subscribers' peak RSS beyond one reading subscriber's: {} (≤ {STALLED_EXTRA_MIB} MiB)",
            judged(format!("{extra:.0} MiB"), extra <= STALLED_EXTRA_MIB)
        );
    }
    for row in rows {
        if row.window.written > 0 {
            println!(
                "- {}: the honest writer added {} writes on the node during it",
                row.name, row.window.written
            );
        }
    }
}
