//! Diagnostics: what the validator tells a person about their file.
//!
//! Every problem becomes a [`Diagnostic`] with a severity, a stable [`Code`], a position and a
//! sentence. The [`Diagnostics`] collector caps the stored diagnostics per code (so that a broken
//! million-line file stays readable) while still counting every occurrence.

use std::collections::BTreeMap;
use std::fmt;

/// How bad a diagnostic is. Any [`Severity::Error`] makes the import invalid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Severity {
    /// The record (or file) cannot be imported as it is.
    Error,
    /// Accepted, but the administrator should look at it.
    Warning,
    /// Something was recognised and handled; nothing to fix.
    Info,
}

impl Severity {
    /// The lower-case name used in every output format.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! codes {
    ($($(#[doc = $doc:literal])* $variant:ident = $name:literal => $severity:ident,)*) => {
        /// The stable, kebab-case identifier of a kind of problem.
        ///
        /// Codes are a public interface: scripts filter on them, so a code is never renamed.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $($(#[doc = $doc])* $variant,)*
        }

        impl Code {
            /// Every code, in declaration order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The kebab-case name, for example `invalid-address`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $name,)*
                }
            }

            /// The severity this code always has.
            pub fn severity(self) -> Severity {
                match self {
                    $(Code::$variant => Severity::$severity,)*
                }
            }

            /// Looks a code up by its kebab-case name.
            pub fn from_name(name: &str) -> Option<Code> {
                match name {
                    $($name => Some(Code::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

codes! {
    /// A file, or the whole import, holds no record at all (a CSV header alone counts as none).
    EmptyFile = "empty-file" => Error,
    /// Bytes that are neither LDIF nor CSV, for example `\x89PNG\r\n\x1a\n\0\0`.
    BinaryFile = "binary-file" => Error,
    /// A line longer than the limit (1 MiB by default).
    LineTooLong = "line-too-long" => Error,
    /// An address that breaks the syntax or length rules, for example `john@@example.com`.
    InvalidAddress = "invalid-address" => Error,
    /// An address already used by a different kind of record, for example an alias that is also
    /// a recipient.
    AddressConflict = "address-conflict" => Error,
    /// An alias that points to itself: `alias,email` / `a@example.com,a@example.com`.
    SelfAlias = "self-alias" => Error,
    /// An LDIF record that does not begin with `dn:`.
    MissingDn = "missing-dn" => Error,
    /// A `::` value that is not valid base64, for example `cn:: not*base64`.
    BadBase64 = "bad-base64" => Error,
    /// An `attr:< file:///etc/passwd` value: dirgate never fetches URLs named in a file.
    UrlValueRefused = "url-value-refused" => Error,
    /// `changetype: modify`, `delete`, `modrdn` or `moddn`: not a directory snapshot.
    UnsupportedChangetype = "unsupported-changetype" => Error,
    /// An LDIF line that is not `attribute: value`, or a continuation with nothing to continue.
    BadLine = "bad-line" => Error,
    /// A CSV quote still open at the end of the file: `"john@example.com,John`.
    UnterminatedQuote = "unterminated-quote" => Error,
    /// A CSV row with more fields than its columns: `a@example.com,Ann,b@example.com`.
    TooManyFields = "too-many-fields" => Error,
    /// Two people on one CSV row: `a@example.com,b@example.com`.
    MultipleAddresses = "multiple-addresses" => Error,
    /// A CSV row with other fields but no address: `,John Smith`.
    MissingAddress = "missing-address" => Error,
    /// A CSV header with no address column: `name,phone`.
    NoAddressColumn = "no-address-column" => Error,
    /// The same address twice (compared case-insensitively); the first is kept.
    DuplicateAddress = "duplicate-address" => Warning,
    /// An address outside the managed domains; it is not stored.
    UnmanagedDomain = "unmanaged-domain" => Warning,
    /// Spaces around a value, which were trimmed: `" john@example.com"`.
    SurroundingWhitespace = "surrounding-whitespace" => Warning,
    /// An empty CSV line in the middle of the file.
    BlankLine = "blank-line" => Warning,
    /// A local part with non-ASCII characters, which only SMTPUTF8 servers accept.
    NonAsciiLocalPart = "non-ascii-local-part" => Warning,
    /// An alias whose target is not a recipient of this import.
    AliasTargetUnknown = "alias-target-unknown" => Warning,
    /// A quote in the middle of an unquoted CSV field, kept literally: `jo"hn@example.com`.
    StrayQuote = "stray-quote" => Warning,
    /// A line that is not UTF-8 in an otherwise UTF-8 file; it was read as Windows-1252.
    MixedEncoding = "mixed-encoding" => Warning,
    /// An LDIF `version:` other than 1.
    UnsupportedVersion = "unsupported-version" => Warning,
    /// A base64 value that is not UTF-8 text where text was expected; it was decoded lossily.
    InvalidUtf8Value = "invalid-utf8-value" => Warning,
    /// The file's encoding was recognised from a byte-order mark or its bytes.
    EncodingDetected = "encoding-detected" => Info,
    /// The CSV uses `;` or TAB between fields.
    DelimiterDetected = "delimiter-detected" => Info,
    /// The first CSV row was recognised as a header.
    HeaderRow = "header-row" => Info,
    /// A CSV header column that dirgate does not use.
    IgnoredColumn = "ignored-column" => Info,
    /// A group member DN that matches no entry with an address in the import; kept as a DN.
    UnresolvedMember = "unresolved-member" => Info,
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where in the import a diagnostic points.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// Index of the file in the import, in the order the files were given.
    pub file: u32,
    /// 1-based physical line.
    pub line: u64,
    /// 1-based character column, when known.
    pub column: Option<u32>,
}

impl Position {
    /// A whole-line position.
    pub fn line(file: u32, line: u64) -> Position {
        Position { file, line, column: None }
    }
}

/// One problem found in an import.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Diagnostic {
    /// How bad it is; always `code.severity()`.
    pub severity: Severity,
    /// The stable kebab-case code.
    #[cfg_attr(feature = "serde", serde(with = "code_serde"))]
    pub code: Code,
    /// The name of the file, as given by the caller.
    pub file: String,
    /// 1-based line.
    pub line: u64,
    /// 1-based character column, when known.
    pub column: Option<u32>,
    /// A sentence a person can act on.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    /// The compiler-style `file:line:column: severity[code]: message` form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:", self.file, self.line)?;
        if let Some(column) = self.column {
            write!(f, "{column}:")?;
        }
        write!(f, " {}[{}]: {}", self.severity, self.code, self.message)
    }
}

#[cfg(feature = "serde")]
mod code_serde {
    use super::Code;

    pub fn serialize<S: serde::Serializer>(code: &Code, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(code.as_str())
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Code, D::Error> {
        let name = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
        Code::from_name(&name).ok_or_else(|| serde::de::Error::custom(format!("unknown diagnostic code `{name}`")))
    }
}

/// Collects diagnostics, keeping at most `cap` of each code but counting all of them.
#[derive(Debug)]
pub(crate) struct Diagnostics {
    cap: usize,
    stored: Vec<(Position, u64, Code, String)>,
    totals: BTreeMap<Code, u64>,
    errors: u64,
    sequence: u64,
}

impl Diagnostics {
    pub(crate) fn new(cap: usize) -> Diagnostics {
        Diagnostics { cap, stored: Vec::new(), totals: BTreeMap::new(), errors: 0, sequence: 0 }
    }

    /// Records one diagnostic. The message is built only when it will be kept, so that a file
    /// with a million identical problems costs a counter increment per problem.
    pub(crate) fn push(&mut self, code: Code, at: Position, message: impl FnOnce() -> String) {
        let total = self.totals.entry(code).or_insert(0);
        *total += 1;
        if code.severity() == Severity::Error {
            self.errors += 1;
        }
        if *total as usize <= self.cap {
            self.sequence += 1;
            self.stored.push((at, self.sequence, code, message()));
        }
    }

    /// Counts occurrences whose diagnostics were not kept individually.
    pub(crate) fn count_only(&mut self, code: Code, n: u64) {
        if n == 0 {
            return;
        }
        *self.totals.entry(code).or_insert(0) += n;
        if code.severity() == Severity::Error {
            self.errors += n;
        }
    }

    pub(crate) fn has_errors(&self) -> bool {
        self.errors > 0
    }

    /// Sorts by file, line, column and emission order, and resolves file names.
    pub(crate) fn into_parts(mut self, file_names: &[String]) -> (Vec<Diagnostic>, BTreeMap<String, u64>) {
        // How a file was read comes before what was found in it.
        let rank = |code: Code| u8::from(code != Code::EncodingDetected);
        self.stored
            .sort_by_key(|(at, sequence, code, _)| (at.file, at.line, at.column.unwrap_or(0), rank(*code), *sequence));
        let diagnostics = self
            .stored
            .into_iter()
            .map(|(at, _, code, message)| Diagnostic {
                severity: code.severity(),
                code,
                file: file_names.get(at.file as usize).cloned().unwrap_or_default(),
                line: at.line,
                column: at.column,
                message,
            })
            .collect();
        let totals = self.totals.into_iter().map(|(c, n)| (c.as_str().to_owned(), n)).collect();
        (diagnostics, totals)
    }
}
