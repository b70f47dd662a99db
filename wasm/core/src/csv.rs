//! CSV: the anchor product's `email,Display Name` form and dirgate's own three exports.
//!
//! The parser is fed physical lines. A record is one line, or several when a quoted field holds
//! a line break. The delimiter (`,` `;` or TAB) is chosen on the first record, and a first row
//! of known column names is taken as a header, which also recognises the `recipients.csv`,
//! `aliases.csv` and `groups.csv` exports so that they re-import losslessly.

use std::borrow::Cow;

use crate::Sink;
use crate::diagnostic::{Code, Position};
use crate::directory::{GroupDraft, Located, MailboxDraft, PreparedAddress};

/// What a column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Email,
    Name,
    Alias,
    Group,
    Member,
}

fn role_of(header: &str) -> Option<Role> {
    let folded: String =
        header.chars().filter(|c| !matches!(c, ' ' | '-' | '_')).flat_map(char::to_lowercase).collect();
    Some(match folded.as_str() {
        "email" | "mail" | "emailaddress" | "mailaddress" | "address" | "primary" | "primaryaddress" | "smtp"
        | "smtpaddress" | "primarysmtpaddress" => Role::Email,
        "name" | "displayname" | "fullname" | "cn" => Role::Name,
        "alias" | "aliasaddress" => Role::Alias,
        "group" | "groupname" => Role::Group,
        "member" | "members" => Role::Member,
        _ => return None,
    })
}

/// How the rows of a file map to records.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Layout {
    /// No header: `email[,name]`.
    TwoColumn,
    /// `recipients.csv` or any header with an address column.
    Recipients { email: usize, name: Option<usize>, width: usize },
    /// `aliases.csv`: `alias,email`.
    Aliases { alias: usize, email: usize, width: usize },
    /// `groups.csv`: `group,email,member`, one row per member.
    Groups { group: Option<usize>, email: Option<usize>, member: Option<usize>, width: usize },
    /// A header without an address column: every row is ignored.
    Unusable,
}

/// One field of a record, as byte offsets into the record text.
#[derive(Clone, Copy, Debug)]
struct Field {
    start: usize,
    end: usize,
    /// Holds `""` escapes that must be undone.
    escaped: bool,
}

pub(crate) struct CsvParser {
    delimiter: Option<u8>,
    layout: Option<Layout>,
    /// A record whose quoted field continues on the next line.
    pending: String,
    pending_line: u64,
    fields: Vec<Field>,
    /// Data rows seen, valid or not (a header is not a record).
    pub(crate) records: u64,
    max_record: usize,
}

/// How many plain rows [`CsvParser::line_ahead`] prepares before it adds the first: enough for
/// a cache miss to complete behind the work on the rows after it.
const LOOKAHEAD: usize = 8;

/// Plain rows prepared but not yet added, for [`CsvParser::line_ahead`].
#[derive(Default)]
pub(crate) struct Lookahead<'t> {
    rows: std::collections::VecDeque<PlainRow<'t>>,
}

struct PlainRow<'t> {
    email: &'t str,
    name: Option<&'t str>,
    number: u64,
    prepared: PreparedAddress,
}

/// The address and the name of a plain row (see [`CsvParser::plain_row`]), before the
/// address is checked.
fn plain_parts(text: &str, delimiter: u8) -> Option<(&str, Option<&str>)> {
    let (email, name) = match memchr::memchr(delimiter, text.as_bytes()) {
        Some(d) => (&text[..d], &text[d + 1..]),
        None => (text, ""),
    };
    // `"Woods, Freja"`: a quoted name with no `""` inside, which may hold the delimiter.
    let (name, delimiter) = match name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
        Some(inner) => (inner, b'"'),
        None => (name, delimiter),
    };
    // An address in its common form has no quote or space; a leading `'` is atext, but in a
    // cell it may be a formula guard, which the general path removes.
    if email.starts_with('\'') || !plain_name(name, delimiter) {
        return None;
    }
    Some((email, (!name.is_empty()).then_some(name)))
}

enum Split {
    Complete,
    /// A quote is still open at the end of the text.
    OpenQuote,
}

impl CsvParser {
    pub(crate) fn new(max_record: usize) -> CsvParser {
        CsvParser {
            delimiter: None,
            layout: None,
            pending: String::new(),
            pending_line: 0,
            fields: Vec::new(),
            records: 0,
            max_record,
        }
    }

    #[inline]
    pub(crate) fn line(&mut self, sink: &mut Sink<'_>, text: &str, number: u64) {
        if self.pending.is_empty() {
            // Almost every line of a two-column file is a plain row.
            if let Some(delimiter) = self.delimiter
                && self.layout == Some(Layout::TwoColumn)
                && self.plain_row(sink, text, delimiter, number)
            {
                return;
            }
            self.record(sink, text, number);
            return;
        }
        self.pending.push('\n');
        self.pending.push_str(text);
        // Only the new line is scanned, so a long quoted field costs linear time.
        let delimiter = self.delimiter.unwrap_or(b',');
        let state = scan_quotes(text.as_bytes(), delimiter, QuoteState { in_quotes: true, field_start: false });
        if state.in_quotes {
            if self.pending.len() > self.max_record {
                self.abandon_open_quote(sink);
            }
            return;
        }
        let pending = std::mem::take(&mut self.pending);
        self.record(sink, &pending, self.pending_line);
        if self.pending.is_empty() {
            // Give the buffer back so that its capacity is reused.
            self.pending = pending;
            self.pending.clear();
        }
    }

    /// A quote that never closes (by the end of the file, or within the size limit) is far more
    /// likely a typo than a huge field: report it, skip its row, and read the lines it swallowed
    /// as rows again so that nothing after the typo is lost.
    fn abandon_open_quote(&mut self, sink: &mut Sink<'_>) {
        let pending = std::mem::take(&mut self.pending);
        let first = self.pending_line;
        sink.diags.push(Code::UnterminatedQuote, Position::line(sink.file, first), || {
            "a quote opened on this line is never closed; this row was skipped and the lines after it were read as rows"
                .to_owned()
        });
        for (i, line) in pending.split('\n').enumerate().skip(1) {
            self.line(sink, line, first + i as u64);
        }
    }

    pub(crate) fn overlong_line(&mut self, sink: &mut Sink<'_>, number: u64, len: u64) {
        if !self.pending.is_empty() {
            self.abandon_open_quote(sink);
        }
        sink.diags.push(Code::LineTooLong, Position::line(sink.file, number), || {
            format!("this line is {len} bytes long, over the limit; it was skipped")
        });
    }

    pub(crate) fn finish(&mut self, sink: &mut Sink<'_>) {
        while !self.pending.is_empty() {
            self.abandon_open_quote(sink);
        }
    }

    /// Any line that does not continue a quoted field and is not a plain row.
    #[inline(never)]
    fn record(&mut self, sink: &mut Sink<'_>, text: &str, number: u64) {
        let delimiter = match self.delimiter {
            Some(d) => d,
            None => {
                if text.trim().is_empty() {
                    blank_line(sink, number);
                    return;
                }
                let d = sniff_delimiter(text);
                self.delimiter = Some(d);
                if d != b',' {
                    sink.diags.push(Code::DelimiterDetected, Position::line(sink.file, number), || {
                        let name = if d == b';' { "semicolons (;)" } else { "tabs" };
                        format!("fields are separated by {name}, as Excel writes in many locales")
                    });
                }
                d
            }
        };
        let mut fields = std::mem::take(&mut self.fields);
        fields.clear();
        let split = split_record(text, delimiter, &mut fields, &mut |column| {
            sink.diags.push(Code::StrayQuote, at(sink.file, number, text, column), || {
                "a quote appears inside a field that does not start with a quote; it was kept as a character".to_owned()
            });
        });
        if let Split::OpenQuote = split {
            if self.pending.is_empty() {
                self.pending_line = number;
            }
            self.pending.clear();
            self.pending.push_str(text);
            self.fields = fields;
            return;
        }
        if fields.iter().all(|f| f.start == f.end) {
            blank_line(sink, number);
        } else if self.layout.is_none() {
            self.layout = Some(self.header_or_data(sink, text, &fields, number));
        } else {
            self.row(sink, text, &fields, number);
        }
        self.fields = fields;
    }

    /// The shape almost every row of a two-column file has: `address,name` or `address`, with
    /// no spaces to trim, no `@` in the name, no leading `'` (see [`value`]), no quote but
    /// around the whole name, and an address in its common form.
    /// Such a row is read without splitting it into fields; any other row returns false and
    /// takes the general path, which finds and reports whatever is unusual about it.
    fn plain_row(&mut self, sink: &mut Sink<'_>, text: &str, delimiter: u8, number: u64) -> bool {
        let Some((email, name)) = plain_parts(text, delimiter) else { return false };
        let at = Position { file: sink.file, line: number, column: Some(1) };
        if !sink.builder.add_common_mailbox(sink.diags, email, at, name) {
            return false;
        }
        self.records += 1;
        true
    }

    /// [`Self::line`] for the complete lines of a chunk, which outlive the call: a plain row
    /// is checked and its slot of the address index starts loading [`LOOKAHEAD`] rows before
    /// it is added, so that the cache misses of a large import overlap. Rows are still added
    /// in order, and all of them before any other line is read; call [`Self::settle`] after
    /// the last line of the chunk.
    #[inline]
    pub(crate) fn line_ahead<'t>(
        &mut self,
        sink: &mut Sink<'_>,
        ahead: &mut Lookahead<'t>,
        text: &'t str,
        number: u64,
    ) {
        if self.pending.is_empty()
            && self.layout == Some(Layout::TwoColumn)
            && let Some(delimiter) = self.delimiter
            && let Some((email, name)) = plain_parts(text, delimiter)
            && let Some(prepared) = sink.builder.prepare_common(email)
        {
            if ahead.rows.len() == LOOKAHEAD
                && let Some(row) = ahead.rows.pop_front()
            {
                self.commit(sink, row);
            }
            ahead.rows.push_back(PlainRow { email, name, number, prepared });
            return;
        }
        self.settle(sink, ahead);
        self.line(sink, text, number);
    }

    /// Adds the rows [`Self::line_ahead`] has prepared.
    pub(crate) fn settle(&mut self, sink: &mut Sink<'_>, ahead: &mut Lookahead<'_>) {
        while let Some(row) = ahead.rows.pop_front() {
            self.commit(sink, row);
        }
    }

    fn commit(&mut self, sink: &mut Sink<'_>, row: PlainRow<'_>) {
        let at = Position { file: sink.file, line: row.number, column: Some(1) };
        sink.builder.commit_common(sink.diags, row.email, row.prepared, at, row.name);
        self.records += 1;
    }

    /// Decides, on the first row, whether it is a header; a data row is then processed.
    fn header_or_data(&mut self, sink: &mut Sink<'_>, text: &str, fields: &[Field], number: u64) -> Layout {
        let cells: Vec<Cow<'_, str>> = fields.iter().map(|f| value(text, f)).collect();
        let roles: Vec<Option<Role>> = cells.iter().map(|c| role_of(c.trim())).collect();
        let looks_like_header = !cells[0].contains('@') && roles.iter().any(Option::is_some);
        if !looks_like_header {
            self.layout = Some(Layout::TwoColumn);
            self.row(sink, text, fields, number);
            return Layout::TwoColumn;
        }
        let find = |role: Role| roles.iter().position(|r| *r == Some(role));
        let width = fields.len();
        let layout = if let Some(group) = find(Role::Group) {
            Layout::Groups { group: Some(group), email: find(Role::Email), member: find(Role::Member), width }
        } else if let (Some(alias), Some(email)) = (find(Role::Alias), find(Role::Email)) {
            Layout::Aliases { alias, email, width }
        } else if let Some(email) = find(Role::Email).or_else(|| find(Role::Alias)) {
            Layout::Recipients { email, name: find(Role::Name), width }
        } else {
            Layout::Unusable
        };
        let used: Vec<usize> = match &layout {
            Layout::Groups { group, email, member, .. } => [*group, *email, *member].into_iter().flatten().collect(),
            Layout::Aliases { alias, email, .. } => vec![*alias, *email],
            Layout::Recipients { email, name, .. } => [Some(*email), *name].into_iter().flatten().collect(),
            Layout::TwoColumn | Layout::Unusable => Vec::new(),
        };
        let kind = match &layout {
            Layout::Groups { .. } => "groups (group, email, member)",
            Layout::Aliases { .. } => "aliases (alias, email)",
            _ => "recipients (email, name)",
        };
        let position = Position::line(sink.file, number);
        sink.diags.push(Code::HeaderRow, position, || match layout {
            Layout::Unusable => "the first row is a header".to_owned(),
            _ => format!("the first row is a header; rows are read as {kind}"),
        });
        if layout == Layout::Unusable {
            sink.diags.push(Code::NoAddressColumn, position, || {
                format!(
                    "the header row `{}` has no address column; name one `email`. No row of this file was read",
                    shorten(text)
                )
            });
            return layout;
        }
        for (i, cell) in cells.iter().enumerate() {
            if !used.contains(&i) && !cell.trim().is_empty() {
                sink.diags.push(Code::IgnoredColumn, at(sink.file, number, text, fields[i].start), || {
                    format!("the column `{}` is not used by dirgate and was ignored", shorten(cell.trim()))
                });
            }
        }
        layout
    }

    fn row(&mut self, sink: &mut Sink<'_>, text: &str, fields: &[Field], number: u64) {
        let Some(layout) = self.layout.clone() else { return };
        let file = sink.file;
        let (width, columns) = match layout {
            Layout::TwoColumn => (2, [Some(0), Some(1), None]),
            Layout::Recipients { email, name, width } => (width, [Some(email), name, None]),
            Layout::Aliases { alias, email, width } => (width, [Some(alias), Some(email), None]),
            Layout::Groups { group, email, member, width } => (width, [group, email, member]),
            Layout::Unusable => return,
        };
        self.records += 1;
        if let Some(extra) =
            fields.iter().skip(width).find(|f| f.start != f.end && !text[f.start..f.end].trim().is_empty())
        {
            sink.diags.push(Code::TooManyFields, at(file, number, text, extra.start), || {
                format!(
                    "this row has {} fields but only {width} columns are expected; is there a second person or an unquoted delimiter in a name? The row was skipped",
                    fields.len()
                )
            });
            return;
        }
        // The (up to three) cells this layout reads, unescaped, with their positions.
        let cells = columns.map(|column| {
            let f = fields.get(column?)?;
            let text_value = value(text, f);
            (!text_value.trim().is_empty()).then(|| (text_value, at(file, number, text, f.start)))
        });
        let [first, second, third] = &cells;
        match layout {
            Layout::TwoColumn | Layout::Recipients { .. } => {
                let Some(email) = located(first) else {
                    missing_address(sink, number, "an address");
                    return;
                };
                let name = match located(second) {
                    Some(name) => {
                        let trimmed = name.text.trim();
                        if trimmed.contains('@') && is_other_address(trimmed, email.text) {
                            sink.diags.push(Code::MultipleAddresses, name.at, || {
                                format!(
                                    "this row holds two addresses, `{}` and `{trimmed}`; put each person on a row of their own. The row was skipped",
                                    email.text.trim()
                                )
                            });
                            return;
                        }
                        crate::clean_name(sink.diags, name.text, name.at)
                    }
                    None => None,
                };
                sink.builder
                    .add_mailbox(sink.diags, MailboxDraft { dn: None, name, primary: email, aliases: Vec::new() });
            }
            Layout::Aliases { .. } => match (located(first), located(second)) {
                (Some(alias), Some(target)) => sink.builder.add_alias(sink.diags, alias, target),
                (None, _) => missing_address(sink, number, "an alias address"),
                (_, None) => missing_address(sink, number, "the address the alias delivers to"),
            },
            Layout::Groups { .. } => {
                let address = located(second);
                let name = match (located(first), &address) {
                    (Some(name), _) => name.text.trim().to_owned(),
                    (None, Some(address)) => address.text.trim().to_owned(),
                    (None, None) => {
                        missing_address(sink, number, "a group name or address");
                        return;
                    }
                };
                let members = located(third).into_iter().collect();
                sink.builder.add_group(
                    sink.diags,
                    GroupDraft { dn: None, name, address, aliases: Vec::new(), members, merge_silently: true },
                );
            }
            Layout::Unusable => {}
        }
    }
}

fn is_other_address(candidate: &str, email: &str) -> bool {
    match (crate::address::parse_address(candidate), crate::address::parse_address(email.trim())) {
        (Ok(a), Ok(b)) => a.key != b.key,
        (Ok(_), Err(_)) => true,
        _ => false,
    }
}

fn missing_address(sink: &mut Sink<'_>, number: u64, what: &str) {
    sink.diags.push(Code::MissingAddress, Position::line(sink.file, number), || {
        format!("this row has no {what}; the row was skipped")
    });
}

fn blank_line(sink: &mut Sink<'_>, number: u64) {
    sink.diags
        .push(Code::BlankLine, Position::line(sink.file, number), || "this line is empty and was skipped".to_owned());
}

fn at(file: u32, line: u64, text: &str, byte: usize) -> Position {
    let before = &text[..byte];
    let column = if before.is_ascii() { byte } else { before.chars().count() };
    Position { file, line, column: Some(column as u32 + 1) }
}

/// The most frequent of `,` `;` TAB outside quotes on the first record.
fn sniff_delimiter(text: &str) -> u8 {
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for b in text.bytes() {
        match b {
            b'"' => quoted = !quoted,
            b',' if !quoted => counts[0] += 1,
            b';' if !quoted => counts[1] += 1,
            b'\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let delimiters = [b',', b';', b'\t'];
    let mut best = 0;
    for i in 1..3 {
        if counts[i] > counts[best] {
            best = i;
        }
    }
    delimiters[best]
}

#[derive(Clone, Copy, Debug)]
struct QuoteState {
    in_quotes: bool,
    field_start: bool,
}

/// Follows quoting through `text` the way [`split_record`] does, to learn whether a quoted field
/// is still open at its end.
fn scan_quotes(text: &[u8], delimiter: u8, mut state: QuoteState) -> QuoteState {
    let mut i = 0;
    while i < text.len() {
        let b = text[i];
        if state.in_quotes {
            if b == b'"' {
                if text.get(i + 1) == Some(&b'"') {
                    i += 2;
                    continue;
                }
                state = QuoteState { in_quotes: false, field_start: false };
            }
        } else if b == delimiter {
            state.field_start = true;
        } else if b == b'"' && state.field_start {
            state = QuoteState { in_quotes: true, field_start: false };
        } else if b != b' ' {
            state.field_start = false;
        }
        i += 1;
    }
    state
}

/// Splits one record into fields following RFC 4180, leniently: a quote inside an unquoted
/// field, or text after a closing quote, is kept as a character and reported.
fn split_record(text: &str, delimiter: u8, fields: &mut Vec<Field>, stray: &mut dyn FnMut(usize)) -> Split {
    let bytes = text.as_bytes();
    let mut i = 0;
    loop {
        // Skip spaces before an opening quote, so that `a@example.com, "Smith, J"` works.
        let mut start = i;
        while start < bytes.len() && bytes[start] == b' ' {
            start += 1;
        }
        if start < bytes.len() && bytes[start] == b'"' {
            let mut j = start + 1;
            let mut escaped = false;
            loop {
                match memchr::memchr(b'"', &bytes[j..]) {
                    None => return Split::OpenQuote,
                    Some(q) => {
                        j += q;
                        if bytes.get(j + 1) == Some(&b'"') {
                            escaped = true;
                            j += 2;
                        } else {
                            break;
                        }
                    }
                }
            }
            // The field's value is between the quotes; anything after the closing quote up
            // to the delimiter is stray.
            let end = j;
            let mut k = j + 1;
            let mut reported = false;
            while k < bytes.len() && bytes[k] != delimiter {
                if bytes[k] != b' ' && !reported {
                    stray(k);
                    reported = true;
                }
                k += 1;
            }
            let field_end = if reported { k } else { end };
            fields.push(Field { start: start + 1, end: field_end, escaped });
            if k >= bytes.len() {
                return Split::Complete;
            }
            i = k + 1;
        } else {
            let end = memchr::memchr(delimiter, &bytes[i..]).map_or(bytes.len(), |d| i + d);
            if let Some(q) = memchr::memchr(b'"', &bytes[i..end]) {
                stray(i + q);
            }
            fields.push(Field { start: i, end, escaped: false });
            if end >= bytes.len() {
                return Split::Complete;
            }
            i = end + 1;
        }
    }
}

fn raw_value<'a>(text: &'a str, f: &Field) -> &'a str {
    // Field boundaries are always on ASCII delimiters or quotes, so they are char boundaries.
    &text[f.start..f.end]
}

fn located<'a>(cell: &'a Option<(Cow<'_, str>, Position)>) -> Option<Located<'a>> {
    cell.as_ref().map(|(text, at)| Located { text, at: *at })
}

/// A field's value: `""` escapes undone, and the `'` that spreadsheet-safe exports (ours among
/// them) put before a leading `=`, `+`, `-`, `@`, TAB or CR removed, so that exports re-import
/// losslessly.
/// Whether a name cell can be kept as it is: no quote, `@` or second delimiter (those rows
/// take the general path), no spaces to trim and no leading `'` (see [`value`]). One
/// branch-free pass, since almost every row has a name.
fn plain_name(name: &str, delimiter: u8) -> bool {
    let bytes = name.as_bytes();
    let special = bytes.iter().fold(false, |found, &b| found | (b == b'"') | (b == b'@') | (b == delimiter));
    let untrimmed = |c: Option<char>| c.is_some_and(char::is_whitespace);
    !special && !name.starts_with('\'') && !untrimmed(name.chars().next()) && !untrimmed(name.chars().next_back())
}

fn value<'a>(text: &'a str, f: &Field) -> Cow<'a, str> {
    let raw = raw_value(text, f);
    let raw = if raw.starts_with('\'') && is_formula(raw) { &raw[1..] } else { raw };
    if f.escaped { unescape(raw) } else { Cow::Borrowed(raw) }
}

/// Whether a spreadsheet would evaluate `cell`, or `cell` is such a cell behind guards: after
/// any number of `'`, it begins with `=`, `+`, `-`, `@`, TAB or CR.
fn is_formula(cell: &str) -> bool {
    matches!(cell.trim_start_matches('\'').as_bytes().first(), Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r'))
}

/// A cell as our exports write it: prefixed with `'` when a spreadsheet would evaluate it (or
/// when it is such a cell behind guards already, so that a value that really begins with `'=`
/// survives too). Reading the export strips exactly that one `'`, so the round trip is lossless.
pub fn guard_formula(cell: &str) -> Cow<'_, str> {
    if is_formula(cell) { Cow::Owned(format!("'{cell}")) } else { Cow::Borrowed(cell) }
}

fn unescape(raw: &str) -> Cow<'_, str> {
    if raw.contains("\"\"") { Cow::Owned(raw.replace("\"\"", "\"")) } else { Cow::Borrowed(raw) }
}

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

    fn split(text: &str, d: u8) -> (Vec<String>, usize, bool) {
        let mut fields = Vec::new();
        let mut strays = 0;
        let open = matches!(split_record(text, d, &mut fields, &mut |_| strays += 1), Split::OpenQuote);
        (fields.iter().map(|f| value(text, f).into_owned()).collect(), strays, open)
    }

    #[test]
    fn the_formula_guard_is_undone_exactly_by_the_reader() {
        let guarded = ["=1+1", "+1", "-sales@example.com", "@SUM(A1)", "\tx", "\rx", "'=already", "''-twice"];
        for cell in guarded {
            assert_eq!(guard_formula(cell), format!("'{cell}"));
        }
        for cell in ["", "john@example.com", "'quoted'", "Smith, John", "a=b"] {
            assert_eq!(guard_formula(cell), cell);
        }
        for cell in guarded.iter().chain(&["'quoted'", "plain"]) {
            let line = guard_formula(cell).into_owned();
            let mut fields = Vec::new();
            split_record(&line, b',', &mut fields, &mut |_| {});
            assert_eq!(value(&line, &fields[0]), *cell, "{line:?}");
        }
    }

    #[test]
    fn splits_quoted_fields() {
        assert_eq!(split(r#"a@x.com,"Smith, ""J""""#, b','), (vec!["a@x.com".into(), "Smith, \"J\"".into()], 0, false));
        assert_eq!(split("a@x.com;Ann", b';'), (vec!["a@x.com".into(), "Ann".into()], 0, false));
        assert_eq!(split("a@x.com,", b','), (vec!["a@x.com".into(), "".into()], 0, false));
        assert!(split("a@x.com,\"open", b',').2);
        assert_eq!(split("jo\"hn@x.com,A", b',').1, 1);
        assert_eq!(split("\"A\" B,c", b',').1, 1);
    }

    #[test]
    fn sniffs_the_most_frequent_delimiter() {
        assert_eq!(sniff_delimiter("email;name"), b';');
        assert_eq!(sniff_delimiter("a@x.com\tJohn"), b'\t');
        assert_eq!(sniff_delimiter("\"Smith; J\",a@x.com"), b',');
        assert_eq!(sniff_delimiter("a@x.com"), b',');
    }
}
