//! # dirgate-core
//!
//! The one validation core of dirgate. It reads user-directory files (LDIF and CSV) the way an
//! email security gateway needs them: it finds every valid recipient, alias and group, checks
//! every address, and explains every problem with a line and column. The same code runs in the
//! browser (compiled to wasm), in the server and in the `dirgate check` command.
//!
//! The core does no I/O. The caller feeds byte chunks of any size, so that a 1 GB file is
//! validated with memory bounded by the number of unique addresses, never by the file's size:
//!
//! ```
//! use dirgate_core::{Options, Validator};
//!
//! let mut validator = Validator::new(Options::default());
//! validator.begin_file("users.csv");
//! validator.feed(b"john.smith@Example.com,John Smith\n");
//! validator.feed(b"jane@example.com\n");
//! validator.end_file();
//! let outcome = validator.finish();
//!
//! assert!(outcome.report.valid);
//! assert_eq!(outcome.report.counts.recipients, 2);
//! assert_eq!(outcome.directory.recipients().next().unwrap().address, "john.smith@example.com");
//! ```
//!
//! Parsing never fails: problems are [`Diagnostic`]s in the [`Report`], and the [`Directory`]
//! holds every record that passed. See `RULES.md` beside this crate for the precise rules.

#![deny(missing_docs)]

pub mod address;
mod csv;
mod diagnostic;
mod directory;
mod encoding;
mod ldif;
mod lines;
mod model;
mod slots;

use std::collections::BTreeMap;
use std::fmt;

pub use csv::guard_formula;
pub use diagnostic::{Code, Diagnostic, Position, Severity};
pub use directory::{Counts, DomainCounts};
pub use encoding::Encoding;
pub use model::{Alias, Directory, Group, Members, Recipient};

use diagnostic::Diagnostics;
use directory::{DirectoryBuilder, GroupDraft, Located, MailboxDraft, Sizes};
use encoding::{ByteDecoder, LineEncoding};
use lines::{Line, LineSplitter};

/// A file format, as detected or as forced by the caller.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Format {
    /// LDIF, RFC 2849.
    Ldif,
    /// Comma-, semicolon- or tab-separated values.
    #[default]
    Csv,
    /// An import whose files are not all of one format.
    Mixed,
}

impl Format {
    /// The lower-case name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Ldif => "ldif",
            Format::Csv => "csv",
            Format::Mixed => "mixed",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which format to read files as.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum FormatChoice {
    /// Decide per file from its first meaningful line.
    #[default]
    Auto,
    /// Read every file as LDIF.
    Ldif,
    /// Read every file as CSV.
    Csv,
}

/// How to validate an import.
#[derive(Clone, Debug)]
pub struct Options {
    /// The format of the files.
    pub format: FormatChoice,
    /// The tenant's managed domains. When empty, every domain is accepted.
    pub managed_domains: Vec<String>,
    /// How many diagnostics of one code are kept in the report (all are counted).
    pub diagnostic_cap: usize,
    /// The longest line (after LDIF unfolding) that is read, in bytes.
    pub max_line_bytes: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            format: FormatChoice::Auto,
            managed_domains: Vec::new(),
            diagnostic_cap: 1000,
            max_line_bytes: 1 << 20,
        }
    }
}

/// What was learned about one file of an import.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct FileReport {
    /// The name the caller gave.
    pub name: String,
    /// The format it was read as.
    pub format: Format,
    /// The encoding it was read with.
    pub encoding: Encoding,
    /// Whether it began with a byte-order mark.
    pub bom: bool,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its physical lines.
    pub lines: u64,
    /// Its records (LDIF entries or CSV data rows), valid or not.
    pub records: u64,
}

/// The result of validating an import: the public shape of `dirgate check --json`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Report {
    /// `ldif`, `csv`, or `mixed` when the files differ.
    pub format: Format,
    /// The first file's encoding.
    pub encoding: Encoding,
    /// Whether the first file had a byte-order mark.
    pub bom: bool,
    /// False exactly when there is an error diagnostic.
    pub valid: bool,
    /// Unique records after normalisation.
    pub counts: Counts,
    /// Records per domain, sorted by domain.
    pub domains: Vec<DomainCounts>,
    /// The kept diagnostics (capped per code), sorted by file, line and column.
    pub diagnostics: Vec<Diagnostic>,
    /// Every diagnostic counted by code, including those beyond the cap.
    pub diagnostic_totals: BTreeMap<String, u64>,
    /// One entry per file, in import order.
    pub files: Vec<FileReport>,
}

/// A report and the directory it describes.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Diagnostics and counts.
    pub report: Report,
    /// Every record that passed validation. With errors in the report, importing this is
    /// "import the valid records, skip the invalid ones".
    pub directory: Directory,
}

/// How far validation has got, for progress bars.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Bytes fed so far, over all files.
    pub bytes: u64,
    /// Records accepted so far.
    pub records: u64,
}

/// Where the parsers put what they find.
pub(crate) struct Sink<'a> {
    pub diags: &'a mut Diagnostics,
    pub builder: &'a mut DirectoryBuilder,
    pub file: u32,
}

enum Parser {
    /// The format is not known yet: blank and comment lines seen so far are held back.
    Undecided(Vec<(u64, String)>),
    Ldif(ldif::LdifParser),
    Csv(csv::CsvParser),
    /// Binary content was found; the rest of the file is ignored.
    Binary {
        records: u64,
        format: Format,
    },
}

/// How many leading blank or comment lines may be held back before CSV is assumed.
const MAX_UNDECIDED_LINES: usize = 1024;

struct FileState {
    index: u32,
    decoder: ByteDecoder,
    splitter: LineSplitter,
    parser: Parser,
    bytes: u64,
    tally: EncodingTally,
    scratch: Vec<u8>,
    /// The file's size as the caller announced it, until its first bytes have been used to
    /// size the directory for the rest; and how much the directory held when the file began.
    expected: Option<u64>,
    start: Sizes,
}

/// The first bytes of a file of known size whose records are projected over the rest.
const SIZE_SAMPLE: u64 = 256 * 1024;
/// The fewest bytes one address can take in any format (`a@b.c` and a line break), which
/// bounds what a projection may reserve.
const MIN_ADDRESS_BYTES: u64 = 6;
/// The most index entries a projection reserves: past this the tables grow as they fill.
const MAX_RESERVED_ADDRESSES: u64 = 1 << 22;

/// The streaming validator: `begin_file`, `feed` chunks, `end_file`, repeat, then `finish`.
pub struct Validator {
    options: Options,
    diags: Diagnostics,
    builder: DirectoryBuilder,
    files: Vec<FileReport>,
    current: Option<FileState>,
    bytes: u64,
}

impl Validator {
    /// A validator for one import.
    pub fn new(options: Options) -> Validator {
        Validator {
            diags: Diagnostics::new(options.diagnostic_cap),
            builder: DirectoryBuilder::new(&options.managed_domains),
            options,
            files: Vec::new(),
            current: None,
            bytes: 0,
        }
    }

    /// Starts the next file of the import (ending the previous one, if open).
    pub fn begin_file(&mut self, name: impl Into<String>) {
        self.end_file();
        let index = self.files.len() as u32;
        self.files.push(FileReport {
            name: name.into(),
            format: match self.options.format {
                FormatChoice::Ldif => Format::Ldif,
                _ => Format::Csv,
            },
            encoding: Encoding::Utf8,
            bom: false,
            bytes: 0,
            lines: 0,
            records: 0,
        });
        let parser = match self.options.format {
            FormatChoice::Auto => Parser::Undecided(Vec::new()),
            FormatChoice::Ldif => Parser::Ldif(ldif::LdifParser::new(self.options.max_line_bytes)),
            FormatChoice::Csv => Parser::Csv(csv::CsvParser::new(self.options.max_line_bytes)),
        };
        self.current = Some(FileState {
            index,
            decoder: ByteDecoder::new(),
            splitter: LineSplitter::new(self.options.max_line_bytes),
            parser,
            bytes: 0,
            tally: EncodingTally { saw_utf8: false, windows_1252_lines: Vec::new(), windows_1252_total: 0 },
            scratch: Vec::new(),
            expected: None,
            start: self.builder.sizes(),
        });
    }

    /// Announces the current file's size in bytes, when the caller knows it (`File.size` in
    /// the browser, the file's metadata on the command line). Once the first
    /// 256 KiB have been read, the records they held are projected over the rest of the file
    /// and the address index and the directory's rows are sized for them once, instead of
    /// being grown by doubling as they fill. Only a hint: a wrong size costs at most some
    /// memory or some growth, never a different result.
    pub fn expect_size(&mut self, bytes: u64) {
        if let Some(file) = self.current.as_mut() {
            file.expected = Some(bytes).filter(|_| file.bytes < SIZE_SAMPLE);
        }
    }

    /// Feeds the next chunk of the current file. Chunks may split lines and characters anywhere.
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.current.is_none() {
            self.begin_file(format!("file{}", self.files.len() + 1));
        }
        self.bytes += chunk.len() as u64;
        let Some(file) = self.current.as_ref() else { return };
        if file.expected.is_none() {
            return self.feed_decoder(chunk, false);
        }
        // Read the sample alone, project it, then read the rest.
        let sample = usize::try_from(SIZE_SAMPLE - file.bytes).map_or(chunk.len(), |n| n.min(chunk.len()));
        self.feed_decoder(&chunk[..sample], false);
        self.project_file_size();
        if sample < chunk.len() {
            self.feed_decoder(&chunk[sample..], false);
        }
    }

    /// Once a file of announced size has been sampled, reserves what the rest should add.
    fn project_file_size(&mut self) {
        let Some(file) = self.current.as_mut() else { return };
        let Some(expected) = file.expected.filter(|_| file.bytes >= SIZE_SAMPLE) else { return };
        file.expected = None;
        let remaining = expected.saturating_sub(file.bytes);
        let now = self.builder.sizes();
        let start = file.start;
        // What the sample added, scaled to the remaining bytes with a sixteenth to spare.
        let project = |now: usize, then: usize, cap: u64| {
            let added = now.saturating_sub(then) as u64;
            let more =
                u64::try_from(u128::from(added) * u128::from(remaining) / u128::from(file.bytes)).unwrap_or(u64::MAX);
            usize::try_from(more.saturating_add(more / 16).min(cap)).unwrap_or(usize::MAX)
        };
        let cap = (remaining / MIN_ADDRESS_BYTES).min(MAX_RESERVED_ADDRESSES);
        self.builder.reserve(Sizes {
            addresses: project(now.addresses, start.addresses, cap),
            recipients: project(now.recipients, start.recipients, cap),
            aliases: project(now.aliases, start.aliases, cap),
        });
    }

    fn feed_decoder(&mut self, chunk: &[u8], last: bool) {
        let Validator { options, diags, builder, current, .. } = self;
        let Some(file) = current.as_mut() else { return };
        file.bytes += chunk.len() as u64;
        let FileState { index, decoder, splitter, parser, tally, scratch, .. } = file;
        let decoded = decoder.decode(chunk, last, scratch);
        // Checks made once per chunk spare every line inside it its own: the UTF-8 check, and
        // the binary check when the chunk holds no control character at all.
        let chunk_text = match std::str::from_utf8(decoded) {
            Ok(text) => text,
            // Up to the first invalid byte, or the character cut by the chunk's end.
            Err(error) => std::str::from_utf8(&decoded[..error.valid_up_to()]).unwrap_or(""),
        };
        let chunk_clean = !has_binary_bytes(decoded);
        // Until the first non-ASCII line, every line is tested for ASCII: test the chunk once.
        let chunk_ascii = !tally.saw_utf8 && chunk_text.is_ascii();
        let mut sink = Sink { diags, builder, file: *index };
        let transcoded = decoder.transcodes();
        let mut ctx = LineContext { options, transcoded, chunk_text, chunk_clean, chunk_ascii };
        // First the line that completes one carried over from the last chunk, line by line.
        let first =
            if splitter.carries() { memchr::memchr(b'\n', decoded).map_or(decoded.len(), |i| i + 1) } else { 0 };
        splitter.feed(&decoded[..first], &mut |line| ctx.line(&mut sink, parser, tally, line));
        // Then the complete lines of a clean, valid chunk go straight to the parser: for them,
        // everything `LineContext::line` checks is already known (no binary byte, no new
        // encoding evidence, a format already chosen). A line that is too long, and the
        // unfinished last line, take the line-by-line path again.
        let mut rest = first;
        if chunk_clean && !transcoded && (tally.saw_utf8 || chunk_ascii) && first <= chunk_text.len() {
            let ready = matches!(parser, Parser::Csv(_) | Parser::Ldif(_));
            let mut ahead = csv::Lookahead::default();
            rest += splitter.feed_complete(&chunk_text[first..], ready, |text, number| match parser {
                Parser::Csv(p) => p.line_ahead(&mut sink, &mut ahead, text, number),
                Parser::Ldif(p) => p.line(&mut sink, text, number),
                _ => {}
            });
            if let Parser::Csv(p) = parser {
                p.settle(&mut sink, &mut ahead);
            }
        }
        ctx.chunk_text = chunk_text.get(rest..).unwrap_or("");
        splitter.feed(&decoded[rest..], &mut |line| ctx.line(&mut sink, parser, tally, line));
        if last {
            ctx.chunk_text = "";
            ctx.chunk_ascii = false;
            splitter.finish(&mut |line| ctx.line(&mut sink, parser, tally, line));
        }
    }

    /// Ends the current file: flushes its last line and records, and reports its encoding.
    pub fn end_file(&mut self) {
        if self.current.is_none() {
            return;
        }
        self.feed_decoder(&[], true);
        let Some(mut file) = self.current.take() else { return };
        let mut sink = Sink { diags: &mut self.diags, builder: &mut self.builder, file: file.index };
        let parser = std::mem::replace(&mut file.parser, Parser::Binary { records: 0, format: Format::Csv });
        let parser = match parser {
            Parser::Undecided(held) => {
                // Only blank lines and comments: read them as the fallback format, CSV.
                let mut csv = csv::CsvParser::new(self.options.max_line_bytes);
                for (number, text) in held {
                    csv.line(&mut sink, &text, number);
                }
                Parser::Csv(csv)
            }
            other => other,
        };
        let (format, records) = match parser {
            Parser::Ldif(mut p) => {
                p.finish(&mut sink);
                (Format::Ldif, p.records)
            }
            Parser::Csv(mut p) => {
                p.finish(&mut sink);
                (Format::Csv, p.records)
            }
            Parser::Binary { records, format } => (format, records),
            Parser::Undecided(_) => unreachable!("resolved above"),
        };
        let encoding = match file.decoder.bom() {
            Some(bom) => bom,
            None if file.tally.windows_1252_total > 0 && !file.tally.saw_utf8 => Encoding::Windows1252,
            None => Encoding::Utf8,
        };
        let line_one = Position::line(file.index, 1);
        if let Some(bom) = file.decoder.bom() {
            self.diags.push(Code::EncodingDetected, line_one, || {
                format!("the file starts with a byte-order mark and was read as {}", bom.as_str().to_uppercase())
            });
        } else if encoding == Encoding::Windows1252 {
            self.diags.push(Code::EncodingDetected, line_one, || {
                "the file is not UTF-8 and was read as Windows-1252 (ANSI); save it as UTF-8 to be sure of accented names"
                    .to_owned()
            });
        } else if file.tally.windows_1252_total > 0 {
            for line in &file.tally.windows_1252_lines {
                self.diags.push(Code::MixedEncoding, Position::line(file.index, *line), || {
                    "this line is not UTF-8 although the rest of the file is; it was read as Windows-1252".to_owned()
                });
            }
            let unstored = file.tally.windows_1252_total - file.tally.windows_1252_lines.len() as u64;
            self.diags.count_only(Code::MixedEncoding, unstored);
        }
        if records == 0 {
            self.diags.push(Code::EmptyFile, line_one, || {
                "the file holds no records: no LDIF entry and no CSV row with an address".to_owned()
            });
        }
        let report = &mut self.files[file.index as usize];
        report.format = format;
        report.encoding = encoding;
        report.bom = file.decoder.bom().is_some();
        report.bytes = file.bytes;
        report.lines = file.splitter.lines();
        report.records = records;
    }

    /// Adds an already normalised directory, as uploaded by the browser or the sync agent, as
    /// one more "file" of the import. Every record goes through the same rules as a parsed one;
    /// diagnostics point at the record's 1-based position (recipients, then aliases, then groups).
    pub fn add_directory(&mut self, name: impl Into<String>, directory: &Directory) {
        self.end_file();
        let index = self.files.len() as u32;
        let (recipients, aliases, groups) = (directory.recipients(), directory.aliases(), directory.groups());
        let total = recipients.len() + aliases.len() + groups.len();
        self.files.push(FileReport {
            name: name.into(),
            format: Format::Csv,
            encoding: Encoding::Utf8,
            bom: false,
            bytes: 0,
            lines: total as u64,
            records: total as u64,
        });
        let diags = &mut self.diags;
        let builder = &mut self.builder;
        let max = self.options.max_line_bytes;
        let at = |n: usize| Position::line(index, n as u64 + 1);
        let mut n = 0;
        for r in recipients {
            let position = at(n);
            n += 1;
            if too_long(diags, position, max, [r.address].into_iter().chain(r.name)) {
                continue;
            }
            let primary = Located { text: r.address, at: position };
            let name = r.name.and_then(|name| clean_name(diags, name, position));
            builder.add_mailbox(diags, MailboxDraft { dn: None, name, primary, aliases: Vec::new() });
        }
        for a in aliases {
            let position = at(n);
            n += 1;
            if too_long(diags, position, max, [a.address, a.target]) {
                continue;
            }
            builder.add_alias(
                diags,
                Located { text: a.address, at: position },
                Located { text: a.target, at: position },
            );
        }
        for g in groups {
            let position = at(n);
            n += 1;
            let fields = [g.name].into_iter().chain(g.dn).chain(g.address).chain(g.members.iter());
            if too_long(diags, position, max, fields) {
                continue;
            }
            let draft = GroupDraft {
                dn: g.dn,
                name: clean_name(diags, g.name, position).unwrap_or_default(),
                address: g.address.map(|text| Located { text, at: position }),
                aliases: Vec::new(),
                members: g.members.iter().map(|text| Located { text, at: position }).collect(),
                merge_silently: false,
            };
            builder.add_group(diags, draft);
        }
        if total == 0 {
            diags.push(Code::EmptyFile, Position::line(index, 1), || "the directory holds no records".to_owned());
        }
    }

    /// How far validation has got.
    pub fn progress(&self) -> Progress {
        Progress { bytes: self.bytes, records: self.builder.record_count() }
    }

    /// Ends the import and returns the report and the directory.
    pub fn finish(mut self) -> Outcome {
        self.end_file();
        if self.files.is_empty() {
            self.files.push(FileReport {
                name: String::new(),
                format: Format::Csv,
                encoding: Encoding::Utf8,
                bom: false,
                bytes: 0,
                lines: 0,
                records: 0,
            });
            self.diags.push(Code::EmptyFile, Position::line(0, 1), || "the import holds no files".to_owned());
        }
        let (directory, counts, domains) = self.builder.finish(&mut self.diags);
        let valid = !self.diags.has_errors();
        let names: Vec<String> = self.files.iter().map(|f| f.name.clone()).collect();
        let (diagnostics, diagnostic_totals) = self.diags.into_parts(&names);
        let first = &self.files[0];
        let format = if self.files.iter().all(|f| f.format == first.format) { first.format } else { Format::Mixed };
        let report = Report {
            format,
            encoding: first.encoding,
            bom: first.bom,
            valid,
            counts,
            domains,
            diagnostics,
            diagnostic_totals,
            files: self.files,
        };
        Outcome { report, directory }
    }
}

/// A record of an uploaded directory with a value longer than a file's line may be: it is left
/// out with the error an over-long line gets, so that JSON cannot carry what a file cannot.
fn too_long<'a>(diags: &mut Diagnostics, at: Position, max: usize, fields: impl IntoIterator<Item = &'a str>) -> bool {
    let Some(len) = fields.into_iter().map(str::len).find(|&len| len > max) else { return false };
    diags.push(Code::LineTooLong, at, || {
        format!("this record has a value {len} bytes long, over the limit of {max}; the record was left out")
    });
    true
}

/// A name as it is stored, from a CSV cell or an uploaded directory alike: trimmed (with a
/// warning), and with CRLF line breaks as LF, as a quoted CSV cell gives them. This keeps an
/// export and its re-import identical whichever way the name first arrived.
pub(crate) fn clean_name(diags: &mut Diagnostics, name: &str, at: Position) -> Option<String> {
    let trimmed = name.trim();
    if trimmed.len() != name.len() && !trimmed.is_empty() {
        diags.push(Code::SurroundingWhitespace, at, || {
            format!("the name `{trimmed}` has spaces around it; they were removed")
        });
    }
    (!trimmed.is_empty()).then(|| trimmed.replace("\r\n", "\n"))
}

/// Validates one file held in memory.
pub fn validate_bytes(name: &str, bytes: &[u8], options: Options) -> Outcome {
    let mut validator = Validator::new(options);
    validator.begin_file(name);
    validator.expect_size(bytes.len() as u64);
    validator.feed(bytes);
    validator.finish()
}

struct EncodingTally {
    saw_utf8: bool,
    windows_1252_lines: Vec<u64>,
    windows_1252_total: u64,
}

struct LineContext<'a> {
    options: &'a Options,
    transcoded: bool,
    /// The valid UTF-8 prefix of the decoded chunk the lines come from.
    chunk_text: &'a str,
    /// Whether that chunk holds no NUL and no control character but TAB, CR, LF and FF.
    chunk_clean: bool,
    /// Whether that prefix is all ASCII (only worked out while no UTF-8 line has been seen).
    chunk_ascii: bool,
}

impl LineContext<'_> {
    fn line(&mut self, sink: &mut Sink<'_>, parser: &mut Parser, enc: &mut EncodingTally, line: Line<'_>) {
        if let Parser::Binary { .. } = parser {
            return;
        }
        if let Some(len) = line.overlong {
            match parser {
                Parser::Ldif(p) => p.overlong_line(sink, line.number, len),
                Parser::Csv(p) => p.overlong_line(sink, line.number, len),
                Parser::Undecided(_) => {
                    self.decide(sink, parser, false);
                    if let Parser::Csv(p) = parser {
                        p.overlong_line(sink, line.number, len);
                    }
                }
                Parser::Binary { .. } => {}
            }
            return;
        }
        let in_chunk = line.offset.and_then(|start| self.chunk_text.get(start..start + line.bytes.len()));
        if !(self.chunk_clean && line.offset.is_some()) && looks_binary(line.bytes) {
            let (records, format) = match parser {
                Parser::Ldif(p) => (p.records, Format::Ldif),
                Parser::Csv(p) => (p.records, Format::Csv),
                _ => (0, Format::Csv),
            };
            sink.diags.push(Code::BinaryFile, Position::line(sink.file, line.number), || {
                "this is binary data, not LDIF or CSV text; the rest of the file was ignored. Export the directory as LDIF or CSV".to_owned()
            });
            *parser = Parser::Binary { records, format };
            return;
        }
        let (text, kind) = if let Some(text) = in_chunk {
            let utf8 = !enc.saw_utf8 && !self.chunk_ascii && !text.is_ascii();
            let kind = if utf8 { LineEncoding::Utf8 } else { LineEncoding::Ascii };
            (std::borrow::Cow::Borrowed(text), kind)
        } else if self.transcoded {
            // Transcoded UTF-16 is always valid UTF-8.
            (std::borrow::Cow::Borrowed(std::str::from_utf8(line.bytes).unwrap_or("")), LineEncoding::Utf8)
        } else {
            encoding::decode_line(line.bytes, !enc.saw_utf8)
        };
        match kind {
            LineEncoding::Utf8 => enc.saw_utf8 = true,
            LineEncoding::Windows1252 => {
                enc.windows_1252_total += 1;
                if enc.windows_1252_lines.len() < self.options.diagnostic_cap {
                    enc.windows_1252_lines.push(line.number);
                }
            }
            LineEncoding::Ascii => {}
        }
        match parser {
            Parser::Ldif(p) => p.line(sink, &text, line.number),
            Parser::Csv(p) => p.line(sink, &text, line.number),
            Parser::Undecided(held) => {
                let trimmed = text.trim_start_matches('\u{feff}');
                if (trimmed.trim().is_empty() || trimmed.starts_with('#')) && held.len() < MAX_UNDECIDED_LINES {
                    held.push((line.number, trimmed.to_owned()));
                    return;
                }
                let is_ldif = starts_with_ignore_case(trimmed, "dn:") || starts_with_ignore_case(trimmed, "version:");
                self.decide(sink, parser, is_ldif);
                self.parse(sink, parser, trimmed, line.number);
            }
            Parser::Binary { .. } => {}
        }
    }

    /// Leaves the undecided state and replays the held-back lines into the chosen parser.
    fn decide(&mut self, sink: &mut Sink<'_>, parser: &mut Parser, is_ldif: bool) {
        let Parser::Undecided(held) = parser else { return };
        let held = std::mem::take(held);
        *parser = if is_ldif {
            Parser::Ldif(ldif::LdifParser::new(self.options.max_line_bytes))
        } else {
            Parser::Csv(csv::CsvParser::new(self.options.max_line_bytes))
        };
        for (number, text) in held {
            self.parse(sink, parser, &text, number);
        }
    }

    fn parse(&mut self, sink: &mut Sink<'_>, parser: &mut Parser, text: &str, number: u64) {
        match parser {
            Parser::Ldif(p) => p.line(sink, text, number),
            Parser::Csv(p) => p.line(sink, text, number),
            _ => {}
        }
    }
}

fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    text.len() >= prefix.len() && text.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// Whether `bytes` holds a byte that [`looks_binary`] counts: NUL or a control character other
/// than TAB, LF, FF and CR.
fn has_binary_bytes(bytes: &[u8]) -> bool {
    // Counting (rather than searching) lets the compiler vectorise the loop.
    bytes.chunks(256).any(|block| {
        // Non-short-circuiting byte arithmetic, so that the compiler vectorises the loop.
        let flags = block.iter().fold(0u8, |acc, &b| {
            acc | (u8::from(b < 0x20)
                & u8::from(b != b'\t')
                & u8::from(b != b'\n')
                & u8::from(b != 0x0c)
                & u8::from(b != b'\r'))
        });
        flags != 0
    })
}

/// A NUL byte never occurs in LDIF or CSV text, and a line that is mostly control characters is
/// not text either.
fn looks_binary(line: &[u8]) -> bool {
    if memchr::memchr(0, line).is_some() {
        return true;
    }
    if line.len() < 8 {
        return false;
    }
    let sample = &line[..line.len().min(512)];
    let controls = sample.iter().filter(|&&b| b < 0x20 && b != b'\t' && b != b'\r' && b != 0x0c).count();
    controls * 10 > sample.len()
}
