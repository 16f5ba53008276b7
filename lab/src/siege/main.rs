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
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, StreamExt};
use libp2p::identity::Keypair;
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::SwarmEvent;
use libp2p::{noise, tcp, yamux, Multiaddr, StreamProtocol, Swarm, SwarmBuilder};
use p2p_sync_lab::process::NodeProcess;
use std::io;
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The reconciliation protocol the node speaks.
const PROTOCOL: StreamProtocol = StreamProtocol::new("/p2p-sync/reconcile/2.0.0");
/// Largest frame read from the node.
const MAX_FRAME: usize = 4 << 20;
/// Requests each attacker keeps in flight.
const IN_FLIGHT: usize = 4;
/// The largest table the node answers (cells), and the most ids one `want` carries.
const MAX_CELLS: u64 = 3 << 14;
const MAX_WANT: usize = 60_000;

/// Length-prefixed frames (4 bytes, big-endian), as the protocol carries them.
#[derive(Debug, Clone, Default)]
struct Frames;

async fn read_frame<T: AsyncRead + Unpin + Send>(io: &mut T) -> io::Result<Vec<u8>> {
    let mut prefix = [0u8; 4];
    io.read_exact(&mut prefix).await?;
    let len = u32::from_be_bytes(prefix) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "frame too large",
        ));
    }
    let mut frame = vec![0; len];
    io.read_exact(&mut frame).await?;
    Ok(frame)
}

async fn write_frame<T: AsyncWrite + Unpin + Send>(io: &mut T, frame: Vec<u8>) -> io::Result<()> {
    io.write_all(&(frame.len() as u32).to_be_bytes()).await?;
    io.write_all(&frame).await?;
    io.close().await
}

impl request_response::Codec for Frames {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_frame(io).await
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_frame(io).await
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        r: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, r).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        r: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, r).await
    }
}

/// The protocol's messages, encoded by hand (postcard: a varint variant index, varint
/// integers, length-prefixed byte strings and sequences).
mod wire {
    pub fn varint(out: &mut Vec<u8>, mut value: u64) {
        while value >= 0x80 {
            out.push(value as u8 | 0x80);
            value >>= 7;
        }
        out.push(value as u8);
    }

    fn read_varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *bytes.get(*at)?;
            *at += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Some(value);
            }
        }
        None
    }

    pub fn hello() -> Vec<u8> {
        vec![0, 1, 1]
    }

    /// An `Estimate` claiming 2^64 - 1 keys, with 24 strata of random cells.
    pub fn estimate(noise: &mut impl FnMut() -> u64) -> Vec<u8> {
        let mut out = vec![3];
        varint(&mut out, u64::MAX);
        varint(&mut out, 24);
        for _ in 0..24 {
            table(&mut out, 24, noise);
        }
        out
    }

    fn table(out: &mut Vec<u8>, cells: usize, noise: &mut impl FnMut() -> u64) {
        varint(out, (cells * 16) as u64);
        for _ in 0..cells * 2 {
            out.extend_from_slice(&noise().to_le_bytes());
        }
    }

    /// A `Sketch` of `cells` random cells.
    pub fn sketch(cells: u64, noise: &mut impl FnMut() -> u64) -> Vec<u8> {
        let mut out = vec![4, 0];
        table(&mut out, cells as usize, noise);
        out
    }

    pub fn sketch_too_small(cells: u64) -> Vec<u8> {
        let mut out = vec![5, 0];
        varint(&mut out, cells);
        out
    }

    pub fn ids_from(from: u64) -> Vec<u8> {
        let mut out = vec![7];
        varint(&mut out, from);
        out
    }

    pub fn want(ids: &[u64]) -> Vec<u8> {
        let mut out = vec![8, 0];
        varint(&mut out, ids.len() as u64);
        ids.iter().for_each(|&id| varint(&mut out, id));
        out.push(0);
        out
    }

    /// The ids of an `Ids` page, if `bytes` is one.
    pub fn page_ids(bytes: &[u8]) -> Option<Vec<u64>> {
        if bytes.first() != Some(&6) {
            return None;
        }
        let mut at = 1;
        read_varint(bytes, &mut at)?;
        read_varint(bytes, &mut at)?;
        let count = read_varint(bytes, &mut at)?;
        (0..count).map(|_| read_varint(bytes, &mut at)).collect()
    }
}

/// What the attackers did, all together.
#[derive(Default)]
struct Traffic {
    /// Attackers whose connection to the node is up.
    connected: AtomicU64,
    sent: AtomicU64,
    bytes_sent: AtomicU64,
    received: AtomicU64,
    bytes_received: AtomicU64,
}

/// One attacker: its own identity and connection; sends the costly messages in turn, keeps
/// `IN_FLIGHT` unanswered, acknowledges what the node sends and learns ids from its pages.
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
    let built = builder.with_behaviour(|_| {
        request_response::Behaviour::with_codec(
            Frames,
            [(PROTOCOL, ProtocolSupport::Full)],
            request_response::Config::default()
                .with_request_timeout(Duration::from_secs(60))
                .with_max_concurrent_streams(1000),
        )
    });
    let mut swarm: Swarm<_> = built
        .unwrap_or_else(|never| match never {})
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
        .build();
    if let Err(error) = swarm.dial(node) {
        return eprintln!("attacker {seed}: cannot dial the node: {error}");
    }
    let mut state = seed | 1;
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut known: Vec<u64> = Vec::new();
    let mut peer = None;
    let mut in_flight = 0usize;
    let mut turn = 0u64;
    loop {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        while let (Some(peer), true) = (peer, in_flight < IN_FLIGHT) {
            let message = match turn % 6 {
                0 => wire::hello(),
                1 => wire::sketch_too_small(MAX_CELLS),
                2 => wire::ids_from(noise()),
                3 if !known.is_empty() => wire::want(&known[..known.len().min(MAX_WANT)]),
                3 | 4 => wire::estimate(&mut noise),
                _ => wire::sketch(MAX_CELLS, &mut noise),
            };
            turn += 1;
            tally.sent.fetch_add(1, Ordering::Relaxed);
            tally
                .bytes_sent
                .fetch_add(message.len() as u64, Ordering::Relaxed);
            swarm.behaviour_mut().send_request(&peer, message);
            in_flight += 1;
        }
        let event = tokio::select! {
            event = swarm.select_next_some() => event,
            () = tokio::time::sleep(Duration::from_millis(200)) => continue,
        };
        match event {
            SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                tally.connected.fetch_add(1, Ordering::Relaxed);
                peer = Some(peer_id);
            }
            SwarmEvent::ConnectionClosed {
                num_established: 0,
                cause,
                ..
            } => {
                tally.connected.fetch_sub(1, Ordering::Relaxed);
                if !stop.load(Ordering::Relaxed) {
                    eprintln!("attacker {seed}: the node closed the connection ({cause:?})");
                }
                return;
            }
            SwarmEvent::OutgoingConnectionError { error, .. } => {
                return eprintln!("attacker {seed}: cannot connect: {error}");
            }
            SwarmEvent::Behaviour(request_response::Event::Message { message, .. }) => {
                match message {
                    request_response::Message::Request {
                        request, channel, ..
                    } => {
                        tally.received.fetch_add(1, Ordering::Relaxed);
                        tally
                            .bytes_received
                            .fetch_add(request.len() as u64, Ordering::Relaxed);
                        if let Some(ids) = wire::page_ids(&request) {
                            known.extend(ids);
                            known.truncate(MAX_WANT);
                        }
                        let _ = swarm.behaviour_mut().send_response(channel, Vec::new());
                    }
                    request_response::Message::Response { .. } => in_flight -= 1,
                }
            }
            SwarmEvent::Behaviour(request_response::Event::OutboundFailure { .. }) => {
                in_flight -= 1;
            }
            _ => {}
        }
    }
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

/// Resident memory of process `pid` (MiB), from `/proc`.
fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
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
            phase.rss_mib.push(rss_mib(node.pid()));
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
    let binary = match node {
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
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let mut command = Command::new(&binary);
    command.arg("start").arg("--data-dir").arg(dir.path());
    command.args([
        "--no-mdns",
        "--listen-ip",
        "127.0.0.1",
        "--port",
        &port.to_string(),
    ]);
    let mut node = NodeProcess::start("target", command, &dir.path().join("node.log"))?;
    let loading = Instant::now();
    for chunk in (0..keys).collect::<Vec<_>>().chunks(5_000) {
        let adds: Vec<String> = chunk
            .iter()
            .map(|i| format!("add key-{i} value-{i}-{}", "x".repeat(40)))
            .collect();
        node.ask_all(&adds)?;
    }
    println!(
        "node {} holds {keys} keys (loaded in {:.1} s); {attackers} attackers for {seconds} s\n",
        node.peer_id,
        loading.elapsed().as_secs_f64()
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
