//! The `p2p-sync` command line: arguments ([`args`]), logging ([`logging`]), input lines
//! ([`input`], bounded by [`lines`]), parsing ([`command`]) and running ([`commands`]) the interactive commands, and
//! the start-up and shutdown of a node ([`main`]); [`import_legacy`] brings in the original app's
//! database.

pub mod args;
pub mod command;
pub mod commands;
pub mod import_legacy;
pub mod input;
pub mod lines;
pub mod logging;
pub mod settings;

use crate::net::{Node, Options, StartError};
use args::{Cli, Command};
use clap::{CommandFactory, FromArgMatches};
use commands::Flow;
use p2p_sync_core::Config;
use settings::Settings;
use std::path::PathBuf;
use std::process::ExitCode;

/// Most input lines handled as one batch (consecutive `add`s become one transaction and one
/// gossip message).
pub const MAX_BATCH: usize = 4096;

/// The rustyline history file inside the data directory.
const HISTORY_FILE: &str = "history.txt";

/// Parses the arguments, runs the command, and turns a failure into one line on stderr and
/// exit code 1 (clap exits with 2 for bad arguments).
pub fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|error| error.exit());
    // What follows the subcommand, for the settings to parse again under a config file.
    let argv: Vec<std::ffi::OsString> = std::env::args_os().skip(2).collect();
    let settings = |name: &str| {
        let sub = matches
            .subcommand_matches(name)
            .expect("the parsed subcommand");
        settings::resolve(sub, &argv)
    };
    let settings = match cli.command {
        Command::Start(_) => match settings("start") {
            Ok(settings) => settings,
            Err(error) => return fail(&error),
        },
        Command::ShowConfig(_) => {
            return match settings("config") {
                Ok(settings) => {
                    print!("{}", settings.describe());
                    ExitCode::SUCCESS
                }
                Err(error) => fail(&error),
            }
        }
        Command::KeygenPsk { file } => return keygen_psk(&file),
        Command::ImportLegacy(args) => return import_legacy(&args),
    };
    let args = &settings.args;
    if let Err(error) = logging::init(args.log_level.as_deref(), args.log_file.as_deref()) {
        return fail(&error.to_string());
    }
    crate::memory::return_large_buffers();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => return fail(&format!("cannot start the async runtime: {error}")),
    };
    match runtime.block_on(start(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&error.to_string()),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("Error: {message}");
    ExitCode::FAILURE
}

/// `keygen-psk FILE`: writes a new network key and says what to do with it.
fn keygen_psk(file: &std::path::Path) -> ExitCode {
    match crate::net::psk::write_new(file) {
        Ok(key) => {
            println!(
                "Wrote a new network key to {} (fingerprint {}).\n\
                 Copy it to every machine of the network, then start each node with\n  \
                 p2p-sync start --psk-file {}",
                file.display(),
                key.fingerprint(),
                file.display()
            );
            ExitCode::SUCCESS
        }
        Err(error) => fail(&error.to_string()),
    }
}

/// `import-legacy PATH [--data-dir DIR]`: imports the original app's database.
fn import_legacy(args: &args::ImportLegacyArgs) -> ExitCode {
    let Some(data_dir) = args.data_dir.clone().or_else(default_data_dir) else {
        return fail("no home directory: give the data directory with --data-dir");
    };
    match import_legacy::run(&args.path, &data_dir) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&error.to_string()),
    }
}

/// The platform's data directory for p2p-sync, e.g. `~/.local/share/p2p-sync` on Linux.
pub fn default_data_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "p2p-sync").map(|dirs| dirs.data_dir().to_path_buf())
}

/// Starts the node, prints the banner, and serves input lines and the network until `quit`,
/// the end of input, or Ctrl-C.
async fn start(settings: Settings) -> anyhow::Result<()> {
    let Settings { args, config, .. } = settings;
    let data_dir = args
        .data_dir
        .or_else(default_data_dir)
        .ok_or_else(|| StartError::DataDir {
            path: PathBuf::from("(none)"),
            source: std::io::Error::other("no home directory"),
        })?;
    let psk = match &args.psk_file {
        Some(path) => Some(crate::net::psk::read(path).map_err(StartError::NetworkKey)?),
        None => None,
    };
    let api = crate::api::bind(args.api, args.api_token_file.as_deref())
        .await
        .map_err(anyhow::Error::msg)?;
    let mut node = Node::start(Options {
        data_dir: data_dir.clone(),
        listen_ip: args.listen_ip,
        port: args.port,
        dial: args.dial,
        mdns: !args.no_mdns,
        psk,
        allow: args.allow,
        config: Config {
            legacy_envelope: args.legacy_envelope || config.legacy_envelope,
            ..config
        },
        clock_offset_ms: args.clock_offset_ms,
        world: Default::default(),
    })
    .await?;
    let reads_input = !(args.no_input || input::stdin_is_absent());
    let api_address = api.as_ref().map(|api| api.address);
    print!("{}", banner(&node, &data_dir, api_address, reads_input));
    let mut api_jobs = api.map(|api| api.spawn(&node));
    let max_line = node.config().max_message_bytes;
    let history = (!args.plain_input).then(|| data_dir.join(HISTORY_FILE));
    let mut input = reads_input.then(|| input::Input::spawn(history, max_line));
    if !reads_input {
        tracing::info!("Reading no commands: serving until SIGTERM or Ctrl-C");
    }
    // Buffered: a batch of piped commands is written out at once (execute_all flushes).
    let mut stdout = std::io::BufWriter::new(std::io::stdout());
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        let next_line = async {
            match input.as_mut() {
                Some(input) => input.next().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            line = next_line => {
                let Some(line) = line else { break };
                let Some(input) = input.as_mut() else { break };
                let mut lines = vec![line];
                lines.extend(input.ready(MAX_BATCH - 1));
                match commands::execute_all(&mut node, &lines, &mut stdout) {
                    Ok(Flow::Continue) => input.handled(),
                    Ok(Flow::Quit) => break,
                    Err(error) => {
                        tracing::error!("Cannot write to standard output: {error}");
                        break;
                    }
                }
            }
            () = node.step() => {}
            () = &mut shutdown => break,
            job = next_job(api_jobs.as_mut()) => match (job, api_jobs.as_mut()) {
                (Some(job), Some(jobs)) => crate::api::run_jobs(&mut node, job, jobs),
                _ => api_jobs = None,
            },
        }
    }
    tracing::info!("Shutting down");
    if let Some(input) = input {
        input.close();
    }
    Ok(())
}

/// The start-up banner: the legacy app's first line, the PeerId, the addresses to `--dial`, the
/// mode (with the network key's fingerprint), and the commands or that none are read.
fn banner(
    node: &Node,
    data_dir: &std::path::Path,
    api: Option<std::net::SocketAddr>,
    reads_input: bool,
) -> String {
    let peer_id = node.peer_id();
    let mut text = format!("=== P2P Sync System Started ===\nPeer ID: {peer_id}\nListening on:\n");
    for address in node.listen_addresses() {
        text.push_str(&format!("  {address}/p2p/{peer_id}\n"));
    }
    text.push_str(&format!("Data directory: {}\n", data_dir.display()));
    if let Ok(status) = node.status() {
        text.push_str(&format!("Mode: {}\n", commands::status::mode(&status)));
    }
    if let Some(api) = api {
        text.push_str(&format!("API: http://{api}\n"));
    }
    if reads_input {
        text.push_str("Commands: add, get, delete, list, status, allow (also help, quit)\n");
    } else {
        text.push_str("Commands: none read (no input); stop with SIGTERM or Ctrl-C\n");
    }
    text
}

/// The next API request for the start loop; never, without an API.
async fn next_job(
    jobs: Option<&mut tokio::sync::mpsc::Receiver<crate::api::Job>>,
) -> Option<crate::api::Job> {
    match jobs {
        Some(jobs) => jobs.recv().await,
        None => std::future::pending().await,
    }
}

/// Completes on Ctrl-C, or on SIGTERM on Unix.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
