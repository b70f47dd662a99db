//! A file's SHA-256, fed in chunks. Each uploaded file's digest is recorded in the import
//! history; `crypto.subtle.digest` only takes the whole file at once, which would hold a
//! 700 MB export in the page's memory. The worker streams the file through this instead.

use sha2::{Digest, Sha256};
use wasm_bindgen::prelude::*;

/// `new FileDigest()`, `update(chunk)` as often as needed, then `hex()`.
#[wasm_bindgen]
#[derive(Default)]
pub struct FileDigest {
    inner: Sha256,
}

#[wasm_bindgen]
impl FileDigest {
    #[wasm_bindgen(constructor)]
    pub fn new() -> FileDigest {
        FileDigest::default()
    }

    /// Adds the next bytes of the file.
    pub fn update(&mut self, chunk: &[u8]) {
        self.inner.update(chunk);
    }

    /// The digest of everything added, as lower-case hex; the object starts again from empty.
    pub fn hex(&mut self) -> String {
        self.inner.finalize_reset().iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// FIPS 180-2's "abc" and the empty input, whole and split.
    #[test]
    fn known_digests_whatever_the_chunks() {
        let mut digest = FileDigest::new();
        assert_eq!(digest.hex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        digest.update(b"a");
        digest.update(b"");
        digest.update(b"bc");
        assert_eq!(digest.hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
