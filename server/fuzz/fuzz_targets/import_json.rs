#![no_main]
//! The import route's JSON decoder, `decode_import_json`, on any bytes as the body the browser
//! and the sync agent send (`Content-Encoding` and the size cap are `body.rs`'s, before it). No
//! panic; a body that decodes gives a consistent report; and the valid directory it yields,
//! sent again, decodes to exactly itself with no error: the server's normal form is a fixed
//! point, so an export re-imported or a push repeated changes nothing.

use dirgate::routes::imports::decode_import_json;
use dirgate_core::Options;
use libfuzzer_sys::fuzz_target;

/// A tenant's managed domains as the store holds them: lower-case A-labels.
fn options() -> Options {
    Options {
        managed_domains: vec!["example.com".to_owned(), "xn--bcher-kva.example".to_owned()],
        ..Options::default()
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(received) = decode_import_json(data, options()) else { return };
    let directory = &received.directory;
    dirgate_core_fuzz::check(&received.report, directory, &options());
    assert_eq!(received.report.files.len(), 1, "a body is one file of the import");

    let again = serde_json::to_vec(directory).expect("a directory serialises");
    let second = decode_import_json(again.as_slice(), options()).expect("the server's own directory JSON decodes");
    assert_eq!(&second.directory, directory, "re-validating a valid directory changed it");
    let empty = directory.is_empty();
    // An empty directory is an error (`empty-file`) both times; anything else was valid already.
    assert_eq!(second.report.valid, !empty, "the valid records re-validate: {:?}", second.report.diagnostics);
});
