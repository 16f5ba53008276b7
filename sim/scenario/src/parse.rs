//! Reads a scenario file (docs/scenario-format.md) into a checked `Scenario`, or says which line is wrong.

use crate::duration::parse_duration;
use crate::scenario::{
    Action, Attack, AttackKind, Connections, Expectation, NetworkParams, NetworkPatch, Scenario,
    Step, Writes, WORLDS,
};
use p2p_sync_core::wire::parse_timestamp;
use p2p_sync_core::{Config, DropReason};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use toml::Spanned;

/// A scenario file that cannot be played.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file.
    pub file: String,
    /// The line at fault, when known.
    pub line: Option<usize>,
    /// What is wrong.
    pub problem: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file, line, self.problem),
            None => write!(f, "{}: {}", self.file, self.problem),
        }
    }
}

impl std::error::Error for ScenarioError {}

const DEFAULT_START: &str = "2025-01-01T00:00:00Z";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: String,
    #[serde(default)]
    seed: u64,
    #[serde(default)]
    worlds: Vec<String>,
    start_time: Option<String>,
    nodes: usize,
    #[serde(default)]
    attackers: usize,
    #[serde(default)]
    silent: usize,
    #[serde(default)]
    private: bool,
    #[serde(default)]
    attackers_have_key: bool,
    allow: Option<Vec<String>>,
    #[serde(default)]
    network: RawNetwork,
    #[serde(default)]
    config: Config,
    #[serde(default)]
    step: Vec<Spanned<RawStep>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawNetwork {
    connections: Option<RawConnections>,
    latency_ms: Option<[u64; 2]>,
    loss: Option<f64>,
    duplicate: Option<f64>,
}

/// `connections = "all"` or `connections = { degree = N }`.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawConnections {
    Named(String),
    Degree { degree: usize },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    at: String,
    put: Option<RawPut>,
    delete: Option<RawKey>,
    partition: Option<Vec<Vec<String>>>,
    partition_oneway: Option<RawOneWay>,
    heal: Option<bool>,
    crash: Option<String>,
    restart: Option<String>,
    skew: Option<RawSkew>,
    network: Option<RawNetwork>,
    writes: Option<RawWrites>,
    flood: Option<RawFlood>,
    oversized: Option<RawOversized>,
    malformed: Option<RawTarget>,
    invalid: Option<RawInvalid>,
    raw: Option<RawRaw>,
    forge: Option<RawForge>,
    batch_flood: Option<RawBatchFlood>,
    estimate_bomb: Option<RawTarget>,
    want_flood: Option<RawWantFlood>,
    records_flood: Option<RawBatchFlood>,
    allow_add: Option<RawAllow>,
    allow_remove: Option<RawAllow>,
    store_fail: Option<RawStoreFail>,
    disk_full: Option<RawNode>,
    disk_ok: Option<RawNode>,
    store_slow: Option<RawStoreSlow>,
    expect: Option<RawExpect>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAllow {
    node: String,
    peer: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    node: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStoreFail {
    node: String,
    rate: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStoreSlow {
    node: String,
    ms: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPut {
    node: String,
    key: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKey {
    node: String,
    key: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOneWay {
    from: Vec<String>,
    to: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSkew {
    node: String,
    ms: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWrites {
    node: Option<String>,
    count: u64,
    per_second: Option<f64>,
    batch: Option<u64>,
    prefix: Option<String>,
    keys: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFlood {
    from: String,
    count: u64,
    per_second: f64,
    to: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOversized {
    from: String,
    bytes: usize,
    to: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    from: String,
    to: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInvalid {
    from: String,
    key_bytes: Option<usize>,
    value_bytes: Option<usize>,
    to: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawForge {
    from: String,
    to: Option<String>,
    origin: String,
    key: String,
    value: String,
    #[serde(default)]
    ahead_ms: u64,
    #[serde(default)]
    via: Via,
}

/// The path a forged write takes.
#[derive(Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum Via {
    #[default]
    Gossip,
    Sync,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBatchFlood {
    from: String,
    to: Option<String>,
    messages: u64,
    writes_per_message: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWantFlood {
    from: String,
    to: Option<String>,
    ids: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRaw {
    from: String,
    payload: String,
    to: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    converged: Option<bool>,
    node: Option<String>,
    key: Option<String>,
    value: Option<String>,
    absent: Option<bool>,
    dropped: Option<BTreeMap<String, u64>>,
    keys: Option<u64>,
    connected_to: Option<Vec<String>>,
    sent_bytes_at_most: Option<u64>,
    history: Option<bool>,
}

/// Which participants a name may denote.
#[derive(Clone, Copy, PartialEq)]
enum Role {
    Honest,
    Attacker,
    Any,
}

/// Resolves names against the scenario's participants.
struct Names {
    nodes: usize,
    attackers: usize,
}

impl Names {
    fn resolve(&self, name: &str, role: Role) -> Result<usize, String> {
        let parse = |prefix: &str, count: usize| {
            name.strip_prefix(prefix)
                .filter(|digits| digits == &"0" || !digits.starts_with('0'))
                .and_then(|digits| digits.parse::<usize>().ok())
                .filter(|&index| index < count)
        };
        let honest = parse("n", self.nodes);
        let attacker = parse("a", self.attackers).map(|index| self.nodes + index);
        match (role, honest, attacker) {
            (Role::Honest | Role::Any, Some(index), _) => Ok(index),
            (Role::Attacker | Role::Any, _, Some(index)) => Ok(index),
            _ => {
                let wanted = match role {
                    Role::Honest => format!("an honest node n0..n{}", self.nodes.max(1) - 1),
                    Role::Attacker if self.attackers == 0 => {
                        "an attacker, but the scenario has `attackers = 0`".to_string()
                    }
                    Role::Attacker => format!("an attacker a0..a{}", self.attackers - 1),
                    Role::Any => "a node or attacker of this scenario".to_string(),
                };
                Err(format!("unknown participant {name:?}: expected {wanted}"))
            }
        }
    }

    fn target(&self, to: Option<&String>) -> Result<Option<usize>, String> {
        to.map(|name| self.resolve(name, Role::Honest)).transpose()
    }

    fn all(&self, names: &[String]) -> Result<Vec<usize>, String> {
        names
            .iter()
            .map(|name| self.resolve(name, Role::Any))
            .collect()
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Parses scenario `text` read from `file`.
pub fn parse(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
    let error = |line: Option<usize>, problem: String| ScenarioError {
        file: file.to_string(),
        line,
        problem,
    };
    let raw: RawScenario = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|span| line_of(text, span.start));
        error(line, e.message().to_string())
    })?;
    if let Some(world) = raw.worlds.iter().find(|w| !WORLDS.contains(&w.as_str())) {
        return Err(error(
            None,
            format!("unknown world {world:?} in `worlds`: expected some of {WORLDS:?}"),
        ));
    }
    if raw.nodes == 0 {
        return Err(error(None, "`nodes` must be at least 1".into()));
    }
    let start = raw.start_time.as_deref().unwrap_or(DEFAULT_START);
    let start_ms = parse_timestamp(start).ok_or_else(|| {
        error(
            None,
            format!("start_time {start:?} is not an RFC 3339 time"),
        )
    })?;
    let connections =
        connections(raw.network.connections.as_ref()).map_err(|problem| error(None, problem))?;
    let network = network_patch(&raw.network)
        .map_err(|problem| error(None, problem))?
        .apply(NetworkParams::default());
    let names = Names {
        nodes: raw.nodes,
        attackers: raw.attackers + raw.silent,
    };
    let steps = raw
        .step
        .iter()
        .map(|spanned| {
            let line = line_of(text, spanned.span().start);
            step(spanned.get_ref(), &names, line).map_err(|problem| error(Some(line), problem))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if steps.is_empty() {
        return Err(error(None, "a scenario needs at least one [[step]]".into()));
    }
    if raw.attackers_have_key && !raw.private {
        let problem = "`attackers_have_key` needs `private = true`".to_string();
        return Err(error(None, problem));
    }
    let allow = raw
        .allow
        .as_deref()
        .map(|list| names.all(list))
        .transpose()
        .map_err(|problem| error(None, format!("allow: {problem}")))?;
    Ok(Scenario {
        file: file.to_string(),
        name: raw.name,
        seed: raw.seed,
        worlds: raw.worlds,
        start_ms,
        nodes: raw.nodes,
        attackers: raw.attackers + raw.silent,
        private: raw.private,
        attackers_have_key: raw.attackers_have_key,
        allow,
        connections,
        network,
        config: raw.config,
        steps,
    })
}

fn connections(raw: Option<&RawConnections>) -> Result<Connections, String> {
    match raw {
        None => Ok(Connections::All),
        Some(RawConnections::Named(name)) if name == "all" => Ok(Connections::All),
        Some(RawConnections::Degree { degree }) if *degree >= 1 => Ok(Connections::Degree(*degree)),
        Some(_) => Err("`connections` is \"all\" or { degree = N } with N at least 1".into()),
    }
}

fn network_patch(raw: &RawNetwork) -> Result<NetworkPatch, String> {
    for (name, chance) in [("loss", raw.loss), ("duplicate", raw.duplicate)] {
        if chance.is_some_and(|p| !(0.0..=1.0).contains(&p)) {
            return Err(format!("`{name}` must be between 0 and 1"));
        }
    }
    if let Some([low, high]) = raw.latency_ms {
        if low > high {
            return Err(format!("latency_ms [{low}, {high}] is not a range"));
        }
    }
    Ok(NetworkPatch {
        latency_ms: raw.latency_ms.map(|[low, high]| (low, high)),
        loss: raw.loss,
        duplicate: raw.duplicate,
    })
}

fn interval_ms(per_second: f64, every: u64) -> Result<u64, String> {
    if !(per_second.is_finite() && per_second > 0.0) {
        return Err("`per_second` must be above 0".into());
    }
    Ok((every as f64 * 1000.0 / per_second).round() as u64)
}

fn step(raw: &RawStep, names: &Names, line: usize) -> Result<Step, String> {
    let at_ms = parse_duration(&raw.at)?;
    let mut actions: Vec<(&str, Result<Action, String>)> = Vec::new();
    let mut add = |name, action: Option<Result<Action, String>>| {
        if let Some(action) = action {
            actions.push((name, action));
        }
    };
    add(
        "put",
        raw.put.as_ref().map(|put| {
            Ok(Action::Put {
                node: names.resolve(&put.node, Role::Honest)?,
                key: put.key.clone(),
                value: put.value.clone(),
            })
        }),
    );
    add(
        "delete",
        raw.delete.as_ref().map(|delete| {
            Ok(Action::Delete {
                node: names.resolve(&delete.node, Role::Honest)?,
                key: delete.key.clone(),
            })
        }),
    );
    add(
        "partition",
        raw.partition.as_ref().map(|groups| {
            let groups = groups
                .iter()
                .map(|group| names.all(group))
                .collect::<Result<Vec<_>, _>>()?;
            let mut seen = std::collections::BTreeSet::new();
            if groups.iter().flatten().any(|&index| !seen.insert(index)) {
                return Err("a participant is named in two partition groups".into());
            }
            Ok(Action::Partition(groups))
        }),
    );
    add(
        "partition_oneway",
        raw.partition_oneway.as_ref().map(|cut| {
            Ok(Action::OneWay {
                from: names.all(&cut.from)?,
                to: names.all(&cut.to)?,
            })
        }),
    );
    add(
        "heal",
        raw.heal.map(|heal| match heal {
            true => Ok(Action::Heal),
            false => Err("`heal` can only be true".into()),
        }),
    );
    add(
        "crash",
        raw.crash
            .as_ref()
            .map(|node| Ok(Action::Crash(names.resolve(node, Role::Honest)?))),
    );
    add(
        "restart",
        raw.restart
            .as_ref()
            .map(|node| Ok(Action::Restart(names.resolve(node, Role::Honest)?))),
    );
    add(
        "skew",
        raw.skew.as_ref().map(|skew| {
            Ok(Action::Skew {
                node: names.resolve(&skew.node, Role::Honest)?,
                ms: skew.ms,
            })
        }),
    );
    add(
        "network",
        raw.network.as_ref().map(|network| {
            if network.connections.is_some() {
                return Err("`connections` is set once, in the file's [network] table".into());
            }
            Ok(Action::Network(network_patch(network)?))
        }),
    );
    add(
        "writes",
        raw.writes
            .as_ref()
            .map(|writes| writes_step(writes, names, line)),
    );
    add(
        "flood",
        raw.flood.as_ref().map(|flood| {
            Ok(Action::Attack(Attack {
                from: names.resolve(&flood.from, Role::Attacker)?,
                to: names.target(flood.to.as_ref())?,
                count: flood.count,
                interval_ms: interval_ms(flood.per_second, 1)?,
                kind: AttackKind::Flood,
            }))
        }),
    );
    add(
        "oversized",
        raw.oversized.as_ref().map(|big| {
            attack(
                names,
                &big.from,
                big.to.as_ref(),
                AttackKind::Oversized(big.bytes),
            )
        }),
    );
    add(
        "malformed",
        raw.malformed
            .as_ref()
            .map(|bad| attack(names, &bad.from, bad.to.as_ref(), AttackKind::Malformed)),
    );
    add(
        "invalid",
        raw.invalid.as_ref().map(|bad| {
            let kind = AttackKind::Invalid {
                key_bytes: bad.key_bytes.unwrap_or(300),
                value_bytes: bad.value_bytes.unwrap_or(1),
            };
            attack(names, &bad.from, bad.to.as_ref(), kind)
        }),
    );
    add(
        "raw",
        raw.raw.as_ref().map(|raw| {
            let kind = AttackKind::Raw(raw.payload.clone().into_bytes());
            attack(names, &raw.from, raw.to.as_ref(), kind)
        }),
    );
    add(
        "forge",
        raw.forge.as_ref().map(|forge| {
            names.resolve(&forge.origin, Role::Any)?;
            let kind = AttackKind::Forge {
                origin: forge.origin.clone(),
                key: forge.key.clone(),
                value: forge.value.clone(),
                ahead_ms: forge.ahead_ms,
                by_reconciliation: forge.via == Via::Sync,
            };
            attack(names, &forge.from, forge.to.as_ref(), kind)
        }),
    );
    add(
        "batch_flood",
        raw.batch_flood.as_ref().map(|flood| {
            let kind = AttackKind::BatchFlood {
                writes_per_message: flood.writes_per_message,
            };
            repeated_attack(names, flood, kind)
        }),
    );
    add(
        "estimate_bomb",
        raw.estimate_bomb.as_ref().map(|bomb| {
            attack(
                names,
                &bomb.from,
                bomb.to.as_ref(),
                AttackKind::EstimateBomb,
            )
        }),
    );
    add(
        "want_flood",
        raw.want_flood.as_ref().map(|flood| {
            let kind = AttackKind::WantFlood { ids: flood.ids };
            attack(names, &flood.from, flood.to.as_ref(), kind)
        }),
    );
    add(
        "records_flood",
        raw.records_flood.as_ref().map(|flood| {
            let kind = AttackKind::RecordsFlood {
                writes_per_message: flood.writes_per_message,
            };
            repeated_attack(names, flood, kind)
        }),
    );
    add(
        "allow_add",
        raw.allow_add.as_ref().map(|allow| {
            let (node, peer) = allow_change(allow, names)?;
            Ok(Action::AllowAdd { node, peer })
        }),
    );
    add(
        "allow_remove",
        raw.allow_remove.as_ref().map(|allow| {
            let (node, peer) = allow_change(allow, names)?;
            Ok(Action::AllowRemove { node, peer })
        }),
    );
    add(
        "store_fail",
        raw.store_fail.as_ref().map(|fail| {
            if !(0.0..=1.0).contains(&fail.rate) {
                return Err("`rate` must be between 0 and 1".into());
            }
            Ok(Action::StoreFail {
                node: names.resolve(&fail.node, Role::Honest)?,
                rate: fail.rate,
            })
        }),
    );
    add(
        "disk_full",
        raw.disk_full
            .as_ref()
            .map(|disk| Ok(Action::DiskFull(names.resolve(&disk.node, Role::Honest)?))),
    );
    add(
        "disk_ok",
        raw.disk_ok
            .as_ref()
            .map(|disk| Ok(Action::DiskOk(names.resolve(&disk.node, Role::Honest)?))),
    );
    add(
        "store_slow",
        raw.store_slow.as_ref().map(|slow| {
            Ok(Action::StoreSlow {
                node: names.resolve(&slow.node, Role::Honest)?,
                ms: slow.ms,
            })
        }),
    );
    add(
        "expect",
        raw.expect
            .as_ref()
            .map(|expect| Ok(Action::Expect(expectation(expect, names)?))),
    );
    match actions.len() {
        1 => {
            let (_, action) = actions.remove(0);
            Ok(Step {
                at_ms,
                line,
                action: action?,
            })
        }
        0 => Err("a step needs one action (put, delete, partition, heal, expect, ...)".into()),
        _ => {
            let found: Vec<&str> = actions.iter().map(|(name, _)| *name).collect();
            Err(format!(
                "a step has one action, this one has {}",
                found.join(", ")
            ))
        }
    }
}

/// `messages` repetitions of an attack, 10 ms apart.
fn repeated_attack(
    names: &Names,
    flood: &RawBatchFlood,
    kind: AttackKind,
) -> Result<Action, String> {
    Ok(Action::Attack(Attack {
        from: names.resolve(&flood.from, Role::Attacker)?,
        to: names.target(flood.to.as_ref())?,
        count: flood.messages,
        interval_ms: 10,
        kind,
    }))
}

/// The node whose allow-list changes and the participant added or removed.
fn allow_change(raw: &RawAllow, names: &Names) -> Result<(usize, usize), String> {
    let node = names.resolve(&raw.node, Role::Honest)?;
    let peer = names.resolve(&raw.peer, Role::Any)?;
    if node == peer {
        return Err("a node always admits itself; `peer` must be another participant".into());
    }
    Ok((node, peer))
}

fn attack(
    names: &Names,
    from: &str,
    to: Option<&String>,
    kind: AttackKind,
) -> Result<Action, String> {
    Ok(Action::Attack(Attack {
        from: names.resolve(from, Role::Attacker)?,
        to: names.target(to)?,
        count: 1,
        interval_ms: 0,
        kind,
    }))
}

fn writes_step(raw: &RawWrites, names: &Names, line: usize) -> Result<Action, String> {
    let batch = raw.batch.unwrap_or(1);
    if batch == 0 || raw.count == 0 || raw.keys == Some(0) {
        return Err("`count`, `batch` and `keys` must be at least 1".into());
    }
    Ok(Action::Writes(Writes {
        node: raw
            .node
            .as_ref()
            .map(|node| names.resolve(node, Role::Honest))
            .transpose()?,
        count: raw.count,
        batch,
        interval_ms: raw
            .per_second
            .map(|rate| interval_ms(rate, batch))
            .transpose()?
            .unwrap_or(0),
        prefix: raw.prefix.clone().unwrap_or_else(|| format!("l{line}-")),
        keys: raw.keys,
    }))
}

fn expectation(raw: &RawExpect, names: &Names) -> Result<Expectation, String> {
    let node = raw
        .node
        .as_ref()
        .map(|node| names.resolve(node, Role::Honest))
        .transpose()?;
    let forms = (
        raw.history,
        raw.converged,
        node,
        &raw.key,
        &raw.value,
        raw.absent,
        &raw.dropped,
        raw.keys,
    );
    if let Some(bytes) = raw.sent_bytes_at_most {
        let Some(node) = node else {
            return Err("`sent_bytes_at_most` needs a `node`".into());
        };
        if forms != (None, None, Some(node), &None, &None, None, &None, None)
            || raw.connected_to.is_some()
        {
            return Err("an expect with `sent_bytes_at_most` has only `node` beside it".into());
        }
        return Ok(Expectation::SentBytesAtMost { node, bytes });
    }
    if let Some(peers) = &raw.connected_to {
        let Some(node) = node else {
            return Err("`connected_to` needs a `node`".into());
        };
        if forms != (None, None, Some(node), &None, &None, None, &None, None) {
            return Err("an expect with `connected_to` has only `node` beside it".into());
        }
        let peers = names.all(peers)?;
        return Ok(Expectation::ConnectedTo { node, peers });
    }
    match forms {
        (Some(true), None, None, None, None, None, None, None) => Ok(Expectation::History),
        (None, Some(converged), None, None, None, None, None, None) => {
            Ok(Expectation::Converged(converged))
        }
        (None, None, Some(node), Some(key), Some(value), None, None, None) => {
            Ok(Expectation::Value {
                node,
                key: key.clone(),
                value: Some(value.clone()),
            })
        }
        (None, None, Some(node), Some(key), None, Some(true), None, None) => {
            Ok(Expectation::Value {
                node,
                key: key.clone(),
                value: None,
            })
        }
        (None, None, Some(node), None, None, None, Some(dropped), None) => {
            if dropped.is_empty() {
                return Err(
                    "`dropped` needs at least one reason, e.g. { rate_limited = 1 }".into(),
                );
            }
            let at_least = dropped
                .iter()
                .map(|(name, &count)| {
                    DropReason::from_name(name)
                        .map(|reason| (reason, count))
                        .ok_or_else(|| {
                            let known: Vec<&str> =
                                DropReason::ALL.iter().map(|r| r.name()).collect();
                            format!(
                                "unknown drop reason {name:?}: expected one of {}",
                                known.join(", ")
                            )
                        })
                })
                .collect::<Result<_, _>>()?;
            Ok(Expectation::Dropped { node, at_least })
        }
        (None, None, Some(node), None, None, None, None, Some(count)) => {
            Ok(Expectation::Keys { node, count })
        }
        _ => Err("an expect is one of { converged }, { node, key, value }, \
                  { node, key, absent = true }, { node, dropped = { reason = N } }, \
                  { node, keys = N }, { node, connected_to = [...] }, { history = true }"
            .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(text: &str) -> ScenarioError {
        parse(text, "bad.toml").expect_err("the file is bad")
    }

    const HEAD: &str = "name = \"t\"\nnodes = 2\n";

    #[test]
    fn reads_the_design_example() {
        let text = r#"
name = "partition-heal"
seed = 7
start_time = "2025-01-04T08:30:00Z"
nodes = 5
attackers = 1
[network]
latency_ms = [1, 10]
[[step]]
at = "0s"
put = { node = "n0", key = "k", value = "v" }
[[step]]
at = "1s"
partition = [["n0", "n1"], ["n2", "n3", "n4"]]
[[step]]
at = "5s"
heal = true
[[step]]
at = "60s"
expect = { converged = true }
[[step]]
at = "60s"
expect = { node = "n1", dropped = { rate_limited = 3 } }
"#;
        let scenario = parse(text, "ok.toml").unwrap();
        assert_eq!(scenario.seed, 7);
        assert_eq!(scenario.nodes + scenario.attackers, 6);
        assert_eq!(scenario.steps.len(), 5);
        assert_eq!(
            scenario.steps[1].line, 12,
            "the line of its [[step]] header"
        );
        assert_eq!(
            scenario.steps[1].action,
            Action::Partition(vec![vec![0, 1], vec![2, 3, 4]])
        );
        assert_eq!(
            scenario.steps[4].action,
            Action::Expect(Expectation::Dropped {
                node: 1,
                at_least: vec![(DropReason::RateLimited, 3)]
            })
        );
    }

    #[test]
    fn reads_the_membership_vocabulary() {
        let text = r#"
name = "members"
nodes = 3
attackers = 1
private = true
attackers_have_key = true
allow = ["n0", "n1", "a0"]
[[step]]
at = "1s"
allow_remove = { node = "n0", peer = "a0" }
[[step]]
at = "2s"
allow_add = { node = "n1", peer = "n2" }
[[step]]
at = "3s"
expect = { node = "n0", connected_to = ["n1", "a0"] }
[[step]]
at = "3s"
expect = { node = "n0", dropped = { not_allowed = 2 } }
"#;
        let scenario = parse(text, "ok.toml").unwrap();
        assert!(scenario.private && scenario.attackers_have_key);
        assert_eq!(scenario.allow, Some(vec![0, 1, 3]));
        assert_eq!(
            scenario.steps[0].action,
            Action::AllowRemove { node: 0, peer: 3 }
        );
        assert_eq!(
            scenario.steps[1].action,
            Action::AllowAdd { node: 1, peer: 2 }
        );
        assert_eq!(
            scenario.steps[2].action,
            Action::Expect(Expectation::ConnectedTo {
                node: 0,
                peers: vec![1, 3]
            })
        );
        assert_eq!(
            scenario.steps[3].action,
            Action::Expect(Expectation::Dropped {
                node: 0,
                at_least: vec![(DropReason::NotAllowed, 2)]
            })
        );
    }

    #[test]
    fn membership_mistakes_are_bad_files() {
        let step = "[[step]]\nat = \"0s\"\n";
        let key_without_network = format!("{HEAD}attackers_have_key = true\n{step}heal = true\n");
        assert!(error_of(&key_without_network)
            .problem
            .contains("private = true"));
        let unknown = format!("{HEAD}allow = [\"n7\"]\n{step}heal = true\n");
        assert!(error_of(&unknown).problem.contains("n7"));
        let itself = format!("{HEAD}{step}allow_remove = {{ node = \"n0\", peer = \"n0\" }}\n");
        assert!(error_of(&itself).problem.contains("admits itself"));
        let extra =
            format!("{HEAD}{step}expect = {{ node = \"n0\", connected_to = [], keys = 1 }}\n");
        assert!(error_of(&extra).problem.contains("connected_to"));
    }

    #[test]
    fn an_unknown_node_names_the_step_line() {
        let text = format!(
            "{HEAD}[[step]]\nat = \"0s\"\nput = {{ node = \"n0\", key = \"k\", value = \"v\" }}\n\
             [[step]]\nat = \"1s\"\nput = {{ node = \"n9\", key = \"k\", value = \"v\" }}\n"
        );
        let error = error_of(&text);
        assert_eq!(error.line, Some(6), "{error}");
        assert!(error.problem.contains("\"n9\""), "{error}");
    }

    #[test]
    fn syntax_and_type_errors_carry_a_line() {
        let error = error_of(&format!("{HEAD}[[step]]\nat = 5\nheal = true\n"));
        assert_eq!(error.line, Some(4), "{error}");
        let error = error_of(&format!("{HEAD}[[step]]\nat = \"1s\"\nheal = tru\n"));
        assert_eq!(error.line, Some(5), "{error}");
        let error = error_of(&format!("{HEAD}[[step]]\nat = \"1s\"\nfly = true\n"));
        assert_eq!(error.line, Some(5), "{error}");
    }

    #[test]
    fn a_step_has_exactly_one_action() {
        let error = error_of(&format!(
            "{HEAD}[[step]]\nat = \"1s\"\nheal = true\ncrash = \"n0\"\n"
        ));
        assert!(error.problem.contains("heal, crash"), "{error}");
        assert_eq!(error.line, Some(3));
        let error = error_of(&format!("{HEAD}[[step]]\nat = \"1s\"\n"));
        assert!(error.problem.contains("needs one action"), "{error}");
    }

    #[test]
    fn connections_are_all_by_default_or_a_degree() {
        let steps = "[[step]]\nat = \"1s\"\nheal = true\n";
        let all = parse(&format!("{HEAD}{steps}"), "ok.toml").unwrap();
        assert_eq!(all.connections, Connections::All);
        let text = format!("{HEAD}[network]\nconnections = {{ degree = 8 }}\n{steps}");
        assert_eq!(
            parse(&text, "ok.toml").unwrap().connections,
            Connections::Degree(8)
        );
        let text = format!("{HEAD}[network]\nconnections = \"all\"\n{steps}");
        assert_eq!(
            parse(&text, "ok.toml").unwrap().connections,
            Connections::All
        );
        for bad in ["\"some\"", "{ degree = 0 }"] {
            let error = error_of(&format!("{HEAD}[network]\nconnections = {bad}\n{steps}"));
            assert!(error.problem.contains("`connections`"), "{error}");
        }
        let error = error_of(&format!(
            "{HEAD}[[step]]\nat = \"1s\"\nnetwork = {{ connections = \"all\" }}\n"
        ));
        assert!(error.problem.contains("set once"), "{error}");
    }

    #[test]
    fn storage_faults_and_the_history_check_are_read() {
        let text = format!(
            "{HEAD}[[step]]\nat = \"1s\"\nstore_fail = {{ node = \"n1\", rate = 0.25 }}\n\
             [[step]]\nat = \"1s\"\ndisk_full = {{ node = \"n0\" }}\n\
             [[step]]\nat = \"2s\"\ndisk_ok = {{ node = \"n0\" }}\n\
             [[step]]\nat = \"2s\"\nstore_slow = {{ node = \"n0\", ms = 30 }}\n\
             [[step]]\nat = \"3s\"\nexpect = {{ history = true }}\n"
        );
        let actions: Vec<Action> = parse(&text, "ok.toml")
            .unwrap()
            .steps
            .into_iter()
            .map(|step| step.action)
            .collect();
        assert_eq!(
            actions,
            [
                Action::StoreFail {
                    node: 1,
                    rate: 0.25
                },
                Action::DiskFull(0),
                Action::DiskOk(0),
                Action::StoreSlow { node: 0, ms: 30 },
                Action::Expect(Expectation::History),
            ]
        );
        let error = error_of(&format!(
            "{HEAD}[[step]]\nat = \"1s\"\nstore_fail = {{ node = \"n0\", rate = 2.0 }}\n"
        ));
        assert!(error.problem.contains("between 0 and 1"), "{error}");
        let error = error_of(&format!(
            "{HEAD}[[step]]\nat = \"1s\"\nexpect = {{ history = true, node = \"n0\" }}\n"
        ));
        assert!(error.problem.contains("{ history = true }"), "{error}");
    }

    #[test]
    fn attackers_and_reasons_are_checked() {
        let error = error_of(&format!(
            "{HEAD}[[step]]\nat = \"1s\"\nmalformed = {{ from = \"a0\" }}\n"
        ));
        assert!(error.problem.contains("attackers = 0"), "{error}");
        let error = error_of(&format!(
            "{HEAD}[[step]]\nat = \"1s\"\nexpect = {{ node = \"n0\", dropped = {{ spam = 1 }} }}\n"
        ));
        assert!(error.problem.contains("rate_limited"), "{error}");
        let error = error_of(&format!(
            "{HEAD}[[step]]\nat = \"1s\"\nexpect = {{ node = \"n0\", dropped = {{}} }}\n"
        ));
        assert!(error.problem.contains("at least one reason"), "{error}");
        let error = error_of(&format!("{HEAD}[[step]]\nat = \"soon\"\nheal = true\n"));
        assert!(error.problem.contains("unit"), "{error}");
    }

    #[test]
    fn worlds_are_known_names() {
        let steps = "[[step]]\nat = \"1s\"\nheal = true\n";
        let scenario = parse(&format!("worlds = [\"sim\"]\n{HEAD}{steps}"), "ok.toml").unwrap();
        assert!(scenario.plays_in("sim") && !scenario.plays_in("lan"));
        let scenario = parse(&format!("{HEAD}{steps}"), "ok.toml").unwrap();
        assert!(scenario.plays_in("lan"), "no `worlds`: every world");
        let error = error_of(&format!("worlds = [\"moon\"]\n{HEAD}{steps}"));
        assert!(error.problem.contains("\"moon\""), "{error}");
    }
}
