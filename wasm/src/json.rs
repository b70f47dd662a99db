//! The upload body: a [`Directory`] as compact JSON, written directly, a piece at a time.
//!
//! The bytes are exactly what `serde_json::to_vec(&directory)` gives (the tests compare them on
//! every fixture), but written without serde's per-value calls: a million recipients are a
//! 66 MB body, and in the browser `serde_json` spent as long producing it as the validation
//! itself took. Strings are copied in runs between the few bytes that JSON escapes.
//!
//! The body is handed out in pieces of about [`PIECE`] bytes rather than as one buffer, so
//! that the caller can move each piece out of wasm memory (into a `Blob`) before the next is
//! written: a body held whole would sit in wasm memory beside the directory it was written from,
//! and wasm memory never shrinks.

use dirgate_core::Directory;

/// The size a piece of the body reaches before it is handed out (one record may take it past).
pub const PIECE: usize = 4 << 20;

/// Writes `directory` as the JSON object `{"recipients":[…],"aliases":[…],"groups":[…]}`,
/// calling `emit` with each piece of at least `piece` bytes (the last may be shorter). The
/// pieces are written into one buffer, reused.
pub fn write_directory_json(directory: &Directory, piece: usize, mut emit: impl FnMut(&[u8])) {
    let mut out = Vec::with_capacity(piece + piece / 8);
    let mut flush = |out: &mut Vec<u8>| {
        if out.len() >= piece {
            emit(out);
            out.clear();
        }
    };
    out.extend_from_slice(b"{\"recipients\":[");
    for (i, r) in directory.recipients().enumerate() {
        comma(&mut out, i);
        out.extend_from_slice(b"{\"address\":");
        string(&mut out, r.address);
        if let Some(name) = r.name {
            out.extend_from_slice(b",\"name\":");
            string(&mut out, name);
        }
        out.push(b'}');
        flush(&mut out);
    }
    out.extend_from_slice(b"],\"aliases\":[");
    for (i, a) in directory.aliases().enumerate() {
        comma(&mut out, i);
        out.extend_from_slice(b"{\"address\":");
        string(&mut out, a.address);
        out.extend_from_slice(b",\"target\":");
        string(&mut out, a.target);
        out.push(b'}');
        flush(&mut out);
    }
    out.extend_from_slice(b"],\"groups\":[");
    for (i, g) in directory.groups().enumerate() {
        comma(&mut out, i);
        out.extend_from_slice(b"{\"name\":");
        string(&mut out, g.name);
        if let Some(dn) = g.dn {
            out.extend_from_slice(b",\"dn\":");
            string(&mut out, dn);
        }
        if let Some(address) = g.address {
            out.extend_from_slice(b",\"address\":");
            string(&mut out, address);
        }
        out.extend_from_slice(b",\"members\":[");
        for (j, member) in g.members.iter().enumerate() {
            comma(&mut out, j);
            string(&mut out, member);
            flush(&mut out);
        }
        out.extend_from_slice(b"]}");
        flush(&mut out);
    }
    out.extend_from_slice(b"]}");
    emit(&out);
}

/// The whole body in one buffer.
#[cfg(test)]
fn directory_json(directory: &Directory) -> Vec<u8> {
    let mut body = Vec::new();
    write_directory_json(directory, PIECE, |piece| body.extend_from_slice(piece));
    body
}

fn comma(out: &mut Vec<u8>, index: usize) {
    if index > 0 {
        out.push(b',');
    }
}

/// A JSON string as `serde_json` writes it: `"` and `\` escaped, the control characters as
/// `\b \t \n \f \r` or `\u00xx`, everything else (including non-ASCII) as it is.
fn string(out: &mut Vec<u8>, value: &str) {
    out.push(b'"');
    let bytes = value.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if !needs_escape(b) {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]);
            }
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every string shape JSON escapes, and some it does not, against `serde_json` itself.
    #[test]
    fn writes_what_serde_json_writes() {
        let awkward = [
            "plain",
            "",
            "quote \" and \\ backslash",
            "tab\tnew\nline\r\u{8}\u{c}",
            "\u{1}\u{1f}\u{7f}",
            "Ünïcødé 名前 🙂",
            "</script>",
        ];
        let mut directory = Directory::default();
        for (i, name) in awkward.iter().enumerate() {
            directory.push_recipient(&format!("user{i}@example.com"), Some(name));
            directory.push_alias(&format!("alias{i}@example.com"), &format!("user{i}@example.com"));
        }
        directory.push_recipient("nameless@example.com", None);
        directory.push_group(
            awkward[2],
            Some("CN=Sales,DC=example"),
            Some("sales@example.com"),
            awkward.iter().copied(),
        );
        directory.push_group("empty", None, None, std::iter::empty());
        assert_eq!(String::from_utf8(directory_json(&directory)).unwrap(), serde_json::to_string(&directory).unwrap());
        assert_eq!(directory_json(&Directory::default()), serde_json::to_vec(&Directory::default()).unwrap());
        // Cut into pieces of any size, the body is the same bytes, and only the last piece is
        // shorter than asked for.
        for size in [1, 7, 64, 1 << 20] {
            let mut pieces = Vec::new();
            write_directory_json(&directory, size, |piece| pieces.push(piece.to_vec()));
            assert_eq!(pieces.concat(), directory_json(&directory), "pieces of {size} bytes");
            assert!(pieces[..pieces.len() - 1].iter().all(|p| p.len() >= size), "pieces of {size} bytes");
        }
    }
}
