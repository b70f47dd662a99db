//! What a directory source is: something that yields entries, all of them or an error.
//!
//! LDAP ([`crate::ldap::LdapSource`]) is the only implementation today. Microsoft Graph
//! (Microsoft 365 / Entra ID) and IBM Domino are not reachable from where this agent is built
//! and tested, so they are not implemented; each would be another `DirectorySource` that maps
//! its objects onto the same [`Attribute`]s.

use crate::Result;

/// The attributes the core reads, under their canonical LDIF names. A source maps its own
/// attribute names onto these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Attribute {
    /// `objectClass`: decides whether an entry is a group.
    ObjectClass,
    /// `mail`: the primary address unless `proxyAddresses` has an `SMTP:` value.
    Mail,
    /// `proxyAddresses`: `SMTP:` primary, `smtp:` aliases.
    ProxyAddresses,
    /// `mailAlternateAddress`: aliases.
    AlternateAddress,
    /// `member`: group members by DN.
    Member,
    /// `uniqueMember`: group members by DN.
    UniqueMember,
    /// `cn`: a group's name.
    Cn,
    /// `displayName`: a recipient's display name.
    DisplayName,
}

impl Attribute {
    /// The attribute's name in the LDIF that the core reads.
    pub fn ldif_name(self) -> &'static str {
        match self {
            Attribute::ObjectClass => "objectClass",
            Attribute::Mail => "mail",
            Attribute::ProxyAddresses => "proxyAddresses",
            Attribute::AlternateAddress => "mailAlternateAddress",
            Attribute::Member => "member",
            Attribute::UniqueMember => "uniqueMember",
            Attribute::Cn => "cn",
            Attribute::DisplayName => "displayName",
        }
    }
}

/// One directory object, reduced to the attributes the core reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Entry {
    /// The entry's distinguished name.
    pub dn: String,
    /// Values by canonical attribute, as raw bytes (LDAP values need not be UTF-8).
    pub attributes: Vec<(Attribute, Vec<Vec<u8>>)>,
}

/// What a completed read found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadSummary {
    /// Entries yielded.
    pub entries: u64,
}

/// A directory the agent can read.
pub trait DirectorySource {
    /// The configured name, for logs and the server's history.
    fn name(&self) -> &str;

    /// Where it reads from, for logs (`ldap://dc1:389 base DC=corp,...`).
    fn location(&self) -> String;

    /// Reads every entry and hands each to `sink`. Returns `Ok` only when the whole directory
    /// was read: an error at any point (even after many entries) means the entries handed over
    /// so far are an incomplete directory and must not be pushed.
    fn read(&self, sink: &mut dyn FnMut(Entry)) -> Result<ReadSummary>;
}
