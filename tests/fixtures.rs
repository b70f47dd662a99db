//! The fixture corpus, run through the real `dirgate check --json` and through the core fed in
//! random chunks. See `tests/data/README.md` for the layout and the expectation format.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use dirgate_core::{FormatChoice, Options, Report, Validator};
use serde_json::Value;

mod support;

use support::corpus::{Fixture, args_of, fixtures};

/// `LINE severity code`, with the file name in front for multi-file fixtures and the column
/// after the line when the expectation gives one.
fn render(d: &Value, with_file: bool, with_column: bool) -> String {
    let mut s = String::new();
    if with_file {
        let file = d["file"].as_str().unwrap();
        s.push_str(Path::new(file).file_name().unwrap().to_str().unwrap());
        s.push(':');
    }
    s.push_str(&d["line"].to_string());
    if let (true, Some(c)) = (with_column, d["column"].as_u64()) {
        s.push_str(&format!(":{c}"));
    }
    format!("{s} {} {}", d["severity"].as_str().unwrap(), d["code"].as_str().unwrap())
}

/// Compares the report with the expectation and lists every difference.
fn differences(fixture: &Fixture, actual: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    for key in ["valid", "format", "encoding", "bom", "counts", "domains"] {
        let expected = &fixture.expect[key];
        if expected.is_null() && key == "domains" {
            continue;
        }
        if expected != &actual[key] {
            problems.push(format!("{key}: expected {expected}, got {}", actual[key]));
        }
    }
    let with_file = fixture.inputs.len() > 1;
    let expected: Vec<String> =
        fixture.expect["diagnostics"].as_array().unwrap().iter().map(|d| d.as_str().unwrap().to_owned()).collect();
    let got: Vec<&Value> = actual["diagnostics"].as_array().unwrap().iter().collect();
    let rendered: Vec<String> = got
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let with_column = expected.get(i).is_some_and(|e| {
                let position = e.split(' ').next().unwrap();
                position.matches(':').count() > usize::from(with_file)
            });
            render(d, with_file, with_column)
        })
        .collect();
    if rendered != expected {
        problems.push(format!(
            "diagnostics:\n      expected {expected:?}\n      got      {rendered:?}\n      messages {:?}",
            got.iter().map(|d| d["message"].as_str().unwrap()).collect::<Vec<_>>()
        ));
    }
    problems
}

fn run_check(fixture: &Fixture) -> (Value, Option<i32>) {
    let output = Command::new(env!("CARGO_BIN_EXE_dirgate"))
        .arg("check")
        .arg("--json")
        .args(args_of(&fixture.expect))
        .args(&fixture.inputs)
        .output()
        .expect("run dirgate check");
    let stdout = String::from_utf8(output.stdout).expect("the report is UTF-8");
    assert_eq!(stdout.lines().count(), 1, "{}: --json must print exactly one line", fixture.name);
    let report = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{}: {e}: {stdout}", fixture.name));
    (report, output.status.code())
}

#[test]
fn every_fixture_matches_its_expectation() {
    let fixtures = fixtures();
    assert!(fixtures.len() >= 80, "the corpus has only {} fixtures", fixtures.len());
    let mut failures = BTreeMap::new();
    for fixture in &fixtures {
        let (report, status) = run_check(fixture);
        let mut problems = differences(fixture, &report);
        let expected_status = if report["valid"] == Value::Bool(true) { 0 } else { 1 };
        if status != Some(expected_status) {
            problems.push(format!("exit status {status:?}, expected {expected_status}"));
        }
        let verdict_dir_valid = fixture.name.contains("/ok/");
        if report["valid"].as_bool() != Some(verdict_dir_valid) {
            problems.push(format!(
                "the fixture sits in {} but valid is {}",
                if verdict_dir_valid { "ok/" } else { "err/" },
                report["valid"]
            ));
        }
        if !problems.is_empty() {
            failures.insert(fixture.name.clone(), problems);
        }
    }
    if !failures.is_empty() {
        let mut message = format!("{} of {} fixtures differ:\n", failures.len(), fixtures.len());
        for (name, problems) in &failures {
            message.push_str(&format!("  {name}\n"));
            for p in problems {
                message.push_str(&format!("    {p}\n"));
            }
        }
        panic!("{message}");
    }
}

fn options_of(expect: &Value) -> Options {
    let args = args_of(expect);
    let mut options = Options::default();
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--domain" => {
                options.managed_domains.push(args[i + 1].clone());
                i += 1;
            }
            "--format" => {
                options.format = match args[i + 1].as_str() {
                    "ldif" => FormatChoice::Ldif,
                    "csv" => FormatChoice::Csv,
                    _ => FormatChoice::Auto,
                };
                i += 1;
            }
            other => panic!("unknown fixture argument {other}"),
        }
        i += 1;
    }
    options
}

/// A tiny deterministic generator, so that chunk splits are random but reproducible.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn validate_in_chunks(inputs: &[(String, Vec<u8>)], options: &Options, rng: Option<&mut SplitMix>) -> Report {
    let mut validator = Validator::new(options.clone());
    let mut rng = rng;
    for (name, bytes) in inputs {
        validator.begin_file(name.clone());
        match rng.as_deref_mut() {
            None => validator.feed(bytes),
            Some(rng) => {
                let mut rest = &bytes[..];
                while !rest.is_empty() {
                    // Mostly tiny chunks, to split BOMs, CRLFs, UTF-8 and UTF-16 sequences.
                    let limit = if rng.next() % 4 == 0 { 4096 } else { 7 };
                    let n = (rng.next() % limit + 1).min(rest.len() as u64) as usize;
                    validator.feed(&rest[..n]);
                    rest = &rest[n..];
                }
            }
        }
        validator.end_file();
    }
    validator.finish().report
}

#[test]
fn chunk_boundaries_never_change_the_report() {
    let mut rng = SplitMix(0x5EED);
    for fixture in fixtures() {
        let options = options_of(&fixture.expect);
        let inputs: Vec<(String, Vec<u8>)> = fixture
            .inputs
            .iter()
            .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(p).unwrap()))
            .collect();
        let whole = validate_in_chunks(&inputs, &options, None);
        for _ in 0..3 {
            let chunked = validate_in_chunks(&inputs, &options, Some(&mut rng));
            assert_eq!(whole, chunked, "{}: the report depends on chunk boundaries", fixture.name);
        }
    }
}

/// A file's announced size only sizes the directory's tables: right, too small, absurdly large
/// or absent, the report is the same. Each fixture is repeated past the 256 KiB sample after
/// which the core projects the rest of the file.
#[test]
fn an_announced_file_size_never_changes_the_report() {
    for fixture in fixtures() {
        let options = options_of(&fixture.expect);
        let inputs: Vec<(String, Vec<u8>)> = fixture
            .inputs
            .iter()
            .map(|p| {
                let bytes = std::fs::read(p).unwrap();
                let mut grown = bytes.clone();
                while !bytes.is_empty() && grown.len() < 300 * 1024 {
                    grown.extend_from_slice(&bytes);
                }
                (p.file_name().unwrap().to_string_lossy().into_owned(), grown)
            })
            .collect();
        if inputs.iter().any(|(_, bytes)| bytes.len() > 2 << 20) {
            continue;
        }
        let run = |announce: &dyn Fn(u64) -> Option<u64>| {
            let mut validator = Validator::new(options.clone());
            for (name, bytes) in &inputs {
                validator.begin_file(name.clone());
                if let Some(size) = announce(bytes.len() as u64) {
                    validator.expect_size(size);
                }
                for chunk in bytes.chunks(64 * 1024) {
                    validator.feed(chunk);
                }
                validator.end_file();
            }
            validator.finish().report
        };
        let unannounced = run(&|_| None);
        for (label, announce) in [
            ("the true size", &(|n| Some(n)) as &dyn Fn(u64) -> Option<u64>),
            ("a size too small", &|n| Some(n / 10)),
            ("a size far too large", &|_| Some(u64::MAX)),
        ] {
            assert_eq!(unannounced, run(announce), "{}: announcing {label} changed the report", fixture.name);
        }
    }
}

/// A file that is one 10 MB line must be refused line by line, not buffered whole.
#[test]
fn ten_megabyte_single_line_is_refused() {
    let dir = std::env::temp_dir().join(format!("dirgate-fixture-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("one-line.csv");
    let mut line = String::from("john@example.com,");
    line.push_str(&"x".repeat(10 * 1024 * 1024));
    std::fs::write(&path, &line).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_dirgate")).args(["check", "--json"]).arg(&path).output().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(1));
    let codes: Vec<&str> =
        report["diagnostics"].as_array().unwrap().iter().map(|d| d["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["line-too-long", "empty-file"]);
    assert_eq!(report["diagnostics"][0]["line"], 1);
}

/// Exit status 2 when the command cannot run, with nothing on standard output.
#[test]
fn unreadable_file_exits_with_two() {
    let output = Command::new(env!("CARGO_BIN_EXE_dirgate"))
        .args(["check", "--json", "/nonexistent/dirgate/users.csv"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot read"));
}
