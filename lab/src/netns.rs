//! A LAN inside this machine: one network namespace per host, each with an `eth0` veth whose
//! other end is a port of a bridge in a "switch" namespace. Nothing is added to the host's own
//! namespace. Names carry a per-run prefix; dropping the [`Lan`] deletes every namespace it
//! made (their links, qdiscs, filter rules and the bridge go with them), and creating one first
//! deletes namespaces left behind by runs that died.
//!
//! Shared by the LAN scenario runner (`p2p-sync-lab`) and node/tests/lan, which includes this
//! file with `#[path]`.

use std::io::Write as _;
use std::process::{Command, Stdio};

/// Every namespace of every run starts with this, then the user's kind (`lan`, `lab`), then
/// the run's process id.
const PREFIX: &str = "p2psync-";

/// Runs `program ARGS` with `input` on its standard input; the error names the command and
/// what it printed.
pub fn run(program: &str, args: &[&str], input: &str) -> Result<String, String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| format!("cannot run `{program}`: {error}"))?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let written = stdin.write_all(input.as_bytes());
    drop(stdin);
    let output = child
        .wait_with_output()
        .map_err(|error| format!("`{program}` did not finish: {error}"))?;
    written.map_err(|error| format!("cannot write to `{program}`: {error}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!(
            "`{program} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// Runs `ip ARGS`.
fn ip(args: &[&str]) -> Result<String, String> {
    run("ip", args, "")
}

/// Runs `ip -n NS ARGS` inside namespace `ns`.
fn ip_in(ns: &str, args: &[&str]) -> Result<String, String> {
    ip(&[&["-n", ns], args].concat())
}

/// The names in `ip netns list` (each line is a name, maybe followed by ` (id: N)`).
fn namespaces() -> Result<Vec<String>, String> {
    Ok(ip(&["netns", "list"])?
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_string)
        .collect())
}

/// Deletes the namespaces of earlier runs whose process is gone.
fn sweep_stale() -> Result<(), String> {
    for name in namespaces()? {
        let Some(pid) = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('-').nth(1))
        else {
            continue;
        };
        if !std::path::Path::new("/proc").join(pid).exists() {
            eprintln!("netns: deleting namespace {name} left by an earlier run");
            ip(&["netns", "delete", &name])?;
        }
    }
    Ok(())
}

/// Hosts on one switch. Host `i` lives in its own namespace with address `10.231.S.(i+1)/24`
/// on `eth0`; its switch port is `port{i}` in the switch namespace.
pub struct Lan {
    /// This run's namespace prefix, `p2psync-<kind>-<pid>-<n>-` (the n-th LAN of the process).
    prefix: String,
    /// The third octet of this run's subnet.
    subnet: u8,
    /// The namespaces made so far (the switch first), deleted on drop.
    made: Vec<String>,
}

impl Lan {
    /// Builds a switch and `hosts` hosts, named for `kind` (a short word, e.g. `lan`); an error
    /// says what is missing (root, iproute2).
    pub fn create(kind: &str, hosts: usize) -> Result<Lan, String> {
        sweep_stale()?;
        static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let pid = std::process::id();
        let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut lan = Lan {
            prefix: format!("{PREFIX}{kind}-{pid}-{run}-"),
            subnet: (pid % 250) as u8 + 1,
            made: Vec::new(),
        };
        let switch = lan.switch();
        lan.add_namespace(&switch)?;
        ip_in(&switch, &["link", "add", "br0", "type", "bridge"])?;
        ip_in(&switch, &["link", "set", "br0", "up"])?;
        for host in 0..hosts {
            lan.add_host(host)?;
        }
        Ok(lan)
    }

    /// The switch's namespace, where the bridge and every host's port live.
    pub fn switch(&self) -> String {
        format!("{}switch", self.prefix)
    }

    /// The name of host `host`'s port on the switch.
    pub fn port(host: usize) -> String {
        format!("port{host}")
    }

    /// Runs `program ARGS` inside the switch's namespace, with `input` on its standard input.
    pub fn in_switch(&self, program: &str, args: &[&str], input: &str) -> Result<String, String> {
        let switch = self.switch();
        run(
            "ip",
            &[&["netns", "exec", &switch, program], args].concat(),
            input,
        )
    }

    /// The namespace of host `host`.
    pub fn namespace(&self, host: usize) -> String {
        format!("{}h{host}", self.prefix)
    }

    /// The IPv4 address of host `host`.
    pub fn address(&self, host: usize) -> String {
        format!("10.231.{}.{}", self.subnet, host + 1)
    }

    fn add_namespace(&mut self, name: &str) -> Result<(), String> {
        ip(&["netns", "add", name])?;
        self.made.push(name.to_string());
        ip_in(name, &["link", "set", "lo", "up"])?;
        Ok(())
    }

    fn add_host(&mut self, host: usize) -> Result<(), String> {
        let (ns, switch, port) = (self.namespace(host), self.switch(), Self::port(host));
        self.add_namespace(&ns)?;
        ip(&[
            "link", "add", "eth0", "netns", &ns, "type", "veth", "peer", "name", &port, "netns",
            &switch,
        ])?;
        let cidr = format!("{}/24", self.address(host));
        ip_in(&ns, &["addr", "add", &cidr, "dev", "eth0"])?;
        ip_in(&ns, &["link", "set", "eth0", "multicast", "on", "up"])?;
        ip_in(&switch, &["link", "set", &port, "master", "br0", "up"])?;
        Ok(())
    }

    /// Unplugs (`false`) or plugs back (`true`) host `host`'s cable: its switch port goes down
    /// or up, and its `eth0` loses or regains carrier.
    pub fn plug(&self, host: usize, up: bool) {
        let state = if up { "up" } else { "down" };
        ip_in(&self.switch(), &["link", "set", &Self::port(host), state])
            .expect("set a switch port");
    }

    /// The namespaces named with `prefix` (see [`Lan::prefix`]) that exist.
    pub fn leftovers(prefix: &str) -> Vec<String> {
        namespaces()
            .unwrap_or_default()
            .into_iter()
            .filter(|name| name.starts_with(prefix))
            .collect()
    }

    /// This run's namespace prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        for name in self.made.iter().rev() {
            if let Err(error) = ip(&["netns", "delete", name]) {
                eprintln!("netns: cleanup: {error}");
            }
        }
    }
}
