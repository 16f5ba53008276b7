//! The settings of `start`: command-line flags, environment, a TOML config file, defaults — and
//! where each value came from (`p2p-sync config` prints them).
//!
//! A config file holds `start`'s options by their long names with `_` (`port = 4002`,
//! `no_mdns = true`, `dial = ["/ip4/…/tcp/4002"]`) and a `[core]` table with any field of the
//! core's `Config` (limits, budgets, mesh, intervals). It is given with `--config FILE`, or
//! read from `DATA_DIR/config.toml` when present. Flags and environment variables beat the
//! file, the file beats the defaults. The file's options go through the same parser as flags
//! (clap), so a value the command line refuses is refused in the file too, naming its line.

use super::args::{Cli, StartArgs};
use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, CommandFactory, FromArgMatches};
use p2p_sync_core::Config;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// The config file read from the data directory when `--config` is not given.
pub const DATA_DIR_FILE: &str = "config.toml";

/// The table of the core's `Config` fields in a config file.
const CORE_TABLE: &str = "core";

/// Options a config file cannot hold: the file itself, and hidden test hooks.
const NOT_IN_FILE: [&str; 2] = ["config", "clock_offset_ms"];

/// Where a value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Nobody set it.
    Default,
    /// The config file.
    File,
    /// An environment variable.
    Environment,
    /// A command-line flag.
    Flag,
}

impl Origin {
    fn name(self) -> &'static str {
        match self {
            Origin::Default => "default",
            Origin::File => "file",
            Origin::Environment => "environment",
            Origin::Flag => "flag",
        }
    }
}

/// `start`'s effective settings.
#[derive(Debug)]
pub struct Settings {
    /// The options, as if all had been given as flags.
    pub args: StartArgs,
    /// The core's configuration.
    pub config: Config,
    /// The config file read, if any.
    pub file: Option<PathBuf>,
    /// Each option's raw values and origin, by name, in `--help` order.
    options: Vec<(String, Vec<String>, Origin)>,
    /// The `[core]` fields the file set.
    core_from_file: Vec<String>,
}

/// A config file's options (by name, with the span of their value) and its `[core]` table.
struct FileContents {
    path: PathBuf,
    text: String,
    options: BTreeMap<String, Spanned<toml::Value>>,
    core: Config,
    core_keys: Vec<String>,
}

/// The settings of `start` (or `config`) from its parsed `matches`: reads the config file
/// (`--config`, else `DATA_DIR/config.toml` if present) and merges it under the flags. The
/// error names the file, the line and the option, with the valid names where it is unknown.
pub fn resolve(matches: &ArgMatches, argv: &[OsString]) -> Result<Settings, String> {
    let flags = StartArgs::from_arg_matches(matches).map_err(|error| error.to_string())?;
    let explicit = flags.config.clone();
    let file = match explicit {
        Some(path) => Some(read_file(&path)?),
        None => {
            let data_dir = flags.data_dir.clone().or_else(super::default_data_dir);
            match data_dir.map(|dir| dir.join(DATA_DIR_FILE)) {
                Some(path) if path.is_file() => Some(read_file(&path)?),
                _ => None,
            }
        }
    };
    merge(matches, argv, file)
}

/// Reads and checks a config file's shape (its options' values are checked by [`merge`]).
fn read_file(path: &Path) -> Result<FileContents, String> {
    let shown = path.display();
    let text =
        std::fs::read_to_string(path).map_err(|error| format!("config file {shown}: {error}"))?;
    let mut options: BTreeMap<String, Spanned<toml::Value>> =
        toml::from_str(&text).map_err(|error| format!("config file {shown}: {error}"))?;
    let core_keys = match options.remove(CORE_TABLE).map(Spanned::into_inner) {
        Some(toml::Value::Table(table)) => table.keys().cloned().collect(),
        Some(_) => {
            return Err(format!(
                "config file {shown}: `{CORE_TABLE}` must be a table"
            ))
        }
        None => Vec::new(),
    };
    /// Only the `[core]` table, with its spans for errors.
    #[derive(serde::Deserialize)]
    struct CoreOnly {
        #[serde(default)]
        core: Config,
    }
    let core = toml::from_str::<CoreOnly>(&text)
        .map_err(|error| format!("config file {shown}: in [{CORE_TABLE}]: {error}"))?
        .core;
    let valid = file_options();
    for (name, value) in &options {
        if !valid.iter().any(|option| option == name) {
            return Err(format!(
                "config file {shown}:{}: unknown option `{name}`; valid: {}, and a [{CORE_TABLE}] table",
                line_of(&text, value.span().start),
                valid.join(", ")
            ));
        }
    }
    Ok(FileContents {
        path: path.to_path_buf(),
        text,
        options,
        core,
        core_keys,
    })
}

/// The options a config file may hold, in `--help` order.
fn file_options() -> Vec<String> {
    start_command()
        .get_arguments()
        .map(|arg| arg.get_id().to_string())
        .filter(|id| id != "help" && !NOT_IN_FILE.contains(&id.as_str()))
        .collect()
}

/// `start` as clap knows it.
fn start_command() -> clap::Command {
    Cli::command()
        .find_subcommand("start")
        .expect("start is a subcommand")
        .clone()
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// `option = value` from a file as command-line words (`--port 4002`, `--no-mdns`, a list as
/// the option repeated).
fn words(option: &str, value: &toml::Value) -> Result<Vec<OsString>, String> {
    let flag = format!("--{}", option.replace('_', "-"));
    let scalar = |value: &toml::Value| match value {
        toml::Value::String(text) => Ok(text.clone()),
        toml::Value::Integer(number) => Ok(number.to_string()),
        toml::Value::Float(number) => Ok(number.to_string()),
        other => Err(format!(
            "expected a string or a number, not {}",
            other.type_str()
        )),
    };
    let is_switch = start_command()
        .get_arguments()
        .find(|arg| arg.get_id() == option)
        .is_some_and(|arg| matches!(arg.get_action(), ArgAction::SetTrue));
    Ok(match value {
        toml::Value::Boolean(true) if is_switch => vec![flag.into()],
        toml::Value::Boolean(false) if is_switch => Vec::new(),
        _ if is_switch => return Err("expected true or false".into()),
        toml::Value::Array(items) => {
            let mut out = Vec::new();
            for item in items {
                out.push(OsString::from(&flag));
                out.push(scalar(item)?.into());
            }
            out
        }
        value => vec![flag.into(), scalar(value)?.into()],
    })
}

/// The flags' settings with the file's options below them.
fn merge(
    matches: &ArgMatches,
    argv: &[OsString],
    file: Option<FileContents>,
) -> Result<Settings, String> {
    let given = |id: &str| {
        matches!(
            matches.value_source(id),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        )
    };
    let mut merged: Vec<OsString> = vec!["start".into()];
    if let Some(file) = &file {
        for (option, value) in &file.options {
            if given(option) {
                continue; // the flag beats the file (a list given as flags replaces the file's)
            }
            let at = || {
                let line = line_of(&file.text, value.span().start);
                format!("config file {}:{line}: `{option}`", file.path.display())
            };
            let words =
                words(option, value.get_ref()).map_err(|error| format!("{}: {error}", at()))?;
            let alone = [OsString::from("start")].into_iter().chain(words.clone());
            if let Err(error) = start_command().try_get_matches_from(alone) {
                let reason = error.to_string();
                let reason = reason
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .trim_start_matches("error: ");
                return Err(format!("{}: {reason}", at()));
            }
            merged.extend(words);
        }
    }
    merged.extend(argv.iter().cloned());
    let all = start_command()
        .args_override_self(true)
        .try_get_matches_from(merged)
        .map_err(|error| error.to_string())?;
    let args = StartArgs::from_arg_matches(&all).map_err(|error| error.to_string())?;
    let in_file = |id: &str| {
        file.as_ref()
            .is_some_and(|file| file.options.contains_key(id))
    };
    let options = file_options()
        .into_iter()
        .map(|id| {
            let origin = match matches.value_source(&id) {
                Some(ValueSource::CommandLine) => Origin::Flag,
                Some(ValueSource::EnvVariable) => Origin::Environment,
                _ if in_file(&id) => Origin::File,
                _ => Origin::Default,
            };
            let values = all
                .get_raw(&id)
                .map(|raw| {
                    raw.map(|value| value.to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default();
            (id, values, origin)
        })
        .collect();
    let (config, core_from_file, path) = match file {
        Some(file) => (file.core, file.core_keys, Some(file.path)),
        None => (Config::default(), Vec::new(), None),
    };
    Ok(Settings {
        args,
        config,
        file: path,
        options,
        core_from_file,
    })
}

impl Settings {
    /// The effective settings as a config file, each value followed by where it came from.
    pub fn describe(&self) -> String {
        let mut text = String::from(
            "# p2p-sync start: effective settings (a valid config file); after each value, where it\n\
             # came from: default, file, environment or flag.\n",
        );
        if let Some(file) = &self.file {
            let _ = writeln!(text, "# config file: {}", file.display());
        }
        for (name, values, origin) in &self.options {
            let origin = origin.name();
            let is_switch = values.len() == 1 && matches!(values[0].as_str(), "true" | "false");
            let value = match values.as_slice() {
                [] => {
                    let _ = writeln!(text, "# {name} = (not set)  # {origin}");
                    continue;
                }
                [one] if is_switch || one.parse::<i64>().is_ok() => one.clone(),
                [one] => toml::Value::String(one.clone()).to_string(),
                many => toml::Value::Array(
                    many.iter()
                        .map(|value| toml::Value::String(value.clone()))
                        .collect(),
                )
                .to_string(),
            };
            let _ = writeln!(text, "{name} = {value}  # {origin}");
        }
        let _ = writeln!(text, "\n[{CORE_TABLE}]");
        if let Ok(toml::Value::Table(core)) = toml::Value::try_from(&self.config) {
            for (name, value) in core {
                let origin = match self.core_from_file.contains(&name) {
                    true => Origin::File,
                    false => Origin::Default,
                };
                let _ = writeln!(text, "{name} = {value}  # {}", origin.name());
            }
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// Resolves `p2p-sync start ARGS` with `file` as the config file's text.
    fn settings(file: &str, args: &[&str]) -> Result<Settings, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p2p-sync.toml");
        std::fs::write(&path, file).unwrap();
        let mut argv: Vec<OsString> = args.iter().map(OsString::from).collect();
        argv.extend(["--config".into(), path.clone().into_os_string()]);
        let all = [OsString::from("p2p-sync"), "start".into()]
            .into_iter()
            .chain(argv.clone());
        let matches = Cli::command().get_matches_from(all);
        let start = matches.subcommand_matches("start").unwrap();
        resolve(start, &argv).map_err(|error| error.replace(&path.display().to_string(), "FILE"))
    }

    #[test]
    fn the_file_sets_options_and_core_fields_and_flags_beat_it() {
        let file = "port = 4100\nno_mdns = true\ndial = [\"/ip4/10.0.0.2/tcp/4002\"]\n\
                    [core]\nmax_value_bytes = 1000\n";
        let plain = settings(file, &[]).unwrap();
        assert_eq!(plain.args.port, 4100);
        assert!(plain.args.no_mdns);
        assert_eq!(plain.args.dial.len(), 1);
        assert_eq!(plain.config.max_value_bytes, 1000);
        assert_eq!(plain.config.max_key_bytes, Config::default().max_key_bytes);
        let flagged = settings(file, &["--port", "4200", "--dial", "/ip4/10.0.0.3/tcp/1"]).unwrap();
        assert_eq!(flagged.args.port, 4200);
        assert_eq!(
            flagged.args.dial.len(),
            1,
            "the flags' list replaces the file's"
        );
        assert!(flagged.args.dial[0].to_string().contains("10.0.0.3"));
        assert!(flagged.args.no_mdns);
    }

    #[test]
    fn the_printout_says_where_each_value_came_from() {
        let file = "no_mdns = true\n[core]\nmax_value_bytes = 1000\n";
        let text = settings(file, &["--port", "4200"]).unwrap().describe();
        for line in [
            "port = 4200  # flag",
            "no_mdns = true  # file",
            "listen_ip = \"0.0.0.0\"  # default",
            "max_value_bytes = 1000  # file",
            "max_key_bytes = 256  # default",
        ] {
            assert!(text.contains(line), "missing {line:?} in:\n{text}");
        }
        // The printout is itself a config file that reads back to the same settings.
        let again = settings(&text, &[]).unwrap();
        assert_eq!(again.args.port, 4200);
        assert_eq!(again.config.max_value_bytes, 1000);
    }

    #[test]
    fn a_typo_names_the_file_the_line_and_the_valid_options() {
        let error = settings("port = 4100\n\nprot = 4200\n", &[]).unwrap_err();
        assert!(
            error.starts_with("config file FILE:3: unknown option `prot`"),
            "{error}"
        );
        assert!(error.contains("port, data_dir, dial"), "{error}");
        let error = settings("[core]\nmax_valu_bytes = 1\n", &[]).unwrap_err();
        assert!(error.contains("line 2"), "{error}");
        assert!(error.contains("max_value_bytes"), "{error}");
    }

    #[test]
    fn a_value_the_command_line_refuses_is_refused_in_the_file_with_its_line() {
        let error = settings("port = 4100\ndial = [\"/dns4/x/tcp/1\"]\n", &[]).unwrap_err();
        assert!(error.starts_with("config file FILE:2: `dial`: "), "{error}");
        let error = settings("no_mdns = \"yes\"\n", &[]).unwrap_err();
        assert!(
            error.contains("`no_mdns`: expected true or false"),
            "{error}"
        );
        let error = settings("port = \"many\"\n", &[]).unwrap_err();
        assert!(
            error.starts_with("config file FILE:1: `port`: invalid value"),
            "{error}"
        );
    }

    #[test]
    fn without_a_file_the_flags_are_the_settings() {
        let cli = Cli::try_parse_from(["p2p-sync", "start", "--port", "4300"]).unwrap();
        assert!(matches!(cli.command, super::super::args::Command::Start(_)));
        assert!(file_options().contains(&"api".to_string()));
        assert!(!file_options().contains(&"config".to_string()));
    }
}
