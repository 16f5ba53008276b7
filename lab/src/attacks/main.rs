//! `p2p-sync-attacks`: the hostile benchmark beside the siege. It starts a release
//! `p2p-sync start --no-mdns` on 127.0.0.1 holding `--keys` keys and a second honest node
//! dialled to it, then runs each attack in turn for `--seconds` (from one host, with many
//! identities, by clients of its own: bare libp2p swarms and hand-written frames, not the
//! node's code) while it measures the first node from outside: CPU and peak memory from
//! `/proc`, `get` latency typed on its standard input, and how long an honest write added on
//! it takes to reach the second node. It prints one table, each figure beside the goal of
//! issue 20, and the same node idle for context.
//!
//! `cargo build --release -p p2p-sync -p p2p-sync-lab && target/release/p2p-sync-attacks --all`

use clap::{Parser, ValueEnum};
use client::{Tally, Target};
use measure::{Window, Writer};
use p2p_sync_lab::process::NodeProcess;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod client;
mod connections;
mod direct;
mod egress;
#[path = "../siege/flood.rs"]
mod flood;
mod forged;
mod forged_gossip;
mod forged_records;
#[path = "../siege/frames.rs"]
mod frames;
mod kad;
mod measure;
#[path = "../siege/node.rs"]
mod node;
mod siege;
mod slow_readers;
mod table;
#[path = "../siege/wire.rs"]
mod wire;

/// The attacks, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Attack {
    /// The siege's reconciliation requests (resize, page, want, estimate, sketch), out of order.
    Siege,
    /// Kademlia ADD_PROVIDER and PUT_VALUE flood, then a GET_PROVIDERS.
    Kad,
    /// Reconciliation `Records` of forged writes after a `Hello`.
    Records,
    /// Gossip batches of forged writes, from fresh authors.
    Gossip,
    /// In-order `SketchTooSmall` / `IdsFrom` probes of the node's egress.
    Egress,
    /// Connections from many identities.
    Connections,
    /// Four Gossipsub subscribers that stop reading (and one that reads, as the baseline).
    SlowReaders,
}

impl Attack {
    /// What the row is called in the table.
    fn name(self) -> &'static str {
        match self {
            Attack::Siege => "1. reconciliation siege",
            Attack::Kad => "2. Kademlia ADD_PROVIDER/PUT_VALUE",
            Attack::Records => "3. Records of forged writes",
            Attack::Gossip => "4. forged gossip batches",
            Attack::Egress => "5. SketchTooSmall/IdsFrom egress",
            Attack::Connections => "6. connection flood",
            Attack::SlowReaders => "7. four subscribers stop reading",
        }
    }
}

/// The hostile benchmark beside the siege: every attack on one real node, one table.
#[derive(Parser)]
#[command(name = "p2p-sync-attacks")]
struct Arguments {
    /// An attack to run (repeatable); see --all.
    #[arg(long = "attack", value_enum)]
    attacks: Vec<Attack>,
    /// Run every attack (the default when no --attack is given).
    #[arg(long)]
    all: bool,
    /// Keys the node holds before the attacks.
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1..))]
    keys: u64,
    /// How long each attack (and the idle window) lasts, in seconds.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// How long the slow-reader rows last: past the node's 30 s slow-peer limit.
    #[arg(long, default_value_t = 45)]
    slow_seconds: u64,
    /// Also flood connections from this machine's own non-loopback address IP (the node then
    /// listens on 0.0.0.0 as well; the traffic stays on this host), where the node's per-IP
    /// connection limit applies: loopback is exempt from it.
    #[arg(long, value_name = "IP")]
    lan_ip: Option<std::net::IpAddr>,
    /// The node binary (default: `p2p-sync` beside this one).
    #[arg(long, value_name = "PATH")]
    node: Option<PathBuf>,
}

/// The longest the second node may take to hold the first node's keys.
const SYNC_DEADLINE: Duration = Duration::from_secs(180);
/// How long each warm-up write is given to reach the second node.
const WARM_UP_EACH: Duration = Duration::from_secs(5);
/// The longest an attack may take to wind down once told to stop.
const STOP_DEADLINE: Duration = Duration::from_secs(30);
/// A quiet pause between two attacks, so one's aftermath is not measured as the next.
const SETTLE: Duration = Duration::from_secs(3);
/// The honest writer of the slow-reader rows: 100 adds of 300-byte values a round.
const WRITER: Writer = Writer {
    per_round: 100,
    value_bytes: 300,
};

/// The node's own counters from `status`: reconciliation bytes out and dropped messages by
/// reason, as (name, value) pairs.
fn counters(node: &mut NodeProcess) -> Result<Vec<(String, u64)>, String> {
    let mut found = Vec::new();
    for line in node.status()? {
        if let Some(rest) = line.strip_prefix("Reconciliation: ") {
            let out = rest
                .rsplit_once(", ")
                .and_then(|(_, out)| out.trim_end_matches(" out)").parse().ok());
            found.extend(out.map(|out| ("reconciliation bytes sent".to_string(), out)));
        }
        if let Some((_, reasons)) = line
            .strip_prefix("Dropped messages: ")
            .and_then(|rest| rest.split_once('('))
        {
            for reason in reasons.trim_end_matches(')').split(", ") {
                if let Some((name, count)) = reason.rsplit_once(' ') {
                    let count = count.parse().unwrap_or(0);
                    found.push((format!("dropped {name}"), count));
                }
            }
        }
    }
    Ok(found)
}

/// What changed in the node's counters between `before` and `after`, for the notes.
fn counters_note(before: &[(String, u64)], after: &[(String, u64)]) -> Option<String> {
    let changed: Vec<String> = after
        .iter()
        .filter_map(|(name, value)| {
            let was = before
                .iter()
                .find(|(n, _)| n == name)
                .map_or(0, |(_, v)| *v);
            (*value > was).then(|| format!("{name} +{}", value - was))
        })
        .collect();
    (!changed.is_empty()).then(|| format!("node's own counters: {}", changed.join(", ")))
}

/// The machine's load averages (other processes share its cores).
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `attack` against the node while measuring it; its tally and the window.
fn row(
    runtime: &tokio::runtime::Runtime,
    nodes: (&mut NodeProcess, &mut NodeProcess),
    target: &Target,
    attack: Attack,
    stall: Option<bool>,
    arguments: &Arguments,
) -> Result<(Arc<Tally>, Window), String> {
    let tally = Arc::new(Tally::default());
    let before = counters(nodes.0)?;
    let (target, t) = (target.clone(), tally.clone());
    let task = runtime.spawn(async move {
        match (attack, stall) {
            (Attack::Siege, _) => siege::run(target, t).await,
            (Attack::Kad, _) => kad::run(target, t).await,
            (Attack::Records, _) => forged_records::run(target, t).await,
            (Attack::Gossip, _) => forged_gossip::run(target, t).await,
            (Attack::Egress, _) => egress::run(target, t).await,
            (Attack::Connections, _) => connections::run(target, t).await,
            (Attack::SlowReaders, Some(true)) => slow_readers::run(target, t, 4, true).await,
            (Attack::SlowReaders, _) => slow_readers::run(target, t, 1, false).await,
        }
    });
    let (seconds, writer) = match attack {
        Attack::SlowReaders => (arguments.slow_seconds, Some(WRITER)),
        _ => (arguments.seconds, None),
    };
    let label = format!(
        "{attack:?}{}",
        stall.map_or("", |s| if s { "-4" } else { "-1" })
    );
    let window = measure::watch(
        nodes.0,
        nodes.1,
        arguments.keys as usize,
        Duration::from_secs(seconds),
        writer,
        &label,
    );
    tally.stop.store(true, Ordering::Relaxed);
    let wound_down = runtime.block_on(async { tokio::time::timeout(STOP_DEADLINE, task).await });
    if wound_down.is_err() {
        tally.note("the attack did not wind down in time".into());
    }
    let window = window?;
    let closed = tally.closed_by_node.load(Ordering::Relaxed);
    if closed > 0 {
        tally.note(format!(
            "{closed} of its connections closed or refused by the node"
        ));
    }
    if let Some(note) = counters_note(&before, &counters(nodes.0)?) {
        tally.note(note);
    }
    Ok((tally, window))
}

/// Adds honest writes on `node` until one reaches `second` (each given [`WARM_UP_EACH`]);
/// how long that took. Right after a catch-up it can take a while: the second node counts
/// the writes it caught up on against their author's budget.
fn first_honest_write(
    node: &mut NodeProcess,
    second: &mut NodeProcess,
) -> Result<Duration, String> {
    let started = Instant::now();
    for n in 0.. {
        let key = format!("warm-up-{n}");
        node.ask(&format!("add {key} honest"))?;
        let added = Instant::now();
        while added.elapsed() < WARM_UP_EACH {
            if second.get(&key)?.is_some() {
                return Ok(started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if started.elapsed() > SYNC_DEADLINE {
            break;
        }
    }
    Err("no honest write reached the second node in time".into())
}

/// The writes `node` stores, from the `Keys:` line of its status.
fn stored(node: &mut NodeProcess) -> Result<usize, String> {
    Ok(node
        .status()?
        .iter()
        .find_map(|line| line.strip_prefix("Keys: "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|count| count.parse().ok())
        .unwrap_or(0))
}

/// The `Dropped messages:` line of `node`'s status.
fn dropped(node: &mut NodeProcess) -> Result<String, String> {
    Ok(node.status()?.pop().unwrap_or_default())
}

fn run(arguments: Arguments) -> Result<(), String> {
    let attacks: Vec<Attack> = if arguments.all || arguments.attacks.is_empty() {
        Attack::value_variants().to_vec()
    } else {
        arguments.attacks.clone()
    };
    let binary = node::binary(arguments.node.clone())?;
    let keys = arguments.keys as usize;
    let dirs = (
        tempfile::tempdir().map_err(|e| e.to_string())?,
        tempfile::tempdir().map_err(|e| e.to_string())?,
    );
    let port = node::free_port()?;
    let listen = match arguments.lan_ip {
        Some(_) => "0.0.0.0",
        None => "127.0.0.1",
    };
    let mut node = node::start(&binary, "node", dirs.0.path(), (listen, port), None)?;
    let loaded = node::load_keys(&mut node, keys)?;
    let address = format!("/ip4/127.0.0.1/tcp/{port}");
    let second_port = node::free_port()?;
    let mut second = node::start(
        &binary,
        "second",
        dirs.1.path(),
        ("127.0.0.1", second_port),
        Some(&address),
    )?;
    let syncing = Instant::now();
    while stored(&mut second)? < keys {
        if syncing.elapsed() > SYNC_DEADLINE {
            return Err("the second node did not receive the keys in time".into());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let synced = syncing.elapsed();
    let first_write = first_honest_write(&mut node, &mut second)?;
    println!(
        "node {} holds {keys} keys (loaded in {:.1} s); the second node {} had them {:.1} s \
         later (all of them); the first honest write added after that reached it {:.1} s after \
         the catch-up",
        node.peer_id,
        loaded.as_secs_f64(),
        second.peer_id,
        synced.as_secs_f64(),
        first_write.as_secs_f64()
    );
    println!("load average before: {}", load());
    std::thread::sleep(SETTLE);
    let target = Target {
        address: address.parse().map_err(|e| format!("{e}"))?,
        peer: node.peer_id.parse().map_err(|e| format!("{e}"))?,
        log: dirs.0.path().join("node.log"),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let mut rows = vec![table::Row::idle(measure::watch(
        &mut node,
        &mut second,
        keys,
        Duration::from_secs(arguments.seconds),
        None,
        "idle",
    )?)];
    // (name, attack, slow readers stalled or reading, the address attacked)
    let mut runs: Vec<(String, Attack, Option<bool>, Target)> = Vec::new();
    for attack in attacks {
        match attack {
            Attack::SlowReaders => {
                let baseline = "7a. one subscriber reading (baseline)".to_string();
                runs.push((baseline, attack, Some(false), target.clone()));
                runs.push((attack.name().into(), attack, Some(true), target.clone()));
            }
            Attack::Connections => {
                runs.push((attack.name().into(), attack, None, target.clone()));
                if let Some(ip) = arguments.lan_ip {
                    let lan = Target {
                        address: format!("/ip4/{ip}/tcp/{port}")
                            .parse()
                            .map_err(|e| format!("{e}"))?,
                        ..target.clone()
                    };
                    runs.push((format!("6b. connection flood from {ip}"), attack, None, lan));
                }
            }
            _ => runs.push((attack.name().into(), attack, None, target.clone())),
        }
    }
    for (name, attack, stall, target) in runs {
        std::thread::sleep(SETTLE);
        eprintln!("running {name}");
        let nodes = (&mut node, &mut second);
        let (tally, window) = row(&runtime, nodes, &target, attack, stall, &arguments)?;
        let subscribers = attack == Attack::SlowReaders;
        rows.push(table::Row::attack(&name, &tally, window, subscribers));
    }
    table::print(&rows);
    println!("load average after: {}", load());
    println!("the attacked node, in all: {}", dropped(&mut node)?);
    println!("the second node, in all: {}", dropped(&mut second)?);
    node.quit();
    second.quit();
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(())
}

fn main() -> ExitCode {
    match run(Arguments::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("p2p-sync-attacks: {error}");
            ExitCode::FAILURE
        }
    }
}
