//! Character encodings: detection by byte-order mark, streaming UTF-16 transcoding, and the
//! per-line UTF-8 / Windows-1252 decision.
//!
//! Detection follows the specification's order: a UTF-8 BOM, then a UTF-16 BOM, then "valid
//! UTF-8 is UTF-8", then Windows-1252. The third rule is applied line by line, so that a file
//! need never be held in memory: an ANSI export whose first accented name is on line 900 000 is
//! still read correctly, and only the report's encoding is decided at the end of the file.

use std::borrow::Cow;
use std::fmt;

/// The encoding a file was read with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Encoding {
    /// UTF-8, with or without a byte-order mark. Pure ASCII is reported as UTF-8.
    #[default]
    #[cfg_attr(feature = "serde", serde(rename = "utf-8"))]
    Utf8,
    /// UTF-16 little-endian, recognised by its `FF FE` byte-order mark.
    #[cfg_attr(feature = "serde", serde(rename = "utf-16le"))]
    Utf16Le,
    /// UTF-16 big-endian, recognised by its `FE FF` byte-order mark.
    #[cfg_attr(feature = "serde", serde(rename = "utf-16be"))]
    Utf16Be,
    /// Windows-1252 ("ANSI"), for bytes that are not UTF-8.
    #[cfg_attr(feature = "serde", serde(rename = "windows-1252"))]
    Windows1252,
}

impl Encoding {
    /// The lower-case label used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Utf8 => "utf-8",
            Encoding::Utf16Le => "utf-16le",
            Encoding::Utf16Be => "utf-16be",
            Encoding::Windows1252 => "windows-1252",
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

enum State {
    /// Fewer than three bytes seen: the BOM is not known yet.
    Sniffing(Vec<u8>),
    /// UTF-8 or Windows-1252, decided per line: bytes pass through untouched.
    PassThrough,
    /// UTF-16, transcoded to UTF-8 as it streams.
    Utf16(Box<encoding_rs::Decoder>),
}

/// Turns a file's bytes into a stream of UTF-8-or-Windows-1252 bytes, stripping any BOM.
pub(crate) struct ByteDecoder {
    state: State,
    bom: Option<Encoding>,
}

impl ByteDecoder {
    pub(crate) fn new() -> ByteDecoder {
        ByteDecoder { state: State::Sniffing(Vec::with_capacity(3)), bom: None }
    }

    /// The encoding announced by a byte-order mark, once known.
    pub(crate) fn bom(&self) -> Option<Encoding> {
        self.bom
    }

    /// Whether the output is already valid UTF-8 (UTF-16 input), so lines need no check.
    pub(crate) fn transcodes(&self) -> bool {
        matches!(self.state, State::Utf16(_))
    }

    /// Decodes the next input bytes; `last` marks the end of the file. UTF-8 and Windows-1252
    /// input is handed back as it is (less any BOM), without a copy; UTF-16 is transcoded into
    /// `out`. The result may split lines anywhere.
    pub(crate) fn decode<'a>(&mut self, input: &'a [u8], last: bool, out: &'a mut Vec<u8>) -> &'a [u8] {
        out.clear();
        if let State::Sniffing(head) = &mut self.state {
            let wanted = 3 - head.len();
            let taken = wanted.min(input.len());
            head.extend_from_slice(&input[..taken]);
            if head.len() < 3 && !last {
                return &[];
            }
            let head = std::mem::take(head);
            self.decide(&head);
            let skip = match self.bom {
                Some(Encoding::Utf8) => 3,
                Some(_) => 2,
                None => 0,
            };
            let rest = &input[taken..];
            let mut joined = head[skip.min(head.len())..].to_vec();
            joined.extend_from_slice(rest);
            self.transcode(&joined, last, out);
            return out;
        }
        match self.state {
            State::PassThrough => input,
            _ => {
                self.transcode(input, last, out);
                out
            }
        }
    }

    fn decide(&mut self, head: &[u8]) {
        let (bom, state) = if head.starts_with(UTF8_BOM) {
            (Some(Encoding::Utf8), State::PassThrough)
        } else if head.starts_with(b"\xFF\xFE") {
            (Some(Encoding::Utf16Le), State::Utf16(Box::new(encoding_rs::UTF_16LE.new_decoder_without_bom_handling())))
        } else if head.starts_with(b"\xFE\xFF") {
            (Some(Encoding::Utf16Be), State::Utf16(Box::new(encoding_rs::UTF_16BE.new_decoder_without_bom_handling())))
        } else {
            (None, State::PassThrough)
        };
        self.bom = bom;
        self.state = state;
    }

    /// Appends `input`, decoded, to `out`.
    fn transcode(&mut self, input: &[u8], last: bool, out: &mut Vec<u8>) {
        match &mut self.state {
            State::Sniffing(_) => unreachable!("transcode is only called after the BOM decision"),
            State::PassThrough => out.extend_from_slice(input),
            State::Utf16(decoder) => {
                let mut input = input;
                loop {
                    let start = out.len();
                    let needed = decoder.max_utf8_buffer_length(input.len()).unwrap_or(input.len() * 3 + 16);
                    out.resize(start + needed.max(16), 0);
                    let (result, read, written, _) = decoder.decode_to_utf8(input, &mut out[start..], last);
                    out.truncate(start + written);
                    input = &input[read..];
                    if result == encoding_rs::CoderResult::InputEmpty {
                        break;
                    }
                }
            }
        }
    }
}

/// How one line's bytes were read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LineEncoding {
    Ascii,
    Utf8,
    Windows1252,
}

/// Reads one line as UTF-8 when it is valid UTF-8, and as Windows-1252 otherwise.
pub(crate) fn decode_line(bytes: &[u8], check_ascii: bool) -> (Cow<'_, str>, LineEncoding) {
    match std::str::from_utf8(bytes) {
        Ok(text) => {
            let kind = if check_ascii && !text.is_ascii() { LineEncoding::Utf8 } else { LineEncoding::Ascii };
            (Cow::Borrowed(text), kind)
        }
        Err(_) => {
            let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes);
            (text, LineEncoding::Windows1252)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(chunks: &[&[u8]]) -> (Option<Encoding>, Vec<u8>) {
        let mut decoder = ByteDecoder::new();
        let mut out = Vec::new();
        let mut scratch = Vec::new();
        for (i, chunk) in chunks.iter().enumerate() {
            out.extend_from_slice(decoder.decode(chunk, i + 1 == chunks.len(), &mut scratch));
        }
        (decoder.bom(), out)
    }

    #[test]
    fn strips_boms_across_chunk_boundaries() {
        assert_eq!(run(&[b"\xEF", b"\xBB", b"\xBFa,b\n"]), (Some(Encoding::Utf8), b"a,b\n".to_vec()));
        assert_eq!(run(&[b"\xFF\xFEa\0\xE9\0", b"\n\0"]), (Some(Encoding::Utf16Le), "aé\n".as_bytes().to_vec()));
        assert_eq!(run(&[b"\xFE\xFF\0a", b""]), (Some(Encoding::Utf16Be), b"a".to_vec()));
        assert_eq!(run(&[b"ab"]), (None, b"ab".to_vec()));
        assert_eq!(run(&[b""]), (None, Vec::new()));
    }

    #[test]
    fn falls_back_to_windows_1252_per_line() {
        assert_eq!(decode_line(b"Andr\xe9", true), (Cow::Borrowed("André"), LineEncoding::Windows1252));
        assert_eq!(decode_line("André".as_bytes(), true).1, LineEncoding::Utf8);
        assert_eq!(decode_line(b"Andre", true).1, LineEncoding::Ascii);
    }
}
