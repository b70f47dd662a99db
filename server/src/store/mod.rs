//! The storage module: the only code that touches redb.
//!
//! One redb file holds everything: accounts (operator, tenant users, sessions, API keys), tenants
//! and their managed domains, each tenant's directory (one row per recipient, alias and group),
//! the change log (imports, sync runs, rollbacks, domain removals) and the before-snapshots that
//! make rollback exact. Every function here is blocking; the HTTP layer calls them from
//! `spawn_blocking`, except the point reads of authentication and of the recipient check.
//!
//! Tables are typed constants at the top; each write is `begin_write`, a scoped block that opens
//! tables, then `commit`, so a failure anywhere leaves the file as it was.
//!
//! The point reads of every request (API keys, domain owners, directory rows) go through one
//! shared [`Snapshot`] of the last commit, with those tables already open, instead of a read
//! transaction and four or five table opens per request. Every write goes through
//! [`Store::write`], whose [`WriteTxn::commit`] retires that snapshot before it returns, so a
//! request that starts after a commit always reads it; this process is the only writer of the
//! file (redb locks it), so nothing else can commit behind the snapshot's back.

mod accounts;
mod directory;
mod history;

use std::collections::HashMap;
use std::ops::Deref;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redb::{Database, ReadOnlyTable, ReadableDatabase, ReadableTable, TableDefinition};
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
    published: Arc<Mutex<Published>>,
}

/// The snapshot that point reads share, and how many commits have retired one.
struct Published {
    /// Bumped by every commit: a snapshot opened before a commit must not be published after it.
    commits: u64,
    /// The last commit, opened; `None` until the first point read after a commit.
    snapshot: Option<Arc<Snapshot>>,
}

/// A read transaction on the last commit with the tables of the per-request point reads open.
/// Opening a table costs a lookup in redb's table tree (and a type check that allocates), which
/// at tens of thousands of recipient checks a second cost as much as the reads themselves.
struct Snapshot {
    domains: ReadOnlyTable<&'static str, &'static [u8]>,
    api_keys: ReadOnlyTable<&'static str, &'static [u8]>,
    recipients: ReadOnlyTable<(u64, &'static str, &'static str), &'static [u8]>,
    aliases: ReadOnlyTable<(u64, &'static str, &'static str), &'static [u8]>,
    groups: ReadOnlyTable<(u64, &'static str, &'static str), &'static [u8]>,
    /// The API keys of this snapshot decoded so far, by id, so that a key used for every request
    /// is decoded once per commit rather than once per request. Only stored keys are kept, so
    /// this holds at most every key of the file, whatever ids clients send. It belongs to the
    /// snapshot, so a commit that creates or revokes a key retires it together with the table.
    keys: Mutex<HashMap<String, Arc<ApiKey>>>,
}

impl Snapshot {
    fn open(txn: &redb::ReadTransaction) -> Result<Snapshot> {
        Ok(Snapshot {
            domains: txn.open_table(DOMAINS)?,
            api_keys: txn.open_table(API_KEYS)?,
            recipients: txn.open_table(RECIPIENTS)?,
            aliases: txn.open_table(ALIASES)?,
            groups: txn.open_table(GROUPS)?,
            keys: Mutex::new(HashMap::new()),
        })
    }

    /// The live rows of one kind.
    fn live(&self, kind: RecordKind) -> &ReadOnlyTable<(u64, &'static str, &'static str), &'static [u8]> {
        match kind {
            RecordKind::Recipient => &self.recipients,
            RecordKind::Alias => &self.aliases,
            RecordKind::Group => &self.groups,
        }
    }

    /// A key by id, decoded at most once per snapshot.
    fn key(&self, id: &str) -> Result<Option<Arc<ApiKey>>> {
        if let Some(key) = lock(&self.keys).get(id) {
            return Ok(Some(Arc::clone(key)));
        }
        let Some(key) = get_json::<&str, ApiKey, _>(&self.api_keys, id)? else { return Ok(None) };
        let key = Arc::new(key);
        lock(&self.keys).insert(id.to_owned(), Arc::clone(&key));
        Ok(Some(key))
    }
}

/// A mutex's guard; a panic elsewhere while holding it leaves nothing half-done here.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// A write transaction of this store. Its [`commit`](WriteTxn::commit) is the only way a write
/// is committed, and it retires the shared snapshot.
struct WriteTxn<'s> {
    txn: redb::WriteTransaction,
    store: &'s Store,
}

impl Deref for WriteTxn<'_> {
    type Target = redb::WriteTransaction;

    fn deref(&self) -> &redb::WriteTransaction {
        &self.txn
    }
}

impl WriteTxn<'_> {
    /// Commits, then retires the shared snapshot (also when the commit failed, whatever it left
    /// behind), so that no request that starts after this returns reads the state before it.
    fn commit(self) -> Result<()> {
        let committed = self.txn.commit();
        self.store.retire_snapshot();
        Ok(committed?)
    }
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
        let published = Published { commits: 0, snapshot: None };
        Ok(Store { db: Arc::new(db), published: Arc::new(Mutex::new(published)) })
    }

    fn read(&self) -> Result<redb::ReadTransaction> {
        Ok(self.db.begin_read()?)
    }

    fn write(&self) -> Result<WriteTxn<'_>> {
        Ok(WriteTxn { txn: self.db.begin_write()?, store: self })
    }

    /// The shared snapshot of the last commit, opened by the first point read after a commit.
    fn snapshot(&self) -> Result<Arc<Snapshot>> {
        let commits = {
            let published = lock(&self.published);
            if let Some(snapshot) = &published.snapshot {
                return Ok(Arc::clone(snapshot));
            }
            published.commits
        };
        let snapshot = Arc::new(Snapshot::open(&self.read()?)?);
        self.publish(&snapshot, commits);
        Ok(snapshot)
    }

    /// Shares a snapshot opened after `commits` commits, unless a commit has happened since:
    /// then it may be older than that commit, and it answers only the request that opened it.
    fn publish(&self, snapshot: &Arc<Snapshot>, commits: u64) {
        let mut published = lock(&self.published);
        if published.commits == commits && published.snapshot.is_none() {
            published.snapshot = Some(Arc::clone(snapshot));
        }
    }

    /// Drops the shared snapshot after a commit; requests still reading it finish on it.
    fn retire_snapshot(&self) {
        let retired = {
            let mut published = lock(&self.published);
            published.commits += 1;
            published.snapshot.take()
        };
        // Dropped outside the lock: ending a read transaction takes redb's own locks.
        drop(retired);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str) -> ApiKey {
        ApiKey {
            id: id.to_owned(),
            tenant: 1,
            secret_sha256: String::new(),
            name: String::new(),
            created_by: String::new(),
            created_at: Timestamp(0),
            revoked_at: None,
        }
    }

    #[test]
    fn a_commit_retires_the_shared_snapshot_and_its_decoded_keys() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.redb"), 1 << 20).unwrap();
        assert!(store.key("k1").unwrap().is_none());
        store.create_key(&key("k1")).unwrap();
        assert!(store.key("k1").unwrap().unwrap().revoked_at.is_none(), "a new key is read at once");
        assert!(store.lookup("example.com", "a@example.com").unwrap().owner.is_none());
        assert!(store.revoke_key(1, "k1").unwrap());
        assert!(store.key("k1").unwrap().unwrap().revoked_at.is_some(), "a revocation is read at once");
        store.create_tenant("t", &["example.com".to_owned()]).unwrap().unwrap();
        assert!(store.lookup("example.com", "a@example.com").unwrap().owner.is_some(), "so is a new domain");
    }

    #[test]
    fn a_snapshot_opened_before_a_commit_is_not_shared_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.redb"), 1 << 20).unwrap();
        // A request that opens a snapshot, then loses the race with a commit (a key's creation
        // here, a revocation in earnest) before it can share it.
        let commits = lock(&store.published).commits;
        let stale = Arc::new(Snapshot::open(&store.read().unwrap()).unwrap());
        store.create_key(&key("k1")).unwrap();
        store.publish(&stale, commits);
        assert!(lock(&store.published).snapshot.is_none());
        assert!(stale.key("k1").unwrap().is_none());
        assert!(store.key("k1").unwrap().is_some());
    }
}
