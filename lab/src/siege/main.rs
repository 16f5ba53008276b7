//! `p2p-sync-siege`: a sustained attack on one real node over the direct (reconciliation)
//! protocol, measured from outside. It starts a `p2p-sync` node on loopback (no mDNS), gives
//! it `--keys` keys, then connects `--attackers` clients of its own (bare libp2p: TCP, Noise,
//! Yamux, request-response with a frame codec written here, not the node's) that send, as fast
//! as the node takes them, the reconciliation messages that cost a node most: resize requests
//! that start id listings, page requests, wants of ids it learnt from the pages, estimates
//! claiming 2^64 keys and sketches of the largest size. Meanwhile it times `get` on the
//! node's standard input and samples its resident memory; it prints both, before and during
//! the attack, and the node's drop counters after.
//!
//! `cargo build --release -p p2p-sync -p p2p-sync-lab && target/release/p2p-sync-siege --help`

use clap::Parser;
use flood::Traffic;
use libp2p::identity::Keypair;
use libp2p::{noise, tcp, yamux, Multiaddr, Swarm, SwarmBuilder};
use p2p_sync_lab::process::NodeProcess;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod flood;
mod frames;
mod node;
mod wire;

/// One attacker: its own identity and connection (see [`flood::attack`]).
async fn attack(node: Multiaddr, seed: u64, tally: Arc<Traffic>, stop: Arc<AtomicBool>) {
    let key = Keypair::generate_ed25519();
    let builder = match SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        ) {
        Ok(builder) => builder,
        Err(error) => return eprintln!("attacker {seed}: cannot build its transport: {error}"),
    };
    let built = builder.with_behaviour(|_| flood::direct());
    let swarm: Swarm<_> = built
        .unwrap_or_else(|never| match never {})
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
        .build();
    flood::attack(swarm, node, seed, tally, stop).await;
}

/// `get` latencies (ms) and resident memory (MiB) over one phase.
#[derive(Default)]
struct Phase {
    gets_ms: Vec<f64>,
    rss_mib: Vec<f64>,
}

impl Phase {
    fn row(&mut self, name: &str) -> String {
        self.gets_ms.sort_by(f64::total_cmp);
        let at = |q: f64| self.gets_ms[((self.gets_ms.len() - 1) as f64 * q) as usize];
        let peak = self.rss_mib.iter().copied().fold(0.0, f64::max);
        format!(
            "| {name} | {} | {:.2} | {:.2} | {:.2} | {peak:.1} |",
            self.gets_ms.len(),
            at(0.5),
            at(0.99),
            at(1.0)
        )
    }
}

/// Times `get`s of random keys and samples memory for `duration`.
fn measure(node: &mut NodeProcess, keys: usize, duration: Duration) -> Result<Phase, String> {
    let mut phase = Phase::default();
    let started = Instant::now();
    let mut i = 0usize;
    while started.elapsed() < duration {
        let key = format!("key-{}", (i * 7919) % keys);
        let asked = Instant::now();
        let value = node.get(&key)?;
        phase.gets_ms.push(asked.elapsed().as_secs_f64() * 1000.0);
        if value.is_none() {
            return Err(format!("{key} not found"));
        }
        if i.is_multiple_of(10) {
            phase.rss_mib.push(node::status_mib(node.pid(), "VmRSS:"));
        }
        i += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(phase)
}

/// A sustained attack on one real node over the reconciliation protocol, measured from outside.
#[derive(Parser)]
#[command(name = "p2p-sync-siege")]
struct Arguments {
    /// Keys the node holds before the attack.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    keys: u64,
    /// Attacking clients, each with an identity and a connection of its own.
    #[arg(long, default_value_t = 10)]
    attackers: u64,
    /// How long the attack is measured, in seconds.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// The node binary (default: `p2p-sync` beside this one).
    #[arg(long, value_name = "PATH")]
    node: Option<std::path::PathBuf>,
}

/// The longest the attackers may take to connect.
const CONNECT_DEADLINE: Duration = Duration::from_secs(20);

fn run(arguments: Arguments) -> Result<(), String> {
    let Arguments {
        keys,
        attackers,
        seconds,
        node,
    } = arguments;
    let keys = keys as usize;
    let binary = node::binary(node)?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let port = node::free_port()?;
    let mut node = node::start(&binary, "target", dir.path(), ("127.0.0.1", port), None)?;
    let loaded = node::load_keys(&mut node, keys)?;
    println!(
        "node {} holds {keys} keys (loaded in {:.1} s); {attackers} attackers for {seconds} s\n",
        node.peer_id,
        loaded.as_secs_f64()
    );
    let quiet = measure(&mut node, keys, Duration::from_secs(5))?;
    let tally = Arc::new(Traffic::default());
    let stop = Arc::new(AtomicBool::new(false));
    let address: Multiaddr = format!("/ip4/127.0.0.1/tcp/{port}")
        .parse()
        .map_err(|e| format!("{e}"))?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    for seed in 0..attackers {
        runtime.spawn(attack(
            address.clone(),
            seed + 1,
            tally.clone(),
            stop.clone(),
        ));
    }
    let connecting = Instant::now();
    while tally.connected.load(Ordering::Relaxed) < attackers {
        if connecting.elapsed() > CONNECT_DEADLINE {
            let connected = tally.connected.load(Ordering::Relaxed);
            return Err(format!(
                "only {connected} of {attackers} attackers connected"
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let attacked = measure(&mut node, keys, Duration::from_secs(seconds))?;
    stop.store(true, Ordering::Relaxed);
    println!("| phase | gets | p50 ms | p99 ms | max ms | peak RSS MiB |");
    println!("|---|---:|---:|---:|---:|---:|");
    println!("{}", { quiet }.row("quiet"));
    println!("{}", { attacked }.row("under attack"));
    println!(
        "\nattackers sent {} messages ({:.1} MB), received {} ({:.1} MB)",
        tally.sent.load(Ordering::Relaxed),
        tally.bytes_sent.load(Ordering::Relaxed) as f64 / 1e6,
        tally.received.load(Ordering::Relaxed),
        tally.bytes_received.load(Ordering::Relaxed) as f64 / 1e6
    );
    for line in node.status()? {
        if line.contains("ropped") || line.contains("Keys") || line.contains("Reconcil") {
            println!("{line}");
        }
    }
    node.quit();
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(())
}

fn main() -> ExitCode {
    match run(Arguments::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("p2p-sync-siege: {error}");
            ExitCode::FAILURE
        }
    }
}
