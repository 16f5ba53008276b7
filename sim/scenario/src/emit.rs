//! Scenario → TOML: the inverse of `parse`. The explorer writes the runs it generates with it,
//! and the trace shows each step as the file says it (`put = { node = "n0", … }`).
//!
//! `parse(&emit(scenario))` gives back the same steps (same actions, same times).

use crate::scenario::{Action, Attack, AttackKind, Expectation, NetworkPatch, Scenario, Writes};
use p2p_sync_core::wire::format_timestamp;
use std::fmt::Write as _;

/// The whole file, opening with `comment` (each line prefixed by `# `).
pub fn emit(scenario: &Scenario, comment: &str) -> String {
    let mut text = String::new();
    for line in comment.lines() {
        let _ = writeln!(text, "# {line}");
    }
    let names = scenario.names();
    let network = &scenario.network;
    let _ = write!(
        text,
        "name = {}\nseed = {}\nstart_time = {}\nnodes = {}\nattackers = {}\n\n[network]\n\
         latency_ms = [{}, {}]\nloss = {:?}\nduplicate = {:?}\n",
        quote(&scenario.name),
        scenario.seed,
        quote(&format_timestamp(scenario.start_ms)),
        scenario.nodes,
        scenario.attackers,
        network.latency_ms.0,
        network.latency_ms.1,
        network.loss,
        network.duplicate,
    );
    for step in &scenario.steps {
        let _ = write!(
            text,
            "\n[[step]]\nat = \"{}ms\"\n{}\n",
            step.at_ms,
            action(&step.action, &names)
        );
    }
    text
}

/// One step's action as the file writes it, naming participants by `names`.
pub fn action(action: &Action, names: &[String]) -> String {
    let name = |index: &usize| quote(&names[*index]);
    let list = |indices: &[usize]| {
        let items: Vec<String> = indices.iter().map(name).collect();
        format!("[{}]", items.join(", "))
    };
    match action {
        Action::Put { node, key, value } => format!(
            "put = {{ node = {}, key = {}, value = {} }}",
            name(node),
            quote(key),
            quote(value)
        ),
        Action::Delete { node, key } => {
            format!("delete = {{ node = {}, key = {} }}", name(node), quote(key))
        }
        Action::Partition(groups) => {
            let groups: Vec<String> = groups.iter().map(|group| list(group)).collect();
            format!("partition = [{}]", groups.join(", "))
        }
        Action::OneWay { from, to } => format!(
            "partition_oneway = {{ from = {}, to = {} }}",
            list(from),
            list(to)
        ),
        Action::Heal => "heal = true".into(),
        Action::Crash(node) => format!("crash = {}", name(node)),
        Action::Restart(node) => format!("restart = {}", name(node)),
        Action::Skew { node, ms } => format!("skew = {{ node = {}, ms = {ms} }}", name(node)),
        Action::Network(patch) => format!("network = {}", network(patch)),
        Action::Writes(writes) => format!("writes = {}", self::writes(writes, names)),
        Action::Attack(attack) => self::attack(attack, names),
        Action::StoreFail { node, rate } => {
            format!("store_fail = {{ node = {}, rate = {rate:?} }}", name(node))
        }
        Action::DiskFull(node) => format!("disk_full = {{ node = {} }}", name(node)),
        Action::DiskOk(node) => format!("disk_ok = {{ node = {} }}", name(node)),
        Action::StoreSlow { node, ms } => {
            format!("store_slow = {{ node = {}, ms = {ms} }}", name(node))
        }
        Action::AllowAdd { node, peer } => {
            format!(
                "allow_add = {{ node = {}, peer = {} }}",
                name(node),
                name(peer)
            )
        }
        Action::AllowRemove { node, peer } => {
            format!(
                "allow_remove = {{ node = {}, peer = {} }}",
                name(node),
                name(peer)
            )
        }
        Action::Expect(expectation) => format!("expect = {}", expect(expectation, names)),
    }
}

/// A TOML basic string.
fn quote(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// `{ a = 1, b = 2 }` from the fields that are present.
fn table(fields: &[(&str, Option<String>)]) -> String {
    let fields: Vec<String> = fields
        .iter()
        .filter_map(|(name, value)| value.as_ref().map(|value| format!("{name} = {value}")))
        .collect();
    format!("{{ {} }}", fields.join(", "))
}

fn network(patch: &NetworkPatch) -> String {
    table(&[
        (
            "latency_ms",
            patch
                .latency_ms
                .map(|(low, high)| format!("[{low}, {high}]")),
        ),
        ("loss", patch.loss.map(|loss| format!("{loss:?}"))),
        ("duplicate", patch.duplicate.map(|dup| format!("{dup:?}"))),
    ])
}

/// The `per_second` that `parse` turns back into `interval_ms` for `every` items per interval.
fn per_second(interval_ms: u64, every: u64) -> String {
    // An interval of 0 (everything at once) is any rate fast enough to round to it.
    let rate = match interval_ms {
        0 => 1e9,
        interval => (every * 1000) as f64 / interval as f64,
    };
    format!("{rate:?}")
}

fn writes(writes: &Writes, names: &[String]) -> String {
    table(&[
        ("node", writes.node.map(|node| quote(&names[node]))),
        ("count", Some(writes.count.to_string())),
        (
            "per_second",
            (writes.interval_ms > 0).then(|| per_second(writes.interval_ms, writes.batch)),
        ),
        ("batch", Some(writes.batch.to_string())),
        ("keys", writes.keys.map(|keys| keys.to_string())),
        ("prefix", Some(quote(&writes.prefix))),
    ])
}

fn attack(attack: &Attack, names: &[String]) -> String {
    let from = ("from", Some(quote(&names[attack.from])));
    let to = ("to", attack.to.map(|to| quote(&names[to])));
    let (name, fields) = match &attack.kind {
        AttackKind::Flood => (
            "flood",
            vec![
                from,
                ("count", Some(attack.count.to_string())),
                ("per_second", Some(per_second(attack.interval_ms, 1))),
                to,
            ],
        ),
        AttackKind::Oversized(bytes) => (
            "oversized",
            vec![from, ("bytes", Some(bytes.to_string())), to],
        ),
        AttackKind::Malformed => ("malformed", vec![from, to]),
        AttackKind::Invalid {
            key_bytes,
            value_bytes,
        } => (
            "invalid",
            vec![
                from,
                ("key_bytes", Some(key_bytes.to_string())),
                ("value_bytes", Some(value_bytes.to_string())),
                to,
            ],
        ),
        AttackKind::Raw(bytes) => (
            "raw",
            vec![
                from,
                ("payload", Some(quote(&String::from_utf8_lossy(bytes)))),
                to,
            ],
        ),
        AttackKind::Forge {
            origin,
            key,
            value,
            ahead_ms,
            by_reconciliation,
        } => (
            "forge",
            vec![
                from,
                to,
                ("origin", Some(quote(origin))),
                ("key", Some(quote(key))),
                ("value", Some(quote(value))),
                ("ahead_ms", Some(ahead_ms.to_string())),
                (
                    "via",
                    Some(quote(if *by_reconciliation { "sync" } else { "gossip" })),
                ),
            ],
        ),
        AttackKind::BatchFlood { writes_per_message } => (
            "batch_flood",
            vec![
                from,
                to,
                ("messages", Some(attack.count.to_string())),
                ("writes_per_message", Some(writes_per_message.to_string())),
            ],
        ),
        AttackKind::EstimateBomb => ("estimate_bomb", vec![from, to]),
        AttackKind::WantFlood { ids } => {
            ("want_flood", vec![from, to, ("ids", Some(ids.to_string()))])
        }
        AttackKind::RecordsFlood { writes_per_message } => (
            "records_flood",
            vec![
                from,
                to,
                ("messages", Some(attack.count.to_string())),
                ("writes_per_message", Some(writes_per_message.to_string())),
            ],
        ),
    };
    format!("{name} = {}", table(&fields))
}

fn expect(expectation: &Expectation, names: &[String]) -> String {
    let node = |node: &usize| ("node", Some(quote(&names[*node])));
    match expectation {
        Expectation::Converged(converged) => format!("{{ converged = {converged} }}"),
        Expectation::History => "{ history = true }".into(),
        Expectation::Value {
            node: n,
            key,
            value,
        } => table(&[
            node(n),
            ("key", Some(quote(key))),
            ("value", value.as_deref().map(quote)),
            ("absent", value.is_none().then(|| "true".into())),
        ]),
        Expectation::Dropped { node: n, at_least } => {
            let reasons: Vec<(&str, Option<String>)> = at_least
                .iter()
                .map(|(reason, count)| (reason.name(), Some(count.to_string())))
                .collect();
            table(&[node(n), ("dropped", Some(table(&reasons)))])
        }
        Expectation::Keys { node: n, count } => {
            table(&[node(n), ("keys", Some(count.to_string()))])
        }
        Expectation::ConnectedTo { node: n, peers } => {
            let peers: Vec<String> = peers.iter().map(|peer| quote(&names[*peer])).collect();
            table(&[
                node(n),
                ("connected_to", Some(format!("[{}]", peers.join(", ")))),
            ])
        }
        Expectation::SentBytesAtMost { node: n, bytes } => {
            table(&[node(n), ("sent_bytes_at_most", Some(bytes.to_string()))])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    /// Every scenario file of the project, written out and read back, gives the same scenario.
    #[test]
    fn every_scenario_file_survives_a_round_trip() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios");
        let mut files = 0;
        for entry in std::fs::read_dir(dir).expect("scenarios/") {
            let path = entry.expect("an entry").path();
            let text = std::fs::read_to_string(&path).expect("readable");
            let file = path.display().to_string();
            let scenario = parse(&text, &file).unwrap_or_else(|e| panic!("{e}"));
            let again = parse(&emit(&scenario, "a comment"), &file)
                .unwrap_or_else(|e| panic!("{e}\n{}", emit(&scenario, "")));
            let actions = |s: &Scenario| -> Vec<(u64, Action)> {
                s.steps
                    .iter()
                    .map(|s| (s.at_ms, s.action.clone()))
                    .collect()
            };
            assert_eq!(actions(&scenario), actions(&again), "{file}");
            assert_eq!(
                (scenario.nodes, scenario.attackers, scenario.network),
                (again.nodes, again.attackers, again.network)
            );
            assert_eq!(
                (scenario.start_ms, scenario.seed),
                (again.start_ms, again.seed)
            );
            files += 1;
        }
        assert!(files > 10, "found {files} scenario files");
    }
}
