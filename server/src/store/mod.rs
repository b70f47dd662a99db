//! The storage module: the only code that touches redb.
//!
//! One redb file holds everything: accounts (operator, tenant users, sessions, API keys), tenants
//! and their managed domains, each tenant's directory (one row per recipient, alias and group),
//! the change log (imports, sync runs, rollbacks, domain removals) and the before-snapshots that
//! make rollback exact. Every function here is blocking; the HTTP layer calls them from
//! `spawn_blocking`.
//!
//! Tables are typed constants at the top; each write is `begin_write`, a scoped block that opens
//! tables, then `commit`, so a failure anywhere leaves the file as it was.

mod accounts;
mod directory;
mod history;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

pub use accounts::{AddDomain, ApiKey, DomainRecord, Role, Session, Tenant, TenantSettings, User};
pub use directory::{
    Applied, ApplyOptions, Delta, DomainDiff, DomainRemoved, Incoming, Lookup, RecordKind, RolledBack, Sample,
    StoredCounts,
};
pub use history::{Agent, Change, ChangeKind, ChangeResult, ChangeStatus, FileMeta, HistoryEntry, Submitted};

/// Key-value metadata: counters and the schema version.
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// username -> JSON [`User`].
const USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("users");
/// SHA-256 of the session token -> JSON [`Session`].
const SESSIONS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("sessions");
/// tenant id -> JSON [`Tenant`].
const TENANTS: TableDefinition<u64, &[u8]> = TableDefinition::new("tenants");
/// A-label domain -> JSON [`DomainRecord`]. A domain belongs to at most one tenant.
const DOMAINS: TableDefinition<&str, &[u8]> = TableDefinition::new("domains");
/// key id -> JSON [`ApiKey`].
const API_KEYS: TableDefinition<&str, &[u8]> = TableDefinition::new("api_keys");
/// (tenant, domain, address key) -> JSON record; `domain` is "" for groups without address.
const RECIPIENTS: TableDefinition<(u64, &str, &str), &[u8]> = TableDefinition::new("recipients");
const ALIASES: TableDefinition<(u64, &str, &str), &[u8]> = TableDefinition::new("aliases");
const GROUPS: TableDefinition<(u64, &str, &str), &[u8]> = TableDefinition::new("groups");
/// (change id, domain, key) -> the row as it was before that change replaced its domain.
const SNAP_RECIPIENTS: TableDefinition<(u64, &str, &str), &[u8]> = TableDefinition::new("snap_recipients");
const SNAP_ALIASES: TableDefinition<(u64, &str, &str), &[u8]> = TableDefinition::new("snap_aliases");
const SNAP_GROUPS: TableDefinition<(u64, &str, &str), &[u8]> = TableDefinition::new("snap_groups");
/// (tenant, domain) -> (recipients, aliases, groups), kept in step with the rows.
const COUNTS: TableDefinition<(u64, &str), (u64, u64, u64)> = TableDefinition::new("counts");
/// (tenant, change id) -> JSON [`Change`].
const CHANGES: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("changes");

const SCHEMA_VERSION: u64 = 1;

/// Everything that can go wrong in storage. Callers see one type; redb's narrow error types
/// are mapped at this boundary.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file could not be read or written.
    #[error("database: {0}")]
    Db(#[from] redb::Error),
    /// A stored record could not be decoded (a damaged or foreign file).
    #[error("corrupt record: {0}")]
    Corrupt(#[from] serde_json::Error),
    /// The file was written by a newer dirgate.
    #[error("the database has schema version {0}; this dirgate understands {SCHEMA_VERSION}")]
    Schema(u64),
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> StoreError {
                StoreError::Db(e.into())
            }
        }
    )*};
}
from_redb!(redb::DatabaseError, redb::TransactionError, redb::TableError, redb::StorageError, redb::CommitError);

/// The storage module's result type.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Seconds since the Unix epoch, written as RFC 3339 in JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// The current time.
    pub fn now() -> Timestamp {
        Timestamp(SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let time = UNIX_EPOCH + Duration::from_secs(self.0);
        s.collect_str(&humantime::format_rfc3339_seconds(time))
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Timestamp, D::Error> {
        let text = String::deserialize(d)?;
        let time = humantime::parse_rfc3339(&text).map_err(serde::de::Error::custom)?;
        Ok(Timestamp(time.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)))
    }
}

/// The shared handle on the database file.
#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
}

impl Store {
    /// Opens (or creates) the database file and makes sure every table exists. `cache_bytes`
    /// is redb's page cache (redb's own default is 1 GiB).
    pub fn open(path: &Path, cache_bytes: usize) -> Result<Store> {
        let db = Database::builder().set_cache_size(cache_bytes).create(path)?;
        let txn = db.begin_write()?;
        {
            let mut meta = txn.open_table(META)?;
            let version = meta.get("schema_version")?.map(|v| v.value());
            match version {
                None => {
                    meta.insert("schema_version", SCHEMA_VERSION)?;
                }
                Some(v) if v > SCHEMA_VERSION => return Err(StoreError::Schema(v)),
                Some(_) => {}
            }
            txn.open_table(USERS)?;
            txn.open_table(SESSIONS)?;
            txn.open_table(TENANTS)?;
            txn.open_table(DOMAINS)?;
            txn.open_table(API_KEYS)?;
            txn.open_table(RECIPIENTS)?;
            txn.open_table(ALIASES)?;
            txn.open_table(GROUPS)?;
            txn.open_table(SNAP_RECIPIENTS)?;
            txn.open_table(SNAP_ALIASES)?;
            txn.open_table(SNAP_GROUPS)?;
            txn.open_table(COUNTS)?;
            txn.open_table(CHANGES)?;
        }
        txn.commit()?;
        Ok(Store { db: Arc::new(db) })
    }

    fn read(&self) -> Result<redb::ReadTransaction> {
        Ok(self.db.begin_read()?)
    }

    fn write(&self) -> Result<redb::WriteTransaction> {
        Ok(self.db.begin_write()?)
    }
}

/// The next value of a named counter, inside the caller's write transaction.
fn next_id(txn: &redb::WriteTransaction, name: &str) -> Result<u64> {
    let mut meta = txn.open_table(META)?;
    let next = meta.get(name)?.map(|v| v.value()).unwrap_or(1);
    meta.insert(name, next + 1)?;
    Ok(next)
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising these plain structs to a Vec cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T> {
    Ok(serde_json::from_slice(bytes)?)
}

/// Reads one JSON record from any table whose values are JSON bytes.
fn get_json<'k, K, T, R>(table: &R, key: impl std::borrow::Borrow<K::SelfType<'k>>) -> Result<Option<T>>
where
    K: redb::Key + 'static,
    T: for<'de> Deserialize<'de>,
    R: ReadableTable<K, &'static [u8]>,
{
    match table.get(key)? {
        Some(guard) => Ok(Some(decode(guard.value())?)),
        None => Ok(None),
    }
}
