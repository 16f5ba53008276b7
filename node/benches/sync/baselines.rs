//! The limits measured beside p2p-sync in the same run: raw SQLite inserts, our store's
//! apply-if-newer, and two bare gossipsub swarms carrying the same batches.

use futures::StreamExt;
use libp2p::gossipsub::{self, IdentTopic, MessageAcceptance};
use libp2p::identity::Keypair;
use libp2p::swarm::SwarmEvent;
use libp2p::{noise, tcp, yamux, Swarm, SwarmBuilder};
use p2p_sync::net::behaviour::{gossip, TOPIC};
use p2p_sync_core::store::Store;
use p2p_sync_core::wire::{encode_writes, format_timestamp};
use p2p_sync_core::{Config, Hlc, Version, Write};
use p2p_sync_store::SqliteStore;
use std::time::{Duration, Instant};

/// Entries per input batch of the CLI: the node commits and publishes this many adds together.
const CLI_BATCH: usize = 4096;

fn writes(entries: &[(String, String)]) -> Vec<Write> {
    entries
        .iter()
        .enumerate()
        .map(|(i, (key, value))| Write {
            key: key.clone(),
            value: Some(value.clone()),
            version: Version {
                hlc: Hlc {
                    wall_ms: 1_736_000_000_000,
                    counter: i as u32,
                },
                origin: "12D3KooWBa1JqQ7gGq6G3pM6n4x5pB7dYwq3k9s6f2u1r8t0v4aA".into(),
            },
            signature: None,
        })
        .collect()
}

/// Rows per second of plain prepared INSERTs into the `kv_store` table, one transaction,
/// WAL and `synchronous=NORMAL` as the node runs it: the storage limit.
pub fn sqlite_insert_rate(entries: &[(String, String)]) -> f64 {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("raw.db");
    drop(SqliteStore::open(&path).expect("create the schema"));
    let mut connection = rusqlite::Connection::open(&path).expect("open");
    connection
        .pragma_update(None, "journal_mode", "WAL")
        .expect("WAL");
    connection
        .pragma_update(None, "synchronous", "NORMAL")
        .expect("synchronous");
    let timestamp = format_timestamp(1_736_000_000_000);
    let started = Instant::now();
    let transaction = connection.transaction().expect("begin");
    {
        let mut insert = transaction
            .prepare("INSERT INTO kv_store (key, value, timestamp, hlc_wall, hlc_counter, origin) VALUES (?1, ?2, ?3, ?4, 0, 'o')")
            .expect("prepare");
        for (key, value) in entries {
            insert
                .execute((key, value, &timestamp, 1_736_000_000_000i64))
                .expect("insert");
        }
    }
    transaction.commit().expect("commit");
    entries.len() as f64 / started.elapsed().as_secs_f64()
}

/// Writes per second through `SqliteStore::apply` (read, compare, write), in the node's batches.
pub fn store_apply_rate(entries: &[(String, String)]) -> f64 {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = SqliteStore::open(&dir.path().join("store.db")).expect("open");
    let writes = writes(entries);
    let started = Instant::now();
    for batch in writes.chunks(CLI_BATCH) {
        store.apply(batch).expect("apply");
    }
    entries.len() as f64 / started.elapsed().as_secs_f64()
}

type GossipSwarm = Swarm<gossipsub::Behaviour>;

fn bare_swarm(config: &Config) -> GossipSwarm {
    SwarmBuilder::with_existing_identity(Keypair::generate_ed25519())
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .expect("tcp")
        .with_behaviour(|key| gossip(key, config))
        .expect("gossipsub")
        .with_swarm_config(|swarm| swarm.with_idle_connection_timeout(Duration::from_secs(60)))
        .build()
}

/// Entries per second that two bare gossipsub swarms (the node's settings, nothing else) carry
/// over loopback TCP in the batches the node would publish: the network stack's limit.
pub fn gossip_rate(entries: &[(String, String)]) -> f64 {
    let config = Config::default();
    let payloads: Vec<Vec<u8>> = writes(entries)
        .chunks(CLI_BATCH)
        .flat_map(|batch| encode_writes(batch, config.max_message_bytes))
        .collect();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let elapsed = runtime.block_on(async {
        let (mut a, mut b) = (bare_swarm(&config), bare_swarm(&config));
        a.listen_on("/ip4/127.0.0.1/tcp/0".parse().expect("address")).expect("listen");
        let address = loop {
            if let SwarmEvent::NewListenAddr { address, .. } = a.select_next_some().await {
                break address;
            }
        };
        b.dial(address).expect("dial");
        loop {
            tokio::select! {
                event = a.select_next_some() => if let SwarmEvent::Behaviour(gossipsub::Event::Subscribed { .. }) = event { break },
                _ = b.select_next_some() => {}
            }
        }
        let topic = IdentTopic::new(TOPIC);
        let started = Instant::now();
        let (mut published, mut received) = (0, 0);
        while received < payloads.len() {
            while published < payloads.len() && a.behaviour_mut().publish(topic.clone(), payloads[published].clone()).is_ok() {
                published += 1;
            }
            tokio::select! {
                _ = a.select_next_some() => {}
                event = b.select_next_some() => {
                    if let SwarmEvent::Behaviour(gossipsub::Event::Message { propagation_source, message_id, .. }) = event {
                        b.behaviour_mut().report_message_validation_result(&message_id, &propagation_source, MessageAcceptance::Accept);
                        received += 1;
                    }
                }
            }
        }
        started.elapsed()
    });
    entries.len() as f64 / elapsed.as_secs_f64()
}
