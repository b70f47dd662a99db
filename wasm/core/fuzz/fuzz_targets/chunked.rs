#![no_main]
//! The streaming contract: feeding a file in chunks split anywhere gives exactly the report
//! and directory of feeding it whole. The first two bytes choose the split points and whether
//! a managed-domain list applies; the format is detected.

use dirgate_core::{Options, Validator, validate_bytes};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let [step, flags, rest @ ..] = data else { return };
    let managed_domains = if flags & 1 == 1 { vec!["example.com".to_owned()] } else { Vec::new() };
    let options = Options { managed_domains, max_line_bytes: 4096, ..Options::default() };
    let whole = validate_bytes("fuzz", rest, options.clone());
    common::check(&whole);

    let mut validator = Validator::new(options);
    validator.begin_file("fuzz");
    let step = usize::from(*step).max(1);
    let mut position = 0;
    let mut n = 0;
    while position < rest.len() {
        // Vary the chunk size so that boundaries fall everywhere, including inside characters.
        let size = (step + n * 7) % 97 + 1;
        let end = (position + size).min(rest.len());
        validator.feed(&rest[position..end]);
        position = end;
        n += 1;
    }
    let chunked = validator.finish();
    assert_eq!(whole.report, chunked.report, "chunking changed the report");
    assert_eq!(whole.directory, chunked.directory, "chunking changed the directory");
});
