#![no_main]
//! The whole streaming validator: one to four files with random options (format, managed
//! domains, diagnostic cap, line limit), fed in random chunks and begun and ended explicitly or
//! implicitly. No panic, a consistent report, and one file report per file that counts its
//! bytes and agrees with the forced format.

use dirgate_core::{Format, FormatChoice};
use dirgate_core_fuzz::Case;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(case) = Case::parse(data) else { return };
    let outcome = case.validate_split();
    let report = &outcome.report;
    dirgate_core_fuzz::check(report, &outcome.directory, &case.options);
    assert_eq!(report.files.len(), case.files.len(), "one file report per file");
    for (i, (file, bytes)) in report.files.iter().zip(&case.files).enumerate() {
        assert_eq!(file.name, Case::file_name(i));
        assert_eq!(file.bytes, bytes.len() as u64, "a file report counts every byte: {file:?}");
        match case.options.format {
            FormatChoice::Ldif => assert_eq!(file.format, Format::Ldif),
            FormatChoice::Csv => assert_eq!(file.format, Format::Csv),
            FormatChoice::Auto => assert_ne!(file.format, Format::Mixed),
        }
    }
    let first = report.files[0].format;
    let expected = if report.files.iter().all(|f| f.format == first) { first } else { Format::Mixed };
    assert_eq!(report.format, expected, "the import's format is its files' format, or mixed");
});
