//! LDIF (RFC 2849) as `ldifde`, `slapcat` and `ldapsearch` write it.
//!
//! The parser is fed physical lines. It unfolds them into logical lines (a line that begins
//! with one space continues the previous one), groups logical lines into records at blank
//! lines, and keeps only the attributes that matter to a mail gateway: addresses, names, object
//! classes and group members. Everything else is checked for well-formedness and dropped, so an
//! entry costs memory only for what will be imported.

use base64::Engine;

use crate::Sink;
use crate::diagnostic::{Code, Position};
use crate::directory::{GroupDraft, Located, MailboxDraft, first_rdn_value};

const BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// The attributes dirgate reads. Everything else is validated and dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Attribute {
    Dn,
    Changetype,
    Control,
    Version,
    ObjectClass,
    Mail,
    ProxyAddresses,
    /// `mailAlternateAddress`, `mailLocalAddress` and `otherMailbox`.
    AlternateAddress,
    Member,
    Cn,
    DisplayName,
    Other,
}

fn classify(name: &str) -> Attribute {
    // Attribute types are case-insensitive; most files use one spelling. Every line of a file
    // is classified, so the length and first letter pick the one candidate to compare.
    let eq = |s: &str| crate::address::same_bytes_ignoring_ascii_case(name.as_bytes(), s.as_bytes());
    let first = name.as_bytes().first().map_or(0, u8::to_ascii_lowercase);
    match (name.len(), first) {
        (2, b'd') if eq("dn") => Attribute::Dn,
        (2, b'c') if eq("cn") => Attribute::Cn,
        (4, b'm') if eq("mail") => Attribute::Mail,
        (6, b'm') if eq("member") => Attribute::Member,
        (7, b'v') if eq("version") => Attribute::Version,
        (7, b'c') if eq("control") => Attribute::Control,
        (10, b'c') if eq("changetype") => Attribute::Changetype,
        (11, b'o') if eq("objectclass") => Attribute::ObjectClass,
        (11, b'd') if eq("displayname") => Attribute::DisplayName,
        (12, b'o') if eq("othermailbox") => Attribute::AlternateAddress,
        (12, b'u') if eq("uniquemember") => Attribute::Member,
        (14, b'p') if eq("proxyaddresses") => Attribute::ProxyAddresses,
        (16, b'm') if eq("maillocaladdress") => Attribute::AlternateAddress,
        (20, b'm') if eq("mailalternateaddress") => Attribute::AlternateAddress,
        _ => Attribute::Other,
    }
}

fn is_group_class(value: &str) -> bool {
    ["group", "groupOfNames", "groupOfUniqueNames", "groupOfURLs"].iter().any(|c| value.eq_ignore_ascii_case(c))
}

/// A value kept from a record: a span of [`Record::text`], with where it started.
#[derive(Clone, Copy, Debug)]
struct Value {
    start: usize,
    end: usize,
    at: Position,
}

/// The kept attributes of the current entry. It is cleared, not dropped, between entries, so
/// that its buffers are reused: reading an entry allocates nothing once they have grown.
#[derive(Debug, Default)]
struct Record {
    /// The kept values, back to back.
    text: String,
    dn: Option<Value>,
    /// A missing dn or an unsupported change type: the rest of the record is ignored.
    ignored: bool,
    is_group: bool,
    mail: Vec<Value>,
    proxy: Vec<Value>,
    alternate: Vec<Value>,
    members: Vec<Value>,
    /// `(value, has_options)`: a plain `cn` wins over `cn;lang-ja`.
    cn: Option<(String, bool)>,
    display_name: Option<(String, bool)>,
}

impl Record {
    fn keep(&mut self, text: &str, at: Position) -> Value {
        let start = self.text.len();
        self.text.push_str(text);
        Value { start, end: self.text.len(), at }
    }

    fn get(&self, value: &Value) -> &str {
        &self.text[value.start..value.end]
    }

    fn located(&self, value: &Value) -> Located<'_> {
        Located { text: self.get(value), at: value.at }
    }

    fn clear(&mut self) {
        self.text.clear();
        self.dn = None;
        self.ignored = false;
        self.is_group = false;
        self.mail.clear();
        self.proxy.clear();
        self.alternate.clear();
        self.members.clear();
        self.cn = None;
        self.display_name = None;
    }
}

/// The LDIF state machine for one file.
pub(crate) struct LdifParser {
    /// The logical line being assembled from its physical lines.
    logical: String,
    logical_line: u64,
    logical_state: Logical,
    record: Record,
    in_record: bool,
    /// Records with a dn (entries, whatever they held).
    pub(crate) records: u64,
    version_seen: bool,
    scratch: Vec<u8>,
    max_logical: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Logical {
    None,
    Text,
    Comment,
    /// An attribute dirgate does not read, with a plain value, or any line of an ignored
    /// record: nothing of it is kept. Holds the logical line's length so far.
    Skipped(usize),
    /// A logical line that grew past the limit; its continuations are skipped.
    Overlong,
}

impl LdifParser {
    pub(crate) fn new(max_logical: usize) -> LdifParser {
        LdifParser {
            logical: String::new(),
            logical_line: 0,
            logical_state: Logical::None,
            record: Record::default(),
            in_record: false,
            records: 0,
            version_seen: false,
            scratch: Vec::new(),
            max_logical,
        }
    }

    pub(crate) fn line(&mut self, sink: &mut Sink<'_>, text: &str, number: u64) {
        if let Some(rest) = text.strip_prefix(' ') {
            match self.logical_state {
                Logical::Text => {
                    if self.logical.len() + rest.len() > self.max_logical {
                        self.overlong(sink, self.logical_line);
                    } else {
                        self.logical.push_str(rest);
                    }
                }
                Logical::Skipped(len) => {
                    if len + rest.len() > self.max_logical {
                        self.logical_state = Logical::Overlong;
                        sink.diags.push(Code::LineTooLong, Position::line(sink.file, self.logical_line), || {
                            format!("this folded value grew past {len} bytes, over the limit; it was not read")
                        });
                    } else {
                        self.logical_state = Logical::Skipped(len + rest.len());
                    }
                }
                Logical::Comment | Logical::Overlong => {}
                Logical::None => sink.diags.push(Code::BadLine, Position::line(sink.file, number), || {
                    "this line starts with a space, which continues the previous line, but there is no line to continue"
                        .to_owned()
                }),
            }
            return;
        }
        self.flush_logical(sink);
        if text.is_empty() {
            self.end_record(sink);
        } else if text.starts_with('#') {
            self.logical_state = Logical::Comment;
        } else if self.skippable(text) {
            self.logical_line = number;
            self.logical_state = Logical::Skipped(text.len());
        } else {
            self.logical.clear();
            self.logical.push_str(text);
            self.logical_line = number;
            self.logical_state = Logical::Text;
        }
    }

    /// Whether the logical line that `first` starts can be passed over without reading it:
    /// inside a record that is being ignored, or a well-formed attribute dirgate does not use
    /// whose value is plain text (a URL reference or base64 must still be checked). Most lines
    /// of an Active Directory export are such attributes, so they are never copied.
    fn skippable(&self, first: &str) -> bool {
        if !self.in_record {
            return false;
        }
        if self.record.ignored {
            return true;
        }
        let Some((name, colon)) = attribute_description(first.as_bytes()) else { return false };
        if matches!(first.as_bytes().get(colon + 1), None | Some(b':' | b'<')) {
            return false;
        }
        classify(&first[..name]) == Attribute::Other
    }

    /// A physical line over the limit: the attribute it carries is lost, which is an error.
    pub(crate) fn overlong_line(&mut self, sink: &mut Sink<'_>, number: u64, len: u64) {
        if self.logical_state == Logical::Comment {
            return;
        }
        self.flush_logical(sink);
        self.logical_state = Logical::Overlong;
        sink.diags.push(Code::LineTooLong, Position::line(sink.file, number), || {
            format!("this line is {len} bytes long, over the limit; its value was not read")
        });
    }

    fn overlong(&mut self, sink: &mut Sink<'_>, number: u64) {
        let len = self.logical.len();
        self.logical.clear();
        self.logical_state = Logical::Overlong;
        sink.diags.push(Code::LineTooLong, Position::line(sink.file, number), || {
            format!("this folded value grew past {len} bytes, over the limit; it was not read")
        });
    }

    pub(crate) fn finish(&mut self, sink: &mut Sink<'_>) {
        self.flush_logical(sink);
        self.end_record(sink);
    }

    fn flush_logical(&mut self, sink: &mut Sink<'_>) {
        if self.logical_state == Logical::Text {
            let logical = std::mem::take(&mut self.logical);
            self.attribute_line(sink, &logical, self.logical_line);
            self.logical = logical;
        }
        self.logical_state = Logical::None;
    }

    fn attribute_line(&mut self, sink: &mut Sink<'_>, line: &str, number: u64) {
        if self.in_record && self.record.ignored {
            return;
        }
        let at = |column: usize| Position { file: sink.file, line: number, column: Some(column as u32) };
        let Some((name_end, colon)) = attribute_description(line.as_bytes()) else {
            match memchr::memchr(b':', line.as_bytes()) {
                None => sink.diags.push(Code::BadLine, Position::line(sink.file, number), || {
                    format!("`{}` is not an `attribute: value` line", shorten(line))
                }),
                Some(colon) => sink.diags.push(Code::BadLine, at(1), || {
                    format!("`{}` is not a valid attribute name", shorten(&line[..colon]))
                }),
            }
            return;
        };
        let description = &line[..colon];
        let name = &line[..name_end];
        let has_options = colon != name_end;
        let attribute = classify(name);
        let rest = &line[colon + 1..];
        let (kind, value) = match rest.as_bytes().first() {
            Some(b':') => (ValueKind::Base64, rest[1..].trim_start_matches(' ')),
            Some(b'<') => (ValueKind::Url, rest[1..].trim_start_matches(' ')),
            _ => (ValueKind::Plain, rest.trim_start_matches(' ')),
        };
        let prefix = &line[..line.len() - value.len()];
        let value_column = if prefix.is_ascii() { prefix.len() } else { prefix.chars().count() } + 1;

        if !self.in_record {
            match attribute {
                Attribute::Version if self.records == 0 && !self.version_seen => {
                    self.version_seen = true;
                    if value.trim() != "1" {
                        sink.diags.push(Code::UnsupportedVersion, at(value_column), || {
                            format!("LDIF version `{}` is unknown; the file was read as version 1", shorten(value))
                        });
                    }
                    return;
                }
                Attribute::Dn => {
                    self.in_record = true;
                    self.records += 1;
                }
                _ => {
                    self.in_record = true;
                    self.record.ignored = true;
                    sink.diags.push(Code::MissingDn, Position::line(sink.file, number), || {
                        format!(
                            "this entry starts with `{}` instead of `dn:`; every entry must start with its DN. The entry was skipped",
                            shorten(description)
                        )
                    });
                    return;
                }
            }
        }

        if attribute == Attribute::Other {
            // Not used by dirgate; still refuse what must be refused, and check base64 cheaply.
            match kind {
                ValueKind::Url => self.refuse_url(sink, description, at(value_column)),
                ValueKind::Base64 => {
                    let value = value.trim_end();
                    if !plainly_base64(value.as_bytes()) {
                        self.scratch.clear();
                        if BASE64.decode_vec(value, &mut self.scratch).is_err() {
                            bad_base64(sink, description, at(value_column));
                        }
                    }
                }
                ValueKind::Plain => {}
            }
            return;
        }
        let at = at(value_column);
        let decoded;
        let text: &str = match kind {
            ValueKind::Plain => value,
            ValueKind::Url => {
                self.refuse_url(sink, description, at);
                return;
            }
            ValueKind::Base64 => {
                self.scratch.clear();
                if BASE64.decode_vec(value.trim_end(), &mut self.scratch).is_err() {
                    bad_base64(sink, description, at);
                    return;
                }
                decoded = match std::str::from_utf8(&self.scratch) {
                    Ok(text) => std::borrow::Cow::Borrowed(text),
                    Err(_) => {
                        sink.diags.push(Code::InvalidUtf8Value, at, || {
                            format!(
                                "the base64 value of `{description}` is not UTF-8 text; unreadable bytes were replaced"
                            )
                        });
                        String::from_utf8_lossy(&self.scratch)
                    }
                };
                &decoded
            }
        };
        let record = &mut self.record;
        match attribute {
            Attribute::Dn => {
                if record.dn.is_some() {
                    sink.diags.push(Code::MissingDn, Position::line(sink.file, number), || {
                        "a second `dn:` line appears inside one entry; is a blank line missing before it?".to_owned()
                    });
                    record.ignored = true;
                } else {
                    record.dn = Some(record.keep(text, at));
                }
            }
            Attribute::Changetype => {
                if !text.eq_ignore_ascii_case("add") {
                    record.ignored = true;
                    sink.diags.push(Code::UnsupportedChangetype, at, || {
                        format!(
                            "`changetype: {}` changes an existing directory; import a full export (content records or `changetype: add`) instead. This record was skipped",
                            shorten(text)
                        )
                    });
                    self.records -= 1;
                }
            }
            Attribute::Control | Attribute::Version | Attribute::Other => {}
            Attribute::ObjectClass => record.is_group |= is_group_class(text),
            Attribute::Mail => {
                let value = record.keep(text, at);
                record.mail.push(value);
            }
            Attribute::ProxyAddresses => {
                let value = record.keep(text, at);
                record.proxy.push(value);
            }
            Attribute::AlternateAddress => {
                let value = record.keep(text, at);
                record.alternate.push(value);
            }
            Attribute::Member => {
                let value = record.keep(text, at);
                record.members.push(value);
            }
            Attribute::Cn => keep_name(&mut record.cn, text, has_options),
            Attribute::DisplayName => keep_name(&mut record.display_name, text, has_options),
        }
    }

    fn refuse_url(&self, sink: &mut Sink<'_>, description: &str, at: Position) {
        sink.diags.push(Code::UrlValueRefused, at, || {
            format!(
                "`{description}:<` names a URL to read the value from; dirgate never fetches URLs from an uploaded file. Put the value inline"
            )
        });
    }

    fn end_record(&mut self, sink: &mut Sink<'_>) {
        if !self.in_record {
            return;
        }
        self.in_record = false;
        Self::deliver(sink, &mut self.record);
        self.record.clear();
    }

    /// Hands a finished entry to the directory builder.
    fn deliver(sink: &mut Sink<'_>, record: &mut Record) {
        if record.ignored {
            return;
        }
        let Some(dn) = record.dn else { return };
        let cn = record.cn.take();
        let display_name = record.display_name.take();
        let record = &*record;
        let dn = record.get(&dn);
        let (primary, aliases) = addresses_of(record);
        if record.is_group {
            let name = cn.map(|(cn, _)| cn).filter(|cn| !cn.trim().is_empty()).unwrap_or_else(|| first_rdn_value(dn));
            let members =
                record.members.iter().map(|m| Located { text: strip_unique_id(record.get(m)), at: m.at }).collect();
            sink.builder.add_group(
                sink.diags,
                GroupDraft { dn: Some(dn), name, address: primary, aliases, members, merge_silently: false },
            );
        } else if let Some(primary) = primary {
            let name = display_name.or(cn).map(|(n, _)| n).filter(|n| !n.trim().is_empty());
            sink.builder.add_mailbox(sink.diags, MailboxDraft { dn: Some(dn), name, primary, aliases });
        } else {
            sink.builder.skip_entry();
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ValueKind {
    Plain,
    Base64,
    Url,
}

fn bad_base64(sink: &mut Sink<'_>, description: &str, at: Position) {
    sink.diags.push(Code::BadBase64, at, || {
        format!("the `{description}::` value is not valid base64; the value was dropped")
    });
}

fn keep_name(slot: &mut Option<(String, bool)>, value: &str, has_options: bool) {
    let replace = match slot {
        None => true,
        Some((_, existing_has_options)) => *existing_has_options && !has_options,
    };
    if replace {
        *slot = Some((value.to_owned(), has_options));
    }
}

/// The primary address and the aliases of an entry, by the specification's precedence.
fn addresses_of(record: &Record) -> (Option<Located<'_>>, Vec<Located<'_>>) {
    let mut primary = None;
    let mut smtp = Vec::new();
    for value in &record.proxy {
        let text = record.get(value);
        let Some(colon) = memchr::memchr(b':', text.as_bytes()) else { continue };
        let (prefix, address) = (&text[..colon], &text[colon + 1..]);
        if !prefix.eq_ignore_ascii_case("smtp") {
            continue;
        }
        let located = Located { text: address, at: shift(value.at, colon + 1) };
        if prefix == "SMTP" && primary.is_none() {
            primary = Some(located);
        } else {
            smtp.push(located);
        }
    }
    let mail: Vec<Located<'_>> = record.mail.iter().map(|v| record.located(v)).collect();
    let mut aliases = Vec::with_capacity(smtp.len() + mail.len() + record.alternate.len());
    let primary = match primary {
        Some(p) => {
            aliases.extend(mail.iter().copied());
            Some(p)
        }
        None if !mail.is_empty() => {
            aliases.extend(mail[1..].iter().copied());
            Some(mail[0])
        }
        None if !smtp.is_empty() => Some(smtp.remove(0)),
        None => None,
    };
    aliases.extend(smtp);
    aliases.extend(record.alternate.iter().map(|v| record.located(v)).filter(|l| l.text.contains('@')));
    (primary, aliases)
}

fn shift(at: Position, chars: usize) -> Position {
    Position { column: at.column.map(|c| c + chars as u32), ..at }
}

/// `uniqueMember` may carry an optional UID suffix: `cn=x,dc=example#'0101'B`.
fn strip_unique_id(member: &str) -> &str {
    if !member.ends_with("'B") {
        return member;
    }
    member.rfind("#'").map_or(member, |i| &member[..i])
}

/// Whether `value` is base64 that [`BASE64`] certainly decodes, without decoding it: only
/// alphabet symbols, then no padding (and a length that is not one past a multiple of four)
/// or canonical padding. A value that is not plainly valid is left to the decoder, which
/// names the problem. The values of attributes dirgate does not read (`objectGUID`,
/// `thumbnailPhoto`) need only this check.
fn plainly_base64(value: &[u8]) -> bool {
    let symbols = value.iter().rposition(|&b| b != b'=').map_or(0, |last| last + 1);
    let padding = value.len() - symbols;
    let alphabet = value[..symbols].iter().fold(true, |ok, &b| ok & (BASE64_SYMBOLS[b as usize] != 0));
    alphabet
        && match padding {
            0 => symbols % 4 != 1,
            1 => symbols % 4 == 3,
            2 => symbols % 4 == 2,
            _ => false,
        }
}

/// The standard base64 alphabet.
const BASE64_SYMBOLS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() || c == b'+' || c == b'/' {
            table[b] = 1;
        }
        b += 1;
    }
    table
};

/// Where a line's attribute name ends and where its `:` is, when the line begins with a valid
/// attribute description: a name (letters, digits and `-` after a letter, or a numeric OID)
/// and any `;options` (letters, digits and `-`, none empty). One pass, which also finds the
/// colon, since the description is all the line's bytes before it.
fn attribute_description(line: &[u8]) -> Option<(usize, usize)> {
    let first = *line.first()?;
    let class = if first.is_ascii_alphabetic() {
        KEYCHAR
    } else if first.is_ascii_digit() {
        OID
    } else {
        return None;
    };
    let mut i = 1;
    while line.get(i).is_some_and(|&b| NAME_CLASSES[b as usize] & class != 0) {
        i += 1;
    }
    let name = i;
    while line.get(i) == Some(&b';') {
        let start = i + 1;
        i = start;
        while line.get(i).is_some_and(|&b| NAME_CLASSES[b as usize] & KEYCHAR != 0) {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    (line.get(i) == Some(&b':')).then_some((name, i))
}

/// Bytes of an attribute name after its first: `KEYCHAR` after a letter, `OID` after a digit.
const KEYCHAR: u8 = 1;
const OID: u8 = 2;
const NAME_CLASSES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() || c == b'-' {
            table[b] |= KEYCHAR;
        }
        if c.is_ascii_digit() || c == b'.' {
            table[b] |= OID;
        }
        b += 1;
    }
    table
};

fn shorten(s: &str) -> String {
    if s.chars().count() <= 60 {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(60).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every string of up to six characters over symbols, padding and two non-symbols: the
    /// quick check never accepts what the decoder refuses.
    #[test]
    fn plainly_base64_only_accepts_what_decodes() {
        let chars = [b'Q', b'w', b'+', b'=', b' ', b'-'];
        let mut accepted = 0;
        for len in 0..=6u32 {
            for n in 0..chars.len().pow(len) {
                let mut value = Vec::new();
                let mut rest = n;
                for _ in 0..len {
                    value.push(chars[rest % chars.len()]);
                    rest /= chars.len();
                }
                if plainly_base64(&value) {
                    accepted += 1;
                    assert!(BASE64.decode(&value).is_ok(), "{:?}", String::from_utf8_lossy(&value));
                }
            }
        }
        assert!(accepted > 800, "the quick check accepted only {accepted} values");
    }

    #[test]
    fn attribute_descriptions() {
        assert_eq!(attribute_description(b"mail: a@b.c"), Some((4, 4)));
        assert_eq!(attribute_description(b"cn;lang-de: x"), Some((2, 10)));
        assert_eq!(attribute_description(b"2.5.4.3: x"), Some((7, 7)));
        for bad in [&b"cn;: x"[..], b"c n: x", b"-cn: x", b"cn", b"2.5x: y", b": x", b""] {
            assert_eq!(attribute_description(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
