//! The normalised directory and the rules that build it.
//!
//! Parsers hand raw records (a mailbox with its addresses, an alias, a group with member
//! references) to [`DirectoryBuilder`], which owns every rule that spans records: address
//! validation, managed domains, case-insensitive duplicates, conflicts, member resolution and
//! the per-domain counts. Its memory is bounded by the number of unique addresses, never by
//! the size of the files that fed it.

use hashbrown::{DefaultHashBuilder, HashMap, HashSet, HashTable};

use crate::address::{self, AddressError};
use crate::diagnostic::{Code, Diagnostics, Position};

/// A mailbox's primary address: a valid recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Recipient {
    /// The normalised address.
    pub address: String,
    /// The display name, when the source had one.
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
    pub name: Option<String>,
}

/// A secondary address that delivers to a primary address.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Alias {
    /// The alias address.
    pub address: String,
    /// The primary address it delivers to.
    pub target: String,
}

/// A distribution list or security group.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Group {
    /// The group's name (`cn`, or the first RDN value of its DN).
    pub name: String,
    /// The group's DN, for groups read from LDIF.
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
    pub dn: Option<String>,
    /// The group's own address, for mail-enabled groups.
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
    pub address: Option<String>,
    /// Members as addresses, or as DNs where they could not be resolved.
    #[cfg_attr(feature = "serde", serde(default))]
    pub members: Vec<String>,
}

/// A tenant's directory after normalisation: what an import uploads and what the server stores.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Directory {
    /// Valid recipients, in the order first seen.
    #[cfg_attr(feature = "serde", serde(default))]
    pub recipients: Vec<Recipient>,
    /// Aliases, in the order first seen.
    #[cfg_attr(feature = "serde", serde(default))]
    pub aliases: Vec<Alias>,
    /// Groups, in the order first seen.
    #[cfg_attr(feature = "serde", serde(default))]
    pub groups: Vec<Group>,
}

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

impl Directory {
    /// Counts the records of each domain, sorted by domain. Groups without an address belong to
    /// no domain and are not listed.
    pub fn domain_counts(&self) -> Vec<DomainCounts> {
        fn entry<'m, 'd>(map: &'m mut HashMap<&'d str, DomainCounts>, address: &'d str) -> &'m mut DomainCounts {
            let domain = address::domain_of(address);
            map.entry(domain).or_insert_with(|| DomainCounts { domain: domain.to_owned(), ..Default::default() })
        }
        let mut by_domain: HashMap<&str, DomainCounts> = HashMap::new();
        for r in &self.recipients {
            entry(&mut by_domain, &r.address).recipients += 1;
        }
        for a in &self.aliases {
            entry(&mut by_domain, &a.address).aliases += 1;
        }
        for g in &self.groups {
            if let Some(address) = &g.address {
                entry(&mut by_domain, address).groups += 1;
            }
        }
        let mut counts: Vec<DomainCounts> = by_domain.into_values().collect();
        counts.sort_unstable_by(|a, b| a.domain.cmp(&b.domain));
        counts
    }

    /// Every domain that holds at least one record, sorted.
    pub fn domains(&self) -> Vec<String> {
        self.domain_counts().into_iter().map(|d| d.domain).collect()
    }
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

#[derive(Clone, Copy, Debug)]
struct Slot {
    kind: Kind,
    index: u32,
    /// The key's hash, kept so that growing the table never touches the stored addresses.
    hash: u64,
}

#[derive(Debug)]
enum Member {
    Address(String),
    Dn { dn: String, at: Position },
}

#[derive(Debug)]
struct GroupState {
    name: String,
    dn: Option<String>,
    address: Option<String>,
    members: Vec<Member>,
}

/// The records accepted so far, in the order first seen.
#[derive(Debug, Default)]
struct Records {
    recipients: Vec<Recipient>,
    aliases: Vec<Alias>,
    groups: Vec<GroupState>,
}

impl Records {
    /// The stored address a slot of the index stands for.
    fn address(&self, slot: &Slot) -> &str {
        let i = slot.index as usize;
        match slot.kind {
            Kind::Recipient => &self.recipients[i].address,
            Kind::Alias => &self.aliases[i].address,
            Kind::Group => self.groups[i].address.as_deref().unwrap_or(""),
        }
    }
}

/// Every address of the import, case-insensitively, without a second copy of any of them: the
/// table holds only slots into [`Records`], and hashes and compares the stored addresses.
#[derive(Debug, Default)]
struct AddressIndex {
    table: HashTable<Slot>,
    state: DefaultHashBuilder,
}

impl AddressIndex {
    fn hash(&self, address: &str) -> u64 {
        address::key_hash(&self.state, address)
    }

    fn find(&self, records: &Records, address: &str, hash: u64) -> Option<Slot> {
        self.table.find(hash, |slot| slot.hash == hash && address::same_key(records.address(slot), address)).copied()
    }

    /// Adds a slot whose record has already been pushed.
    fn insert(&mut self, slot: Slot) {
        self.table.insert_unique(slot.hash, slot, |s| s.hash);
    }
}

/// An address that passed every check, with the hash of its key.
struct Keyed {
    address: String,
    hash: u64,
}

/// Applies the cross-record rules as records arrive.
#[derive(Debug)]
pub(crate) struct DirectoryBuilder {
    managed: Option<HashSet<String>>,
    index: AddressIndex,
    records: Records,
    alias_positions: Vec<Position>,
    groups_without_address: HashMap<String, u32>,
    dn_to_address: HashMap<String, String>,
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
            alias_positions: Vec::new(),
            groups_without_address: HashMap::new(),
            dn_to_address: HashMap::new(),
            skipped: 0,
            unmanaged: 0,
        }
    }

    /// How many records have been accepted so far, for progress reports.
    pub(crate) fn record_count(&self) -> u64 {
        (self.records.recipients.len() + self.records.aliases.len() + self.records.groups.len()) as u64
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
    fn accept(&mut self, diags: &mut Diagnostics, raw: Located<'_>) -> Option<Keyed> {
        let parsed = address::normalise(raw.text.trim());
        self.accept_parsed(diags, raw, parsed)
    }

    /// [`Self::accept`] for an address already parsed from `raw.text.trim()`.
    fn accept_parsed(
        &mut self,
        diags: &mut Diagnostics,
        raw: Located<'_>,
        parsed: Result<(String, bool), AddressError>,
    ) -> Option<Keyed> {
        let trimmed = raw.text.trim();
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

    fn find(&self, keyed: &Keyed) -> Option<Slot> {
        self.index.find(&self.records, &keyed.address, keyed.hash)
    }

    /// A mailbox with no DN and no aliases whose primary address `raw` has already been
    /// normalised to `address` (the common rows of a CSV file).
    pub(crate) fn add_parsed_mailbox(
        &mut self,
        diags: &mut Diagnostics,
        raw: Located<'_>,
        address: String,
        name: Option<String>,
    ) {
        let Some(primary) = self.accept_parsed(diags, raw, Ok((address, false))) else { return };
        self.add_recipient(diags, primary, raw.at, name);
    }

    /// Adds a primary address, or reports it as a duplicate or conflict. Returns whether it
    /// is (now or already) a recipient.
    fn add_recipient(&mut self, diags: &mut Diagnostics, primary: Keyed, at: Position, name: Option<String>) -> bool {
        match self.find(&primary) {
            None => {
                let slot =
                    Slot { kind: Kind::Recipient, index: self.records.recipients.len() as u32, hash: primary.hash };
                self.records.recipients.push(Recipient { address: primary.address, name });
                self.index.insert(slot);
                true
            }
            Some(Slot { kind: Kind::Recipient, index, .. }) => {
                let existing = &mut self.records.recipients[index as usize];
                diags.push(Code::DuplicateAddress, at, || {
                    format!("`{}` is already listed as `{}`; the first one is kept", primary.address, existing.address)
                });
                if existing.name.is_none() {
                    existing.name = name;
                }
                true
            }
            Some(Slot { kind, .. }) => {
                diags.push(Code::AddressConflict, at, || {
                    format!(
                        "`{}` is already {} elsewhere in the import, so it cannot also be a recipient; this entry was left out",
                        primary.address,
                        kind.noun()
                    )
                });
                false
            }
        }
    }

    pub(crate) fn add_mailbox(&mut self, diags: &mut Diagnostics, draft: MailboxDraft<'_>) {
        let Some(primary) = self.accept(diags, draft.primary) else {
            // The entry cannot be a recipient here. If it was only out of our domains, its
            // managed aliases still matter and still point to it.
            let Ok((unmanaged_primary, _)) = address::normalise(draft.primary.text.trim()) else { return };
            if let Some(dn) = draft.dn {
                self.dn_to_address.insert(normalise_dn(dn), unmanaged_primary.clone());
            }
            self.add_entry_aliases(diags, &draft.aliases, &unmanaged_primary);
            return;
        };
        // LDIF entries need the address again for their DN and aliases; CSV rows do not.
        let copy = (draft.dn.is_some() || !draft.aliases.is_empty()).then(|| primary.address.clone());
        if !self.add_recipient(diags, primary, draft.primary.at, draft.name) {
            return;
        }
        if let Some(address) = copy {
            if let Some(dn) = draft.dn {
                self.dn_to_address.insert(normalise_dn(dn), address.clone());
            }
            self.add_entry_aliases(diags, &draft.aliases, &address);
        }
    }

    fn add_entry_aliases(&mut self, diags: &mut Diagnostics, aliases: &[Located<'_>], target: &str) {
        let mut seen: Vec<String> = Vec::new();
        for raw in aliases {
            let parsed = address::normalise(raw.text.trim());
            if let Ok((quick, _)) = &parsed {
                // Repeats inside one entry (mail equal to the SMTP: address) are normal, not noise.
                if address::same_key(quick, target) || seen.iter().any(|s| address::same_key(s, quick)) {
                    continue;
                }
                seen.push(quick.clone());
            }
            if let Some(alias) = self.accept_parsed(diags, *raw, parsed) {
                self.register_alias(diags, alias, target, raw.at);
            }
        }
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
        self.register_alias(diags, alias_address, &target_address, alias.at);
    }

    fn register_alias(&mut self, diags: &mut Diagnostics, alias: Keyed, target: &str, at: Position) {
        match self.find(&alias) {
            None => {
                let slot = Slot { kind: Kind::Alias, index: self.records.aliases.len() as u32, hash: alias.hash };
                self.records.aliases.push(Alias { address: alias.address, target: target.to_owned() });
                self.alias_positions.push(at);
                self.index.insert(slot);
            }
            Some(Slot { kind: Kind::Alias, index, .. }) => {
                let existing = &self.records.aliases[index as usize];
                if address::same_key(&existing.target, target) {
                    diags.push(Code::DuplicateAddress, at, || {
                        format!("the alias `{}` is listed twice; the first one is kept", alias.address)
                    });
                } else {
                    diags.push(Code::AddressConflict, at, || {
                        format!(
                            "the alias `{}` already delivers to `{}`, so it cannot also deliver to `{target}`",
                            alias.address, existing.target
                        )
                    });
                }
            }
            Some(Slot { kind, .. }) => {
                diags.push(Code::AddressConflict, at, || {
                    format!(
                        "`{}` is already {} elsewhere in the import, so it cannot also be an alias of `{target}`",
                        alias.address,
                        kind.noun()
                    )
                });
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
                Some(Slot { kind: Kind::Group, index, .. }) => {
                    if !draft.merge_silently {
                        diags.push(Code::DuplicateAddress, *at, || {
                            format!("the group address `{}` is listed twice; the members were merged", address.address)
                        });
                    }
                    Some(index)
                }
                Some(Slot { kind, .. }) => {
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
        if let Some((address, _)) = &address {
            let target = address.address.clone();
            self.add_entry_aliases(diags, &draft.aliases, &target);
        }
        match index {
            Some(index) => self.records.groups[index as usize].members.extend(members),
            None => {
                let slot = Slot { kind: Kind::Group, index: self.records.groups.len() as u32, hash: 0 };
                let (address, hash) = match address {
                    Some((keyed, _)) => (Some(keyed.address), Some(keyed.hash)),
                    None => (None, None),
                };
                if let (Some(dn), Some(address)) = (draft.dn, &address) {
                    self.dn_to_address.insert(normalise_dn(dn), address.clone());
                }
                self.records.groups.push(GroupState {
                    name: draft.name,
                    dn: draft.dn.map(str::to_owned),
                    address,
                    members,
                });
                if let Some(hash) = hash {
                    self.index.insert(Slot { hash, ..slot });
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
                    Ok((address, _)) => members.push(Member::Address(address)),
                    Err(error) => diags.push(Code::InvalidAddress, m.at, || {
                        format!("the group member `{}` is not a valid address: {error}", printable(text))
                    }),
                }
            } else {
                members.push(Member::Dn { dn: text.to_owned(), at: m.at });
            }
        }
        members
    }

    /// Resolves member DNs, checks alias targets, and returns the directory and its counts.
    pub(crate) fn finish(self, diags: &mut Diagnostics) -> (Directory, Counts) {
        let DirectoryBuilder { managed, index, records, alias_positions, dn_to_address, skipped, unmanaged, .. } = self;
        for (alias, at) in records.aliases.iter().zip(&alias_positions) {
            let hash = index.hash(&alias.target);
            let is_recipient = matches!(
                index.find(&records, &alias.target, hash),
                Some(Slot { kind: Kind::Recipient | Kind::Group, .. })
            );
            let target_managed = managed.as_ref().is_none_or(|m| m.contains(address::domain_of(&alias.target)));
            if !is_recipient && target_managed {
                diags.push(Code::AliasTargetUnknown, *at, || {
                    format!(
                        "the alias `{}` delivers to `{}`, which is not a recipient in this import",
                        alias.address, alias.target
                    )
                });
            }
        }
        drop(index);
        let Records { recipients, aliases, groups } = records;
        let groups: Vec<Group> = groups
            .into_iter()
            .map(|g| {
                let mut seen = HashSet::with_capacity(g.members.len());
                let mut members = Vec::with_capacity(g.members.len());
                for member in g.members {
                    let resolved = match member {
                        Member::Address(a) => a,
                        Member::Dn { dn, at } => match dn_to_address.get(&normalise_dn(&dn)) {
                            Some(address) => address.clone(),
                            None => {
                                diags.push(Code::UnresolvedMember, at, || {
                                    format!(
                                        "the member `{dn}` of group `{}` matches no entry with an address in this import; it is kept as a DN",
                                        g.name
                                    )
                                });
                                dn
                            }
                        },
                    };
                    if seen.insert(resolved.to_lowercase()) {
                        members.push(resolved);
                    }
                }
                Group { name: g.name, dn: g.dn, address: g.address, members }
            })
            .collect();
        let counts = Counts {
            recipients: recipients.len() as u64,
            aliases: aliases.len() as u64,
            groups: groups.len() as u64,
            skipped,
            unmanaged,
        };
        (Directory { recipients, aliases, groups }, counts)
    }
}

/// The form in which DNs are compared: lower-case, without spaces around `,` and `=`.
pub(crate) fn normalise_dn(dn: &str) -> String {
    let mut out = String::with_capacity(dn.len());
    let mut pending_space = false;
    for c in dn.trim().chars() {
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
    out
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
