//! The rules that build the normalised directory.
//!
//! Parsers hand raw records (a mailbox with its addresses, an alias, a group with member
//! references) to [`DirectoryBuilder`], which owns every rule that spans records: address
//! validation, managed domains, case-insensitive duplicates, conflicts, member resolution and
//! the per-domain counts. Its memory is bounded by the number of unique addresses, never by
//! the size of the files that fed it.

use std::borrow::Cow;

use hashbrown::{HashMap, HashSet, HashTable};

use crate::address::{self, AddressError};
use crate::diagnostic::{Code, Diagnostics, Position};
use crate::model::{AliasRow, Directory, RecipientRow, Span, Text};
use crate::slots::{SlotTable, Vacancy};

/// Unique records after normalisation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Counts {
    /// Mailboxes' primary addresses.
    pub recipients: u64,
    /// Alias addresses other than primaries.
    pub aliases: u64,
    /// Groups, with or without an address.
    pub groups: u64,
    /// LDIF entries without any address (OUs, computers, containers).
    pub skipped: u64,
    /// Addresses dropped because their domain is not managed.
    pub unmanaged: u64,
}

/// The records of one domain.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DomainCounts {
    /// The lower-case A-label domain.
    pub domain: String,
    /// Recipients in this domain.
    pub recipients: u64,
    /// Aliases whose own address is in this domain.
    pub aliases: u64,
    /// Groups whose own address is in this domain.
    pub groups: u64,
}

/// A raw value as it appeared in the source, with where it appeared.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Located<'a> {
    pub text: &'a str,
    pub at: Position,
}

/// A mailbox as a parser saw it.
pub(crate) struct MailboxDraft<'a> {
    pub dn: Option<&'a str>,
    pub name: Option<String>,
    pub primary: Located<'a>,
    pub aliases: Vec<Located<'a>>,
}

/// A group as a parser saw it. Members are DNs or addresses.
pub(crate) struct GroupDraft<'a> {
    pub dn: Option<&'a str>,
    pub name: String,
    pub address: Option<Located<'a>>,
    /// Secondary addresses of a mail-enabled group; they deliver to the group's address.
    pub aliases: Vec<Located<'a>>,
    pub members: Vec<Located<'a>>,
    /// Whether a second record for the same group merges silently (the rows of `groups.csv`)
    /// or is reported as a duplicate (two LDIF entries).
    pub merge_silently: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Recipient,
    Alias,
    Group,
}

impl Kind {
    fn noun(self) -> &'static str {
        match self {
            Kind::Recipient => "a recipient",
            Kind::Alias => "an alias",
            Kind::Group => "a group address",
        }
    }
}

/// One entry of the address index: which record, and 32 bits of its key's hash. Eight bytes,
/// so that a million addresses cost 8 MB of table, and growing the table never touches the
/// stored addresses (the table places a slot by its tag alone).
#[derive(Clone, Copy, Debug)]
struct Slot {
    /// The kind in the top two bits (never both set, so never the table's empty marker), the
    /// record's index in the rest.
    packed: u32,
    tag: u32,
}

impl Slot {
    const INDEX: u32 = (1 << 30) - 1;

    fn new(kind: Kind, index: usize, hash: u64) -> Slot {
        let kind = match kind {
            Kind::Recipient => 0,
            Kind::Alias => 1,
            Kind::Group => 2,
        };
        Slot { packed: (kind << 30) | (index as u32 & Self::INDEX), tag: tag_of(hash) }
    }

    fn kind(self) -> Kind {
        match self.packed >> 30 {
            0 => Kind::Recipient,
            1 => Kind::Alias,
            _ => Kind::Group,
        }
    }

    fn index(self) -> usize {
        (self.packed & Self::INDEX) as usize
    }
}

/// The bits of a key's hash a [`Slot`] keeps.
fn tag_of(hash: u64) -> u32 {
    (hash >> 32) as u32
}

/// A group member as read: an address, or a DN to resolve at the end of the import. Both are
/// spans of [`DirectoryBuilder::pending`].
#[derive(Clone, Copy, Debug)]
enum Member {
    Address(Span),
    Dn { dn: Span, at: Position },
}

#[derive(Debug)]
struct GroupState {
    name: String,
    dn: Option<String>,
    /// A span of the directory's text.
    address: Option<Span>,
    members: Vec<Member>,
}

/// The records accepted so far, in the order first seen: recipients and aliases straight in
/// the directory being built, groups apart until their members are resolved.
#[derive(Debug, Default)]
struct Records {
    directory: Directory,
    groups: Vec<GroupState>,
}

impl Records {
    /// The stored address a slot of the index stands for.
    fn address(&self, slot: Slot) -> &str {
        let i = slot.index();
        let span = match slot.kind() {
            Kind::Recipient => self.directory.recipient_row(i).address,
            Kind::Alias => self.directory.alias_row(i).address,
            Kind::Group => self.groups[i].address.unwrap_or_default(),
        };
        self.directory.text(span)
    }
}

/// The address index's entries and the directory's rows, counted together.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Sizes {
    pub addresses: usize,
    pub recipients: usize,
    pub aliases: usize,
}

/// Every address of the import, case-insensitively, without a second copy of any of them: the
/// table holds only slots into [`Records`], and hashes and compares the stored addresses.
#[derive(Debug, Default)]
struct AddressIndex {
    table: SlotTable,
    hasher: address::KeyHasher,
}

impl AddressIndex {
    fn hash(&self, address: &str) -> u64 {
        self.hasher.key(address)
    }

    fn find(&self, records: &Records, address: &str, hash: u64) -> Option<Slot> {
        self.entry_in(records, address, hash).ok()
    }

    /// The key's slot, or where a new one goes, with one probe of the table.
    fn entry(&mut self, records: &Records, address: &str, hash: u64) -> Result<Slot, Vacancy> {
        self.table.reserve_one();
        self.entry_in(records, address, hash)
    }

    fn entry_in(&self, records: &Records, address: &str, hash: u64) -> Result<Slot, Vacancy> {
        let tag = tag_of(hash);
        self.table
            .find(tag, |packed| address::same_key(records.address(Slot { packed, tag }), address))
            .map(|packed| Slot { packed, tag })
    }

    /// Fills the vacancy [`Self::entry`] returned, with no change to the index in between.
    fn insert_at(&mut self, at: Vacancy, slot: Slot) {
        self.table.insert_at(at, slot.tag, slot.packed);
    }

    /// Adds a slot whose record has already been pushed, and whose key is not in the index.
    fn insert(&mut self, slot: Slot) {
        self.table.insert_unique(slot.tag, slot.packed);
    }

    /// Starts loading where the key's slot is, for a lookup soon after.
    fn prefetch(&self, hash: u64) {
        self.table.prefetch(tag_of(hash));
    }
}

/// Entries' DNs, normalised, to the span of each entry's address: the lookup that resolves
/// group members. The normalised DNs live back to back in one text, not one allocation each.
#[derive(Debug, Default)]
struct DnIndex {
    text: Text,
    table: HashTable<(u64, Span, Span)>,
    hasher: address::KeyHasher,
    buffer: String,
}

impl DnIndex {
    /// Maps the DN to `address`, replacing what an earlier entry with the same DN mapped.
    fn insert(&mut self, dn: &str, address: Span) {
        let mut key = std::mem::take(&mut self.buffer);
        normalise_dn_into(dn, &mut key);
        let hash = self.hasher.lowercase(&key);
        let DnIndex { text, table, .. } = self;
        match table.entry(hash, |&(h, k, _)| h == hash && text.get(k) == key, |&(h, _, _)| h) {
            hashbrown::hash_table::Entry::Occupied(mut entry) => entry.get_mut().2 = address,
            hashbrown::hash_table::Entry::Vacant(vacant) => {
                vacant.insert((hash, text.keep(&key), address));
            }
        }
        self.buffer = key;
    }

    /// The address of the entry whose normalised DN is `key`.
    fn get(&self, key: &str) -> Option<Span> {
        let hash = self.hasher.lowercase(key);
        self.table.find(hash, |&(h, k, _)| h == hash && self.text.get(k) == key).map(|&(_, _, address)| address)
    }
}

/// An address that passed every check, with the hash of its key.
struct Keyed<'a> {
    address: Cow<'a, str>,
    hash: u64,
}

/// What the builder knows of one of [`address::KnownDomains`]'s slots.
#[derive(Clone, Copy, Debug, Default)]
struct KnownDomain {
    managed: bool,
    /// The domain's index in the tally, once it has one.
    tally: Option<usize>,
}

/// An address [`DirectoryBuilder::prepare_common`] accepted: its key's hash and the index of
/// its domain in the counts.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PreparedAddress {
    hash: u64,
    tally: usize,
}

/// Applies the cross-record rules as records arrive.
#[derive(Debug)]
pub(crate) struct DirectoryBuilder {
    managed: Option<HashSet<String>>,
    index: AddressIndex,
    records: Records,
    /// The aliases whose target may not be a recipient (those read from an aliases export:
    /// an entry's aliases deliver to the entry itself), by index, with where each was read,
    /// for the check at the end of the import.
    unchecked_aliases: Vec<(usize, Position)>,
    groups_without_address: HashMap<String, u32>,
    /// Normalised DN to the span of the entry's address in the directory's text.
    dn_to_address: DnIndex,
    /// Domains already known to be in their common form, and for each of their slots whether
    /// it is managed and, once looked up, its index in `tally`.
    domains: address::KnownDomains,
    known: [KnownDomain; address::KnownDomains::KEPT],
    /// The records of each domain, counted as they are added (while their text is still in
    /// the cache) rather than by a second pass over the directory.
    tally: DomainCounter,
    /// Reused buffers: an entry's normalised primary address, one of its aliases, and the
    /// aliases it has delivered so far.
    primary: String,
    alias: String,
    seen: Vec<String>,
    /// Group members until the end of the import, back to back.
    pending: Text,
    skipped: u64,
    unmanaged: u64,
}

impl DirectoryBuilder {
    pub(crate) fn new(managed_domains: &[String]) -> DirectoryBuilder {
        let managed = (!managed_domains.is_empty()).then(|| {
            managed_domains
                .iter()
                .map(|d| address::normalise_domain(d.trim()).unwrap_or_else(|_| d.trim().to_ascii_lowercase()))
                .collect()
        });
        DirectoryBuilder {
            managed,
            index: AddressIndex::default(),
            records: Records::default(),
            unchecked_aliases: Vec::new(),
            groups_without_address: HashMap::new(),
            dn_to_address: DnIndex::default(),
            domains: address::KnownDomains::default(),
            known: [KnownDomain::default(); address::KnownDomains::KEPT],
            tally: DomainCounter::default(),
            primary: String::new(),
            alias: String::new(),
            seen: Vec::new(),
            pending: Text::default(),
            skipped: 0,
            unmanaged: 0,
        }
    }

    /// How many records have been accepted so far, for progress reports.
    pub(crate) fn record_count(&self) -> u64 {
        let d = &self.records.directory;
        (d.recipient_count() + d.alias_count() + self.records.groups.len()) as u64
    }

    /// How much the directory holds so far, to project what a file will add from what its
    /// first bytes added.
    pub(crate) fn sizes(&self) -> Sizes {
        let d = &self.records.directory;
        Sizes { addresses: self.index.table.len(), recipients: d.recipient_count(), aliases: d.alias_count() }
    }

    /// Makes room for `more` addresses and rows at once: the index is placed once instead of
    /// re-placed at every doubling.
    pub(crate) fn reserve(&mut self, more: Sizes) {
        self.index.table.reserve(more.addresses);
        self.records.directory.reserve_rows(more.recipients, more.aliases);
    }

    /// Counts an entry that carried no address at all.
    pub(crate) fn skip_entry(&mut self) {
        self.skipped += 1;
    }

    fn is_managed(&self, domain: &str) -> bool {
        self.managed.as_ref().is_none_or(|m| m.contains(domain))
    }

    /// Trims, parses and checks one address, reporting every problem. Returns the address only
    /// when it may be stored.
    fn accept(&mut self, diags: &mut Diagnostics, raw: Located<'_>) -> Option<Keyed<'static>> {
        let parsed = address::normalise(raw.text.trim()).map(|(a, non_ascii)| (Cow::Owned(a), non_ascii));
        self.accept_parsed(diags, raw, parsed)
    }

    /// [`Self::accept`] into a buffer the caller reuses, without allocating for an address in
    /// its common form.
    fn accept_into<'b>(&mut self, diags: &mut Diagnostics, raw: Located<'_>, out: &'b mut String) -> Option<Keyed<'b>> {
        let parsed = self.normalise_into(trim(raw.text), out).map(|non_ascii| (Cow::Borrowed(out.as_str()), non_ascii));
        self.accept_parsed(diags, raw, parsed)
    }

    /// [`address::normalise`] into `out`; returns whether the local part is non-ASCII.
    fn normalise_into(&mut self, raw: &str, out: &mut String) -> Result<bool, AddressError> {
        if let Some(found) = self.common(raw) {
            address::copy_lowering_domain(raw, found.at, out);
            return Ok(false);
        }
        let (address, non_ascii) = address::normalise(raw)?;
        *out = address;
        Ok(non_ascii)
    }

    /// [`address::KnownDomains::common`], keeping what the builder knows of each known domain
    /// current.
    fn common(&mut self, raw: &str) -> Option<address::CommonAddress> {
        let found = self.domains.common(raw)?;
        if found.new {
            let domain = &raw[found.at + 1..];
            let managed = found.lower && self.is_managed(domain);
            self.known[found.slot] = KnownDomain { managed, tally: None };
        }
        Some(found)
    }

    /// [`Self::accept`] for an address already parsed from `raw.text.trim()`.
    fn accept_parsed<'a>(
        &mut self,
        diags: &mut Diagnostics,
        raw: Located<'_>,
        parsed: Result<(Cow<'a, str>, bool), AddressError>,
    ) -> Option<Keyed<'a>> {
        let trimmed = trim(raw.text);
        let mut at = raw.at;
        if trimmed.len() != raw.text.len() {
            let leading = raw.text.len() - raw.text.trim_start().len();
            diags.push(Code::SurroundingWhitespace, at, || {
                format!("the address `{trimmed}` has spaces around it; they were removed")
            });
            at.column = at.column.map(|c| c + raw.text[..leading].chars().count() as u32);
        }
        let (address, non_ascii_local) = match parsed {
            Ok(parsed) => parsed,
            Err(error) => {
                diags.push(Code::InvalidAddress, at, || {
                    format!("`{}` is not a valid address: {error}", printable(trimmed))
                });
                return None;
            }
        };
        if non_ascii_local {
            diags.push(Code::NonAsciiLocalPart, at, || {
                format!(
                    "`{address}` has non-ASCII characters before the `@`; only mail servers with SMTPUTF8 can deliver to it"
                )
            });
        }
        if let Some(domain) =
            self.managed.as_ref().map(|_| address::domain_of(&address)).filter(|d| !self.is_managed(d))
        {
            self.unmanaged += 1;
            diags.push(Code::UnmanagedDomain, at, || {
                format!("`{address}` is in {domain}, which is not one of your managed domains; it was left out")
            });
            return None;
        }
        let hash = self.index.hash(&address);
        Some(Keyed { address, hash })
    }

    /// The kind and index of the record that already holds the key, if any.
    fn find(&self, keyed: &Keyed<'_>) -> Option<(Kind, u32)> {
        self.index.find(&self.records, &keyed.address, keyed.hash).map(|slot| (slot.kind(), slot.index() as u32))
    }

    /// A mailbox with no DN and no aliases whose primary address `raw` is trimmed and in its
    /// common form, in a managed domain (almost every row of a CSV file): what
    /// [`Self::add_mailbox`] would do, with the domain checked, matched to the managed ones
    /// and found in the counts once per known domain rather than once per address. Returns
    /// false, having done nothing, for any other address, which must take the general path.
    pub(crate) fn add_common_mailbox(
        &mut self,
        diags: &mut Diagnostics,
        raw: &str,
        at: Position,
        name: Option<&str>,
    ) -> bool {
        let Some(prepared) = self.prepare_common(raw) else { return false };
        self.commit_common(diags, raw, prepared, at, name);
        true
    }

    /// The first half of [`Self::add_common_mailbox`]: checks `raw` and starts loading its
    /// slot of the index, changing nothing a later record could see (only what is remembered
    /// of known domains). [`Self::commit_common`] adds it; a caller may prepare a few rows
    /// ahead, so that their cache misses overlap, as long as it commits them in order and
    /// before any record takes another path.
    pub(crate) fn prepare_common(&mut self, raw: &str) -> Option<PreparedAddress> {
        // The hash is only right for an ASCII address, which the common form is; it is worked
        // out first so that its slot of the index loads while the address is checked.
        let hash = self.index.hasher.ascii_key(raw);
        self.index.prefetch(hash);
        let found = self.common(raw)?;
        let known = self.known[found.slot];
        if !known.managed || !found.lower {
            return None;
        }
        let tally = match known.tally {
            Some(tally) => tally,
            None => {
                let tally = self.tally.index_of(address::domain_of(raw));
                self.known[found.slot].tally = Some(tally);
                tally
            }
        };
        Some(PreparedAddress { hash, tally })
    }

    /// The second half of [`Self::add_common_mailbox`], for the address `raw` that
    /// [`Self::prepare_common`] accepted.
    pub(crate) fn commit_common(
        &mut self,
        diags: &mut Diagnostics,
        raw: &str,
        prepared: PreparedAddress,
        at: Position,
        name: Option<&str>,
    ) {
        let primary = Keyed { address: Cow::Borrowed(raw), hash: prepared.hash };
        self.add_recipient_counted(diags, primary, at, name, Some(prepared.tally));
    }

    /// Adds a primary address, or reports it as a duplicate or conflict. Returns the span of
    /// the recipient's stored address when it is (now or already) a recipient.
    fn add_recipient(
        &mut self,
        diags: &mut Diagnostics,
        primary: Keyed<'_>,
        at: Position,
        name: Option<&str>,
    ) -> Option<Span> {
        self.add_recipient_counted(diags, primary, at, name, None)
    }

    /// [`Self::add_recipient`], given the index of the address's domain in the counts when
    /// the caller knows it.
    #[inline(always)]
    fn add_recipient_counted(
        &mut self,
        diags: &mut Diagnostics,
        primary: Keyed<'_>,
        at: Position,
        name: Option<&str>,
        tally: Option<usize>,
    ) -> Option<Span> {
        let entry = self.index.entry(&self.records, &primary.address, primary.hash);
        let found = match entry {
            Ok(slot) => slot,
            Err(vacant) => {
                let d = &mut self.records.directory;
                let address = d.keep(&primary.address);
                let name = name.map(|n| d.keep(n));
                let index = d.push_recipient_row(RecipientRow { address, name });
                self.index.insert_at(vacant, Slot::new(Kind::Recipient, index, primary.hash));
                let counts = match tally {
                    Some(i) => &mut self.tally.counts[i],
                    None => self.tally.entry(&primary.address),
                };
                counts.recipients += 1;
                return Some(address);
            }
        };
        match found.kind() {
            Kind::Recipient => {
                let index = found.index();
                let d = &mut self.records.directory;
                let existing = d.recipient_row(index);
                diags.push(Code::DuplicateAddress, at, || {
                    format!(
                        "`{}` is already listed as `{}`; the first one is kept",
                        primary.address,
                        d.text(existing.address)
                    )
                });
                if let (None, Some(name)) = (existing.name, name) {
                    let name = d.keep(name);
                    d.recipient_row_mut(index).name = Some(name);
                }
                Some(existing.address)
            }
            kind => {
                diags.push(Code::AddressConflict, at, || {
                    format!(
                        "`{}` is already {} elsewhere in the import, so it cannot also be a recipient; this entry was left out",
                        primary.address,
                        kind.noun()
                    )
                });
                None
            }
        }
    }

    pub(crate) fn add_mailbox(&mut self, diags: &mut Diagnostics, draft: MailboxDraft<'_>) {
        let mut buffer = std::mem::take(&mut self.primary);
        self.add_mailbox_with(diags, draft, &mut buffer);
        self.primary = buffer;
    }

    fn add_mailbox_with(&mut self, diags: &mut Diagnostics, draft: MailboxDraft<'_>, buffer: &mut String) {
        // Start loading the index's slots of all the entry's addresses at once, so that their
        // cache misses overlap; for an address in its common form (almost all), the hash of
        // the trimmed text is its key's.
        for raw in std::iter::once(&draft.primary).chain(&draft.aliases) {
            self.index.prefetch(self.index.hasher.ascii_key(trim(raw.text)));
        }
        let Some(primary) = self.accept_into(diags, draft.primary, buffer) else {
            // The entry cannot be a recipient here. If it was only out of our domains, its
            // managed aliases still matter and still point to it.
            let Ok((unmanaged_primary, _)) = address::normalise(draft.primary.text.trim()) else { return };
            if draft.dn.is_none() && draft.aliases.is_empty() {
                return;
            }
            let target = self.records.directory.keep(&unmanaged_primary);
            if let Some(dn) = draft.dn {
                self.dn_to_address.insert(dn, target);
            }
            self.add_entry_aliases(diags, &draft.aliases, target);
            return;
        };
        let Some(address) = self.add_recipient(diags, primary, draft.primary.at, draft.name.as_deref()) else {
            return;
        };
        if let Some(dn) = draft.dn {
            self.dn_to_address.insert(dn, address);
        }
        if !draft.aliases.is_empty() {
            self.add_entry_aliases(diags, &draft.aliases, address);
        }
    }

    /// The aliases of one entry, all delivering to `target` (a span of the directory's text).
    fn add_entry_aliases(&mut self, diags: &mut Diagnostics, aliases: &[Located<'_>], target: Span) {
        let (mut buffer, mut seen) = (std::mem::take(&mut self.alias), std::mem::take(&mut self.seen));
        let mut delivered = 0;
        for raw in aliases {
            let parsed = self.normalise_into(trim(raw.text), &mut buffer);
            if parsed.is_ok() {
                // Repeats inside one entry (mail equal to the SMTP: address) are normal, not noise.
                let target_text = self.records.directory.text(target);
                if address::same_key(&buffer, target_text)
                    || seen[..delivered].iter().any(|s| address::same_key(s, &buffer))
                {
                    continue;
                }
                if let Some(slot) = seen.get_mut(delivered) {
                    slot.clone_from(&buffer);
                } else {
                    seen.push(buffer.clone());
                }
                delivered += 1;
            }
            let parsed = parsed.map(|non_ascii| (Cow::Borrowed(buffer.as_str()), non_ascii));
            if let Some(alias) = self.accept_parsed(diags, *raw, parsed) {
                self.register_alias(diags, alias, target, raw.at);
            }
        }
        (self.alias, self.seen) = (buffer, seen);
    }

    /// Adds an `alias -> target` pair read from an aliases export.
    pub(crate) fn add_alias(&mut self, diags: &mut Diagnostics, alias: Located<'_>, target: Located<'_>) {
        let alias_address = self.accept(diags, alias);
        let target_trimmed = target.text.trim();
        let target_address = match address::normalise(target_trimmed) {
            Ok((a, _)) => a,
            Err(error) => {
                diags.push(Code::InvalidAddress, target.at, || {
                    format!("the alias target `{}` is not a valid address: {error}", printable(target_trimmed))
                });
                return;
            }
        };
        let Some(alias_address) = alias_address else { return };
        if address::same_key(&alias_address.address, &target_address) {
            diags.push(Code::SelfAlias, alias.at, || {
                format!("`{}` is an alias of itself; an alias must point to another address", alias_address.address)
            });
            return;
        }
        let target = self.records.directory.keep(&target_address);
        match self.register_alias(diags, alias_address, target, alias.at) {
            Some(index) => self.unchecked_aliases.push((index, alias.at)),
            // Nothing refers to the target's copy: give its bytes back.
            None => self.records.directory.forget(target),
        }
    }

    /// Returns the new alias's index, when it was added.
    fn register_alias(
        &mut self,
        diags: &mut Diagnostics,
        alias: Keyed<'_>,
        target: Span,
        at: Position,
    ) -> Option<usize> {
        let found =
            self.index.entry(&self.records, &alias.address, alias.hash).map(|slot| (slot.kind(), slot.index() as u32));
        let d = &self.records.directory;
        let target_text = d.text(target);
        match found {
            Err(vacant) => {
                let d = &mut self.records.directory;
                let address = d.keep(&alias.address);
                let index = d.push_alias_row(AliasRow { address, target });
                self.tally.entry(&alias.address).aliases += 1;
                self.index.insert_at(vacant, Slot::new(Kind::Alias, index, alias.hash));
                Some(index)
            }
            Ok((Kind::Alias, index)) => {
                let existing = d.text(d.alias_row(index as usize).target);
                if address::same_key(existing, target_text) {
                    diags.push(Code::DuplicateAddress, at, || {
                        format!("the alias `{}` is listed twice; the first one is kept", alias.address)
                    });
                } else {
                    diags.push(Code::AddressConflict, at, || {
                        format!(
                            "the alias `{}` already delivers to `{existing}`, so it cannot also deliver to `{target_text}`",
                            alias.address
                        )
                    });
                }
                None
            }
            Ok((kind, _)) => {
                diags.push(Code::AddressConflict, at, || {
                    format!(
                        "`{}` is already {} elsewhere in the import, so it cannot also be an alias of `{target_text}`",
                        alias.address,
                        kind.noun()
                    )
                });
                None
            }
        }
    }

    pub(crate) fn add_group(&mut self, diags: &mut Diagnostics, draft: GroupDraft<'_>) {
        let address = match draft.address {
            Some(raw) if !raw.text.trim().is_empty() => match self.accept(diags, raw) {
                Some(address) => Some((address, raw.at)),
                None => return,
            },
            _ => None,
        };
        let members = self.group_members(diags, &draft.members);
        let index = match &address {
            Some((address, at)) => match self.find(address) {
                Some((Kind::Group, index)) => {
                    if !draft.merge_silently {
                        diags.push(Code::DuplicateAddress, *at, || {
                            format!("the group address `{}` is listed twice; the members were merged", address.address)
                        });
                    }
                    Some(index)
                }
                Some((kind, _)) => {
                    diags.push(Code::AddressConflict, *at, || {
                        format!(
                            "`{}` is already {} elsewhere in the import, so it cannot also be a group address; this group was left out",
                            address.address,
                            kind.noun()
                        )
                    });
                    return;
                }
                None => None,
            },
            None => {
                let key = match draft.dn {
                    Some(dn) => format!("dn:{}", normalise_dn(dn)),
                    None => format!("name:{}", draft.name.to_lowercase()),
                };
                self.groups_without_address.get(&key).copied().or_else(|| {
                    self.groups_without_address.insert(key, self.records.groups.len() as u32);
                    None
                })
            }
        };
        // The group's address, stored once; its aliases deliver to it.
        let target = match (&address, index) {
            (Some(_), Some(index)) => self.records.groups[index as usize].address,
            (Some((keyed, _)), None) => Some(self.records.directory.keep(&keyed.address)),
            (None, _) => None,
        };
        if let Some(target) = target {
            self.add_entry_aliases(diags, &draft.aliases, target);
        }
        match index {
            Some(index) => self.records.groups[index as usize].members.extend(members),
            None => {
                let index = self.records.groups.len() as u32;
                if let (Some(dn), Some(target)) = (draft.dn, target) {
                    self.dn_to_address.insert(dn, target);
                }
                self.records.groups.push(GroupState {
                    name: draft.name,
                    dn: draft.dn.map(str::to_owned),
                    address: target,
                    members,
                });
                if let Some((keyed, _)) = address {
                    self.index.insert(Slot::new(Kind::Group, index as usize, keyed.hash));
                }
            }
        }
    }

    /// Members that look like addresses are validated now; DNs wait for the end of the import,
    /// when every entry they might name has been read.
    fn group_members(&mut self, diags: &mut Diagnostics, raw: &[Located<'_>]) -> Vec<Member> {
        let mut members = Vec::with_capacity(raw.len());
        for m in raw {
            let text = m.text.trim();
            if text.is_empty() {
                continue;
            }
            if text.contains('@') && !text.contains('=') {
                match address::normalise(text) {
                    Ok((address, _)) => members.push(Member::Address(self.pending.keep(&address))),
                    Err(error) => diags.push(Code::InvalidAddress, m.at, || {
                        format!("the group member `{}` is not a valid address: {error}", printable(text))
                    }),
                }
            } else {
                members.push(Member::Dn { dn: self.pending.keep(text), at: m.at });
            }
        }
        members
    }

    /// Resolves member DNs, checks alias targets, and returns the directory and its counts.
    /// The directory, its counts, and its per-domain counts (sorted by domain).
    pub(crate) fn finish(self, diags: &mut Diagnostics) -> (Directory, Counts, Vec<DomainCounts>) {
        let DirectoryBuilder {
            managed,
            index,
            records,
            unchecked_aliases,
            dn_to_address,
            pending,
            skipped,
            unmanaged,
            mut tally,
            ..
        } = self;
        let d = &records.directory;
        for &(row, at) in &unchecked_aliases {
            let alias = d.alias_row(row);
            let target = d.text(alias.target);
            let hash = index.hash(target);
            let is_recipient = index
                .find(&records, target, hash)
                .is_some_and(|slot| matches!(slot.kind(), Kind::Recipient | Kind::Group));
            let target_managed = managed.as_ref().is_none_or(|m| m.contains(address::domain_of(target)));
            if !is_recipient && target_managed {
                diags.push(Code::AliasTargetUnknown, at, || {
                    format!(
                        "the alias `{}` delivers to `{target}`, which is not a recipient in this import",
                        d.text(alias.address)
                    )
                });
            }
        }
        drop(index);
        let Records { mut directory, groups } = records;
        let group_count = groups.len() as u64;
        let mut dn_buffer = String::new();
        let hasher = address::KeyHasher::default();
        for g in groups {
            let mut seen: HashTable<(u64, Span)> = HashTable::with_capacity(g.members.len());
            let mut members = Vec::with_capacity(g.members.len());
            for member in g.members {
                // The span, and whether it is a fresh copy (rather than an entry's address).
                let (resolved, fresh) = match member {
                    Member::Address(a) => (directory.keep(pending.get(a)), true),
                    Member::Dn { dn, at } => {
                        let dn = pending.get(dn);
                        normalise_dn_into(dn, &mut dn_buffer);
                        match dn_to_address.get(dn_buffer.as_str()) {
                            Some(address) => (address, false),
                            None => {
                                diags.push(Code::UnresolvedMember, at, || {
                                    format!(
                                        "the member `{dn}` of group `{}` matches no entry with an address in this import; it is kept as a DN",
                                        g.name
                                    )
                                });
                                (directory.keep(dn), true)
                            }
                        }
                    }
                };
                // Members repeat case-insensitively (as `str::to_lowercase` compares them) only
                // once; a repeat's copy, if one was made, is given back.
                let text = directory.text(resolved);
                let hash = lowercase_hash(&hasher, text);
                let d = &directory;
                if seen.find(hash, |&(h, s)| h == hash && same_lowercase(d.text(s), text)).is_some() {
                    if fresh {
                        directory.forget(resolved);
                    }
                } else {
                    seen.insert_unique(hash, (hash, resolved), |&(h, _)| h);
                    members.push(resolved);
                }
            }
            if let Some(address) = g.address {
                tally.entry(directory.text(address)).groups += 1;
            }
            directory.push_group_spans(&g.name, g.dn.as_deref(), g.address, &members);
        }
        let counts = Counts {
            recipients: directory.recipient_count() as u64,
            aliases: directory.alias_count() as u64,
            groups: group_count,
            skipped,
            unmanaged,
        };
        let domains = tally.sorted();
        debug_assert_eq!(domains, directory.domain_counts(), "the per-domain counts drifted from the directory");
        (directory, counts, domains)
    }
}

/// Per-domain counts as records are added. A directory has few domains and records often
/// come in runs of one, so the last domain is tried first and a short list is searched in
/// place; a hash table is built only for many domains.
#[derive(Debug, Default)]
struct DomainCounter {
    counts: Vec<DomainCounts>,
    index: HashMap<String, usize>,
    last: usize,
}

impl DomainCounter {
    const LINEAR: usize = 16;

    /// The counts of a normalised address's domain.
    fn entry(&mut self, address: &str) -> &mut DomainCounts {
        let domain = address::domain_of(address);
        let same = |c: &DomainCounts| address::same_bytes(c.domain.as_bytes(), domain.as_bytes());
        if !self.counts.get(self.last).is_some_and(same) {
            self.last = self.index_of(domain);
        }
        &mut self.counts[self.last]
    }

    /// Where the counts of a normalised domain are, added if it has none yet.
    fn index_of(&mut self, domain: &str) -> usize {
        let same = |c: &DomainCounts| address::same_bytes(c.domain.as_bytes(), domain.as_bytes());
        let found = if self.counts.len() <= Self::LINEAR {
            self.counts.iter().position(same)
        } else {
            self.index.get(domain).copied()
        };
        found.unwrap_or_else(|| {
            self.counts.push(DomainCounts { domain: domain.to_owned(), ..DomainCounts::default() });
            if self.counts.len() > Self::LINEAR {
                if self.index.is_empty() {
                    self.index.extend(self.counts.iter().enumerate().map(|(i, c)| (c.domain.clone(), i)));
                } else {
                    self.index.insert(domain.to_owned(), self.counts.len() - 1);
                }
            }
            self.counts.len() - 1
        })
    }

    /// The counts, sorted by domain as [`Directory::domain_counts`] gives them.
    fn sorted(mut self) -> Vec<DomainCounts> {
        self.counts.sort_unstable_by(|a, b| a.domain.cmp(&b.domain));
        self.counts
    }
}

/// The form in which DNs are compared: lower-case, without spaces around `,` and `=`.
pub(crate) fn normalise_dn(dn: &str) -> String {
    let mut out = String::with_capacity(dn.len());
    normalise_dn_into(dn, &mut out);
    out
}

/// [`normalise_dn`] into `out`, a buffer the caller reuses.
fn normalise_dn_into(dn: &str, out: &mut String) {
    out.clear();
    let dn = dn.trim();
    if dn.is_ascii() {
        // Most DNs have only single spaces inside values (`CN=Anna Smith,OU=New York`): those
        // rules then change nothing but the case.
        let bytes = dn.as_bytes();
        let plain = memchr::memchr_iter(b' ', bytes).all(|i| {
            let (before, after) = (bytes[i.saturating_sub(1)], bytes.get(i + 1).copied().unwrap_or(b' '));
            !matches!(before, b',' | b'=' | b' ') && !matches!(after, b',' | b'=' | b' ')
        });
        if plain {
            out.push_str(dn);
            out.make_ascii_lowercase();
            return;
        }
        // The same rules, a byte at a time.
        let mut bytes = std::mem::take(out).into_bytes();
        let mut pending_space = false;
        for &b in dn.as_bytes() {
            if b == b' ' {
                pending_space = true;
                continue;
            }
            if pending_space && !(b == b',' || b == b'=' || matches!(bytes.last(), Some(b',' | b'='))) {
                bytes.push(b' ');
            }
            pending_space = false;
            bytes.push(b.to_ascii_lowercase());
        }
        // Only ASCII bytes were pushed.
        *out = String::from_utf8(bytes).unwrap_or_default();
        return;
    }
    let mut pending_space = false;
    for c in dn.chars() {
        if c == ' ' {
            pending_space = true;
            continue;
        }
        if pending_space && !(c == ',' || c == '=' || out.ends_with(',') || out.ends_with('=')) {
            out.push(' ');
        }
        pending_space = false;
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            out.extend(c.to_lowercase());
        }
    }
}

/// `s.trim()`, without decoding characters when both ends are plainly not white space.
fn trim(s: &str) -> &str {
    let solid = |b: Option<&u8>| b.is_some_and(|&b| b > b' ' && b < 0x80);
    if solid(s.as_bytes().first()) && solid(s.as_bytes().last()) { s } else { s.trim() }
}

/// The hash of `s.to_lowercase()`, without allocating for ASCII.
fn lowercase_hash(hasher: &address::KeyHasher, s: &str) -> u64 {
    if s.is_ascii() { hasher.key(s) } else { hasher.lowercase(&s.to_lowercase()) }
}

/// Whether `a.to_lowercase() == b.to_lowercase()`, without allocating for ASCII.
fn same_lowercase(a: &str, b: &str) -> bool {
    (a.len() == b.len() && a.eq_ignore_ascii_case(b))
        || (!(a.is_ascii() && b.is_ascii()) && a.to_lowercase() == b.to_lowercase())
}

/// The value of a DN's first RDN, unescaped: `CN=Smith\, John,OU=Staff` gives `Smith, John`.
pub(crate) fn first_rdn_value(dn: &str) -> String {
    let mut value = String::new();
    let mut started = false;
    let mut chars = dn.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    value.push(next);
                }
            }
            ',' | '+' if started => break,
            '=' if !started => started = true,
            c if started => value.push(c),
            _ => {}
        }
    }
    value.trim().to_owned()
}

/// Makes control characters visible in messages.
fn printable(s: &str) -> String {
    let shortened: String = s.chars().take(80).collect();
    let mut out: String = shortened.chars().map(|c| if c.is_control() { '\u{fffd}' } else { c }).collect();
    if shortened.len() < s.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dn_normalisation_ignores_case_and_spaces() {
        assert_eq!(normalise_dn("CN=John Smith, OU=Staff ,DC=Example"), "cn=john smith,ou=staff,dc=example");
        assert_eq!(normalise_dn("cn = a,dc=b"), "cn=a,dc=b");
    }

    #[test]
    fn first_rdn_value_unescapes() {
        assert_eq!(first_rdn_value("CN=Smith\\, John,OU=Staff"), "Smith, John");
        assert_eq!(first_rdn_value("cn=Sales"), "Sales");
    }
}
