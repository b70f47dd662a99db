#![no_main]
//! Any bytes read as LDIF: no panic, and a consistent report.

use dirgate_core::{FormatChoice, Options, validate_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let options = Options { format: FormatChoice::Ldif, max_line_bytes: 4096, ..Options::default() };
    let outcome = validate_bytes("fuzz.ldif", data, options.clone());
    dirgate_core_fuzz::check(&outcome.report, &outcome.directory, &options);
});
