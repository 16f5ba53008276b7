//! `p2p-sync import-legacy PATH [--data-dir DIR]`: brings the original app's database
//! (`sync.db`, table `kv_store(key TEXT PRIMARY KEY, value TEXT NOT NULL, timestamp INTEGER
//! NOT NULL)`, Unix seconds, deletes removed) into a node's data directory.
//!
//! Every row becomes a put signed by this node's identity key, its time the row's timestamp
//! (milliseconds `timestamp × 1000`, counter 0; the older layout of the seed's diagrams, with
//! RFC 3339 text timestamps and `deleted_at`, is read too, a deleted row becoming a delete; given
//! a p2p-sync database, its unsigned rows of origin `legacy` are imported, see
//! [`read_legacy_rows`]), so peers accept it like any of the node's
//! writes and the usual last-writer-wins order holds: a later write anywhere wins over it. The
//! same row always gives the same write (Ed25519 signatures are deterministic), so a second
//! import finds every row already up to date. A row that cannot be imported is reported with
//! its key and why; nothing is refused silently. The node must not run on the directory
//! meanwhile (the data directory's lock). Its peers get the rows by reconciliation once the
//! node runs.

use crate::escape::printable;
use crate::net::identity;
use crate::net::lock::DataDirLock;
use crate::net::node::DATABASE_FILE;
use p2p_sync_core::auth::{self, SigningKey, LEGACY_ORIGIN};
use p2p_sync_core::store::Store;
use p2p_sync_core::validate::{validate_key, validate_value};
use p2p_sync_core::version::{Hlc, Version};
use p2p_sync_core::wire::{format_timestamp, parse_timestamp};
use p2p_sync_core::write::Write;
use p2p_sync_core::Config;
use p2p_sync_store::SqliteStore;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

/// Rows stored per transaction.
const CHUNK: usize = 4096;

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Rows stored as new writes.
    pub imported: u64,
    /// Rows whose write (or a newer one for the key) the store already held.
    pub up_to_date: u64,
    /// Rows that could not be imported: key (as text) and why.
    pub refused: Vec<(String, String)>,
}

/// Why the import could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The source cannot be opened or is not the original app's database.
    #[error("cannot read {}: {problem}", path.display())]
    Source {
        /// The source database.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The data directory, its lock, key or database cannot be used.
    #[error("{0}")]
    Target(String),
}

/// One row of the source, read loosely (SQLite does not enforce column types).
struct Row {
    key: String,
    /// The value, or `None` for a row deleted in the older layout; or why it cannot be read.
    value: Result<Option<String>, String>,
    /// The time of the row in ms since the epoch, or why it has none.
    wall_ms: Result<u64, String>,
    /// The HLC counter of its write: 0, or one past a `legacy` row's.
    counter: u32,
}

/// Imports the original app's database at `source` into `data_dir`, printing one line per
/// refused row to `out`, and returns what it did.
pub fn import(
    source: &Path,
    data_dir: &Path,
    out: &mut dyn io::Write,
) -> Result<Summary, ImportError> {
    let mut rows = read_source(source)?;
    let target = |error: &dyn std::fmt::Display| ImportError::Target(error.to_string());
    crate::net::private_files::create_dir(data_dir).map_err(|error| {
        ImportError::Target(format!(
            "cannot use data directory {}: {error}",
            data_dir.display()
        ))
    })?;
    let _lock = DataDirLock::acquire(data_dir).map_err(|error| target(&error))?;
    let keypair = identity::load_or_create(data_dir).map_err(|error| target(&error))?;
    let origin = keypair.public().to_peer_id().to_string();
    let signing_key = identity::write_identity(&keypair)
        .map_err(|error| target(&error))?
        .signing_key;
    let database = data_dir.join(DATABASE_FILE);
    crate::net::private_files::restrict_file(&database).map_err(|error| target(&error))?;
    let mut store = SqliteStore::open(&database).map_err(|error| {
        ImportError::Target(format!(
            "cannot open database {}: {error}",
            database.display()
        ))
    })?;
    // The node's own database in the diagrams' layout: opening it just upgraded its rows in
    // place (as unsigned `legacy` rows), so they are read again to be signed one tick later.
    if same_file(source, &database) {
        rows = read_source(source)?;
    }
    let config = Config::default();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64);
    let mut summary = Summary::default();
    let mut pending = Vec::with_capacity(CHUNK);
    for row in rows {
        match to_write(row, &origin, &signing_key, now_ms, &config) {
            Ok(write) => pending.push(write),
            Err((key, why)) => {
                let _ = writeln!(out, "✗ Refused {}: {why}", printable(&key));
                summary.refused.push((key, why));
            }
        }
        if pending.len() == CHUNK {
            apply(&mut store, &mut pending, &mut summary)?;
        }
    }
    apply(&mut store, &mut pending, &mut summary)?;
    Ok(summary)
}

/// Whether `a` and `b` name the same file.
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Stores `pending` in one transaction, counting each as imported or up to date.
fn apply(
    store: &mut SqliteStore,
    pending: &mut Vec<Write>,
    summary: &mut Summary,
) -> Result<(), ImportError> {
    if pending.is_empty() {
        return Ok(());
    }
    let applied = store
        .apply(pending)
        .map_err(|error| ImportError::Target(format!("cannot store the rows: {error}")))?;
    let imported = applied.iter().filter(|&&applied| applied).count() as u64;
    summary.imported += imported;
    summary.up_to_date += applied.len() as u64 - imported;
    pending.clear();
    Ok(())
}

/// Every row of the source's `kv_store`, in key order.
fn read_source(path: &Path) -> Result<Vec<Row>, ImportError> {
    let source_error = |problem: String| ImportError::Source {
        path: path.to_path_buf(),
        problem,
    };
    if !path.is_file() {
        return Err(source_error("no such file".into()));
    }
    let connection = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|error| source_error(error.to_string()))?;
    let columns: Vec<String> = connection
        .prepare("SELECT name FROM pragma_table_info('kv_store')")
        .and_then(|mut statement| {
            statement
                .query_map([], |row| row.get(0))?
                .collect::<Result<_, _>>()
        })
        .map_err(|error| source_error(error.to_string()))?;
    for column in ["key", "value", "timestamp"] {
        if !columns.iter().any(|name| name == column) {
            return Err(source_error(
                "no table kv_store(key, value, timestamp): not the original app's sync.db".into(),
            ));
        }
    }
    if columns.iter().any(|name| name == "hlc_wall") {
        return read_legacy_rows(&connection).map_err(|error| source_error(error.to_string()));
    }
    // The older layout (the seed's diagrams) also has `deleted_at`: such a row is a delete.
    let deleted_at = if columns.iter().any(|name| name == "deleted_at") {
        "deleted_at"
    } else {
        "NULL"
    };
    let mut select = connection
        .prepare(&format!(
            "SELECT key, value, timestamp, {deleted_at} FROM kv_store ORDER BY key"
        ))
        .map_err(|error| source_error(error.to_string()))?;
    let mut rows = select
        .query([])
        .map_err(|error| source_error(error.to_string()))?;
    let mut out = Vec::new();
    while let Some(row) = rows
        .next()
        .map_err(|error| source_error(error.to_string()))?
    {
        let cell = |index| {
            row.get_ref(index)
                .map_err(|error| source_error(error.to_string()))
        };
        let key = match cell(0)? {
            ValueRef::Text(bytes) | ValueRef::Blob(bytes) => String::from_utf8_lossy(bytes).into(),
            ValueRef::Integer(number) => number.to_string(),
            ValueRef::Real(number) => number.to_string(),
            ValueRef::Null => "NULL".into(),
        };
        let value = match (cell(1)?, cell(3)?) {
            (_, ValueRef::Text(_)) => Ok(None),
            (ValueRef::Text(bytes), _) => String::from_utf8(bytes.to_vec())
                .map(Some)
                .map_err(|_| "its value is not valid UTF-8".to_string()),
            (other, _) => Err(format!("its value is {}, not text", kind(other))),
        };
        let wall_ms = match cell(2)? {
            ValueRef::Integer(seconds) => u64::try_from(seconds)
                .ok()
                .and_then(|seconds| seconds.checked_mul(1000))
                .ok_or(format!(
                    "its timestamp {seconds} is before 1970 or too large"
                )),
            // The older layout's RFC 3339 text, as the store's own upgrade of it reads it.
            ValueRef::Text(text) => std::str::from_utf8(text)
                .ok()
                .and_then(parse_timestamp)
                .ok_or(format!(
                    "its timestamp {:?} is neither Unix seconds nor RFC 3339",
                    String::from_utf8_lossy(text)
                )),
            other => Err(format!(
                "its timestamp is {}, not whole Unix seconds",
                kind(other)
            )),
        };
        let key_is_text =
            matches!(cell(0)?, ValueRef::Text(bytes) if std::str::from_utf8(bytes).is_ok());
        out.push(Row {
            value: if key_is_text {
                value
            } else {
                Err("its key is not UTF-8 text".into())
            },
            key,
            wall_ms,
            counter: 0,
        });
    }
    Ok(out)
}

/// The unsigned rows of origin `legacy` in a p2p-sync database: the original app's rows that
/// an upgrade in place kept (the store's `migrate_legacy_table`), which no peer accepts. Each
/// becomes this node's signed write one counter tick after the row, so it replaces the row
/// here and travels. Other rows of a p2p-sync database are left alone.
fn read_legacy_rows(connection: &Connection) -> rusqlite::Result<Vec<Row>> {
    let mut select = connection.prepare(&format!(
        "SELECT key, value, hlc_wall, hlc_counter FROM kv_store \
         WHERE origin = '{LEGACY_ORIGIN}' AND signature IS NULL ORDER BY key"
    ))?;
    let rows = select.query_map([], |row| {
        let counter: i64 = row.get(3)?;
        Ok(Row {
            key: row.get(0)?,
            value: Ok(row.get(1)?),
            wall_ms: u64::try_from(row.get::<_, i64>(2)?).map_err(|_| "a time before 1970".into()),
            counter: u32::try_from(counter + 1).unwrap_or(u32::MAX),
        })
    })?;
    rows.collect()
}

/// A column's SQLite type, in words.
fn kind(value: ValueRef) -> String {
    match value {
        ValueRef::Null => "NULL".into(),
        ValueRef::Integer(number) => format!("the integer {number}"),
        ValueRef::Real(number) => format!("the number {number}"),
        ValueRef::Text(_) => "text".into(),
        ValueRef::Blob(bytes) => format!("a blob of {} bytes", bytes.len()),
    }
}

/// The signed write for `row`, or its key and why it cannot be one.
fn to_write(
    row: Row,
    origin: &str,
    signing_key: &SigningKey,
    now_ms: u64,
    config: &Config,
) -> Result<Write, (String, String)> {
    let Row {
        key,
        value,
        wall_ms,
        counter,
    } = row;
    let refuse = |why: String| (key.clone(), why);
    let value = value.map_err(refuse)?;
    let wall_ms = wall_ms.map_err(refuse)?;
    validate_key(&key, config).map_err(|error| refuse(error.to_string()))?;
    if let Some(value) = &value {
        validate_value(value, config).map_err(|error| refuse(error.to_string()))?;
    }
    if wall_ms > now_ms + config.max_clock_ahead_ms {
        return Err(refuse(format!(
            "its timestamp {} is ahead of this machine's clock (peers would refuse it)",
            format_timestamp(wall_ms)
        )));
    }
    let mut write = Write {
        key: key.clone(),
        value,
        version: Version {
            hlc: Hlc { wall_ms, counter },
            origin: origin.to_string(),
        },
        signature: None,
    };
    auth::sign(signing_key, &mut write);
    Ok(write)
}

/// `import-legacy PATH [--data-dir DIR]`: imports, prints the refused rows and a summary.
pub fn run(source: &Path, data_dir: &Path) -> Result<(), ImportError> {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let summary = import(source, data_dir, &mut out)?;
    let _ = writeln!(
        out,
        "Imported {} into {}: {} imported, {} already up to date, {} refused",
        source.display(),
        data_dir.display(),
        summary.imported,
        summary.up_to_date,
        summary.refused.len()
    );
    if summary.imported > 0 {
        let _ = writeln!(
            out,
            "The imported rows are this node's writes: peers receive them once it runs \
             (`p2p-sync start --data-dir {}`).",
            data_dir.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use p2p_sync_core::auth::{Keys, PeerIdKeys};

    fn database(path: &Path, schema: &str, rows: &str) {
        let connection = Connection::open(path).unwrap();
        connection.execute_batch(schema).unwrap();
        connection.execute_batch(rows).unwrap();
    }

    #[test]
    fn rows_become_signed_writes_of_this_node_and_the_older_layout_is_read_too() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("old.db");
        database(
            &source,
            "CREATE TABLE kv_store (key TEXT PRIMARY KEY, value TEXT, timestamp TEXT, deleted_at TEXT);",
            "INSERT INTO kv_store VALUES ('live', 'v', '2025-01-04T08:30:15.250Z', NULL);
             INSERT INTO kv_store VALUES ('gone', 'w', '2025-01-04T08:30:16Z', '2025-01-04T08:30:16Z');
             INSERT INTO kv_store VALUES ('odd', 'x', 'last tuesday', NULL);",
        );
        let data_dir = dir.path().join("data");
        let mut out = Vec::new();
        let summary = import(&source, &data_dir, &mut out).unwrap();
        assert_eq!((summary.imported, summary.up_to_date), (2, 0));
        assert_eq!(summary.refused.len(), 1);
        assert!(String::from_utf8(out)
            .unwrap()
            .starts_with("✗ Refused odd: its timestamp \"last tuesday\""));
        let store = SqliteStore::open(&data_dir.join(DATABASE_FILE)).unwrap();
        let live = store.get("live").unwrap().unwrap();
        assert_eq!(
            live.version.hlc.wall_ms,
            parse_timestamp("2025-01-04T08:30:15.250Z").unwrap()
        );
        let signature = live.signature.clone().unwrap();
        assert!(PeerIdKeys.verify(&live.version.origin, &live.signed_bytes(), &signature));
        assert!(store.get("gone").unwrap().unwrap().is_delete());
    }

    /// A node's data directory whose database has the diagrams' layout, one row: the
    /// directory's guard, the data directory and the database file.
    fn node_database_of_the_diagrams() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("d");
        std::fs::create_dir_all(&data_dir).unwrap();
        let path = data_dir.join(DATABASE_FILE);
        database(
            &path,
            "CREATE TABLE kv_store (key TEXT PRIMARY KEY, value TEXT, timestamp TEXT, deleted_at TEXT);",
            "INSERT INTO kv_store VALUES ('old', 'v', '2025-01-04T08:30:15Z', NULL);",
        );
        (dir, data_dir, path)
    }

    /// The write the database at `path` holds for the key `old`.
    fn stored_old(path: &Path) -> Write {
        SqliteStore::open(path)
            .unwrap()
            .get("old")
            .unwrap()
            .unwrap()
    }

    #[test]
    fn a_database_of_the_diagrams_layout_never_opened_since_imports_on_the_first_run() {
        // Before, the store's upgrade (run when the import opened it) turned the rows just read
        // into `legacy` rows at the same time, which won the tie: 0 imported.
        let (_dir, data_dir, path) = node_database_of_the_diagrams();
        let summary = import(&path, &data_dir, &mut Vec::new()).unwrap();
        assert_eq!((summary.imported, summary.up_to_date), (1, 0));
        let stored = stored_old(&path);
        assert!(stored.signature.is_some());
        assert_ne!(stored.version.origin, LEGACY_ORIGIN);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "the database is the owner's alone");
        }
    }

    #[test]
    fn a_nodes_own_legacy_rows_become_its_signed_writes_and_a_missing_file_is_refused() {
        // A database of the diagrams' layout, upgraded in place by the store: origin `legacy`.
        let (dir, data_dir, path) = node_database_of_the_diagrams();
        let before = stored_old(&path);
        assert_eq!(before.version.origin, LEGACY_ORIGIN);
        let summary = import(&path, &data_dir, &mut Vec::new()).unwrap();
        assert_eq!((summary.imported, summary.up_to_date), (1, 0));
        let after = stored_old(&path);
        assert!(after.supersedes(&before) && after.signature.is_some());
        assert_eq!(after.value, before.value);
        assert_eq!(after.version.hlc.wall_ms, before.version.hlc.wall_ms);
        let again = import(&path, &data_dir, &mut Vec::new()).unwrap();
        assert_eq!(
            (again.imported, again.up_to_date),
            (0, 0),
            "no legacy row is left"
        );
        let error = import(
            &dir.path().join("none"),
            &dir.path().join("d"),
            &mut Vec::new(),
        )
        .unwrap_err();
        assert!(error.to_string().contains("no such file"), "{error}");
    }
}
