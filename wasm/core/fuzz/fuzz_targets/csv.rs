#![no_main]
//! Any bytes read as CSV: no panic, and a consistent report.

use dirgate_core::{FormatChoice, Options, validate_bytes};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let options = Options { format: FormatChoice::Csv, max_line_bytes: 4096, ..Options::default() };
    common::check(&validate_bytes("fuzz.csv", data, options));
});
