//! Recipient addresses: syntax, length limits, IDN and the comparison key.
//!
//! A recipient address is what an MTA sees in `RCPT TO`, not a display string: `local@domain`
//! with a dot-atom local part (or a local part that is entirely one quoted string), a domain of
//! at least two labels, and no IP literal. Domains are stored lower-case as A-labels; the local
//! part keeps its spelling but compares case-insensitively, as Exchange and AD do.

use std::fmt;

/// The RFC 5321 limit on a local part, in bytes.
pub const MAX_LOCAL_BYTES: usize = 64;
/// The RFC 5321 limit on a whole forward path, less the angle brackets, in bytes.
pub const MAX_ADDRESS_BYTES: usize = 254;
/// The DNS limit on one label, in bytes.
pub const MAX_LABEL_BYTES: usize = 63;

/// A valid, normalised recipient address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    /// The stored form: the local part as first spelled, `@`, the lower-case A-label domain.
    pub address: String,
    /// The comparison key: the stored form with the local part lower-cased.
    pub key: String,
    /// Whether the local part holds non-ASCII characters (allowed by SMTPUTF8, but worth a
    /// warning because many servers refuse them).
    pub non_ascii_local: bool,
}

impl Address {
    /// The domain part of the stored form.
    pub fn domain(&self) -> &str {
        domain_of(&self.address)
    }
}

/// The domain of an already normalised address (everything after the last `@`).
pub fn domain_of(address: &str) -> &str {
    memchr::memrchr(b'@', address.as_bytes()).map_or("", |at| &address[at + 1..])
}

/// Why a string is not a valid recipient address. Each variant's message tells the
/// administrator what to fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddressError {
    /// Nothing at all: ``.
    Empty,
    /// No `@`: `john.example.com`.
    MissingAt,
    /// Nothing before the `@`: `@example.com`.
    EmptyLocalPart,
    /// Nothing after the `@`: `john@`.
    EmptyDomain,
    /// A local part over 64 bytes.
    LocalPartTooLong(usize),
    /// An address over 254 bytes.
    TooLong(usize),
    /// A dot at the start or end of the local part, or two dots in a row: `john..smith@example.com`.
    LocalPartDots,
    /// A character not allowed in an unquoted local part: `john smith@example.com`.
    LocalPartCharacter(char),
    /// A quoted local part that is not one complete quoted string: `"john"smith@example.com`.
    BadQuotedLocalPart,
    /// `john@[192.0.2.1]`: gateways route by domain, not by IP literal.
    IpLiteral,
    /// `john@localhost`: a single-label domain.
    SingleLabelDomain,
    /// `john@example..com` or a trailing dot.
    EmptyLabel,
    /// A DNS label over 63 bytes.
    LabelTooLong(usize),
    /// `john@-example.com`.
    LabelHyphen,
    /// `john@exa_mple.com`.
    DomainCharacter(char),
    /// `john@example.123`.
    NumericTopLevel,
    /// An internationalised domain that IDNA rejects.
    Idna,
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressError::Empty => f.write_str("the address is empty"),
            AddressError::MissingAt => f.write_str("there is no `@` between the user and the domain"),
            AddressError::EmptyLocalPart => f.write_str("there is nothing before the `@`"),
            AddressError::EmptyDomain => f.write_str("there is no domain after the `@`"),
            AddressError::LocalPartTooLong(n) => {
                write!(f, "the part before `@` is {n} bytes long; the limit is {MAX_LOCAL_BYTES}")
            }
            AddressError::TooLong(n) => {
                write!(f, "the address is {n} bytes long; the limit is {MAX_ADDRESS_BYTES}")
            }
            AddressError::LocalPartDots => {
                f.write_str("the part before `@` starts or ends with a dot, or has two dots in a row")
            }
            AddressError::LocalPartCharacter('@') => f.write_str("the address has more than one `@`"),
            AddressError::LocalPartCharacter(c) => {
                write!(f, "{} is not allowed before the `@` unless that whole part is quoted", describe(*c))
            }
            AddressError::BadQuotedLocalPart => f.write_str(
                "a quoted part before the `@` must be one complete quoted string, such as \"john smith\"@example.com",
            ),
            AddressError::IpLiteral => {
                f.write_str("IP-address domains such as [192.0.2.1] are not accepted; use a domain name")
            }
            AddressError::SingleLabelDomain => f.write_str("the domain needs at least two labels, such as example.com"),
            AddressError::EmptyLabel => {
                f.write_str("the domain has an empty label (two dots in a row, or a dot at an end)")
            }
            AddressError::LabelTooLong(n) => {
                write!(f, "a domain label is {n} bytes long; the limit is {MAX_LABEL_BYTES}")
            }
            AddressError::LabelHyphen => f.write_str("a domain label starts or ends with a hyphen"),
            AddressError::DomainCharacter(c) => {
                write!(f, "{} is not allowed in a domain name", describe(*c))
            }
            AddressError::NumericTopLevel => f.write_str("the top-level domain is all digits"),
            AddressError::Idna => f.write_str("the internationalised domain name is not valid IDNA"),
        }
    }
}

fn describe(c: char) -> String {
    match c {
        ' ' => "a space".to_owned(),
        '\t' => "a tab".to_owned(),
        c if c.is_control() => format!("the control character U+{:04X}", c as u32),
        c => format!("`{c}`"),
    }
}

/// `atext` of RFC 5322, for ASCII.
fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b)
}

/// Parses and normalises one address. The input must already be trimmed.
pub fn parse_address(raw: &str) -> Result<Address, AddressError> {
    let (address, non_ascii_local) = normalise(raw)?;
    let key = key_of(&address);
    Ok(Address { address, key, non_ascii_local })
}

/// [`parse_address`] without the comparison key: the stored form, and whether the local part
/// is non-ASCII. The address is built in one allocation, which matters at a million rows.
pub(crate) fn normalise(raw: &str) -> Result<(String, bool), AddressError> {
    match normalise_common(raw) {
        Some(address) => Ok((address, false)),
        None => normalise_full(raw),
    }
}

/// Every rule, for any address: the path that explains what is wrong.
fn normalise_full(raw: &str) -> Result<(String, bool), AddressError> {
    if raw.is_empty() {
        return Err(AddressError::Empty);
    }
    let (local, domain) = split_at_sign(raw)?;
    let non_ascii_local = check_local_part(local)?;
    let mut address = String::with_capacity(local.len() + 1 + domain.len());
    address.push_str(local);
    address.push('@');
    push_domain(&mut address, domain)?;
    if address.len() > MAX_ADDRESS_BYTES {
        return Err(AddressError::TooLong(address.len()));
    }
    Ok((address, non_ascii_local))
}

/// The case-insensitive key of a normalised address: the local part lower-cased (the domain is
/// already lower-case).
pub fn key_of(address: &str) -> String {
    let local_len = address.rfind('@').unwrap_or(address.len());
    let (local, rest) = address.split_at(local_len);
    if local.is_ascii() {
        address.to_ascii_lowercase()
    } else {
        let mut key = local.to_lowercase();
        key.push_str(rest);
        key
    }
}

/// Hashes address keys for the tables that find duplicates: foldhash's folded multiply over
/// sixteen bytes at a time, from seeds chosen at random per table (as hashbrown's default
/// hasher does). Lower-casing is folded into the hash, so an ASCII address is read once.
#[derive(Clone, Debug)]
pub(crate) struct KeyHasher {
    seeds: [u64; 3],
}

impl Default for KeyHasher {
    fn default() -> KeyHasher {
        use std::hash::BuildHasher;
        let random = hashbrown::DefaultHashBuilder::default();
        KeyHasher { seeds: [random.hash_one(1u8), random.hash_one(2u8), random.hash_one(3u8)] }
    }
}

impl KeyHasher {
    /// The hash of a normalised address's [`key_of`], computed without allocating for the
    /// common ASCII case. Equal keys always hash equally, whichever path computed them.
    pub(crate) fn key(&self, address: &str) -> u64 {
        if address.is_ascii() {
            self.words(address.as_bytes(), lowercase_word)
        } else {
            self.lowercase(&key_of(address))
        }
    }

    /// [`Self::key`] of an address known to be ASCII, such as one in the common form (of any
    /// other string, a hash that is not its key's).
    pub(crate) fn ascii_key(&self, address: &str) -> u64 {
        self.words(address.as_bytes(), lowercase_word)
    }

    /// The hash [`Self::key`] gives a key that is already lower-case.
    pub(crate) fn lowercase(&self, key: &str) -> u64 {
        self.words(key.as_bytes(), |word| word)
    }

    /// Hashes `bytes` as 64-bit words, each passed through `map` first (which must act on each
    /// byte alone, as lower-casing does), so that `map` applied to the words is the same as
    /// to the bytes.
    fn words(&self, bytes: &[u8], map: impl Fn(u64) -> u64) -> u64 {
        let [s0, s1, s2] = self.seeds;
        let n = bytes.len();
        let mut h = s0 ^ n as u64;
        let word = |i: usize| map(u64::from_le_bytes(bytes[i..i + 8].try_into().unwrap_or_default()));
        if n >= 8 {
            let mut i = 0;
            while i + 16 <= n {
                h = fold(word(i) ^ h, word(i + 8) ^ s1);
                i += 16;
            }
            // The last one or two words, read so that they end with the last byte.
            let (a, b) = if n - i > 8 { (word(i), word(n - 8)) } else { (word(n - 8), 0) };
            h = fold(a ^ h, b ^ s1);
        } else {
            // Under eight bytes: their first, middle and last four (or one) bytes, which
            // together with the length tell any two such strings apart.
            let v = if n >= 4 {
                let four = |i: usize| u64::from(u32::from_le_bytes(bytes[i..i + 4].try_into().unwrap_or_default()));
                four(0) | (four(n - 4) << 32)
            } else if n > 0 {
                u64::from(bytes[0]) | (u64::from(bytes[n / 2]) << 16) | (u64::from(bytes[n - 1]) << 32)
            } else {
                0
            };
            h = fold(map(v) ^ h, s1);
        }
        fold(h, s2)
    }
}

/// foldhash's mixing step: the 128-bit product of two words, its halves xor-ed.
fn fold(a: u64, b: u64) -> u64 {
    let full = u128::from(a) * u128::from(b);
    (full as u64) ^ ((full >> 64) as u64)
}

/// Eight ASCII bytes lower-cased at once: each byte from `A` to `Z` gains its 0x20 bit. Only
/// for bytes below 0x80, where adding 0x3f or 0x25 cannot carry into the next byte.
fn lowercase_word(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let at_least_a = word.wrapping_add(ONES * (0x80 - b'A' as u64));
    let above_z = word.wrapping_add(ONES * (0x80 - b'Z' as u64 - 1));
    let upper = at_least_a & !above_z & (ONES * 0x80);
    word | (upper >> 2)
}

/// Whether two normalised addresses have the same [`key_of`].
pub(crate) fn same_key(a: &str, b: &str) -> bool {
    if a.len() == b.len() && a.eq_ignore_ascii_case(b) {
        return true;
    }
    if a.is_ascii() && b.is_ascii() {
        return false;
    }
    key_of(a) == key_of(b)
}

/// What a byte may be in the common form of an address.
const LOCAL: u8 = 1;
const DOMAIN: u8 = 2;
const CLASSES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        let alphanumeric = c.is_ascii_alphanumeric();
        let mut class = 0;
        if alphanumeric || c == b'.' {
            class |= LOCAL;
        }
        let mut i = 0;
        let specials = b"!#$%&'*+-/=?^_`{|}~";
        while i < specials.len() {
            if specials[i] == c {
                class |= LOCAL;
            }
            i += 1;
        }
        if alphanumeric || c == b'-' {
            class |= DOMAIN;
        }
        table[b] = class;
        b += 1;
    }
    table
};

/// The common case in one pass: an ASCII dot-atom local part and an ASCII domain with no ACE
/// label. `None` sends the address down the full path, which also names the exact problem.
pub(crate) fn normalise_common(raw: &str) -> Option<String> {
    let mut address = String::new();
    normalise_common_into(raw, &mut address).then_some(address)
}

/// [`normalise_common`] into `out`, a buffer the caller reuses. Returns whether `raw` was in
/// the common form.
pub(crate) fn normalise_common_into(raw: &str, out: &mut String) -> bool {
    let Some(at) = common_local_part(raw.as_bytes()) else { return false };
    if !common_domain(&raw.as_bytes()[at + 1..]) {
        return false;
    }
    copy_lowering_domain(raw, at, out);
    true
}

/// The domains seen last in their common form, as written (any case), so that the many
/// addresses of one domain check it once. A directory has few domains.
#[derive(Debug, Default)]
pub(crate) struct KnownDomains {
    /// A cheap fingerprint of each domain (see [`fingerprint`]), so that a lookup compares
    /// whole domains only where the fingerprint matches.
    prints: Vec<u64>,
    /// Each domain as written, and whether it is already lower-case.
    recent: Vec<(Box<[u8]>, bool)>,
    next: usize,
}

/// The length and the last (up to) eight bytes of a domain in one word.
fn fingerprint(domain: &[u8]) -> u64 {
    let n = domain.len();
    let tail = if n >= 8 {
        u64::from_le_bytes(domain[n - 8..].try_into().unwrap_or_default())
    } else {
        domain.iter().fold(0, |word, &b| (word << 8) | u64::from(b))
    };
    tail.rotate_left(8) ^ n as u64
}

/// An address in its common form, as [`KnownDomains::common`] found it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CommonAddress {
    /// Where the `@` is.
    pub at: usize,
    /// Whether the domain is lower-case already.
    pub lower: bool,
    /// Which of the known domains it is: an index below [`KnownDomains::KEPT`], which stands
    /// for the same domain until a call returns it with `new` set.
    pub slot: usize,
    /// Whether the domain took `slot` in this call (it was not known, or it replaced another).
    pub new: bool,
}

impl KnownDomains {
    /// How many domains are remembered.
    pub(crate) const KEPT: usize = 8;

    /// Where the `@` is, whether the domain is lower-case, and which known domain it is, for
    /// an address in the common form.
    pub(crate) fn common(&mut self, raw: &str) -> Option<CommonAddress> {
        let at = common_local_part(raw.as_bytes())?;
        let domain = &raw.as_bytes()[at + 1..];
        let print = fingerprint(domain);
        for (slot, &known) in self.prints.iter().enumerate() {
            if known == print && same_bytes(&self.recent[slot].0, domain) {
                return Some(CommonAddress { at, lower: self.recent[slot].1, slot, new: false });
            }
        }
        if !common_domain(domain) {
            return None;
        }
        let lower = !domain.iter().any(u8::is_ascii_uppercase);
        let slot = if self.recent.len() < Self::KEPT {
            self.recent.push((domain.into(), lower));
            self.prints.push(print);
            self.recent.len() - 1
        } else {
            let slot = self.next;
            self.recent[slot] = (domain.into(), lower);
            self.prints[slot] = print;
            self.next = (self.next + 1) % Self::KEPT;
            slot
        };
        Some(CommonAddress { at, lower, slot, new: true })
    }
}

/// `a == b` for the short strings of addresses, eight bytes at a time and without a call.
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let n = a.len();
    if n < 8 {
        return a.iter().zip(b).all(|(x, y)| x == y);
    }
    let word = |s: &[u8], i: usize| u64::from_le_bytes(s[i..i + 8].try_into().unwrap_or_default());
    let mut i = 0;
    while i + 8 < n {
        if word(a, i) != word(b, i) {
            return false;
        }
        i += 8;
    }
    // The last word ends with the last byte, overlapping the one before.
    word(a, n - 8) == word(b, n - 8)
}

/// `a.eq_ignore_ascii_case(b)` where `b` is lower-case ASCII, eight bytes at a time.
#[inline]
pub(crate) fn same_bytes_ignoring_ascii_case(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() || !a.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    let n = a.len();
    if n < 8 {
        return a.iter().zip(b).all(|(x, y)| x.to_ascii_lowercase() == *y);
    }
    let word = |s: &[u8], i: usize| u64::from_le_bytes(s[i..i + 8].try_into().unwrap_or_default());
    let mut i = 0;
    while i + 8 < n {
        if lowercase_word(word(a, i)) != word(b, i) {
            return false;
        }
        i += 8;
    }
    lowercase_word(word(a, n - 8)) == word(b, n - 8)
}

/// Where the `@` is, when the address is short enough and its local part is a common one:
/// atext and single dots, not at either end.
fn common_local_part(bytes: &[u8]) -> Option<usize> {
    if bytes.len() > MAX_ADDRESS_BYTES {
        return None;
    }
    let at = find_at_sign(bytes)?;
    let local = &bytes[..at];
    let (&first, &last) = (local.first()?, local.last()?);
    // Every byte's class, and-ed without branches.
    let classes = local.iter().fold(LOCAL, |all, &b| all & CLASSES[b as usize]);
    let good = classes & LOCAL != 0 && first != b'.' && last != b'.' && !has_double_dot(local);
    (good && local.len() <= MAX_LOCAL_BYTES).then_some(at)
}

/// Whether `..` occurs in `s`, eight bytes at a time. Words start seven bytes apart, so that
/// every pair of neighbours lies inside one of them.
fn has_double_dot(s: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const LOW7: u64 = ONES * 0x7f;
    if s.len() < 8 {
        return s.windows(2).any(|pair| pair == b"..");
    }
    let mut start = 0;
    loop {
        let start_at = start.min(s.len() - 8);
        let word =
            u64::from_le_bytes(s[start_at..start_at + 8].try_into().unwrap_or_default()) ^ (ONES * u64::from(b'.'));
        // The top bit of each byte that was a dot, exactly (no borrow between bytes).
        let dots = !(((word & LOW7) + LOW7) | word) & !LOW7;
        if dots & (dots >> 8) != 0 {
            return true;
        }
        if start_at + 8 >= s.len() {
            return false;
        }
        start += 7;
    }
}

/// The first `@`, eight bytes at a time: cheaper than a call for the short strings of
/// addresses.
fn find_at_sign(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let mut i = 0;
    while i + 8 <= bytes.len() {
        let word = u64::from_le_bytes(bytes[i..i + 8].try_into().unwrap_or_default()) ^ (ONES * u64::from(b'@'));
        // The lowest flagged byte is the first zero byte of `word`, the first `@`.
        let zero = word.wrapping_sub(ONES) & !word & (ONES << 7);
        if zero != 0 {
            return Some(i + (zero.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    bytes[i..].iter().position(|&b| b == b'@').map(|p| i + p)
}

/// Whether a domain is in its common form: at least two labels of letters, digits and inner
/// hyphens, the last not all digits, and none with `--` at its third byte (ACE labels go
/// through IDNA).
fn common_domain(domain: &[u8]) -> bool {
    let mut labels = 0;
    let mut digits = true;
    for label in domain.split(|&b| b == b'.') {
        let n = label.len();
        if n == 0 || n > MAX_LABEL_BYTES || label[0] == b'-' || label[n - 1] == b'-' || label.get(2..4) == Some(b"--") {
            return false;
        }
        let (mut bad, mut all_digits) = (false, true);
        for &b in label {
            bad |= CLASSES[b as usize] & DOMAIN == 0;
            all_digits &= b.is_ascii_digit();
        }
        if bad {
            return false;
        }
        labels += 1;
        digits = all_digits;
    }
    labels >= 2 && !digits
}

/// `raw` into `out` with the domain after `at` lower-cased.
pub(crate) fn copy_lowering_domain(raw: &str, at: usize, out: &mut String) {
    out.clear();
    out.push_str(raw);
    out[at + 1..].make_ascii_lowercase();
}

fn split_at_sign(raw: &str) -> Result<(&str, &str), AddressError> {
    let bytes = raw.as_bytes();
    if bytes[0] == b'"' {
        // A quoted local part may itself contain `@`; it ends at the first unescaped quote.
        let mut i = 1;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' => i += 2,
                b'"' => break,
                _ => i += 1,
            }
        }
        if i >= bytes.len() {
            return Err(AddressError::BadQuotedLocalPart);
        }
        return match bytes.get(i + 1) {
            Some(b'@') => Ok((&raw[..=i], &raw[i + 2..])),
            None => Err(AddressError::MissingAt),
            Some(_) => Err(AddressError::BadQuotedLocalPart),
        };
    }
    let at = memchr::memrchr(b'@', bytes).ok_or(AddressError::MissingAt)?;
    Ok((&raw[..at], &raw[at + 1..]))
}

/// Checks the local part and reports whether it holds non-ASCII characters.
fn check_local_part(local: &str) -> Result<bool, AddressError> {
    if local.is_empty() {
        return Err(AddressError::EmptyLocalPart);
    }
    if local.len() > MAX_LOCAL_BYTES {
        return Err(AddressError::LocalPartTooLong(local.len()));
    }
    let bytes = local.as_bytes();
    if bytes[0] == b'"' {
        return check_quoted_local_part(local);
    }
    if bytes[0] == b'.' || bytes[bytes.len() - 1] == b'.' {
        return Err(AddressError::LocalPartDots);
    }
    let mut non_ascii = false;
    let mut previous_dot = false;
    for (i, &b) in bytes.iter().enumerate() {
        if b >= 0x80 {
            non_ascii = true;
        } else if b == b'.' {
            if previous_dot {
                return Err(AddressError::LocalPartDots);
            }
        } else if !is_atext(b) {
            // Dots are reported before characters, wherever the two dots are.
            if memchr::memmem::find(&bytes[i..], b"..").is_some() {
                return Err(AddressError::LocalPartDots);
            }
            let c = local[i..].chars().next().unwrap_or('?');
            return Err(AddressError::LocalPartCharacter(c));
        }
        previous_dot = b == b'.';
    }
    if non_ascii {
        // SMTPUTF8 permits UTF-8 in the local part, but never control or space characters.
        if let Some(c) = local.chars().find(|c| c.is_control() || c.is_whitespace()) {
            return Err(AddressError::LocalPartCharacter(c));
        }
    }
    Ok(non_ascii)
}

fn check_quoted_local_part(local: &str) -> Result<bool, AddressError> {
    let inner = local.strip_prefix('"').and_then(|s| s.strip_suffix('"')).ok_or(AddressError::BadQuotedLocalPart)?;
    let mut chars = inner.chars();
    let mut non_ascii = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(escaped) if escaped == ' ' || escaped == '\t' || (' '..='~').contains(&escaped) => {}
                _ => return Err(AddressError::BadQuotedLocalPart),
            },
            '"' => return Err(AddressError::BadQuotedLocalPart),
            c if c.is_control() => return Err(AddressError::LocalPartCharacter(c)),
            c => non_ascii |= !c.is_ascii(),
        }
    }
    Ok(non_ascii)
}

/// Lower-cases the domain, converts it to A-labels, and checks every label.
pub fn normalise_domain(domain: &str) -> Result<String, AddressError> {
    let mut out = String::with_capacity(domain.len());
    push_domain(&mut out, domain)?;
    Ok(out)
}

/// Appends the normalised form of `domain` to `out`, checking every label.
fn push_domain(out: &mut String, domain: &str) -> Result<(), AddressError> {
    if domain.is_empty() {
        return Err(AddressError::EmptyDomain);
    }
    if domain.starts_with('[') {
        return Err(AddressError::IpLiteral);
    }
    let start = out.len();
    if !domain.is_ascii() || contains_ace_label(domain.as_bytes()) {
        if let Some(c) = domain.chars().find(|c| c.is_whitespace() || c.is_control()) {
            return Err(AddressError::DomainCharacter(c));
        }
        out.push_str(&idna::domain_to_ascii(domain).map_err(|_| AddressError::Idna)?);
    } else {
        out.extend(domain.bytes().map(|b| char::from(b.to_ascii_lowercase())));
    }
    check_labels(&out.as_bytes()[start..])
}

fn contains_ace_label(domain: &[u8]) -> bool {
    memchr::memchr_iter(b'-', domain).any(|i| {
        // An ACE label starts `xn--`: look for the `--` at a label's third and fourth bytes.
        i >= 2
            && domain.get(i + 1) == Some(&b'-')
            && domain[i - 2].eq_ignore_ascii_case(&b'x')
            && domain[i - 1].eq_ignore_ascii_case(&b'n')
            && (i == 2 || domain[i - 3] == b'.')
    })
}

fn check_labels(domain: &[u8]) -> Result<(), AddressError> {
    let mut labels = 0;
    let mut last = &domain[..0];
    for label in domain.split(|&b| b == b'.') {
        if label.is_empty() {
            return Err(AddressError::EmptyLabel);
        }
        if label.len() > MAX_LABEL_BYTES {
            return Err(AddressError::LabelTooLong(label.len()));
        }
        if let Some(&b) = label.iter().find(|b| !(b.is_ascii_alphanumeric() || **b == b'-')) {
            let c = if b.is_ascii() { b as char } else { '?' };
            return Err(AddressError::DomainCharacter(c));
        }
        if label[0] == b'-' || label[label.len() - 1] == b'-' {
            return Err(AddressError::LabelHyphen);
        }
        labels += 1;
        last = label;
    }
    if labels < 2 {
        return Err(AddressError::SingleLabelDomain);
    }
    if last.iter().all(u8::is_ascii_digit) {
        return Err(AddressError::NumericTopLevel);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_idn() {
        let a = parse_address("John.Smith@Bücher.Example").unwrap();
        assert_eq!(a.address, "John.Smith@xn--bcher-kva.example");
        assert_eq!(a.key, "john.smith@xn--bcher-kva.example");
        assert!(!a.non_ascii_local);
    }

    #[test]
    fn accepts_quoted_local_part_only_whole() {
        assert!(parse_address("\"john smith\"@example.com").is_ok());
        assert!(parse_address("\"j@x\"@example.com").is_ok());
        assert_eq!(parse_address("\"john\"smith@example.com"), Err(AddressError::BadQuotedLocalPart));
        assert_eq!(parse_address("john\"smith\"@example.com"), Err(AddressError::LocalPartCharacter('"')));
    }

    #[test]
    fn rejects_each_rule() {
        let cases = [
            ("", AddressError::Empty),
            ("john.example.com", AddressError::MissingAt),
            ("@example.com", AddressError::EmptyLocalPart),
            ("john@", AddressError::EmptyDomain),
            (".john@example.com", AddressError::LocalPartDots),
            ("jo..hn@example.com", AddressError::LocalPartDots),
            ("jo hn@example.com", AddressError::LocalPartCharacter(' ')),
            ("john@[192.0.2.1]", AddressError::IpLiteral),
            ("john@localhost", AddressError::SingleLabelDomain),
            ("john@example..com", AddressError::EmptyLabel),
            ("john@example.com.", AddressError::EmptyLabel),
            ("john@-example.com", AddressError::LabelHyphen),
            ("john@exa_mple.com", AddressError::DomainCharacter('_')),
            ("john@example.123", AddressError::NumericTopLevel),
            ("a@b@example.com", AddressError::LocalPartCharacter('@')),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_address(input), Err(expected), "{input}");
        }
        let long_local = format!("{}@example.com", "a".repeat(65));
        assert_eq!(parse_address(&long_local), Err(AddressError::LocalPartTooLong(65)));
        let long_label = format!("a@{}.com", "b".repeat(64));
        assert_eq!(parse_address(&long_label), Err(AddressError::LabelTooLong(64)));
        let long = format!("{}@{}.{}.{}.com", "a".repeat(64), "b".repeat(63), "c".repeat(63), "d".repeat(60));
        assert!(matches!(parse_address(&long), Err(AddressError::TooLong(_))));
    }

    /// The one-pass common path must agree with the full rules on everything it accepts, and
    /// accept the everyday addresses.
    #[test]
    fn common_path_agrees_with_the_full_rules() {
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let local_chars = b"aZ09.-_+'\"@ ";
        let domain_chars = b"aZ09.-.xn_";
        let mut accepted = 0;
        for _ in 0..200_000 {
            let mut raw = String::new();
            // Past eight bytes too, where the local part is checked a word at a time.
            for _ in 0..next(20) {
                raw.push(char::from(local_chars[next(local_chars.len())]));
            }
            raw.push('@');
            for _ in 0..next(14) {
                raw.push(char::from(domain_chars[next(domain_chars.len())]));
            }
            if let Some(common) = normalise_common(&raw) {
                assert_eq!(normalise_full(&raw), Ok((common, false)), "{raw:?}");
                accepted += 1;
            }
        }
        assert!(accepted > 1000, "the generator should reach the common path often, got {accepted}");
        for everyday in ["john.smith@Example.COM", "a+b@x.example.org", "o'brien@example.ie", "x@a1.co"] {
            assert_eq!(normalise_common(everyday), normalise_full(everyday).ok().map(|(a, _)| a), "{everyday}");
        }
    }

    #[test]
    fn flags_non_ascii_local_part() {
        let a = parse_address("Jürgen@example.com").unwrap();
        assert!(a.non_ascii_local);
        assert_eq!(a.key, "jürgen@example.com");
    }
}
