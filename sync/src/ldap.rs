//! The LDAP source: OpenLDAP, Active Directory and the Global Catalog, through `ldap3`.
//!
//! One connection per read: plain, StartTLS or ldaps (rustls, with the system's roots or a
//! configured CA file), a simple bind, then one subtree search with the paged-results control
//! (RFC 2696), so that a server's size limit never truncates the directory. Anything but a
//! complete, successful search is an error: a failed bind, a page that fails midway, a
//! connection that drops, or a final result code other than success (a size limit hit, for
//! one).
//!
//! Active Directory returns at most 1500 values of a multi-valued attribute per entry and
//! signals the rest with ranged retrieval (`member;range=0-1499`); the remaining ranges are
//! fetched with base searches after the main search, so that large groups keep all members.

use std::collections::HashMap;
use std::time::Duration;

use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Scope, SearchEntry};

use crate::config::{SourceConfig, TlsMode};
use crate::source::{Attribute, DirectorySource, Entry, ReadSummary};
use crate::{Error, Result};

/// A configured LDAP directory, with its bind password already read.
pub struct LdapSource {
    config: SourceConfig,
    password: Option<String>,
}

impl LdapSource {
    /// The source of `config`; reads its bind password now, so that a missing one is a
    /// configuration error before any connection is made.
    pub fn new(config: SourceConfig) -> Result<LdapSource> {
        let password = config.password()?;
        Ok(LdapSource { config, password })
    }

    fn url(&self) -> String {
        let scheme = if self.config.tls == TlsMode::Ldaps { "ldaps" } else { "ldap" };
        let host = &self.config.host;
        let host = if host.contains(':') && !host.starts_with('[') { format!("[{host}]") } else { host.clone() };
        format!("{scheme}://{host}:{}", self.config.port())
    }

    fn fail(&self, message: impl std::fmt::Display) -> Error {
        Error::Source { source_name: self.config.name.clone(), message: message.to_string() }
    }

    fn settings(&self) -> Result<LdapConnSettings> {
        let timeout = Duration::from_secs(self.config.timeout_seconds);
        let mut settings = LdapConnSettings::new().set_conn_timeout(timeout);
        if self.config.tls == TlsMode::Starttls {
            settings = settings.set_starttls(true);
        }
        if let Some(path) = &self.config.ca_file {
            settings = settings.set_config(crate::tls::trusting(path).map_err(Error::Config)?);
        }
        Ok(settings)
    }

    /// The attribute names to ask for, and what each one is, by lower-case name.
    fn attribute_map(&self) -> (Vec<String>, HashMap<String, Attribute>) {
        let a = self.config.attributes();
        let mut wanted = vec![("objectClass".to_owned(), Attribute::ObjectClass)];
        wanted.push((a.mail, Attribute::Mail));
        wanted.push((a.proxy_addresses, Attribute::ProxyAddresses));
        wanted.extend(a.alternate_addresses.into_iter().map(|n| (n, Attribute::AlternateAddress)));
        wanted.push((a.member, Attribute::Member));
        wanted.push((a.unique_member, Attribute::UniqueMember));
        wanted.push((a.name, Attribute::Cn));
        wanted.push((a.display_name, Attribute::DisplayName));
        wanted.retain(|(name, _)| !name.is_empty());
        let map = wanted.iter().map(|(n, a)| (n.to_ascii_lowercase(), *a)).collect();
        (wanted.into_iter().map(|(n, _)| n).collect(), map)
    }

    async fn read_async(&self, sink: &mut dyn FnMut(Entry)) -> Result<ReadSummary> {
        let timeout = Duration::from_secs(self.config.timeout_seconds);
        let (conn, mut ldap) = LdapConnAsync::with_settings(self.settings()?, &self.url())
            .await
            .map_err(|e| self.fail(format!("cannot connect to {}: {e}", self.url())))?;
        let driver = tokio::spawn(conn.drive());
        let result = self.search(&mut ldap, timeout, sink).await;
        // A failed unbind after a complete read changes nothing: the entries are all there.
        let _ = ldap.unbind().await;
        driver.abort();
        result
    }

    async fn search(&self, ldap: &mut Ldap, timeout: Duration, sink: &mut dyn FnMut(Entry)) -> Result<ReadSummary> {
        if let (Some(dn), Some(password)) = (&self.config.bind_dn, &self.password) {
            ldap.with_timeout(timeout)
                .simple_bind(dn, password)
                .await
                .and_then(|r| r.success())
                .map_err(|e| self.fail(format!("bind as {dn} failed: {e}")))?;
        }
        let (names, map) = self.attribute_map();
        let page_size = self.config.page_size as i32;
        let adapters: Vec<Box<dyn Adapter<_, _>>> =
            vec![Box::new(EntriesOnly::new()), Box::new(PagedResults::new(page_size))];
        let base = &self.config.base_dn;
        let mut stream = ldap
            .with_timeout(timeout)
            .streaming_search_with(adapters, base, Scope::Subtree, self.config.filter(), names)
            .await
            .map_err(|e| self.fail(format!("search under {base:?} failed: {e}")))?;
        let mut summary = ReadSummary::default();
        // Groups whose members come in ranges; they are completed after the main search.
        let mut ranged: Vec<(Entry, Vec<Range>)> = Vec::new();
        loop {
            let next = stream
                .next()
                .await
                .map_err(|e| self.fail(format!("the search failed after {} entries: {e}", summary.entries)))?;
            let Some(raw) = next else { break };
            let (entry, ranges) = to_entry(SearchEntry::construct(raw), &map);
            summary.entries += 1;
            if ranges.is_empty() {
                sink(entry);
            } else {
                ranged.push((entry, ranges));
            }
        }
        if let Err(e) = stream.finish().await.success() {
            let hint = match &e {
                ldap3::LdapError::LdapResult { result } if result.rc == 4 => {
                    " (the directory's size limit was reached: it must let paged searches read past it, e.g. slapd's size.prtotal=unlimited, or page_size must be below the limit)"
                }
                _ => "",
            };
            return Err(self.fail(format!("the search failed after {} entries: {e}{hint}", summary.entries)));
        }
        for (mut entry, ranges) in ranged {
            for range in ranges {
                self.complete_range(ldap, timeout, &mut entry, range).await?;
            }
            sink(entry);
        }
        Ok(summary)
    }

    /// Fetches the remaining ranges of one attribute of one entry (AD ranged retrieval).
    async fn complete_range(&self, ldap: &mut Ldap, timeout: Duration, entry: &mut Entry, range: Range) -> Result<()> {
        let mut next = Some(range.next);
        while let Some(start) = next.take() {
            let asked = format!("{};range={start}-*", range.name);
            let (entries, _) = ldap
                .with_timeout(timeout)
                .search(&entry.dn, Scope::Base, "(objectClass=*)", vec![asked.as_str()])
                .await
                .and_then(|r| r.success())
                .map_err(|e| self.fail(format!("reading {asked} of {} failed: {e}", entry.dn)))?;
            let Some(raw) = entries.into_iter().next() else {
                return Err(self.fail(format!("{} vanished while its {} were read", entry.dn, range.name)));
            };
            for (name, values) in SearchEntry::construct(raw).attrs {
                let Some((base, end)) = split_range(&name) else { continue };
                if !base.eq_ignore_ascii_case(&range.name) {
                    continue;
                }
                let values = values.into_iter().map(String::into_bytes);
                match entry.attributes.iter_mut().find(|(a, _)| *a == range.attribute) {
                    Some((_, existing)) => existing.extend(values),
                    None => entry.attributes.push((range.attribute, values.collect())),
                }
                if end.is_some_and(|end| end <= start) {
                    return Err(self.fail(format!("{} of {} came back out of range", range.name, entry.dn)));
                }
                next = end;
            }
        }
        Ok(())
    }
}

/// A ranged attribute whose later values are still to be fetched.
struct Range {
    attribute: Attribute,
    /// The attribute's name as the server spelt it, without the range option.
    name: String,
    /// The first value index not yet fetched.
    next: u64,
}

/// Splits `member;range=0-1499` into `member` and the index of the next value, `Some(1500)`, or
/// `None` when this was the last range (`range=1500-*`). Names without a range option answer
/// `None`.
fn split_range(name: &str) -> Option<(&str, Option<u64>)> {
    let (base, options) = name.split_once(';')?;
    let range = options.split(';').find_map(|o| o.strip_prefix("range=").or_else(|| o.strip_prefix("Range=")))?;
    let (_, end) = range.split_once('-')?;
    let after = if end == "*" { None } else { Some(end.parse::<u64>().ok()? + 1) };
    Some((base, after))
}

/// Maps a search entry onto the canonical attributes, and lists the ranges still to fetch.
fn to_entry(raw: SearchEntry, map: &HashMap<String, Attribute>) -> (Entry, Vec<Range>) {
    let mut entry = Entry { dn: raw.dn, attributes: Vec::new() };
    let mut ranges = Vec::new();
    let text = raw.attrs.into_iter().map(|(n, v)| (n, v.into_iter().map(String::into_bytes).collect::<Vec<_>>()));
    for (name, values) in text.chain(raw.bin_attrs) {
        let (base, range) = match split_range(&name) {
            Some((base, range)) => (base, range),
            None => (name.split(';').next().unwrap_or(&name), None),
        };
        let Some(&attribute) = map.get(&base.to_ascii_lowercase()) else { continue };
        if let Some(next) = range {
            ranges.push(Range { attribute, name: base.to_owned(), next });
        }
        match entry.attributes.iter_mut().find(|(a, _)| *a == attribute) {
            Some((_, existing)) => existing.extend(values),
            None => entry.attributes.push((attribute, values)),
        }
    }
    // A stable order keeps the LDIF (and so the core's diagnostics) independent of hashing.
    entry.attributes.sort_by_key(|(a, _)| *a as u8);
    (entry, ranges)
}

impl DirectorySource for LdapSource {
    fn name(&self) -> &str {
        &self.config.name
    }

    fn location(&self) -> String {
        let tls = match self.config.tls {
            TlsMode::None => " (no TLS)",
            TlsMode::Starttls => " (StartTLS)",
            TlsMode::Ldaps => "",
        };
        format!("{}{tls}, base {:?}", self.url(), self.config.base_dn)
    }

    fn read(&self, sink: &mut dyn FnMut(Entry)) -> Result<ReadSummary> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| self.fail(format!("cannot start the LDAP runtime: {e}")))?;
        runtime.block_on(self.read_async(sink))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranged_attribute_names_are_understood() {
        assert_eq!(split_range("member;range=0-1499"), Some(("member", Some(1500))));
        assert_eq!(split_range("member;range=1500-*"), Some(("member", None)));
        assert_eq!(split_range("cn;lang-ja"), None);
        assert_eq!(split_range("member"), None);
    }

    #[test]
    fn search_entries_map_onto_the_canonical_attributes() {
        let map: HashMap<String, Attribute> =
            [("mail", Attribute::Mail), ("objectclass", Attribute::ObjectClass), ("member", Attribute::Member)]
                .into_iter()
                .map(|(n, a)| (n.to_owned(), a))
                .collect();
        let raw = SearchEntry {
            dn: "cn=big,dc=x".to_owned(),
            attrs: [
                ("MAIL".to_owned(), vec!["big@example.com".to_owned()]),
                ("member;range=0-1499".to_owned(), vec!["uid=a,dc=x".to_owned()]),
                ("telephoneNumber".to_owned(), vec!["1".to_owned()]),
            ]
            .into_iter()
            .collect(),
            bin_attrs: [("objectClass".to_owned(), vec![b"group".to_vec()])].into_iter().collect(),
        };
        let (entry, ranges) = to_entry(raw, &map);
        assert_eq!(
            entry.attributes,
            [
                (Attribute::ObjectClass, vec![b"group".to_vec()]),
                (Attribute::Mail, vec![b"big@example.com".to_vec()]),
                (Attribute::Member, vec![b"uid=a,dc=x".to_vec()]),
            ]
        );
        assert_eq!(ranges.len(), 1);
        assert_eq!((ranges[0].name.as_str(), ranges[0].next), ("member", 1500));
    }
}
