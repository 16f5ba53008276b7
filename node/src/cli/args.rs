//! The command line: `p2p-sync start [--port 4002] [--data-dir DIR] [--dial MULTIADDR]...
//! [--no-mdns] [--psk-file FILE] [--allow PEERID]...` and `p2p-sync keygen-psk [FILE]`.

use clap::{Args, Parser, Subcommand};
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

/// Keeps a key-value store in sync between machines on a LAN, with no server.
#[derive(Debug, Parser)]
#[command(name = "p2p-sync", version, about, after_help = EXIT_CODES)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a node and read commands (add, get, delete, list, status, allow) from standard input.
    #[command(
        long_about = START_ABOUT,
        after_help = EXIT_CODES,
        after_long_help = format!("{START_EXAMPLE}\n\n{EXIT_CODES}")
    )]
    Start(StartArgs),
    /// Write a new network key for a private network (copy it to every machine, then
    /// `start --psk-file FILE`).
    KeygenPsk {
        /// Where to write the key; an existing file is never overwritten.
        #[arg(default_value = "swarm.key")]
        file: PathBuf,
    },
    /// Print the settings `start` would run with (the same options), each with where it came
    /// from: default, config file, environment or flag. The output is a valid config file.
    #[command(name = "config", after_help = EXIT_CODES)]
    ShowConfig(StartArgs),
    /// Import the original app's database (its sync.db) into a node's data directory: every
    /// row becomes this node's write, with the row's timestamp. Run it with the node stopped;
    /// running it again imports nothing twice.
    ImportLegacy(ImportLegacyArgs),
}

/// The arguments of `p2p-sync import-legacy`.
#[derive(Debug, Args)]
pub struct ImportLegacyArgs {
    /// The original app's database file, e.g. sync.db
    #[arg(value_name = "PATH")]
    pub path: PathBuf,
    /// The node's data directory [default: the platform's data directory, as for `start`]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// `start --help`: what the node does with its input and output.
const START_ABOUT: &str = "\
Start a node and read commands (add, get, delete, list, status, allow; help lists them) from
standard input, one per line, from a terminal or a pipe. The node stops at `quit`, at the end of
its input (Ctrl-D, or the end of a piped file) and on Ctrl-C or SIGTERM.

As a service: with --no-input, or with standard input on /dev/null or closed (systemd's
default, `nohup`), the node reads no commands and serves until SIGTERM or Ctrl-C.

Results of commands go to standard output; logs (connections, writes received, warnings) go to
standard error, so `2>node.log` keeps them apart (or --log-file FILE).";

/// Every `--help`: what the exit code means.
pub const EXIT_CODES: &str = "\
Exit codes: 0 stopped as asked (quit, end of input, Ctrl-C, SIGTERM); 1 could not start or run
(the reason is printed: data directory in use, port taken, bad key file, ...); 2 bad arguments.";

/// `start --help`: a two-node example.
const START_EXAMPLE: &str = "\
Example: two nodes on one machine
  terminal 1:  p2p-sync start --data-dir /tmp/a --port 4002 --no-mdns
  terminal 2:  p2p-sync start --data-dir /tmp/b --port 4003 --no-mdns --dial /ip4/127.0.0.1/tcp/4002
  then `add hello world` in one terminal and `get hello` in the other.
On a LAN leave out --no-mdns and --dial: nodes find each other.
Private network: `p2p-sync keygen-psk swarm.key`, copy swarm.key to every machine, and start each
node with --psk-file swarm.key.";

/// The options of `p2p-sync start`.
#[derive(Debug, Args)]
pub struct StartArgs {
    /// Read settings from this TOML file: options by their long names with `_` (`port = 4002`,
    /// `no_mdns = true`, `dial = ["/ip4/…"]`) and a [core] table of limits and intervals; flags
    /// beat it (`p2p-sync config` shows the result) [default: DATA_DIR/config.toml if present]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// TCP and UDP (QUIC) port to listen on; 0 picks free ports.
    #[arg(long, default_value_t = 4002)]
    pub port: u16,
    /// Directory for the database and the node's identity key
    /// [default: the platform's data directory, e.g. ~/.local/share/p2p-sync]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Peer to connect to (and reconnect to whenever the connection drops), e.g.
    /// /ip4/192.168.1.20/tcp/4002 or /ip4/192.168.1.20/udp/4002/quic-v1/p2p/12D3KooW…;
    /// may be given several times
    #[arg(long, value_name = "MULTIADDR", value_parser = parse_dial_address)]
    pub dial: Vec<Multiaddr>,
    /// Do not discover peers by mDNS (multicast); use --dial instead
    #[arg(long)]
    pub no_mdns: bool,
    /// IP address to listen on
    #[arg(long, value_name = "IP", default_value_t = IpAddr::V4(Ipv4Addr::UNSPECIFIED))]
    pub listen_ip: IpAddr,
    /// Network key file (from `p2p-sync keygen-psk`): talk only to nodes with the same key.
    /// TCP only: QUIC cannot be wrapped in the key's encryption, so it is off
    #[arg(long, value_name = "FILE", env = "P2P_SYNC_PSK_FILE")]
    pub psk_file: Option<PathBuf>,
    /// Peer allowed to connect and write (beside those in DATA_DIR/allow.txt); with any
    /// allowed peer every other peer is refused; may be given several times
    #[arg(long, value_name = "PEERID")]
    pub allow: Vec<PeerId>,
    /// Also publish each single write in the original app's signed envelope, so that it
    /// applies them (at most 25 a minute; its operator must whitelist this node's PeerId)
    #[arg(long)]
    pub legacy_envelope: bool,
    /// Log filter, e.g. `debug` or `info,p2p_sync=debug` [default: $RUST_LOG, else info]
    #[arg(long, value_name = "FILTER")]
    pub log_level: Option<String>,
    /// Append logs to FILE instead of standard error (created readable by you alone)
    #[arg(long, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
    /// Read no commands: serve until SIGTERM or Ctrl-C, as a service does. Also the case when
    /// standard input is /dev/null or closed (systemd's default, `nohup`, `cmd &` in a script)
    #[arg(long)]
    pub no_input: bool,
    /// On a terminal, read lines as the terminal sends them, without the line editor: no
    /// history or arrow keys, but pasted text is kept byte for byte (escape sequences too)
    #[arg(long)]
    pub plain_input: bool,
    /// Serve the HTTP API (JSON, watch, metrics, status page) on ADDR, or `off`. It grants
    /// full read and write: keep it on loopback, or give --api-token-file
    /// [default: 127.0.0.1:4080; if that is taken, the node runs without an API]
    #[arg(long, value_name = "ADDR", value_parser = crate::api::parse_setting)]
    pub api: Option<crate::api::ApiSetting>,
    /// File holding the token HTTP API requests must carry (`Authorization: Bearer TOKEN`);
    /// required for an --api address other than loopback
    #[arg(long, value_name = "FILE")]
    pub api_token_file: Option<PathBuf>,
    /// Runs the node's wall clock this many ms ahead of the system's (negative: behind). For
    /// tests that play a skewed clock (the LAN scenario runner's `skew`); hidden from --help.
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 0,
        allow_negative_numbers = true,
        hide = true
    )]
    pub clock_offset_ms: i64,
}

/// Parses a `--dial` address: an IP address and a TCP or QUIC port, optionally `/p2p/<PeerId>`.
pub fn parse_dial_address(text: &str) -> Result<Multiaddr, String> {
    const EXAMPLE: &str =
        "expected e.g. /ip4/192.168.1.20/tcp/4002 or /ip4/192.168.1.20/udp/4002/quic-v1";
    let address: Multiaddr = text
        .parse()
        .map_err(|error| format!("not a multiaddr ({error}); {EXAMPLE}"))?;
    let mut parts = address.iter();
    let ip = matches!(parts.next(), Some(Protocol::Ip4(_) | Protocol::Ip6(_)));
    let transport = match (parts.next(), parts.next()) {
        (Some(Protocol::Tcp(_)), next) => next,
        (Some(Protocol::Udp(_)), Some(Protocol::QuicV1)) => parts.next(),
        _ => return Err(format!("no TCP or QUIC port; {EXAMPLE}")),
    };
    let rest_ok = match transport {
        None => true,
        Some(Protocol::P2p(_)) => parts.next().is_none(),
        Some(_) => false,
    };
    if ip && rest_ok {
        Ok(address)
    } else {
        Err(format!(
            "unsupported address; {EXAMPLE}, optionally ending in /p2p/<PeerId>"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn dial_addresses_need_an_ip_and_a_tcp_or_quic_port() {
        let peer = libp2p::PeerId::random();
        for good in [
            "/ip4/127.0.0.1/tcp/4002".to_string(),
            "/ip6/::1/udp/4002/quic-v1".to_string(),
            format!("/ip4/10.0.0.2/tcp/4002/p2p/{peer}"),
        ] {
            assert!(parse_dial_address(&good).is_ok(), "{good}");
        }
        for bad in [
            "hello",
            "/ip4/127.0.0.1",
            "/ip4/127.0.0.1/udp/4002",
            "/dns4/example.com/tcp/4002",
            "/ip4/127.0.0.1/tcp/4002/ws",
        ] {
            assert!(parse_dial_address(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn start_has_the_documented_defaults() {
        let cli = Cli::try_parse_from(["p2p-sync", "start"]).unwrap();
        let Command::Start(args) = cli.command else {
            panic!("start parses as start")
        };
        assert_eq!(args.port, 4002);
        assert!(!args.no_mdns && args.dial.is_empty() && args.data_dir.is_none());
        assert!(args.allow.is_empty());
        assert_eq!(args.clock_offset_ms, 0);
    }

    #[test]
    fn the_clock_offset_is_hidden_and_may_be_negative() {
        let cli = Cli::try_parse_from(["p2p-sync", "start", "--clock-offset-ms", "-5000"]).unwrap();
        let Command::Start(args) = cli.command else {
            panic!("start parses as start")
        };
        assert_eq!(args.clock_offset_ms, -5000);
        let mut start = Cli::command();
        let help = start
            .find_subcommand_mut("start")
            .unwrap()
            .render_long_help()
            .to_string();
        assert!(!help.contains("clock-offset"), "{help}");
    }

    #[test]
    fn the_systemd_unit_starts_a_node_that_reads_no_input() {
        let unit = include_str!("../../../contrib/systemd/p2p-sync.service");
        let exec = unit
            .lines()
            .find_map(|line| line.strip_prefix("ExecStart="))
            .expect("an ExecStart line");
        let mut words = exec.split_whitespace();
        let program = words.next().unwrap();
        assert!(program.ends_with("/p2p-sync"), "{program}");
        let cli = Cli::try_parse_from(std::iter::once("p2p-sync").chain(words)).unwrap();
        let Command::Start(args) = cli.command else {
            panic!("the unit runs start")
        };
        assert!(args.no_input && args.data_dir.is_some());
    }

    #[test]
    fn allow_is_repeatable_and_takes_only_peer_ids() {
        let (a, b) = (PeerId::random().to_string(), PeerId::random().to_string());
        let cli = Cli::try_parse_from(["p2p-sync", "start", "--allow", &a, "--allow", &b]).unwrap();
        let Command::Start(args) = cli.command else {
            panic!("start parses as start")
        };
        assert_eq!(args.allow.len(), 2);
        assert!(Cli::try_parse_from(["p2p-sync", "start", "--allow", "bob"]).is_err());
    }
}
