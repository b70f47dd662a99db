//! Entries to the normalised directory, by the core's own rules.
//!
//! Each entry is written as an LDIF record, every value as `attr:: base64` so that nothing
//! needs escaping, and streamed into `dirgate_core::Validator`. The primary-address, alias,
//! group and member-resolution rules are therefore exactly those of an LDIF import. Each
//! source is one "file" of the import, so that member DNs resolve across sources just as
//! they do across the files of one import.
//!
//! The core reports problems by line; the normaliser remembers on which line each entry
//! starts, so that every diagnostic can be shown with the DN of the entry it is about.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use dirgate_core::{Directory, FormatChoice, Options, Report, Validator};

use crate::source::Entry;

/// The LDIF is handed to the core in pieces of about this size.
const FEED_BYTES: usize = 256 * 1024;

/// Turns the entries of one or more sources into one validated directory.
pub struct Normaliser {
    validator: Validator,
    buffer: Vec<u8>,
    /// Per source: its name and the first line of each entry, with the entry's DN.
    sources: Vec<(String, Vec<(u64, String)>)>,
    /// The next line number of the current source's LDIF.
    line: u64,
}

/// The validated directory, and what the core said about it.
pub struct Normalised {
    /// The core's report: counts, per-domain counts and diagnostics.
    pub report: Report,
    /// The valid records.
    pub directory: Directory,
    sources: Vec<(String, Vec<(u64, String)>)>,
}

impl Normaliser {
    /// A normaliser for a tenant that manages `managed_domains` (empty: every domain; the
    /// server filters again in any case).
    pub fn new(managed_domains: Vec<String>) -> Normaliser {
        let options = Options { format: FormatChoice::Ldif, managed_domains, ..Options::default() };
        Normaliser { validator: Validator::new(options), buffer: Vec::new(), sources: Vec::new(), line: 1 }
    }

    /// Starts the entries of the source called `name`.
    pub fn begin_source(&mut self, name: &str) {
        self.validator.begin_file(name);
        self.sources.push((name.to_owned(), Vec::new()));
        self.line = 1;
    }

    /// Adds one entry of the current source.
    pub fn add(&mut self, entry: &Entry) {
        let (_, starts) = self.sources.last_mut().expect("add() before begin_source()");
        starts.push((self.line, entry.dn.clone()));
        write_record(&mut self.buffer, entry);
        self.line += 2 + entry.attributes.iter().map(|(_, values)| values.len() as u64).sum::<u64>();
        if self.buffer.len() >= FEED_BYTES {
            self.validator.feed(&self.buffer);
            self.buffer.clear();
        }
    }

    /// Ends the current source.
    pub fn end_source(&mut self) {
        self.validator.feed(&self.buffer);
        self.buffer.clear();
        self.validator.end_file();
    }

    /// Applies the rules that span entries and returns the directory.
    pub fn finish(self) -> Normalised {
        let outcome = self.validator.finish();
        Normalised { report: outcome.report, directory: outcome.directory, sources: self.sources }
    }
}

/// Writes `entry` as one LDIF record, followed by its blank line.
fn write_record(out: &mut Vec<u8>, entry: &Entry) {
    let mut line = |name: &str, value: &[u8]| {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b":: ");
        out.extend_from_slice(BASE64.encode(value).as_bytes());
        out.push(b'\n');
    };
    line("dn", entry.dn.as_bytes());
    for (attribute, values) in &entry.attributes {
        for value in values {
            line(attribute.ldif_name(), value);
        }
    }
    out.push(b'\n');
}

impl Normalised {
    /// The DN of the entry that a diagnostic of `file` at `line` is about, if any.
    pub fn dn_at(&self, file: &str, line: u64) -> Option<&str> {
        let (_, starts) = self.sources.iter().find(|(name, _)| name == file)?;
        let index = starts.partition_point(|(start, _)| *start <= line).checked_sub(1)?;
        Some(starts[index].1.as_str())
    }

    /// How many error diagnostics the report counts, beyond the cap included.
    pub fn errors(&self) -> u64 {
        use dirgate_core::{Code, Severity};
        self.report
            .diagnostic_totals
            .iter()
            .filter(|(code, _)| Code::from_name(code).is_some_and(|c| c.severity() == Severity::Error))
            .map(|(_, n)| n)
            .sum()
    }

    /// The diagnostics, one line each, with the DN of their entry:
    /// `source corp-ad: CN=Bob,...: error[invalid-address]: ...`.
    pub fn diagnostic_lines(&self) -> Vec<String> {
        self.report
            .diagnostics
            .iter()
            .map(|d| {
                let dn = self.dn_at(&d.file, d.line).unwrap_or("(no entry)");
                format!("source {}: {dn}: {}[{}]: {}", d.file, d.severity.as_str(), d.code.as_str(), d.message)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Attribute;

    fn entry(dn: &str, attributes: &[(Attribute, &[&str])]) -> Entry {
        Entry {
            dn: dn.to_owned(),
            attributes: attributes
                .iter()
                .map(|(a, values)| (*a, values.iter().map(|v| v.as_bytes().to_vec()).collect()))
                .collect(),
        }
    }

    #[test]
    fn entries_follow_the_core_ldif_rules() {
        let mut n = Normaliser::new(vec!["example.com".to_owned()]);
        n.begin_source("ldap");
        n.add(&entry(
            "uid=alice,ou=people,dc=example,dc=com",
            &[
                (Attribute::ObjectClass, &["inetOrgPerson"]),
                (Attribute::Mail, &["Alice@Example.com"]),
                (Attribute::AlternateAddress, &["a.smith@example.com"]),
                (Attribute::DisplayName, &["Alice Smith, Ünïcode"]),
            ],
        ));
        n.add(&entry(
            "cn=staff,ou=groups,dc=example,dc=com",
            &[
                (Attribute::ObjectClass, &["top", "groupOfNames"]),
                (Attribute::Cn, &["staff"]),
                (Attribute::Mail, &["staff@example.com"]),
                (Attribute::Member, &["uid=alice,ou=people,dc=example,dc=com", "uid=ghost,dc=example,dc=com"]),
            ],
        ));
        n.add(&entry("ou=people,dc=example,dc=com", &[(Attribute::ObjectClass, &["organizationalUnit"])]));
        n.end_source();
        let out = n.finish();
        let d = &out.directory;
        let recipients: Vec<_> = d.recipients().collect();
        assert_eq!(recipients.len(), 1);
        assert_eq!(recipients[0].address, "Alice@example.com");
        assert_eq!(recipients[0].name, Some("Alice Smith, Ünïcode"));
        assert_eq!(d.aliases().next().unwrap().address, "a.smith@example.com");
        let members: Vec<&str> = d.groups().next().unwrap().members.iter().collect();
        assert_eq!(members, ["Alice@example.com", "uid=ghost,dc=example,dc=com"]);
        assert!(out.report.valid);
        assert_eq!(out.report.counts.skipped, 1);
    }

    #[test]
    fn diagnostics_name_the_entry_they_are_about() {
        let mut n = Normaliser::new(Vec::new());
        n.begin_source("first");
        n.add(&entry("uid=ok,dc=x", &[(Attribute::Mail, &["ok@example.com"])]));
        n.end_source();
        n.begin_source("second");
        n.add(&entry("uid=a,dc=x", &[(Attribute::Mail, &["a@example.com"]), (Attribute::Cn, &["A"])]));
        n.add(&entry(
            "uid=broken,dc=x",
            &[(Attribute::ObjectClass, &["person"]), (Attribute::Mail, &["not an address"])],
        ));
        n.add(&entry("uid=c,dc=x", &[(Attribute::Mail, &["c@example.com"])]));
        n.end_source();
        let out = n.finish();
        assert_eq!(out.errors(), 1, "{:?}", out.report.diagnostics);
        let lines = out.diagnostic_lines();
        assert!(lines.iter().any(|l| l.starts_with("source second: uid=broken,dc=x: error[")), "{lines:?}");
    }
}
