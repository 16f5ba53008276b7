//! The SQLite `Store` of p2p-sync: table `kv_store`, WAL journal, one transaction per batch of
//! writes. The node keeps it in a file; the simulator opens it in memory (the same SQL).

use p2p_sync_core::auth::LEGACY_ORIGIN;
use p2p_sync_core::store::{ByteBudget, Store, StoreError, Tally};
use p2p_sync_core::version::{Hlc, Version};
use p2p_sync_core::wire::{format_timestamp, parse_timestamp};
use p2p_sync_core::write::{Signature, Write};
use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, ErrorCode, OptionalExtension, Row};
use std::collections::HashSet;
use std::path::Path;

/// Turns SQLite's errors into the core's backend-neutral [`StoreError`].
trait OrStoreError<T> {
    /// The same result, its error as a [`StoreError`] (a full disk as [`StoreError::Full`]).
    fn db(self) -> Result<T, StoreError>;
}

impl<T> OrStoreError<T> for rusqlite::Result<T> {
    fn db(self) -> Result<T, StoreError> {
        self.map_err(|error| match error.sqlite_error_code() {
            Some(ErrorCode::DiskFull) => StoreError::Full(error.to_string()),
            _ => StoreError::Backend(Box::new(error)),
        })
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS kv_store (
    key         TEXT PRIMARY KEY NOT NULL,
    value       TEXT,              -- NULL for a tombstone
    timestamp   TEXT NOT NULL,     -- RFC 3339, as on the wire
    hlc_wall    INTEGER NOT NULL,  -- ms since the epoch
    hlc_counter INTEGER NOT NULL,
    origin      TEXT NOT NULL,
    deleted_at  TEXT,              -- RFC 3339 time of the delete, NULL while live
    signature   BLOB,              -- the origin's ed25519 signature; NULL if unsigned
    write_id    INTEGER            -- `Write::id` as a signed integer: reconciliation asks by it
) WITHOUT ROWID;
";

/// Reconciliation asks for writes by id: an index answers without a full scan.
const WRITE_ID_INDEX: &str = "CREATE INDEX IF NOT EXISTS kv_store_write_id ON kv_store (write_id);";

const COLUMNS: &str = "key, value, hlc_wall, hlc_counter, origin, signature";

/// Every column of a row, in the order of [`VALUES`].
const ROW: &str =
    "(key, value, timestamp, hlc_wall, hlc_counter, origin, deleted_at, signature, write_id)";
const VALUES: &str = "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
/// Every column but the key set from the parameters of [`VALUES`]: a newer write of a stored
/// key updates its row in place.
const UPDATED: &str = "value = ?2, timestamp = ?3, hlc_wall = ?4, hlc_counter = ?5, \
     origin = ?6, deleted_at = ?7, signature = ?8, write_id = ?9";

/// SQLite's page cache per connection, in KiB (its default is 2,000): with 100,000 keys the
/// table and its id index no longer fit the default, and every write read pages back from the
/// OS. Held only as pages are used.
pub const PAGE_CACHE_KIB: i64 = 16_384;

/// Ids looked up per statement in [`SqliteStore::writes_with_ids`].
const IDS_PER_LOOKUP: usize = 256;

/// A row as read: the write, and the id stored beside it (`None` in a database from before
/// the `write_id` column).
type StoredRow = (Write, Option<i64>);

/// A store in one SQLite database file (or in memory, for the simulator).
pub struct SqliteStore {
    connection: Connection,
    tally: Tally,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, in WAL mode with `synchronous=NORMAL`:
    /// a committed write survives the process being killed.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let connection = Connection::open(path).db()?;
        connection.pragma_update(None, "journal_mode", "WAL").db()?;
        Self::init(connection)
    }

    /// An empty store in memory, with the same SQL as on disk.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory().db()?)
    }

    fn init(mut connection: Connection) -> Result<Self, StoreError> {
        connection
            .pragma_update(None, "synchronous", "NORMAL")
            .db()?;
        connection
            .pragma_update(None, "cache_size", -PAGE_CACHE_KIB)
            .db()?;
        connection.execute_batch(SCHEMA).db()?;
        migrate_legacy_table(&mut connection)?;
        add_column(&connection, "signature", "BLOB")?;
        add_column(&connection, "write_id", "INTEGER")?;
        connection.execute_batch(WRITE_ID_INDEX).db()?;
        let mut store = SqliteStore {
            connection,
            tally: Tally::default(),
        };
        let mut tally = Tally::default();
        let mut missing_ids = Vec::new();
        store.scan("", &mut |row| match row {
            Ok((write, stored_id)) => {
                if stored_id != Some(write.id() as i64) {
                    missing_ids.push((write.key.clone(), write.id() as i64));
                }
                tally.replace(None, &write);
            }
            Err(error) => tracing::warn!(
                "Skipping a bad row of the database ({error}); \
                 a write for that key from a peer or `add` replaces it"
            ),
        })?;
        store.fill_write_ids(&missing_ids)?;
        store.tally = tally;
        Ok(store)
    }

    /// Calls `visit` with every row (`filter` is an extra SQL condition, e.g. `WHERE …`) in
    /// key order, as a write with its stored id or as the reason it cannot be one.
    fn scan(
        &self,
        filter: &str,
        visit: &mut dyn FnMut(Result<StoredRow, StoreError>),
    ) -> Result<(), StoreError> {
        let mut select = self
            .connection
            .prepare_cached(&format!(
                "SELECT {COLUMNS}, write_id FROM kv_store {filter} ORDER BY key"
            ))
            .db()?;
        let mut rows = select.query([]).db()?;
        while let Some(row) = rows.next().db()? {
            let stored_id = row.get::<_, Option<i64>>(6).ok().flatten();
            visit(read_write(row).db()?.map(|write| (write, stored_id)));
        }
        Ok(())
    }

    /// Up to `limit` live writes whose keys start with `prefix` and sort after `after`, in key
    /// order (a page of a listing: the next page starts after the last key of this one). Read
    /// from the primary key's order, without a scan of the keys before `after`.
    pub fn live_page(
        &self,
        prefix: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<Write>, StoreError> {
        let mut select = self
            .connection
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM kv_store WHERE deleted_at IS NULL AND key > ?1 \
                 AND key >= ?2 ORDER BY key LIMIT ?3"
            ))
            .db()?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut rows = select.query(params![after, prefix, limit]).db()?;
        let mut page = Vec::new();
        while let Some(row) = rows.next().db()? {
            // Bad rows are skipped, as in `live`.
            let Ok(write) = read_write(row).db()? else {
                continue;
            };
            if !write.key.starts_with(prefix) {
                break;
            }
            page.push(write);
        }
        Ok(page)
    }

    /// Stores the ids of rows written before the `write_id` column existed (or edited since).
    fn fill_write_ids(&mut self, ids: &[(String, i64)]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let transaction = self.connection.transaction().db()?;
        {
            let mut update = transaction
                .prepare("UPDATE kv_store SET write_id = ?2 WHERE key = ?1")
                .db()?;
            for (key, id) in ids {
                update.execute(params![key, id]).db()?;
            }
        }
        transaction.commit().db()?;
        tracing::info!("Indexed {} rows of the database by write id", ids.len());
        Ok(())
    }
}

/// A database of an earlier p2p-sync lacks the later columns (`signature`: its rows stay
/// unsigned; `write_id`: filled in when the store opens).
fn add_column(connection: &Connection, name: &str, kind: &str) -> Result<(), StoreError> {
    let present: bool = connection
        .query_row(
            "SELECT count(*) FROM pragma_table_info('kv_store') WHERE name = ?1",
            [name],
            |row| row.get(0),
        )
        .db()?;
    if !present {
        connection
            .execute_batch(&format!("ALTER TABLE kv_store ADD COLUMN {name} {kind};"))
            .db()?;
    }
    Ok(())
}

/// A database of the original app has `kv_store(key, value, timestamp, deleted_at)` only. It is
/// rebuilt in this schema, each row ordered by its RFC 3339 `timestamp` (origin
/// [`LEGACY_ORIGIN`], a deleted row becoming a tombstone), so an upgrade keeps every item.
fn migrate_legacy_table(connection: &mut Connection) -> Result<(), StoreError> {
    let has_hlc: bool = connection
        .query_row(
            "SELECT count(*) FROM pragma_table_info('kv_store') WHERE name = 'hlc_wall'",
            [],
            |row| row.get(0),
        )
        .db()?;
    if has_hlc {
        return Ok(());
    }
    let transaction = connection.transaction().db()?;
    transaction
        .execute_batch("ALTER TABLE kv_store RENAME TO kv_store_legacy;")
        .db()?;
    transaction.execute_batch(SCHEMA).db()?;
    {
        let mut select = transaction
            .prepare("SELECT key, value, timestamp, deleted_at FROM kv_store_legacy")
            .db()?;
        let mut insert = transaction
            .prepare(&format!("INSERT INTO kv_store {ROW} VALUES {VALUES}"))
            .db()?;
        let mut rows = select.query([]).db()?;
        while let Some(row) = rows.next().db()? {
            let (key, value, timestamp): (String, Option<String>, String) =
                (row.get(0).db()?, row.get(1).db()?, row.get(2).db()?);
            let deleted_at: Option<String> = row.get(3).db()?;
            let wall_ms = parse_timestamp(&timestamp).ok_or_else(|| StoreError::Corrupt {
                key: key.clone(),
                problem: format!("timestamp {timestamp:?} is not RFC 3339"),
            })?;
            let value = if deleted_at.is_some() { None } else { value };
            let timestamp = format_timestamp(wall_ms);
            let deleted_at = value.is_none().then_some(&timestamp);
            insert
                .execute(params![
                    key,
                    value,
                    timestamp,
                    wall_ms as i64,
                    0,
                    LEGACY_ORIGIN,
                    deleted_at,
                    None::<Vec<u8>>,
                    None::<i64>
                ])
                .db()?;
        }
    }
    transaction
        .execute_batch("DROP TABLE kv_store_legacy;")
        .db()?;
    transaction.commit().db()?;
    tracing::info!("Upgraded the original app's database to the ordered schema");
    Ok(())
}

/// One row as a write; a row that cannot be one (a timestamp out of range, a column of the
/// wrong type: a database edited by hand or by another program) is `Corrupt`, naming its key.
fn read_write(row: &Row) -> rusqlite::Result<Result<Write, StoreError>> {
    let key = match row.get_ref(0)? {
        ValueRef::Text(key) => String::from_utf8_lossy(key).into_owned(),
        other => format!("{other:?}"),
    };
    let corrupt = |problem: String| {
        Ok(Err(StoreError::Corrupt {
            key: key.clone(),
            problem,
        }))
    };
    let columns = (
        row.get(1),
        row.get::<_, i64>(2),
        row.get::<_, i64>(3),
        row.get(4),
        row.get::<_, Option<Vec<u8>>>(5),
    );
    let (Ok(value), Ok(wall), Ok(counter), Ok(origin), Ok(signature)) = columns else {
        return corrupt("a column holds the wrong type".into());
    };
    let (Ok(wall_ms), Ok(counter)) = (u64::try_from(wall), u32::try_from(counter)) else {
        return corrupt(format!("timestamp out of range: {wall}/{counter}"));
    };
    let signature = match signature.map(Signature::try_from) {
        None => None,
        Some(Ok(signature)) => Some(signature),
        Some(Err(problem)) => return corrupt(problem),
    };
    Ok(Ok(Write {
        key,
        value,
        version: Version {
            hlc: Hlc { wall_ms, counter },
            origin,
        },
        signature,
    }))
}

impl Store for SqliteStore {
    fn apply(&mut self, writes: &[Write]) -> Result<Vec<bool>, StoreError> {
        let transaction = self.connection.transaction().db()?;
        let mut applied = Vec::with_capacity(writes.len());
        // What replaced what, for the tally once the transaction committed: (old write, index
        // of the new one in `writes`).
        let mut replaced: Vec<(Option<Write>, usize)> = Vec::new();
        {
            // One read per write: a new key is then one INSERT, a newer write one UPDATE in
            // place (no second probe of the key, no delete and re-insert of the row).
            let mut select = transaction
                .prepare_cached(&format!("SELECT {COLUMNS} FROM kv_store WHERE key = ?1"))
                .db()?;
            let mut insert = transaction
                .prepare_cached(&format!("INSERT INTO kv_store {ROW} VALUES {VALUES}"))
                .db()?;
            let mut update = transaction
                .prepare_cached(&format!("UPDATE kv_store SET {UPDATED} WHERE key = ?1"))
                .db()?;
            for (index, write) in writes.iter().enumerate() {
                let stored = select.query_row([&write.key], read_write).optional().db()?;
                // A bad row (skipped and not counted since the store opened) is replaced.
                let old = match stored {
                    Some(Ok(old)) if !write.supersedes(&old) => {
                        applied.push(false);
                        continue;
                    }
                    Some(old) => Some(old.ok()),
                    None => None,
                };
                let timestamp = format_timestamp(write.version.hlc.wall_ms);
                let row = params![
                    write.key,
                    write.value,
                    timestamp,
                    write.version.hlc.wall_ms as i64,
                    write.version.hlc.counter,
                    write.version.origin,
                    write.is_delete().then_some(&timestamp),
                    write.signature.as_ref().map(|signature| &signature.0[..]),
                    write.id() as i64
                ];
                match old {
                    Some(old) => {
                        update.execute(row).db()?;
                        replaced.push((old, index));
                    }
                    None => {
                        insert.execute(row).db()?;
                        replaced.push((None, index));
                    }
                }
                applied.push(true);
            }
        }
        transaction.commit().db()?;
        for (old, index) in replaced {
            self.tally.replace(old.as_ref(), &writes[index]);
        }
        Ok(applied)
    }

    fn get(&self, key: &str) -> Result<Option<Write>, StoreError> {
        let mut select = self
            .connection
            .prepare_cached(&format!("SELECT {COLUMNS} FROM kv_store WHERE key = ?1"))
            .db()?;
        select
            .query_row([key], read_write)
            .optional()
            .db()?
            .transpose()
    }

    fn live(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut live = Vec::new();
        self.scan("WHERE deleted_at IS NULL", &mut |row| {
            if let Ok((
                Write {
                    key,
                    value: Some(value),
                    ..
                },
                _,
            )) = row
            {
                live.push((key, value));
            }
        })?;
        Ok(live)
    }

    /// Bad rows are skipped (they were reported when the store opened).
    fn for_each(&self, visit: &mut dyn FnMut(Write)) -> Result<(), StoreError> {
        self.scan("", &mut |row| {
            if let Ok((write, _)) = row {
                visit(write);
            }
        })
    }

    fn writes_with_ids(
        &self,
        ids: &HashSet<u64>,
        max_bytes: usize,
    ) -> Result<Vec<Write>, StoreError> {
        // Sorted, so the same request reads and answers the same way every time.
        let mut wanted: Vec<i64> = ids.iter().map(|&id| id as i64).collect();
        wanted.sort_unstable();
        let mut writes = Vec::new();
        let mut budget = ByteBudget::new(max_bytes);
        'chunks: for chunk in wanted.chunks(IDS_PER_LOOKUP) {
            let placeholders = vec!["?"; chunk.len()].join(",");
            let mut select = self
                .connection
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM kv_store WHERE write_id IN ({placeholders})"
                ))
                .db()?;
            let mut rows = select.query(rusqlite::params_from_iter(chunk)).db()?;
            while let Some(row) = rows.next().db()? {
                // The row's id is checked again: a row edited by hand may disagree with it.
                match read_write(row).db()? {
                    Ok(write) if ids.contains(&write.id()) => {
                        if !budget.take(&write) {
                            break 'chunks; // the answer is full: load no more
                        }
                        writes.push(write);
                    }
                    _ => {}
                }
            }
        }
        writes.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        Ok(writes)
    }

    fn tally(&self) -> &Tally {
        &self.tally
    }
}

#[cfg(test)]
mod contract_tests;

#[cfg(test)]
mod bad_rows_tests;
