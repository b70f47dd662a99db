#![no_main]
//! The streaming contract, strictly: an import whose files are each fed in one chunk and the
//! same import fed in random chunks (one byte each, a few bytes, up to 4 KiB, empty chunks),
//! with files begun and ended explicitly or implicitly, give the identical report and
//! directory. The input is a [`Case`]: random options and one to four files.

use dirgate_core_fuzz::Case;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(case) = Case::parse(data) else { return };
    let whole = case.validate_whole();
    let split = case.validate_split();
    assert_eq!(whole.report, split.report, "chunking changed the report");
    assert_eq!(whole.directory, split.directory, "chunking changed the directory");
});
