//! The normalised directory: what an import produces, what the browser uploads and what the
//! server stores.
//!
//! A [`Directory`] keeps every string of every record back to back in one text buffer, and each
//! record as spans into it. An import of a million recipients therefore costs a handful of
//! allocations instead of two per recipient, holds no per-string headers, and is freed at once.
//! Records are read through borrowed views ([`Recipient<&str>`](Recipient) and friends), and the
//! same types with owned strings are the shape of a single stored record.

use std::fmt;

use hashbrown::HashMap;

use crate::address;
use crate::directory::DomainCounts;

/// A mailbox's primary address: a valid recipient. `S` is `String` for a record of its own and
/// `&str` for a view into a [`Directory`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Recipient<S = String> {
    /// The normalised address.
    pub address: S,
    /// The display name, when the source had one.
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
    pub name: Option<S>,
}

/// A secondary address that delivers to a primary address.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Alias<S = String> {
    /// The alias address.
    pub address: S,
    /// The primary address it delivers to.
    pub target: S,
}

/// A distribution list or security group. `M` is `Vec<String>` for a record of its own and
/// [`Members`] for a view into a [`Directory`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Group<S = String, M = Vec<String>> {
    /// The group's name (`cn`, or the first RDN value of its DN).
    pub name: S,
    /// The group's DN, for groups read from LDIF.
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
    pub dn: Option<S>,
    /// The group's own address, for mail-enabled groups.
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
    pub address: Option<S>,
    /// Members as addresses, or as DNs where they could not be resolved.
    #[cfg_attr(feature = "serde", serde(default))]
    pub members: M,
}

/// A group's members, as a view into a [`Directory`].
#[derive(Clone, Copy)]
pub struct Members<'a> {
    text: &'a Text,
    spans: &'a [Span],
}

impl<'a> Members<'a> {
    /// The members, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &'a str> + use<'a> {
        let text = self.text;
        self.spans.iter().map(move |&s| text.get(s))
    }

    /// How many members there are.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }
}

impl fmt::Debug for Members<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq for Members<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Members<'_> {}

#[cfg(feature = "serde")]
impl serde::Serialize for Members<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

/// A string of a directory's [`Text`]: where it lies in which block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Span {
    block: u32,
    start: u32,
    len: u32,
}

/// Strings kept back to back in blocks that never move, each string known by its [`Span`].
/// Blocks, unlike one growing buffer, are never copied to grow, and are small enough to come
/// from (and go back to) the allocator's pool rather than fresh pages from the system.
#[derive(Clone, Debug, Default)]
pub(crate) struct Text {
    blocks: Vec<String>,
}

impl Text {
    const BLOCK: usize = 64 * 1024;

    /// Copies `s` to the end.
    pub(crate) fn keep(&mut self, s: &str) -> Span {
        let fits = self.blocks.last().is_some_and(|b| b.capacity() - b.len() >= s.len());
        if !fits {
            self.blocks.push(String::with_capacity(s.len().max(Self::BLOCK)));
        }
        let block = self.blocks.len() - 1;
        let text = &mut self.blocks[block];
        let start = text.len();
        text.push_str(s);
        Span { block: block as u32, start: start as u32, len: s.len() as u32 }
    }

    pub(crate) fn get(&self, span: Span) -> &str {
        let start = span.start as usize;
        &self.blocks[span.block as usize][start..start + span.len as usize]
    }

    /// Gives back the bytes of the string kept last, which nothing refers to.
    pub(crate) fn forget(&mut self, span: Span) {
        let last = self.blocks.len().wrapping_sub(1);
        if let Some(text) = self.blocks.get_mut(span.block as usize)
            && span.block as usize == last
            && (span.start + span.len) as usize == text.len()
        {
            text.truncate(span.start as usize);
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct RecipientRow {
    pub address: Span,
    pub name: Option<Span>,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct AliasRow {
    pub address: Span,
    pub target: Span,
}

#[derive(Clone, Debug)]
struct GroupRow {
    name: Span,
    dn: Option<Span>,
    address: Option<Span>,
    /// A range of [`Directory::members`].
    members: (usize, usize),
}

/// A tenant's directory after normalisation: recipients, aliases and groups, each in the order
/// first seen.
#[derive(Clone, Default)]
pub struct Directory {
    text: Text,
    recipients: Vec<RecipientRow>,
    aliases: Vec<AliasRow>,
    groups: Vec<GroupRow>,
    members: Vec<Span>,
}

impl Directory {
    /// An empty directory.
    pub fn new() -> Directory {
        Directory::default()
    }

    /// The valid recipients.
    pub fn recipients(&self) -> impl ExactSizeIterator<Item = Recipient<&str>> + '_ {
        self.recipients.iter().map(|r| self.recipient_view(r))
    }

    /// The aliases.
    pub fn aliases(&self) -> impl ExactSizeIterator<Item = Alias<&str>> + '_ {
        self.aliases.iter().map(|a| self.alias_view(a))
    }

    /// The groups.
    pub fn groups(&self) -> impl ExactSizeIterator<Item = Group<&str, Members<'_>>> + '_ {
        self.groups.iter().map(|g| Group {
            name: self.text.get(g.name),
            dn: g.dn.map(|s| self.text.get(s)),
            address: g.address.map(|s| self.text.get(s)),
            members: Members { text: &self.text, spans: &self.members[g.members.0..g.members.1] },
        })
    }

    /// Whether the directory holds no record at all.
    pub fn is_empty(&self) -> bool {
        self.recipients.is_empty() && self.aliases.is_empty() && self.groups.is_empty()
    }

    /// Counts the records of each domain, sorted by domain. Groups without an address belong to
    /// no domain and are not listed.
    pub fn domain_counts(&self) -> Vec<DomainCounts> {
        let mut tally = DomainTally::default();
        for r in &self.recipients {
            tally.entry(self.text.get(r.address)).recipients += 1;
        }
        for a in &self.aliases {
            tally.entry(self.text.get(a.address)).aliases += 1;
        }
        for g in &self.groups {
            if let Some(address) = g.address {
                tally.entry(self.text.get(address)).groups += 1;
            }
        }
        let mut counts: Vec<DomainCounts> =
            tally.domains.into_iter().map(|(domain, c)| DomainCounts { domain: domain.to_owned(), ..c }).collect();
        counts.sort_unstable_by(|a, b| a.domain.cmp(&b.domain));
        counts
    }

    /// Every domain that holds at least one record, sorted.
    pub fn domains(&self) -> Vec<String> {
        self.domain_counts().into_iter().map(|d| d.domain).collect()
    }

    /// Appends a recipient. The directory does not validate it: [`crate::Validator::add_directory`] does.
    pub fn push_recipient(&mut self, address: &str, name: Option<&str>) {
        let address = self.keep(address);
        let name = name.filter(|n| !n.is_empty()).map(|n| self.keep(n));
        self.recipients.push(RecipientRow { address, name });
    }

    /// Appends an alias.
    pub fn push_alias(&mut self, address: &str, target: &str) {
        let row = AliasRow { address: self.keep(address), target: self.keep(target) };
        self.aliases.push(row);
    }

    /// Appends a group with its members.
    pub fn push_group<'m>(
        &mut self,
        name: &str,
        dn: Option<&str>,
        address: Option<&str>,
        members: impl IntoIterator<Item = &'m str>,
    ) {
        let name = self.keep(name);
        let dn = dn.map(|d| self.keep(d));
        let address = address.map(|a| self.keep(a));
        let first = self.members.len();
        for member in members {
            let span = self.keep(member);
            self.members.push(span);
        }
        self.groups.push(GroupRow { name, dn, address, members: (first, self.members.len()) });
    }

    /// A directory of records held one by one, as a JSON upload carries them.
    pub fn from_records(recipients: &[Recipient], aliases: &[Alias], groups: &[Group]) -> Directory {
        let mut directory = Directory::new();
        for r in recipients {
            directory.push_recipient(&r.address, r.name.as_deref());
        }
        for a in aliases {
            directory.push_alias(&a.address, &a.target);
        }
        for g in groups {
            directory.push_group(&g.name, g.dn.as_deref(), g.address.as_deref(), g.members.iter().map(String::as_str));
        }
        directory
    }

    /// The first `limit` records of each kind, as the browser previews them.
    pub fn head(&self, limit: usize) -> Directory {
        let mut head = Directory::new();
        for r in self.recipients().take(limit) {
            head.push_recipient(r.address, r.name);
        }
        for a in self.aliases().take(limit) {
            head.push_alias(a.address, a.target);
        }
        for g in self.groups().take(limit) {
            head.push_group(g.name, g.dn, g.address, g.members.iter());
        }
        head
    }

    /// Copies `s` to the end of the text.
    pub(crate) fn keep(&mut self, s: &str) -> Span {
        self.text.keep(s)
    }

    pub(crate) fn text(&self, span: Span) -> &str {
        self.text.get(span)
    }

    /// See [`Text::forget`].
    pub(crate) fn forget(&mut self, span: Span) {
        self.text.forget(span);
    }

    /// Appends a group whose address and members are already in the text.
    pub(crate) fn push_group_spans(&mut self, name: &str, dn: Option<&str>, address: Option<Span>, members: &[Span]) {
        let name = self.keep(name);
        let dn = dn.map(|d| self.keep(d));
        let first = self.members.len();
        self.members.extend_from_slice(members);
        self.groups.push(GroupRow { name, dn, address, members: (first, self.members.len()) });
    }

    pub(crate) fn push_recipient_row(&mut self, row: RecipientRow) -> usize {
        self.recipients.push(row);
        self.recipients.len() - 1
    }

    pub(crate) fn recipient_row_mut(&mut self, index: usize) -> &mut RecipientRow {
        &mut self.recipients[index]
    }

    pub(crate) fn recipient_row(&self, index: usize) -> RecipientRow {
        self.recipients[index]
    }

    pub(crate) fn push_alias_row(&mut self, row: AliasRow) -> usize {
        self.aliases.push(row);
        self.aliases.len() - 1
    }

    pub(crate) fn alias_row(&self, index: usize) -> AliasRow {
        self.aliases[index]
    }

    /// Makes room for more rows at once, rather than by doubling, which in wasm leaves each
    /// outgrown array behind as a hole in the module's memory.
    pub(crate) fn reserve_rows(&mut self, recipients: usize, aliases: usize) {
        self.recipients.reserve_exact(recipients);
        self.aliases.reserve_exact(aliases);
    }

    pub(crate) fn recipient_count(&self) -> usize {
        self.recipients.len()
    }

    pub(crate) fn alias_count(&self) -> usize {
        self.aliases.len()
    }

    fn recipient_view(&self, r: &RecipientRow) -> Recipient<&str> {
        Recipient { address: self.text.get(r.address), name: r.name.map(|s| self.text.get(s)) }
    }

    fn alias_view(&self, a: &AliasRow) -> Alias<&str> {
        Alias { address: self.text.get(a.address), target: self.text.get(a.target) }
    }
}

impl PartialEq for Directory {
    fn eq(&self, other: &Self) -> bool {
        self.recipients.len() == other.recipients.len()
            && self.aliases.len() == other.aliases.len()
            && self.groups.len() == other.groups.len()
            && self.recipients().eq(other.recipients())
            && self.aliases().eq(other.aliases())
            && self.groups().eq(other.groups())
    }
}

impl Eq for Directory {}

impl fmt::Debug for Directory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Directory")
            .field("recipients", &self.recipients().collect::<Vec<_>>())
            .field("aliases", &self.aliases().collect::<Vec<_>>())
            .field("groups", &self.groups().collect::<Vec<_>>())
            .finish()
    }
}

/// The wire shape is `{ "recipients": [...], "aliases": [...], "groups": [...] }`, with each
/// record as its own type serialises.
#[cfg(feature = "serde")]
mod wire {
    use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
    use serde::ser::SerializeStruct;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::{Alias, Directory, Group, Recipient};

    struct Seq<I>(std::cell::Cell<Option<I>>);

    impl<I: Iterator<Item = T>, T: Serialize> Serialize for Seq<I> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.collect_seq(self.0.take().into_iter().flatten())
        }
    }

    fn seq<I>(iter: I) -> Seq<I> {
        Seq(std::cell::Cell::new(Some(iter)))
    }

    impl Serialize for Directory {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut s = serializer.serialize_struct("Directory", 3)?;
            s.serialize_field("recipients", &seq(self.recipients()))?;
            s.serialize_field("aliases", &seq(self.aliases()))?;
            s.serialize_field("groups", &seq(self.groups()))?;
            s.end()
        }
    }

    /// Which list a [`ListSeed`] appends to.
    #[derive(Clone, Copy)]
    enum List {
        Recipients,
        Aliases,
        Groups,
    }

    /// Reads one list straight into the directory, a record at a time, so that a large upload
    /// is never held as a vector of owned records.
    struct ListSeed<'d> {
        directory: &'d mut Directory,
        list: List,
    }

    impl<'de> DeserializeSeed<'de> for ListSeed<'_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
            deserializer.deserialize_seq(self)
        }
    }

    impl<'de> Visitor<'de> for ListSeed<'_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a list of records")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            let d = self.directory;
            match self.list {
                List::Recipients => {
                    while let Some(r) = seq.next_element::<Recipient>()? {
                        d.push_recipient(&r.address, r.name.as_deref());
                    }
                }
                List::Aliases => {
                    while let Some(a) = seq.next_element::<Alias>()? {
                        d.push_alias(&a.address, &a.target);
                    }
                }
                List::Groups => {
                    while let Some(g) = seq.next_element::<Group>()? {
                        d.push_group(
                            &g.name,
                            g.dn.as_deref(),
                            g.address.as_deref(),
                            g.members.iter().map(String::as_str),
                        );
                    }
                }
            }
            Ok(())
        }
    }

    struct DirectoryVisitor;

    impl<'de> Visitor<'de> for DirectoryVisitor {
        type Value = Directory;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a directory: an object with recipients, aliases and groups")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Directory, A::Error> {
            let mut directory = Directory::new();
            let mut seen = [false; 3];
            while let Some(key) = map.next_key::<Field>()? {
                let list = match key {
                    Field::Recipients => List::Recipients,
                    Field::Aliases => List::Aliases,
                    Field::Groups => List::Groups,
                    Field::Other => {
                        map.next_value::<de::IgnoredAny>()?;
                        continue;
                    }
                };
                if std::mem::replace(&mut seen[list as usize], true) {
                    return Err(de::Error::custom("a list of the directory appears twice"));
                }
                map.next_value_seed(ListSeed { directory: &mut directory, list })?;
            }
            Ok(directory)
        }
    }

    #[derive(Deserialize)]
    #[serde(field_identifier, rename_all = "lowercase")]
    enum Field {
        Recipients,
        Aliases,
        Groups,
        #[serde(other)]
        Other,
    }

    impl<'de> Deserialize<'de> for Directory {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Directory, D::Error> {
            deserializer.deserialize_map(DirectoryVisitor)
        }
    }
}

/// Per-domain counts. A directory has few domains, so a short list is searched in place and a
/// hash table is built only for many.
#[derive(Default)]
struct DomainTally<'a> {
    domains: Vec<(&'a str, DomainCounts)>,
    index: HashMap<&'a str, usize>,
    /// The domain counted last: records come in runs of one domain more often than not.
    last: usize,
}

impl<'a> DomainTally<'a> {
    const LINEAR: usize = 16;

    fn entry(&mut self, address: &'a str) -> &mut DomainCounts {
        let domain = address::domain_of(address);
        let same = |d: &str| address::same_bytes(d.as_bytes(), domain.as_bytes());
        if self.domains.get(self.last).is_some_and(|(d, _)| same(d)) {
            return &mut self.domains[self.last].1;
        }
        let found = if self.domains.len() <= Self::LINEAR {
            self.domains.iter().position(|(d, _)| same(d))
        } else {
            self.index.get(domain).copied()
        };
        let i = found.unwrap_or_else(|| {
            self.domains.push((domain, DomainCounts::default()));
            let i = self.domains.len() - 1;
            if self.domains.len() > Self::LINEAR {
                if self.index.is_empty() {
                    self.index.extend(self.domains.iter().enumerate().map(|(i, (d, _))| (*d, i)));
                } else {
                    self.index.insert(domain, i);
                }
            }
            i
        });
        self.last = i;
        &mut self.domains[i].1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Options, Validator};

    fn sample() -> Directory {
        let mut d = Directory::new();
        d.push_recipient("ann@example.com", Some("Ann"));
        d.push_recipient("bob@example.com", None);
        d.push_alias("a@example.com", "ann@example.com");
        d.push_group("Staff", Some("cn=Staff"), Some("staff@example.com"), ["ann@example.com", "bob@example.com"]);
        d
    }

    #[test]
    fn views_give_back_what_was_pushed_across_blocks() {
        let mut d = Directory::new();
        let long = "x".repeat(Text::BLOCK + 1);
        for i in 0..5000 {
            d.push_recipient(&format!("user{i}@example.com"), (i % 2 == 0).then_some(long.as_str()));
        }
        assert_eq!(d.recipients().len(), 5000);
        for (i, r) in d.recipients().enumerate() {
            assert_eq!(r.address, format!("user{i}@example.com"));
            assert_eq!(r.name, (i % 2 == 0).then_some(long.as_str()));
        }
        assert_eq!(d.head(2).recipients().len(), 2);
    }

    #[test]
    fn equality_compares_records_not_layout() {
        let a = sample();
        let b = Directory::from_records(
            &a.recipients()
                .map(|r| Recipient { address: r.address.into(), name: r.name.map(Into::into) })
                .collect::<Vec<_>>(),
            &[Alias { address: "a@example.com".into(), target: "ann@example.com".into() }],
            &[Group {
                name: "Staff".into(),
                dn: Some("cn=Staff".into()),
                address: Some("staff@example.com".into()),
                members: vec!["ann@example.com".into(), "bob@example.com".into()],
            }],
        );
        assert_eq!(a, b);
        let mut c = sample();
        c.push_alias("b@example.com", "bob@example.com");
        assert_ne!(a, c);
    }

    #[test]
    fn uploaded_names_are_trimmed_and_overlong_values_refused() {
        let mut d = Directory::new();
        d.push_recipient("ann@example.com", Some("\tAnn\r\nSmith "));
        d.push_recipient(&format!("{}@example.com", "b".repeat(40)), Some(&"n".repeat(2048)));
        let mut v = Validator::new(Options { max_line_bytes: 1024, ..Options::default() });
        v.add_directory("upload", &d);
        let outcome = v.finish();
        let names: Vec<_> = outcome.directory.recipients().map(|r| r.name).collect();
        assert_eq!(names, [Some("Ann\nSmith")]);
        let codes: Vec<_> = outcome.report.diagnostics.iter().map(|d| (d.code, d.line)).collect();
        assert!(codes.contains(&(crate::Code::SurroundingWhitespace, 1)), "{codes:?}");
        assert!(codes.contains(&(crate::Code::LineTooLong, 2)), "{codes:?}");
        assert!(!outcome.report.valid);
    }
}
