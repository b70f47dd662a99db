//! Each tenant's directory, and the one operation that changes it: replacing whole domains.
//!
//! Rows are keyed `(tenant, domain, address key)`, so that a domain is one contiguous range that
//! can be compared, snapshotted and replaced inside one write transaction. Groups without an
//! address live under the domain `""`, keyed by DN or name. The value of every row is the
//! core's own record type as JSON, so that exports and rollbacks give back exactly what was
//! imported.

use std::collections::{BTreeMap, HashSet};

use dirgate_core::{Directory, address};
use redb::{ReadableTable, Table, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::history::{Submitted, with_status};
use super::{
    ALIASES, CHANGES, COUNTS, Change, ChangeKind, ChangeResult, DOMAINS, DomainRecord, GROUPS, HistoryEntry,
    RECIPIENTS, Result, SNAP_ALIASES, SNAP_GROUPS, SNAP_RECIPIENTS, Store, Timestamp, encode, get_json, next_id,
};

/// How many of a tenant's most recent changes keep their before-snapshot, and so can be rolled
/// back. Older snapshots are dropped so that the file does not grow without bound.
pub const SNAPSHOT_RETENTION: usize = 10;

/// How many addresses each side of a diff lists.
const SAMPLES: usize = 20;

/// The three kinds of directory record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordKind {
    /// A mailbox's primary address.
    Recipient,
    /// A secondary address of a mailbox.
    Alias,
    /// A group.
    Group,
}

impl RecordKind {
    const ALL: [RecordKind; 3] = [RecordKind::Recipient, RecordKind::Alias, RecordKind::Group];

    fn live(self) -> TableDefinition<'static, (u64, &'static str, &'static str), &'static [u8]> {
        match self {
            RecordKind::Recipient => RECIPIENTS,
            RecordKind::Alias => ALIASES,
            RecordKind::Group => GROUPS,
        }
    }

    fn snapshot(self) -> TableDefinition<'static, (u64, &'static str, &'static str), &'static [u8]> {
        match self {
            RecordKind::Recipient => SNAP_RECIPIENTS,
            RecordKind::Alias => SNAP_ALIASES,
            RecordKind::Group => SNAP_GROUPS,
        }
    }
}

/// Rows of one domain, per kind: `(key, JSON record)`.
type Rows = [Vec<(String, Vec<u8>)>; 3];

/// A validated directory, split into the domains it replaces.
#[derive(Default)]
pub struct Incoming {
    domains: BTreeMap<String, Rows>,
    submitted: Submitted,
}

impl Incoming {
    /// Splits a validated directory by domain. Every address in it is already normalised by the
    /// core and lies in one of the tenant's managed domains.
    pub fn from_directory(directory: &Directory) -> Incoming {
        let mut incoming = Incoming::default();
        for r in directory.recipients() {
            incoming.push(RecordKind::Recipient, address::domain_of(r.address), address::key_of(r.address), encode(&r));
        }
        for a in directory.aliases() {
            incoming.push(RecordKind::Alias, address::domain_of(a.address), address::key_of(a.address), encode(&a));
        }
        let mut unaddressed: HashSet<String> = HashSet::new();
        for g in directory.groups() {
            let (domain, key) = match g.address {
                Some(a) => (address::domain_of(a), address::key_of(a)),
                None => ("", unaddressed_key(&mut unaddressed, g.name)),
            };
            incoming.push(RecordKind::Group, domain, key, encode(&g));
        }
        incoming.submitted = Submitted {
            recipients: directory.recipients().len() as u64,
            aliases: directory.aliases().len() as u64,
            groups: directory.groups().len() as u64,
        };
        incoming
    }

    fn push(&mut self, kind: RecordKind, domain: &str, key: String, value: Vec<u8>) {
        let rows = match self.domains.get_mut(domain) {
            Some(rows) => rows,
            None => self.domains.entry(domain.to_owned()).or_default(),
        };
        rows[kind as usize].push((key, value));
    }

    /// The store keys of the domains this directory replaces.
    pub fn domains(&self) -> impl Iterator<Item = &str> {
        self.domains.keys().map(String::as_str)
    }

    /// Whether there is nothing to apply.
    pub fn is_empty(&self) -> bool {
        self.domains.is_empty()
    }

    /// What the directory holds.
    pub fn submitted(&self) -> Submitted {
        self.submitted
    }
}

/// The key of a group without an address: its lower-cased name, which is what survives an
/// export and re-import (`groups.csv` has no DN). Two such groups of one name (different DNs in
/// LDIF) get `#2`, `#3`... so that neither is lost.
fn unaddressed_key(seen: &mut HashSet<String>, group_name: &str) -> String {
    let name = group_name.to_lowercase();
    let mut key = name.clone();
    let mut n = 1;
    while !seen.insert(key.clone()) {
        n += 1;
        key = format!("{name}#{n}");
    }
    key
}

/// Counts of one kind of record on both sides of a replace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delta {
    /// In the new directory, not in the old.
    pub added: u64,
    /// In the old directory, not in the new.
    pub removed: u64,
    /// In both.
    pub kept: u64,
}

/// A count and the first few addresses behind it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    /// How many.
    pub count: u64,
    /// Up to 20 of them.
    pub samples: Vec<String>,
}

impl Sample {
    fn note(&mut self, text: impl FnOnce() -> String) {
        self.count += 1;
        if self.samples.len() < SAMPLES {
            self.samples.push(text());
        }
    }
}

/// What replacing one domain does (or did).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainDiff {
    /// The domain; `null` for the tenant's groups without an address.
    pub domain: Option<String>,
    /// Addresses (recipients, aliases and groups) before.
    pub before: u64,
    /// Addresses after.
    pub after: u64,
    /// Addresses added, with samples.
    pub added: Sample,
    /// Addresses removed, with samples.
    pub removed: Sample,
    /// Addresses kept, with samples.
    pub kept: Sample,
    /// Recipients added, removed and kept.
    pub recipients: Delta,
    /// Aliases added, removed and kept.
    pub aliases: Delta,
    /// Groups added, removed and kept.
    pub groups: Delta,
    /// Whether the removals exceed the tenant's deletion threshold.
    pub threshold_exceeded: bool,
}

impl DomainDiff {
    fn delta_mut(&mut self, kind: RecordKind) -> &mut Delta {
        match kind {
            RecordKind::Recipient => &mut self.recipients,
            RecordKind::Alias => &mut self.aliases,
            RecordKind::Group => &mut self.groups,
        }
    }
}

/// Per-domain record counts, as stored beside the rows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCounts {
    /// Valid recipients.
    pub recipients: u64,
    /// Aliases.
    pub aliases: u64,
    /// Groups.
    pub groups: u64,
}

/// How to apply a change.
#[derive(Clone, Copy, Debug)]
pub struct ApplyOptions {
    /// Compute the diff and store nothing.
    pub dry_run: bool,
    /// Apply even if a domain loses more than the threshold.
    pub force: bool,
    /// The tenant's deletion threshold, in percent of a domain's addresses.
    pub threshold_percent: u32,
    /// For imports: the tenant's limit of applied imports per 24 hours.
    pub daily_limit: Option<u32>,
}

/// What [`Store::apply`] did.
pub enum Applied {
    /// The change was committed.
    Committed(Box<HistoryEntry>),
    /// A dry run: this is what the change would do.
    DryRun(Vec<DomainDiff>),
    /// Refused: some domain would lose more than the threshold. Nothing changed.
    ThresholdExceeded(Vec<DomainDiff>),
    /// Refused: the daily import limit is reached. Nothing changed.
    DailyLimit {
        /// The limit.
        limit: u32,
        /// When the oldest import of the window ages out.
        retry_after_seconds: u64,
    },
}

/// What [`Store::rollback`] did.
pub enum RolledBack {
    /// The rollback was committed; this is its own history entry.
    Done(Box<HistoryEntry>),
    /// The tenant has no such change.
    NotFound,
    /// The change cannot be undone now, for the reason given.
    Refused(String),
}

/// What [`Store::remove_domain`] did.
pub enum DomainRemoved {
    /// The domain and its records are gone; this is the history entry.
    Removed(Box<Change>),
    /// The tenant does not own that domain.
    NotFound,
    /// The domain still holds records and `force` was not given.
    HasRecords(u64),
}

/// The answer to "is this address accepted?".
#[derive(Clone, Debug)]
pub struct Lookup {
    /// The domain's owner, when it is managed.
    pub owner: Option<DomainRecord>,
    /// What the address is, when it is known.
    pub kind: Option<RecordKind>,
}

/// The exclusive upper bound of a domain's rows: no string sorts between `domain` and
/// `domain + "\0"`.
fn after(domain: &str) -> String {
    format!("{domain}\0")
}

/// A human label for a stored row, for diff samples: its address, or a group's name.
fn label(value: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Labelled {
        address: Option<String>,
        name: Option<String>,
    }
    match serde_json::from_slice::<Labelled>(value) {
        Ok(Labelled { address: Some(a), .. }) => a,
        Ok(Labelled { name: Some(n), .. }) => n,
        _ => String::new(),
    }
}

/// Compares the stored rows of one kind in one domain with the incoming ones.
fn diff_kind(
    table: &impl ReadableTable<(u64, &'static str, &'static str), &'static [u8]>,
    tenant: u64,
    domain: &str,
    kind: RecordKind,
    rows: &[(String, Vec<u8>)],
    diff: &mut DomainDiff,
) -> Result<()> {
    let incoming: HashSet<&str> = rows.iter().map(|(k, _)| k.as_str()).collect();
    let mut existing: HashSet<String> = HashSet::new();
    let end = after(domain);
    let mut delta = Delta::default();
    for item in table.range((tenant, domain, "")..(tenant, end.as_str(), ""))? {
        let (key, value) = item?;
        let key = key.value().2;
        if incoming.contains(key) {
            delta.kept += 1;
            diff.kept.note(|| label(value.value()));
        } else {
            delta.removed += 1;
            diff.removed.note(|| label(value.value()));
        }
        existing.insert(key.to_owned());
    }
    for (key, value) in rows {
        if !existing.contains(key.as_str()) {
            delta.added += 1;
            diff.added.note(|| label(value));
        }
    }
    diff.before += delta.kept + delta.removed;
    diff.after += rows.len() as u64;
    *diff.delta_mut(kind) = delta;
    Ok(())
}

fn threshold_exceeded(diff: &DomainDiff, percent: u32) -> bool {
    diff.before > 0 && diff.removed.count * 100 > diff.before * u64::from(percent)
}

/// The diff of replacing one domain with `rows`, reading the live tables through `open` (of a
/// read or a write transaction). With a threshold, it also says whether that is exceeded.
fn diff_domain<R, F>(
    open: F,
    tenant: u64,
    domain: &str,
    rows: &Rows,
    threshold_percent: Option<u32>,
) -> Result<DomainDiff>
where
    R: ReadableTable<(u64, &'static str, &'static str), &'static [u8]>,
    F: Fn(RecordKind) -> Result<R>,
{
    let mut diff = DomainDiff { domain: (!domain.is_empty()).then(|| domain.to_owned()), ..Default::default() };
    for kind in RecordKind::ALL {
        diff_kind(&open(kind)?, tenant, domain, kind, &rows[kind as usize], &mut diff)?;
    }
    diff.threshold_exceeded = threshold_percent.is_some_and(|p| threshold_exceeded(&diff, p));
    Ok(diff)
}

/// Deletes one domain's rows of one kind, copying them into the snapshot of `change` first.
fn clear_domain(
    txn: &WriteTransaction,
    live: &mut Table<(u64, &'static str, &'static str), &'static [u8]>,
    tenant: u64,
    domain: &str,
    kind: RecordKind,
    snapshot_of: Option<u64>,
) -> Result<()> {
    let end = after(domain);
    let range = (tenant, domain, "")..(tenant, end.as_str(), "");
    if let Some(change) = snapshot_of {
        let mut snap = txn.open_table(kind.snapshot())?;
        for item in live.range(range.clone())? {
            let (key, value) = item?;
            snap.insert((change, domain, key.value().2), value.value())?;
        }
    }
    live.retain_in(range, |_, _| false)?;
    Ok(())
}

/// Replaces one domain's rows and its stored counts.
fn replace_domain(
    txn: &WriteTransaction,
    tenant: u64,
    domain: &str,
    rows: &Rows,
    snapshot_of: Option<u64>,
) -> Result<()> {
    for kind in RecordKind::ALL {
        let mut live = txn.open_table(kind.live())?;
        clear_domain(txn, &mut live, tenant, domain, kind, snapshot_of)?;
        for (key, value) in &rows[kind as usize] {
            live.insert((tenant, domain, key.as_str()), value.as_slice())?;
        }
    }
    let mut counts = txn.open_table(COUNTS)?;
    let [r, a, g] = rows.each_ref().map(|v| v.len() as u64);
    if r + a + g == 0 {
        counts.remove((tenant, domain))?;
    } else {
        counts.insert((tenant, domain), (r, a, g))?;
    }
    Ok(())
}

/// Reads a change's before-snapshot of one domain back as rows.
fn snapshot_rows(txn: &WriteTransaction, change: u64, domain: &str) -> Result<Rows> {
    let mut rows: Rows = Default::default();
    let end = after(domain);
    for kind in RecordKind::ALL {
        let snap = txn.open_table(kind.snapshot())?;
        for item in snap.range((change, domain, "")..(change, end.as_str(), ""))? {
            let (key, value) = item?;
            rows[kind as usize].push((key.value().2.to_owned(), value.value().to_vec()));
        }
    }
    Ok(rows)
}

fn drop_snapshot(txn: &WriteTransaction, change: u64) -> Result<()> {
    for kind in RecordKind::ALL {
        txn.open_table(kind.snapshot())?.retain_in((change, "", "")..(change + 1, "", ""), |_, _| false)?;
    }
    Ok(())
}

fn save_change(txn: &WriteTransaction, change: &Change) -> Result<()> {
    txn.open_table(CHANGES)?.insert((change.tenant, change.id), encode(change).as_slice())?;
    Ok(())
}

/// Keeps the before-snapshots of only the most recent changes.
fn prune_snapshots(txn: &WriteTransaction, changes: &mut [Change]) -> Result<()> {
    let mut kept = 0;
    for change in changes.iter_mut().rev() {
        if !change.snapshot {
            continue;
        }
        kept += 1;
        if kept > SNAPSHOT_RETENTION {
            drop_snapshot(txn, change.id)?;
            change.snapshot = false;
            save_change(txn, change)?;
        }
    }
    Ok(())
}

impl Store {
    /// Applies a validated directory to a tenant: every domain it holds is replaced in one
    /// write transaction, and every other domain is left alone. With `dry_run`, or when the
    /// threshold or the daily limit refuses it, nothing is written.
    pub fn apply(&self, mut change: Change, incoming: &Incoming, options: ApplyOptions) -> Result<Applied> {
        let tenant = change.tenant;
        if options.dry_run {
            let txn = self.read()?;
            let open = |kind: RecordKind| Ok(txn.open_table(kind.live())?);
            let diffs = incoming
                .domains
                .iter()
                .map(|(domain, rows)| diff_domain(open, tenant, domain, rows, Some(options.threshold_percent)))
                .collect::<Result<Vec<_>>>()?;
            return Ok(Applied::DryRun(diffs));
        }

        let txn = self.write()?;
        let mut history = Self::changes_in(&txn.open_table(CHANGES)?, tenant)?;
        if let Some(limit) = options.daily_limit {
            let now = Timestamp::now().0;
            let window: Vec<u64> = history
                .iter()
                .filter(|c| c.kind == ChangeKind::Import && c.result == ChangeResult::Applied)
                .map(|c| c.created_at.0)
                .filter(|&at| at + 86_400 > now)
                .collect();
            if window.len() >= limit as usize {
                let oldest = window.iter().min().copied().unwrap_or(now);
                return Ok(Applied::DailyLimit { limit, retry_after_seconds: (oldest + 86_400).saturating_sub(now) });
            }
        }
        let open = |kind: RecordKind| Ok(txn.open_table(kind.live())?);
        let diffs = incoming
            .domains
            .iter()
            .map(|(domain, rows)| diff_domain(open, tenant, domain, rows, Some(options.threshold_percent)))
            .collect::<Result<Vec<_>>>()?;
        if !options.force && diffs.iter().any(|d| d.threshold_exceeded) {
            return Ok(Applied::ThresholdExceeded(diffs));
        }
        change.id = next_id(&txn, "next_change")?;
        change.forced = options.force && diffs.iter().any(|d| d.threshold_exceeded);
        change.domains = diffs;
        change.submitted = incoming.submitted();
        change.result = ChangeResult::Applied;
        change.snapshot = true;
        for (domain, rows) in &incoming.domains {
            replace_domain(&txn, tenant, domain, rows, Some(change.id))?;
        }
        save_change(&txn, &change)?;
        history.push(change);
        prune_snapshots(&txn, &mut history)?;
        txn.commit()?;
        let entries = with_status(history);
        let entry = entries.into_iter().last().expect("the change just pushed");
        Ok(Applied::Committed(Box::new(entry)))
    }

    /// Undoes change `id` of a tenant: restores every domain it replaced to exactly its state
    /// before, as a new change of its own.
    pub fn rollback(&self, tenant: u64, id: u64, by: &str) -> Result<RolledBack> {
        let txn = self.write()?;
        let history = Self::changes_in(&txn.open_table(CHANGES)?, tenant)?;
        let entries = with_status(history.clone());
        let Some(entry) = entries.iter().find(|e| e.change.id == id) else { return Ok(RolledBack::NotFound) };
        if !entry.rollback_available {
            let reason = match (entry.change.kind, entry.status) {
                (ChangeKind::Rollback, _) => "a rollback cannot itself be rolled back; import the file again instead",
                (ChangeKind::DomainRemoval, _) => {
                    "a domain removal cannot be rolled back; add the domain and import again"
                }
                (_, super::ChangeStatus::RolledBack) => "this change was already rolled back",
                (_, super::ChangeStatus::NotApplied) => "this change was never applied",
                _ if !entry.change.snapshot => {
                    "the state before this change is no longer kept (only the most recent changes can be rolled back)"
                }
                _ => "a later change replaced some of the same domains; roll that change back first",
            };
            return Ok(RolledBack::Refused(reason.to_owned()));
        }
        let mut target = entry.change.clone();
        let mut rollback = Change::new(tenant, ChangeKind::Rollback, by);
        rollback.id = next_id(&txn, "next_change")?;
        rollback.rollback_of = Some(id);
        rollback.description = format!("Rollback of #{id}");
        let mut submitted = Submitted::default();
        for domain in target.domain_keys().map(str::to_owned).collect::<Vec<_>>() {
            let rows = snapshot_rows(&txn, id, &domain)?;
            let diff = diff_domain(|kind| Ok(txn.open_table(kind.live())?), tenant, &domain, &rows, None)?;
            submitted.recipients += rows[0].len() as u64;
            submitted.aliases += rows[1].len() as u64;
            submitted.groups += rows[2].len() as u64;
            replace_domain(&txn, tenant, &domain, &rows, None)?;
            rollback.domains.push(diff);
        }
        rollback.submitted = submitted;
        drop_snapshot(&txn, id)?;
        target.snapshot = false;
        target.rolled_back_by = Some(rollback.id);
        save_change(&txn, &target)?;
        save_change(&txn, &rollback)?;
        txn.commit()?;
        let history = Self::changes_in(&self.read()?.open_table(CHANGES)?, tenant)?;
        let entry = with_status(history).into_iter().find(|e| e.change.id == rollback.id).expect("just committed");
        Ok(RolledBack::Done(Box::new(entry)))
    }

    /// Removes a managed domain from a tenant, with every record in it.
    pub fn remove_domain(&self, tenant: u64, domain: &str, by: &str, force: bool) -> Result<DomainRemoved> {
        let txn = self.write()?;
        let change;
        {
            let mut domains = txn.open_table(DOMAINS)?;
            match get_json::<&str, DomainRecord, _>(&domains, domain)? {
                Some(record) if record.tenant == tenant => {}
                _ => return Ok(DomainRemoved::NotFound),
            }
            let counts = txn.open_table(COUNTS)?.get((tenant, domain))?.map(|v| v.value()).unwrap_or((0, 0, 0));
            let total = counts.0 + counts.1 + counts.2;
            if total > 0 && !force {
                return Ok(DomainRemoved::HasRecords(total));
            }
            let mut diff = DomainDiff { domain: Some(domain.to_owned()), before: total, ..Default::default() };
            diff.recipients.removed = counts.0;
            diff.aliases.removed = counts.1;
            diff.groups.removed = counts.2;
            diff.removed.count = total;
            replace_domain(&txn, tenant, domain, &Default::default(), None)?;
            domains.remove(domain)?;
            let mut c = Change::new(tenant, ChangeKind::DomainRemoval, by);
            c.id = next_id(&txn, "next_change")?;
            c.description = format!("Domain {domain} removed");
            c.domains.push(diff);
            save_change(&txn, &c)?;
            change = c;
        }
        txn.commit()?;
        Ok(DomainRemoved::Removed(Box::new(change)))
    }

    /// Looks an address up: who manages its domain, and what the address is there. `domain` is
    /// the normalised domain and `key` the address's comparison key (`address::key_of`).
    /// Every read comes from the one shared snapshot of the last commit.
    pub fn lookup(&self, domain: &str, key: &str) -> Result<Lookup> {
        let snapshot = self.snapshot()?;
        let owner: Option<DomainRecord> = get_json(&snapshot.domains, domain)?;
        let mut kind = None;
        if let Some(record) = &owner {
            for k in RecordKind::ALL {
                if snapshot.live(k).get((record.tenant, domain, key))?.is_some() {
                    kind = Some(k);
                    break;
                }
            }
        }
        Ok(Lookup { owner, kind })
    }

    /// A tenant's stored counts per domain ("" is the groups without an address), sorted.
    pub fn counts(&self, tenant: u64) -> Result<Vec<(String, StoredCounts)>> {
        let txn = self.read()?;
        let table = txn.open_table(COUNTS)?;
        let mut out = Vec::new();
        for item in table.range((tenant, "")..(tenant + 1, ""))? {
            let (key, value) = item?;
            let (recipients, aliases, groups) = value.value();
            out.push((key.value().1.to_owned(), StoredCounts { recipients, aliases, groups }));
        }
        Ok(out)
    }

    /// Streams a tenant's records of one kind, in key order, to `sink` as JSON values (the
    /// core's `Recipient`, `Alias` or `Group`). With `domain`, only that domain's rows; without,
    /// every row including groups without an address. `sink` returns false to stop early.
    pub fn each_record(
        &self,
        tenant: u64,
        kind: RecordKind,
        domain: Option<&str>,
        mut sink: impl FnMut(&[u8]) -> bool,
    ) -> Result<()> {
        let txn = self.read()?;
        let table = txn.open_table(kind.live())?;
        let end;
        let range = match domain {
            Some(d) => {
                end = after(d);
                table.range((tenant, d, "")..(tenant, end.as_str(), ""))?
            }
            None => table.range((tenant, "", "")..(tenant + 1, "", ""))?,
        };
        for item in range {
            if !sink(item?.1.value()) {
                break;
            }
        }
        Ok(())
    }
}
