//! Splitting a byte stream into physical lines, whatever the chunk boundaries.
//!
//! Complete lines inside a chunk are handed out without copying; only a line that straddles a
//! chunk boundary is carried in a buffer. A line longer than the limit is not buffered at all:
//! the splitter skips to its end and reports its length, so a 100 MB line costs no memory.

/// One physical line, without its `\n` or `\r\n`.
pub(crate) struct Line<'a> {
    pub bytes: &'a [u8],
    /// 1-based line number.
    pub number: u64,
    /// `Some(length)` when the line exceeded the limit; `bytes` is then empty.
    pub overlong: Option<u64>,
    /// Where `bytes` starts in the data last fed, when the whole line lies inside it (so that
    /// checks already made on that data cover the line).
    pub offset: Option<usize>,
}

pub(crate) struct LineSplitter {
    carry: Vec<u8>,
    /// Length of the current line when it has overflowed the limit.
    overflow: Option<u64>,
    next_number: u64,
    max: usize,
}

impl LineSplitter {
    pub(crate) fn new(max: usize) -> LineSplitter {
        LineSplitter { carry: Vec::new(), overflow: None, next_number: 1, max }
    }

    /// Physical lines handed out so far.
    pub(crate) fn lines(&self) -> u64 {
        self.next_number - 1
    }

    pub(crate) fn feed(&mut self, data: &[u8], sink: &mut dyn FnMut(Line<'_>)) {
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', data) {
            let piece = &data[start..end];
            if let Some(len) = self.overflow.take() {
                self.emit_overlong(len + piece.len() as u64, sink);
            } else if self.carry.is_empty() {
                if piece.len() > self.max {
                    self.emit_overlong(piece.len() as u64, sink);
                } else {
                    let number = self.take_number();
                    sink(Line { bytes: strip_cr(piece), number, overlong: None, offset: Some(start) });
                }
            } else if self.carry.len() + piece.len() > self.max {
                let len = (self.carry.len() + piece.len()) as u64;
                self.carry.clear();
                self.emit_overlong(len, sink);
            } else {
                self.carry.extend_from_slice(piece);
                let number = self.take_number();
                let carry = std::mem::take(&mut self.carry);
                sink(Line { bytes: strip_cr(&carry), number, overlong: None, offset: None });
                self.carry = carry;
                self.carry.clear();
            }
            start = end + 1;
        }
        let piece = &data[start..];
        if piece.is_empty() {
            return;
        }
        if let Some(len) = &mut self.overflow {
            *len += piece.len() as u64;
        } else if self.carry.len() + piece.len() > self.max {
            self.overflow = Some((self.carry.len() + piece.len()) as u64);
            self.carry.clear();
            self.carry.shrink_to(64 * 1024);
        } else {
            self.carry.extend_from_slice(piece);
        }
    }

    /// Whether a line begun in an earlier chunk is still open.
    pub(crate) fn carries(&self) -> bool {
        !self.carry.is_empty() || self.overflow.is_some()
    }

    /// Hands the complete lines at the start of `text` (lines that do not continue one from
    /// an earlier chunk, and are within the limit) to `sink` as text, with their numbers, and
    /// returns how many bytes they took; the caller feeds the rest to [`Self::feed`]. Does
    /// nothing unless `ready` and no line is carried over.
    pub(crate) fn feed_complete<'t>(
        &mut self,
        text: &'t str,
        ready: bool,
        mut sink: impl FnMut(&'t str, u64),
    ) -> usize {
        if !ready || self.carries() {
            return 0;
        }
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', text.as_bytes()) {
            if end - start > self.max {
                break;
            }
            let line = &text[start..end];
            let number = self.take_number();
            sink(line.strip_suffix('\r').unwrap_or(line), number);
            start = end + 1;
        }
        start
    }

    /// Hands out the last line when the file does not end with a newline.
    pub(crate) fn finish(&mut self, sink: &mut dyn FnMut(Line<'_>)) {
        if let Some(len) = self.overflow.take() {
            self.emit_overlong(len, sink);
        } else if !self.carry.is_empty() {
            let number = self.take_number();
            let carry = std::mem::take(&mut self.carry);
            sink(Line { bytes: strip_cr(&carry), number, overlong: None, offset: None });
        }
    }

    fn take_number(&mut self) -> u64 {
        let number = self.next_number;
        self.next_number += 1;
        number
    }

    fn emit_overlong(&mut self, len: u64, sink: &mut dyn FnMut(Line<'_>)) {
        let number = self.take_number();
        sink(Line { bytes: &[], number, overlong: Some(len), offset: None });
    }
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]], max: usize) -> Vec<(u64, Vec<u8>, Option<u64>)> {
        let mut splitter = LineSplitter::new(max);
        let mut out = Vec::new();
        let mut sink = |l: Line<'_>| out.push((l.number, l.bytes.to_vec(), l.overlong));
        for chunk in chunks {
            splitter.feed(chunk, &mut sink);
        }
        splitter.finish(&mut sink);
        out
    }

    #[test]
    fn splits_across_chunks_and_strips_cr() {
        let got = split(&[b"ab", b"c\r\nd", b"e\n\nf"], 100);
        assert_eq!(
            got,
            vec![
                (1, b"abc".to_vec(), None),
                (2, b"de".to_vec(), None),
                (3, b"".to_vec(), None),
                (4, b"f".to_vec(), None)
            ]
        );
    }

    #[test]
    fn reports_overlong_lines_without_buffering_them() {
        let got = split(&[b"12345", b"678\nok\n", b"abcdefgh"], 4);
        assert_eq!(got, vec![(1, vec![], Some(8)), (2, b"ok".to_vec(), None), (3, vec![], Some(8))]);
    }
}
