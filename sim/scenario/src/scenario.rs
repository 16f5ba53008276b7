//! A checked scenario: the plain types the engine plays (parsed from TOML by `parse`).
//!
//! Participants are numbered: honest nodes `n0..` are `0..nodes`, attackers `a0..` follow.

use p2p_sync_core::{Config, DropReason};

/// A whole scenario file.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// The file it came from, as given (used in messages and the replay command).
    pub file: String,
    /// The scenario's name.
    pub name: String,
    /// The seed used unless `--seed` overrides it.
    pub seed: u64,
    /// The worlds that can play it (`sim`, `lan`); empty means every world.
    pub worlds: Vec<String>,
    /// The virtual wall clock at t = 0, in ms since the epoch.
    pub start_ms: u64,
    /// Honest nodes.
    pub nodes: usize,
    /// Attackers.
    pub attackers: usize,
    /// Honest nodes share a network key (`private = true`); attackers without it cannot connect.
    pub private: bool,
    /// Attackers hold the network key too.
    pub attackers_have_key: bool,
    /// The allow-list every honest node holds at the start (`allow = [...]`), if any.
    pub allow: Option<Vec<usize>>,
    /// Who is connected to whom.
    pub connections: Connections,
    /// The network at t = 0.
    pub network: NetworkParams,
    /// Every node's core configuration: the defaults, with the file's `[config]` table on top.
    pub config: Config,
    /// The steps, in file order.
    pub steps: Vec<Step>,
}

/// The worlds a scenario file may name in `worlds`: the simulator, the LAN lab, the turmoil
/// world.
pub const WORLDS: &[&str] = &["sim", "lan", "turmoil"];

impl Scenario {
    /// Whether world `world` (one of [`WORLDS`]) can play this scenario.
    pub fn plays_in(&self, world: &str) -> bool {
        self.worlds.is_empty() || self.worlds.iter().any(|w| w == world)
    }

    /// The name of participant `index`: `n3` or `a0`.
    pub fn name_of(&self, index: usize) -> String {
        if index < self.nodes {
            format!("n{index}")
        } else {
            format!("a{}", index - self.nodes)
        }
    }

    /// Every participant's name, honest nodes first.
    pub fn names(&self) -> Vec<String> {
        (0..self.nodes + self.attackers)
            .map(|index| self.name_of(index))
            .collect()
    }
}

/// Which pairs of honest nodes hold a connection (attackers connect to every honest node).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Connections {
    /// Every pair, as mDNS connects nodes on one LAN (the default).
    #[default]
    All,
    /// A random connected graph where every node has about this many connections: shapes
    /// larger than one LAN, or a connection limit.
    Degree(usize),
}

/// How the network treats messages.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NetworkParams {
    /// Latency of one message, uniform in this inclusive range of ms.
    pub latency_ms: (u64, u64),
    /// Chance that one gossip transmission is lost.
    pub loss: f64,
    /// Chance that one gossip transmission is delivered twice.
    pub duplicate: f64,
}

impl Default for NetworkParams {
    fn default() -> Self {
        NetworkParams {
            latency_ms: (1, 10),
            loss: 0.0,
            duplicate: 0.0,
        }
    }
}

/// A change to some of the network parameters, from a `network` step.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct NetworkPatch {
    /// New latency range, if given.
    pub latency_ms: Option<(u64, u64)>,
    /// New loss, if given.
    pub loss: Option<f64>,
    /// New duplication, if given.
    pub duplicate: Option<f64>,
}

impl NetworkPatch {
    /// `params` with this patch applied.
    pub fn apply(&self, params: NetworkParams) -> NetworkParams {
        NetworkParams {
            latency_ms: self.latency_ms.unwrap_or(params.latency_ms),
            loss: self.loss.unwrap_or(params.loss),
            duplicate: self.duplicate.unwrap_or(params.duplicate),
        }
    }
}

/// One `[[step]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// When it runs, in virtual ms.
    pub at_ms: u64,
    /// Its line in the file.
    pub line: usize,
    /// What it does.
    pub action: Action,
}

/// What a step does.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// A user puts `key = value` on `node`.
    Put {
        /// The node.
        node: usize,
        /// The key.
        key: String,
        /// The value.
        value: String,
    },
    /// A user deletes `key` on `node`.
    Delete {
        /// The node.
        node: usize,
        /// The key.
        key: String,
    },
    /// Splits participants into groups that cannot reach each other (replacing any earlier
    /// grouping; participants not named form one more group).
    Partition(Vec<Vec<usize>>),
    /// Messages from every `from` to every `to` vanish; the connections stay up (half-open).
    OneWay {
        /// Senders whose messages vanish.
        from: Vec<usize>,
        /// Receivers that no longer hear them.
        to: Vec<usize>,
    },
    /// Removes every partition and one-way cut.
    Heal,
    /// Crashes a node: its in-flight messages are lost, its store survives.
    Crash(usize),
    /// Restarts a crashed node on its surviving store.
    Restart(usize),
    /// From now on `node`'s clock runs `ms` ahead (negative: behind) of virtual time.
    Skew {
        /// The node.
        node: usize,
        /// The offset.
        ms: i64,
    },
    /// Changes the network parameters from now on.
    Network(NetworkPatch),
    /// From now on each commit on `node`'s disk fails with chance `rate` (0 ends it).
    StoreFail {
        /// The node.
        node: usize,
        /// Chance that one commit fails.
        rate: f64,
    },
    /// `node`'s disk is full: every commit fails until `DiskOk`.
    DiskFull(usize),
    /// `node`'s disk has room again.
    DiskOk(usize),
    /// From now on each commit on `node`'s disk takes `ms`: what it sends after it leaves later.
    StoreSlow {
        /// The node.
        node: usize,
        /// Virtual time one commit takes.
        ms: u64,
    },
    /// Steady or bulk honest writes.
    Writes(Writes),
    /// An attacker sends hostile messages.
    Attack(Attack),
    /// `node` adds `peer` to its allow-list.
    AllowAdd {
        /// The node whose list changes.
        node: usize,
        /// The participant added.
        peer: usize,
    },
    /// `node` removes `peer` from its allow-list and closes its connection.
    AllowRemove {
        /// The node whose list changes.
        node: usize,
        /// The participant removed.
        peer: usize,
    },
    /// Checks the state at this moment.
    Expect(Expectation),
}

/// A `writes` step: `count` puts, `batch` per user command, at `per_second`.
#[derive(Debug, Clone, PartialEq)]
pub struct Writes {
    /// The writing node; `None` picks a random live node for every command.
    pub node: Option<usize>,
    /// Puts in all.
    pub count: u64,
    /// Puts per command (`put_many` when above 1).
    pub batch: u64,
    /// Time between commands, in ms.
    pub interval_ms: u64,
    /// Keys are `prefix` + the write's number, or + a random number below `keys` when given.
    pub prefix: String,
    /// Draw keys from this many (so writes overwrite each other), if given.
    pub keys: Option<u64>,
}

/// Hostile traffic from one attacker.
#[derive(Debug, Clone, PartialEq)]
pub struct Attack {
    /// The attacker.
    pub from: usize,
    /// Only this node, or every node the attacker is connected to.
    pub to: Option<usize>,
    /// Messages in all.
    pub count: u64,
    /// Time between messages, in ms.
    pub interval_ms: u64,
    /// What each message is.
    pub kind: AttackKind,
}

/// The bytes an attacker sends.
#[derive(Debug, Clone, PartialEq)]
pub enum AttackKind {
    /// Distinct valid puts.
    Flood,
    /// A message of exactly this many bytes.
    Oversized(usize),
    /// Bytes that are not JSON.
    Malformed,
    /// Valid JSON whose key and value have these sizes in bytes.
    Invalid {
        /// Key length.
        key_bytes: usize,
        /// Value length.
        value_bytes: usize,
    },
    /// Exactly these bytes.
    Raw(Vec<u8>),
    /// A write claiming `origin` made it (signed with the attacker's own key), by gossip or,
    /// inside a reconciliation the attacker opens, as a record.
    Forge {
        /// The node the write claims as its origin.
        origin: String,
        /// Its key.
        key: String,
        /// Its value.
        value: String,
        /// How far ahead of the attacker's clock it is stamped.
        ahead_ms: u64,
        /// Sent as a reconciliation record instead of gossip.
        by_reconciliation: bool,
    },
    /// Gossip batches of this many valid writes each (the attacker's own, signed).
    BatchFlood {
        /// Writes per message.
        writes_per_message: u64,
    },
    /// A `Hello`, then an `Estimate` claiming a store of 2^64 - 1 writes with an estimator
    /// that cannot be peeled: asks for as many sketch tables as the receiver would build.
    EstimateBomb,
    /// A `Hello`, then `Records` asking for this many ids.
    WantFlood {
        /// Ids asked for.
        ids: u64,
    },
    /// Unsolicited `Records` of this many valid writes each (the attacker's own, signed).
    RecordsFlood {
        /// Writes per message.
        writes_per_message: u64,
    },
}

/// What an `expect` step checks.
#[derive(Debug, Clone, PartialEq)]
pub enum Expectation {
    /// Whether every live honest node holds the same store.
    Converged(bool),
    /// `node` holds `key = value` (`None`: the key is absent or deleted).
    Value {
        /// The node.
        node: usize,
        /// The key.
        key: String,
        /// The expected value.
        value: Option<String>,
    },
    /// `node` has dropped at least this many messages for each reason.
    Dropped {
        /// The node.
        node: usize,
        /// Reason and least count.
        at_least: Vec<(DropReason, u64)>,
    },
    /// `node` is connected to at least these participants.
    ConnectedTo {
        /// The node.
        node: usize,
        /// The participants it must be connected to.
        peers: Vec<usize>,
    },
    /// `node` sent at most this many bytes (gossip and direct) since t = 0.
    SentBytesAtMost {
        /// The node.
        node: usize,
        /// The bound.
        bytes: u64,
    },
    /// The history checker's verdict: every write acknowledged so far is where it belongs on
    /// every live honest node (see `checker`), and no invariant broke at any time before.
    History,
    /// `node` holds exactly this many live keys.
    Keys {
        /// The node.
        node: usize,
        /// The count.
        count: u64,
    },
}
