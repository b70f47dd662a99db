//! The fixture corpus through the wasm build: each fixture is fed to the exported `Validator`
//! (through its JavaScript boundary, in small chunks) and the report is compared with the
//! expectation, exactly as `tests/fixtures.rs` does for `dirgate check --json`.

use dirgate_wasm::Validator;
use serde::Serialize;
use serde_json::{Value, json};
use wasm_bindgen::JsValue;

/// One fixture of `tests/data`.
pub struct Fixture {
    pub name: &'static str,
    pub expect: &'static str,
    pub inputs: &'static [(&'static str, &'static [u8])],
}

include!(concat!(env!("OUT_DIR"), "/fixtures.rs"));

/// The validator's options from an expectation's `dirgate check` arguments.
fn options_of(expect: &Value) -> Value {
    let args: Vec<&str> =
        expect["args"].as_array().map(|a| a.iter().map(|v| v.as_str().unwrap()).collect()).unwrap_or_default();
    let mut domains = Vec::new();
    let mut format = "auto";
    for pair in args.chunks(2) {
        match pair {
            ["--domain", domain] => domains.push(*domain),
            ["--format", chosen] => format = chosen,
            other => panic!("unknown fixture argument {other:?}"),
        }
    }
    json!({ "format": format, "managedDomains": domains, "previewLimit": 5 })
}

/// `LINE severity code`, with the file in front for multi-file fixtures and the column when the
/// expectation gives one (the notation of `tests/data/README.md`).
fn render(d: &Value, with_file: bool, with_column: bool) -> String {
    let mut s = String::new();
    if with_file {
        s.push_str(d["file"].as_str().unwrap());
        s.push(':');
    }
    s.push_str(&d["line"].to_string());
    if let (true, Some(c)) = (with_column, d["column"].as_u64()) {
        s.push_str(&format!(":{c}"));
    }
    format!("{s} {} {}", d["severity"].as_str().unwrap(), d["code"].as_str().unwrap())
}

fn differences(fixture: &Fixture, expect: &Value, actual: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    for key in ["valid", "format", "encoding", "bom", "counts", "domains"] {
        if expect[key].is_null() && key == "domains" {
            continue;
        }
        if expect[key] != actual[key] {
            problems.push(format!("{key}: expected {}, got {}", expect[key], actual[key]));
        }
    }
    let with_file = fixture.inputs.len() > 1;
    let expected: Vec<&str> = expect["diagnostics"].as_array().unwrap().iter().map(|d| d.as_str().unwrap()).collect();
    let rendered: Vec<String> = actual["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let with_column = expected
                .get(i)
                .is_some_and(|e| e.split(' ').next().unwrap().matches(':').count() > usize::from(with_file));
            render(d, with_file, with_column)
        })
        .collect();
    if rendered != expected {
        problems.push(format!("diagnostics: expected {expected:?}, got {rendered:?}"));
    }
    if actual["valid"].as_bool() != Some(fixture.name.contains("/ok/")) {
        problems.push(format!("valid is {} in {}", actual["valid"], fixture.name));
    }
    problems
}

/// The directory the core itself builds from a fixture, with the same options.
fn core_directory(fixture: &Fixture, options: &Value) -> dirgate_core::Directory {
    let managed_domains =
        options["managedDomains"].as_array().unwrap().iter().map(|d| d.as_str().unwrap().to_owned()).collect();
    let format = serde_json::from_value(options["format"].clone()).unwrap();
    let mut validator =
        dirgate_core::Validator::new(dirgate_core::Options { format, managed_domains, ..Default::default() });
    for (name, bytes) in fixture.inputs {
        validator.begin_file(*name);
        validator.feed(bytes);
    }
    validator.finish().directory
}

async fn blob_bytes(blob: web_sys::Blob) -> Vec<u8> {
    let buffer = wasm_bindgen_futures::JsFuture::from(blob.array_buffer()).await.unwrap();
    js_sys::Uint8Array::new(&buffer).to_vec()
}

/// Runs one fixture through the exported class, feeding `chunk` bytes at a time.
async fn run(fixture: &Fixture, chunk: usize) -> Value {
    let expect: Value = serde_json::from_str(fixture.expect).unwrap();
    let options = options_of(&expect).serialize(&serde_wasm_bindgen::Serializer::json_compatible()).unwrap();
    let mut validator = Validator::new(options).unwrap();
    for (name, bytes) in fixture.inputs {
        validator.begin_file(name, Some(bytes.len() as f64)).unwrap();
        for piece in bytes.chunks(chunk) {
            validator.feed(piece).unwrap();
        }
    }
    let finished = validator.finish().unwrap();
    let report = js_sys::Reflect::get(&finished, &JsValue::from_str("report")).unwrap();
    let bytes = blob_bytes(js_sys::Reflect::get(&finished, &JsValue::from_str("directory")).unwrap().into()).await;
    // The upload body is byte for byte what serde_json makes of the core's own directory, and
    // so is the same body written in 7-byte pieces (about one record each), folded into the
    // Blob every two pieces.
    let core = core_directory(fixture, &options_of(&expect));
    let expected = serde_json::to_vec(&core).unwrap();
    assert!(bytes == expected, "{}: the upload body differs from serde_json's", fixture.name);
    let folded = blob_bytes(dirgate_wasm::directory_blob(&core, 7, 2).unwrap()).await;
    assert!(folded == expected, "{}: the body in 7-byte pieces differs from serde_json's", fixture.name);
    let directory: Value = serde_json::from_slice(&bytes).unwrap();
    let report: Value = serde_wasm_bindgen::from_value(report).unwrap();
    // The uploaded directory holds exactly the records the report counts.
    for kind in ["recipients", "aliases", "groups"] {
        assert_eq!(
            directory[kind].as_array().map_or(0, Vec::len) as u64,
            report["counts"][kind].as_u64().unwrap(),
            "{}: {kind} in the directory",
            fixture.name
        );
    }
    report
}

/// Every fixture, whole and in 7-byte chunks, must match its expectation.
pub async fn every_fixture_matches_its_expectation() {
    assert!(FIXTURES.len() >= 80, "the corpus has only {} fixtures", FIXTURES.len());
    let mut failures = Vec::new();
    for fixture in FIXTURES {
        let expect: Value = serde_json::from_str(fixture.expect).unwrap();
        let whole = run(fixture, usize::MAX).await;
        let mut problems = differences(fixture, &expect, &whole);
        if run(fixture, 7).await != whole {
            problems.push("the report depends on how the input was split".to_owned());
        }
        if !problems.is_empty() {
            failures.push(format!("{}:\n    {}", fixture.name, problems.join("\n    ")));
        }
    }
    assert!(failures.is_empty(), "{} of {} fixtures differ:\n{}", failures.len(), FIXTURES.len(), failures.join("\n"));
}
