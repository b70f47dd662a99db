//! What the fuzz targets share: the invariants every report and directory must satisfy, and
//! the way a fuzz input becomes a multi-file import that is fed to the validator in chunks.
//!
//! It is a library rather than a module that each target includes, so that the server's fuzz
//! crate (`server/fuzz/`) checks its reports with the same code.

use std::collections::HashMap;

use dirgate_core::address::{self, parse_address};
use dirgate_core::{Code, Directory, FormatChoice, Options, Outcome, Report, Severity, Validator};

/// The invariants of any report and the directory it describes, whatever the input: `valid`
/// means "no error", the kept diagnostics are capped, counted, sorted and 1-based, the counts
/// are the directory's, and every stored address is valid, normalised, unique and managed.
pub fn check(report: &Report, directory: &Directory, options: &Options) {
    let error_totals: u64 = report
        .diagnostic_totals
        .iter()
        .filter(|(code, _)| Code::from_name(code).is_some_and(|c| c.severity() == Severity::Error))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(report.valid, error_totals == 0, "valid must mean no error diagnostic");
    let files: HashMap<&str, usize> = report.files.iter().enumerate().map(|(i, f)| (f.name.as_str(), i)).collect();
    let mut kept: HashMap<Code, u64> = HashMap::new();
    let mut previous = (0, 0, 0);
    for d in &report.diagnostics {
        assert_eq!(d.severity, d.code.severity(), "a code has one severity: {d:?}");
        assert!(d.line >= 1, "lines are 1-based: {d:?}");
        assert!(d.column.is_none_or(|c| c >= 1), "columns are 1-based: {d:?}");
        *kept.entry(d.code).or_default() += 1;
        let file = *files.get(d.file.as_str()).unwrap_or_else(|| panic!("a diagnostic names a file: {d:?}"));
        let at = (file, d.line, d.column.unwrap_or(0));
        assert!(at >= previous, "diagnostics are sorted by file, line and column: {d:?}");
        previous = at;
    }
    for (code, n) in kept {
        let total = report.diagnostic_totals.get(code.as_str()).copied().unwrap_or(0);
        assert!(n <= total, "every kept {code:?} is counted: {n} kept, {total} counted");
        assert!(n as usize <= options.diagnostic_cap, "at most the cap of {code:?} is kept: {n}");
    }
    assert_eq!(report.counts.recipients, directory.recipients().len() as u64);
    assert_eq!(report.counts.aliases, directory.aliases().len() as u64);
    assert_eq!(report.counts.groups, directory.groups().len() as u64);
    assert_eq!(report.domains, directory.domain_counts());
    check_directory(directory, options);
}

/// Every address the directory keeps is valid and already normalised, no two records share an
/// address (case-insensitively), and each one is in a managed domain.
fn check_directory(directory: &Directory, options: &Options) {
    // Normalised as the validator does, which keeps an unparseable domain lower-cased.
    let managed: Vec<String> = options
        .managed_domains
        .iter()
        .map(|d| address::normalise_domain(d.trim()).unwrap_or_else(|_| d.trim().to_ascii_lowercase()))
        .collect();
    let mut keys = HashMap::new();
    let mut stored = |what: &str, text: &str| {
        let parsed = parse_address(text).unwrap_or_else(|e| panic!("stored {what} `{text}` is invalid: {e}"));
        assert_eq!(parsed.address, text, "stored {what} is normalised");
        assert!(
            managed.is_empty() || managed.iter().any(|d| d == parsed.domain()),
            "stored {what} `{text}` is managed"
        );
        if let Some(first) = keys.insert(parsed.key, what.to_owned()) {
            panic!("`{text}` is stored as {first} and as {what}");
        }
    };
    for r in directory.recipients() {
        stored("recipient", r.address);
    }
    for a in directory.aliases() {
        stored("alias", a.address);
        let target = parse_address(a.target).unwrap_or_else(|e| panic!("alias target `{}` is invalid: {e}", a.target));
        assert_eq!(target.address, a.target, "alias targets are normalised");
        assert_ne!(target.key, address::key_of(a.address), "no alias is its own target: {a:?}");
    }
    for g in directory.groups() {
        if let Some(a) = g.address {
            stored("group address", a);
        }
    }
}

/// A fuzz input read as an import: an 8-byte header, then the files' bytes.
///
/// Header byte 0 chooses the options: bits 0–1 the format (auto, auto, LDIF, CSV), bit 2 a
/// managed-domain list, bit 3 a diagnostic cap of 2, bits 4–5 the line limit, bits 6–7 one to
/// four files. Bytes 1–3 cut the body into those files (each the fraction `b / 256` of what
/// remains), and bytes 4–7 seed the chunk splits. An all-zero header is one auto-detected file
/// with the default rules, so a fixture behind eight zero bytes is a seed.
pub struct Case<'a> {
    /// The import's options.
    pub options: Options,
    /// Each file's bytes, in import order.
    pub files: Vec<&'a [u8]>,
    seed: u32,
}

/// The header's length.
pub const HEADER_BYTES: usize = 8;

impl<'a> Case<'a> {
    /// Reads a fuzz input; `None` when it is too short to hold the header.
    pub fn parse(data: &'a [u8]) -> Option<Case<'a>> {
        let (header, mut body) = data.split_first_chunk::<HEADER_BYTES>()?;
        let flags = header[0];
        let format = match flags & 3 {
            2 => FormatChoice::Ldif,
            3 => FormatChoice::Csv,
            _ => FormatChoice::Auto,
        };
        // One ASCII domain and one IDN, spelled unnormalised, as an administrator might type them.
        let managed_domains =
            if flags & 4 == 0 { Vec::new() } else { vec!["Example.COM".to_owned(), " bücher.example".to_owned()] };
        let diagnostic_cap = if flags & 8 == 0 { 1000 } else { 2 };
        // Short limits put overlong lines, and their recovery, at every chunk boundary.
        let max_line_bytes = [4096, 12, 80, 1024][usize::from(flags >> 4 & 3)];
        let mut files = Vec::new();
        for &fraction in &header[1..=usize::from(flags >> 6)] {
            let (file, rest) = body.split_at(body.len() * usize::from(fraction) / 256);
            files.push(file);
            body = rest;
        }
        files.push(body);
        let options = Options { format, managed_domains, diagnostic_cap, max_line_bytes };
        let seed = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        Some(Case { options, files, seed })
    }

    /// The name of file `i`: the one [`Validator::feed`] gives a file it has to begin itself.
    pub fn file_name(i: usize) -> String {
        format!("file{}", i + 1)
    }

    /// Feeds each file whole, in one chunk between `begin_file` and `end_file`: the reference.
    pub fn validate_whole(&self) -> Outcome {
        let mut validator = Validator::new(self.options.clone());
        for (i, file) in self.files.iter().enumerate() {
            validator.begin_file(Case::file_name(i));
            validator.feed(file);
            validator.end_file();
        }
        validator.finish()
    }

    /// Feeds the files in chunks split by the seed. Which mode of splitting, and whether each
    /// file is begun and ended explicitly or implicitly (by `feed`, the next `begin_file` or
    /// `finish`), also come from the seed. Checks on the way that progress counts every byte.
    pub fn validate_split(&self) -> Outcome {
        let mut splits = Splits::new(self.seed);
        let mut validator = Validator::new(self.options.clone());
        let mut open = false;
        let mut fed = 0;
        for (i, file) in self.files.iter().enumerate() {
            // `feed` begins a file itself only when none is open.
            let implicit_begin = !open && splits.coin();
            if !implicit_begin {
                validator.begin_file(Case::file_name(i));
            }
            let mut rest: &[u8] = file;
            let mut first = true;
            // An implicitly begun file needs at least one (possibly empty) chunk to begin it.
            while !rest.is_empty() || (first && implicit_begin) {
                let (chunk, tail) = rest.split_at(splits.next_len(rest.len()));
                validator.feed(chunk);
                fed += chunk.len() as u64;
                assert_eq!(validator.progress().bytes, fed, "progress counts every byte fed");
                rest = tail;
                first = false;
            }
            open = !splits.coin();
            if !open {
                validator.end_file();
            }
        }
        validator.finish()
    }
}

/// Chunk lengths from a xorshift generator: every chunk one byte, 1–4 bytes, 1–64 bytes, or a
/// mix of empty, tiny and large chunks.
struct Splits {
    state: u32,
    mode: u32,
}

impl Splits {
    fn new(seed: u32) -> Splits {
        // Xorshift never leaves zero; any other start will do.
        Splits { state: seed | 1, mode: seed >> 30 }
    }

    fn next(&mut self) -> u32 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 17;
        self.state ^= self.state << 5;
        self.state
    }

    fn coin(&mut self) -> bool {
        self.next() & 1 == 1
    }

    /// The next chunk's length, at most `remaining`.
    fn next_len(&mut self, remaining: usize) -> usize {
        let r = self.next() as usize;
        let len = match self.mode {
            0 => 1,
            1 => 1 + r % 4,
            2 => 1 + r % 64,
            _ => match r % 8 {
                0 => 0,
                1..=4 => 1 + (r >> 3) % 8,
                _ => (r >> 3) % 4096,
            },
        };
        len.min(remaining)
    }
}
