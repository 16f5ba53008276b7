//! The SQLite `Store`: table `kv_store`, WAL journal, one transaction per batch of writes.

use super::{Store, StoreError, Summary};
use crate::core::version::{Hlc, Version, Write};
use crate::core::wire::format_timestamp;
use rusqlite::{params, Connection, OptionalExtension, Row};
use std::path::Path;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS kv_store (
    key         TEXT PRIMARY KEY NOT NULL,
    value       TEXT,              -- NULL for a tombstone
    timestamp   TEXT NOT NULL,     -- RFC 3339, as on the wire
    hlc_wall    INTEGER NOT NULL,  -- ms since the epoch
    hlc_counter INTEGER NOT NULL,
    origin      TEXT NOT NULL,
    deleted_at  TEXT               -- RFC 3339 time of the delete, NULL while live
) WITHOUT ROWID;
";

const COLUMNS: &str = "key, value, hlc_wall, hlc_counter, origin";

/// Every column of a row, in the order of [`VALUES`].
const ROW: &str = "(key, value, timestamp, hlc_wall, hlc_counter, origin, deleted_at)";
const VALUES: &str = "(?1, ?2, ?3, ?4, ?5, ?6, ?7)";

/// A store in one SQLite database file (or in memory, for the simulator).
pub struct SqliteStore {
    connection: Connection,
    summary: Summary,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, in WAL mode with `synchronous=NORMAL`:
    /// a committed write survives the process being killed.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let connection = Connection::open(path)?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        Self::init(connection)
    }

    /// An empty store in memory, with the same SQL as on disk.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(connection: Connection) -> Result<Self, StoreError> {
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.execute_batch(SCHEMA)?;
        let mut store = SqliteStore {
            connection,
            summary: Summary::default(),
        };
        let mut summary = Summary::default();
        store.for_each(&mut |write| summary.replace(None, &write))?;
        store.summary = summary;
        Ok(store)
    }
}

fn read_write(row: &Row) -> rusqlite::Result<Result<Write, StoreError>> {
    let key: String = row.get(0)?;
    let wall: i64 = row.get(2)?;
    let counter: i64 = row.get(3)?;
    let (Ok(wall_ms), Ok(counter)) = (u64::try_from(wall), u32::try_from(counter)) else {
        return Ok(Err(StoreError::Corrupt {
            key,
            problem: format!("timestamp out of range: {wall}/{counter}"),
        }));
    };
    Ok(Ok(Write {
        key,
        value: row.get(1)?,
        version: Version {
            hlc: Hlc { wall_ms, counter },
            origin: row.get(4)?,
        },
    }))
}

impl Store for SqliteStore {
    fn apply(&mut self, writes: &[Write]) -> Result<Vec<bool>, StoreError> {
        let transaction = self.connection.transaction()?;
        let mut applied = Vec::with_capacity(writes.len());
        let mut summary = self.summary;
        {
            // A new key is one INSERT; only a key already stored is read and compared.
            let mut insert = transaction.prepare_cached(&format!(
                "INSERT OR IGNORE INTO kv_store {ROW} VALUES {VALUES}"
            ))?;
            let mut select = transaction
                .prepare_cached(&format!("SELECT {COLUMNS} FROM kv_store WHERE key = ?1"))?;
            let mut replace = transaction.prepare_cached(&format!(
                "INSERT OR REPLACE INTO kv_store {ROW} VALUES {VALUES}"
            ))?;
            for write in writes {
                let timestamp = format_timestamp(write.version.hlc.wall_ms);
                let row = params![
                    write.key,
                    write.value,
                    timestamp,
                    write.version.hlc.wall_ms as i64,
                    write.version.hlc.counter,
                    write.version.origin,
                    write.is_delete().then_some(&timestamp)
                ];
                if insert.execute(row)? == 1 {
                    summary.replace(None, write);
                    applied.push(true);
                    continue;
                }
                let old = select.query_row([&write.key], read_write)??;
                let newer = write.supersedes(&old);
                if newer {
                    replace.execute(row)?;
                    summary.replace(Some(&old), write);
                }
                applied.push(newer);
            }
        }
        transaction.commit()?;
        self.summary = summary;
        Ok(applied)
    }

    fn get(&self, key: &str) -> Result<Option<Write>, StoreError> {
        let mut select = self
            .connection
            .prepare_cached(&format!("SELECT {COLUMNS} FROM kv_store WHERE key = ?1"))?;
        select.query_row([key], read_write).optional()?.transpose()
    }

    fn live(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut select = self.connection.prepare_cached(
            "SELECT key, value FROM kv_store WHERE deleted_at IS NULL ORDER BY key",
        )?;
        let rows = select.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn for_each(&self, visit: &mut dyn FnMut(Write)) -> Result<(), StoreError> {
        let mut select = self
            .connection
            .prepare_cached(&format!("SELECT {COLUMNS} FROM kv_store ORDER BY key"))?;
        let mut rows = select.query([])?;
        while let Some(row) = rows.next()? {
            visit(read_write(row)??);
        }
        Ok(())
    }

    fn summary(&self) -> Summary {
        self.summary
    }
}
