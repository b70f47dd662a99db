//! The change log: every import, sync run, rollback and domain removal of a tenant, in order.
//!
//! A change's status is not stored: it follows from the log. Per domain, the changes that set it
//! form a stack; a rollback pops its target. A change is *in effect* while it is on top of the
//! stack of at least one of its domains, *superseded* when it is on top of none, and *rolled
//! back* once undone. It can be rolled back while it is on top of every one of its domains and
//! its before-snapshot is still kept.

use std::collections::HashMap;

use redb::ReadableTable;
use serde::{Deserialize, Serialize};

use super::{CHANGES, DomainDiff, Result, Store, Timestamp, decode, encode, get_json, next_id};

/// What made a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    /// A file import (browser, API or raw file).
    Import,
    /// A run of the directory sync agent.
    Sync,
    /// The undoing of an earlier import or sync.
    Rollback,
    /// A managed domain was removed, with its records.
    DomainRemoval,
}

/// Whether a change was applied. Only sync runs are recorded when they are not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeResult {
    /// The directory was changed.
    Applied,
    /// Refused: it would have removed more than the deletion threshold.
    ThresholdExceeded,
    /// Refused: the records had errors.
    Invalid,
}

/// A change's place in the directory's history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeStatus {
    /// At least one domain it set still holds what it set.
    InEffect,
    /// Every domain it set has been replaced since.
    Superseded,
    /// It was undone.
    RolledBack,
    /// It was refused and changed nothing.
    NotApplied,
}

/// One file of an import, as the uploader described it (or as the server measured it).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileMeta {
    /// The file's name.
    pub name: String,
    /// Its size in bytes.
    #[serde(default)]
    pub size: u64,
    /// Hex SHA-256 of the original file.
    #[serde(default)]
    pub sha256: Option<String>,
    /// `ldif` or `csv`.
    #[serde(default)]
    pub format: Option<String>,
    /// The encoding it was read with.
    #[serde(default)]
    pub encoding: Option<String>,
}

/// Where a sync run came from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    /// The agent's host name, as it reports it.
    #[serde(default)]
    pub host: String,
    /// The agent's version.
    #[serde(default)]
    pub version: String,
    /// The address the request came from, as the server saw it.
    #[serde(default)]
    pub ip: Option<String>,
}

/// Record counts of what a change submitted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submitted {
    /// Valid recipients.
    pub recipients: u64,
    /// Aliases.
    pub aliases: u64,
    /// Groups.
    pub groups: u64,
}

/// One entry of the change log.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Change {
    /// Unique over all tenants, increasing.
    pub id: u64,
    /// The tenant whose directory changed.
    pub tenant: u64,
    /// What made it.
    pub kind: ChangeKind,
    /// When.
    pub created_at: Timestamp,
    /// The user name, or `key:<id>` for an API key.
    pub created_by: String,
    /// What the administrator typed.
    pub description: String,
    /// The files of an import.
    pub files: Vec<FileMeta>,
    /// `ldif`, `csv`, `mixed` or `normalised`.
    pub format: Option<String>,
    /// The first file's encoding.
    pub encoding: Option<String>,
    /// What happened to each domain it replaced.
    pub domains: Vec<DomainDiff>,
    /// The records it submitted (after validation).
    pub submitted: Submitted,
    /// How many invalid records were skipped (`skip_invalid`).
    pub skipped_invalid: u64,
    /// Whether the deletion threshold was passed with `force`.
    pub forced: bool,
    /// Whether it was applied.
    pub result: ChangeResult,
    /// Why it was refused, when it was.
    pub message: Option<String>,
    /// For a rollback: the change it undid.
    pub rollback_of: Option<u64>,
    /// The rollback that undid this change.
    pub rolled_back_by: Option<u64>,
    /// Whether the state before this change is still kept (rollback needs it).
    pub snapshot: bool,
    /// For a sync run: the source's name in the agent's config.
    pub source: Option<String>,
    /// For a sync run: the agent.
    pub agent: Option<Agent>,
}

impl Change {
    /// A change of `kind` with nothing filled in yet; the store gives it its id when it is saved.
    pub fn new(tenant: u64, kind: ChangeKind, created_by: &str) -> Change {
        Change {
            id: 0,
            tenant,
            kind,
            created_at: Timestamp::now(),
            created_by: created_by.to_owned(),
            description: String::new(),
            files: Vec::new(),
            format: None,
            encoding: None,
            domains: Vec::new(),
            submitted: Submitted::default(),
            skipped_invalid: 0,
            forced: false,
            result: ChangeResult::Applied,
            message: None,
            rollback_of: None,
            rolled_back_by: None,
            snapshot: false,
            source: None,
            agent: None,
        }
    }

    /// The store keys of the domains this change set ("" for groups without address).
    pub(super) fn domain_keys(&self) -> impl Iterator<Item = &str> {
        self.domains.iter().map(|d| d.domain.as_deref().unwrap_or(""))
    }

    /// Whether the change altered the directory (and so takes part in domain stacks).
    fn sets_domains(&self) -> bool {
        self.result == ChangeResult::Applied
            && matches!(self.kind, ChangeKind::Import | ChangeKind::Sync | ChangeKind::DomainRemoval)
    }
}

/// A change with its status, as the history lists it.
#[derive(Clone, Debug, Serialize)]
pub struct HistoryEntry {
    /// The change.
    #[serde(flatten)]
    pub change: Change,
    /// Its place in the history.
    pub status: ChangeStatus,
    /// Whether `POST .../rollback` would be accepted now.
    pub rollback_available: bool,
}

/// Works out every change's status from the log (oldest first).
pub(super) fn with_status(changes: Vec<Change>) -> Vec<HistoryEntry> {
    let by_id: HashMap<u64, usize> = changes.iter().enumerate().map(|(i, c)| (c.id, i)).collect();
    let mut stacks: HashMap<String, Vec<u64>> = HashMap::new();
    for change in &changes {
        if change.sets_domains() {
            for domain in change.domain_keys() {
                stacks.entry(domain.to_owned()).or_default().push(change.id);
            }
        } else if change.kind == ChangeKind::Rollback
            && let Some(target) = change.rollback_of.and_then(|id| by_id.get(&id)).map(|&i| &changes[i])
        {
            for domain in target.domain_keys() {
                if let Some(stack) = stacks.get_mut(domain) {
                    stack.retain(|&id| id != target.id);
                }
            }
        }
    }
    changes
        .into_iter()
        .map(|change| {
            let on_top = |domain: &str| stacks.get(domain).and_then(|s| s.last()) == Some(&change.id);
            let (status, rollback_available) = if change.result != ChangeResult::Applied {
                (ChangeStatus::NotApplied, false)
            } else if change.rolled_back_by.is_some() {
                (ChangeStatus::RolledBack, false)
            } else if !change.sets_domains() {
                (ChangeStatus::InEffect, false)
            } else {
                let top_of_any = change.domain_keys().any(on_top);
                let top_of_all = change.domain_keys().all(on_top);
                let status = if top_of_any { ChangeStatus::InEffect } else { ChangeStatus::Superseded };
                let can_undo = top_of_all && change.snapshot && change.kind != ChangeKind::DomainRemoval;
                (status, can_undo)
            };
            HistoryEntry { change, status, rollback_available }
        })
        .collect()
}

impl Store {
    /// The whole change log of a tenant, oldest first.
    pub(super) fn changes_in(
        txn_table: &impl ReadableTable<(u64, u64), &'static [u8]>,
        tenant: u64,
    ) -> Result<Vec<Change>> {
        let mut out = Vec::new();
        for item in txn_table.range((tenant, 0)..=(tenant, u64::MAX))? {
            out.push(decode(item?.1.value())?);
        }
        Ok(out)
    }

    /// A tenant's history with statuses, newest first, optionally of some kinds only.
    pub fn history(&self, tenant: u64, kinds: &[ChangeKind]) -> Result<Vec<HistoryEntry>> {
        let txn = self.read()?;
        let changes = Self::changes_in(&txn.open_table(CHANGES)?, tenant)?;
        let mut entries: Vec<HistoryEntry> =
            with_status(changes).into_iter().filter(|e| kinds.is_empty() || kinds.contains(&e.change.kind)).collect();
        entries.reverse();
        Ok(entries)
    }

    /// One change of a tenant, with its status; `None` when the tenant has no such change.
    pub fn history_entry(&self, tenant: u64, id: u64) -> Result<Option<HistoryEntry>> {
        let txn = self.read()?;
        let table = txn.open_table(CHANGES)?;
        if get_json::<(u64, u64), Change, _>(&table, (tenant, id))?.is_none() {
            return Ok(None);
        }
        let changes = Self::changes_in(&table, tenant)?;
        Ok(with_status(changes).into_iter().find(|e| e.change.id == id))
    }

    /// Records a change that was not applied (a refused sync run), so that it shows in history.
    pub fn record_refused(&self, mut change: Change) -> Result<Change> {
        let txn = self.write()?;
        {
            change.id = next_id(&txn, "next_change")?;
            txn.open_table(CHANGES)?.insert((change.tenant, change.id), encode(&change).as_slice())?;
        }
        txn.commit()?;
        Ok(change)
    }
}
