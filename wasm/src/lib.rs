//! # dirgate-wasm
//!
//! The browser's binding to [`dirgate_core`]: one streaming `Validator` class, fed the chunks a
//! Web Worker reads from `File.stream()` (and [`FileDigest`], a streaming SHA-256 for the
//! upload's file metadata). Each method decodes its arguments, calls the core and
//! maps the result into plain JavaScript values; names are camelCase only here, at the boundary.
//!
//! ```js
//! const validator = new Validator({ format: 'auto', managedDomains: ['example.com'], previewLimit: 200 });
//! validator.beginFile('users.ldif', file.size);   // the size is optional
//! validator.feed(chunk);                 // a Uint8Array, as often as needed
//! validator.progress();                  // { bytes, records }
//! const { report, preview, directory } = validator.finish();
//! ```
//!
//! `report` has the wire shape of `dirgate check --json` (the server's shape, snake_case);
//! `preview` holds the first `previewLimit` recipients, aliases and groups; `directory` is the
//! normalised directory (valid records only) as a `Blob` of UTF-8 JSON, ready to upload. It is
//! JSON text rather than objects because a million records as JavaScript objects would cost the
//! worker far more memory and time than the JSON the upload needs anyway; it is a `Blob` built
//! piece by piece, because the body held whole in wasm memory would double the module's peak
//! (wasm memory never shrinks). [`json`] writes the pieces.

mod digest;
mod json;

pub use digest::FileDigest;
use dirgate_core::{Directory, FormatChoice, Options};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

/// What `new Validator(options)` accepts; every field is optional.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ValidatorOptions {
    #[serde(default)]
    format: FormatChoice,
    #[serde(default)]
    managed_domains: Vec<String>,
    #[serde(default = "default_preview_limit")]
    preview_limit: usize,
}

fn default_preview_limit() -> usize {
    100
}

/// `progress()`: bytes fed and records accepted so far.
#[derive(Serialize)]
struct ProgressDto {
    bytes: u64,
    records: u64,
}

/// `finish()`: the report and a preview; the directory to upload is added as a `Blob`.
#[derive(Serialize)]
struct FinishedDto {
    report: dirgate_core::Report,
    preview: Directory,
}

/// How many pieces of the body wait in JavaScript before they are folded into one `Blob`, so
/// that their `ArrayBuffer`s can go.
const PIECES_PER_BLOB: u32 = 16;

/// The streaming validator of one import: `beginFile`, `feed` chunks, repeat per file, `finish`.
#[wasm_bindgen]
pub struct Validator {
    /// `None` once finished: the core's validator is consumed by `finish`.
    inner: Option<dirgate_core::Validator>,
    preview_limit: usize,
}

#[wasm_bindgen]
impl Validator {
    /// `new Validator({ format, managedDomains, previewLimit })`.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<Validator, JsValue> {
        let options: ValidatorOptions = if options.is_undefined() || options.is_null() {
            ValidatorOptions {
                format: FormatChoice::Auto,
                managed_domains: Vec::new(),
                preview_limit: default_preview_limit(),
            }
        } else {
            serde_wasm_bindgen::from_value(options).map_err(js_error)?
        };
        let core = Options { format: options.format, managed_domains: options.managed_domains, ..Options::default() };
        Ok(Validator { inner: Some(dirgate_core::Validator::new(core)), preview_limit: options.preview_limit })
    }

    /// Starts the next file of the import: `beginFile(name, size)`. The size (`File.size`) is
    /// optional; given, it lets the core size its tables once for the whole file.
    #[wasm_bindgen(js_name = beginFile)]
    pub fn begin_file(&mut self, name: &str, size: Option<f64>) -> Result<(), JsValue> {
        let validator = self.open()?;
        validator.begin_file(name);
        if let Some(size) = size.filter(|s| s.is_finite() && *s >= 0.0) {
            validator.expect_size(size as u64);
        }
        Ok(())
    }

    /// Feeds the next bytes of the current file; chunks may split lines and characters anywhere.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), JsValue> {
        self.open()?.feed(chunk);
        Ok(())
    }

    /// `{ bytes, records }` so far, for a progress bar.
    pub fn progress(&self) -> Result<JsValue, JsValue> {
        let validator = self.inner.as_ref().ok_or_else(finished)?;
        let progress = validator.progress();
        to_js(&ProgressDto { bytes: progress.bytes, records: progress.records })
    }

    /// Ends the import: `{ report, preview, directory }`. The validator cannot be used again.
    pub fn finish(&mut self) -> Result<JsValue, JsValue> {
        let outcome = self.inner.take().ok_or_else(finished)?.finish();
        let directory = directory_blob(&outcome.directory, json::PIECE, PIECES_PER_BLOB)?;
        let preview = outcome.directory.head(self.preview_limit);
        drop(outcome.directory);
        let value = to_js(&FinishedDto { report: outcome.report, preview })?;
        js_sys::Reflect::set(&value, &JsValue::from_str("directory"), &directory)?;
        Ok(value)
    }

    fn open(&mut self) -> Result<&mut dirgate_core::Validator, JsValue> {
        self.inner.as_mut().ok_or_else(finished)
    }
}

/// The directory's JSON body as a `Blob`, each piece (of about `piece` bytes) copied out of wasm
/// memory as it is written and the pieces folded into the `Blob` every `per_blob`, so that
/// neither wasm memory nor the JavaScript heap ever holds the whole body. `finish()` uses 4 MiB
/// pieces, [`PIECES_PER_BLOB`] at a time; public so that the wasm tests can fold tiny pieces
/// many times.
#[doc(hidden)]
pub fn directory_blob(directory: &Directory, piece: usize, per_blob: u32) -> Result<web_sys::Blob, JsValue> {
    let parts = js_sys::Array::new();
    let mut failed = None;
    json::write_directory_json(directory, piece, |piece| {
        if failed.is_some() {
            return;
        }
        parts.push(&js_sys::Uint8Array::from(piece));
        if parts.length() > per_blob {
            match web_sys::Blob::new_with_blob_sequence(&parts) {
                Ok(blob) => {
                    parts.set_length(0);
                    parts.push(&blob);
                }
                Err(error) => failed = Some(error),
            }
        }
    });
    match failed {
        Some(error) => Err(error),
        None => web_sys::Blob::new_with_blob_sequence(&parts),
    }
}

/// Plain objects and numbers (not `Map`s or `BigInt`s), the shape `JSON.parse` would give.
fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    value.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).map_err(js_error)
}

/// Every error crosses the boundary as a JavaScript `Error` with the message.
fn js_error(error: impl std::fmt::Display) -> JsValue {
    js_sys::Error::new(&error.to_string()).into()
}

fn finished() -> JsValue {
    js_error("this validator has finished; create a new one for the next import")
}
