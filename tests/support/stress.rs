//! What the crash and concurrency suites (and the million-record hostile cases) share: they
//! run only in an optimised build, every request they make has a deadline, their uploads are
//! the core's own `Directory` as gzip JSON (what the browser and the sync agent send), and
//! exports are compared as sets of CSV lines.

// Each suite uses its own part of this module.
#![allow(dead_code)]

use std::io::Write;
use std::str::FromStr;
use std::time::Duration;

use dirgate_core::Directory;
use serde_json::{Value, json};

use crate::support::{Answer, Client};

/// No request of these suites may take longer. A server that stops answering (a deadlock)
/// then fails the test with a transport error instead of hanging it.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// Set to `1` to run these suites in a debug build too.
pub const FORCE_VARIABLE: &str = "DIRGATE_STRESS";

/// Whether a stress suite should run. A debug build is far too slow for a million recipients,
/// and `cargo test --workspace` builds every suite in debug; there the suite says that it
/// skipped, on stderr directly so that the test runner's capture does not hide it.
pub fn optimised_or_forced(suite: &str) -> bool {
    if !cfg!(debug_assertions) || std::env::var(FORCE_VARIABLE).is_ok_and(|v| v == "1") {
        return true;
    }
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {suite}: built without optimisations. `make stress` runs it in a release \
         build; or set {FORCE_VARIABLE}=1 to run it in this build anyway."
    );
    false
}

/// A knob of a suite: the environment variable `name` when set, else `default`.
pub fn env_or<T: FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(text) => text.parse().unwrap_or_else(|_| panic!("{name}={text} is not a valid value")),
        Err(_) => default,
    }
}

/// Lets a tenant import as often as the suite wants and replace whole domains. The daily
/// import limit is a tenant setting, so the suite raises it instead of weakening the product.
pub fn allow_every_import(client: &Client) {
    let settings = json!({ "deletion_threshold_percent": 100, "daily_import_limit": u32::MAX });
    let (status, body) = client.call_json("PUT", "/api/v1/settings", &settings);
    assert_eq!(status, 200, "{body}");
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// The upload body of a directory: its normalised JSON, gzip-compressed.
pub fn upload_body(directory: &Directory) -> Vec<u8> {
    gzip(&serde_json::to_vec(directory).unwrap())
}

/// A request with the suite's deadline.
pub fn request(client: &Client, method: &str, path: &str) -> ureq::Request {
    client.request(method, path).timeout(REQUEST_TIMEOUT)
}

/// A gzip JSON upload request (an import or a sync push) with the suite's deadline.
pub fn upload_request(client: &Client, path: &str) -> ureq::Request {
    request(client, "POST", path).set("Content-Type", "application/json").set("Content-Encoding", "gzip")
}

pub fn get(client: &Client, path: &str) -> Answer {
    client.send(request(client, "GET", path), None)
}

/// A JSON answer, which must be 200.
pub fn get_json(client: &Client, path: &str) -> Value {
    let answer = get(client, path);
    assert_eq!(answer.status, 200, "{path}: {}", answer.text());
    answer.json()
}

/// One export's text, which must stream completely with 200.
pub fn export(client: &Client, file: &str, domain: Option<&str>) -> String {
    let query = domain.map(|d| format!("?domain={d}")).unwrap_or_default();
    let answer = get(client, &format!("/api/v1/exports/{file}{query}"));
    assert_eq!(answer.status, 200, "{file}: {}", answer.text());
    answer.text()
}

/// The rows of an export, sorted: without the BOM and the header, each ended by CRLF.
pub fn export_lines(text: &str) -> Vec<&str> {
    let body = text.strip_prefix('\u{feff}').expect("an export starts with a BOM");
    let (_header, rows) = body.split_once("\r\n").expect("an export has a header line");
    let mut lines: Vec<&str> = rows.split_terminator("\r\n").collect();
    assert!(rows.is_empty() || rows.ends_with("\r\n"), "an export ends with a whole row");
    lines.sort_unstable();
    lines
}

/// The rows the three exports of `directory` must hold, each sorted: recipients.csv,
/// aliases.csv, groups.csv. The suites use plain ASCII cells, which CSV does not quote.
pub fn expected_lines(directory: &Directory) -> [Vec<String>; 3] {
    let mut recipients: Vec<String> =
        directory.recipients().map(|r| format!("{},{}", r.address, r.name.unwrap_or(""))).collect();
    let mut aliases: Vec<String> = directory.aliases().map(|a| format!("{},{}", a.address, a.target)).collect();
    let mut groups: Vec<String> = directory
        .groups()
        .flat_map(|g| {
            let address = g.address.unwrap_or("");
            let members: Vec<&str> = if g.members.is_empty() { vec![""] } else { g.members.iter().collect() };
            members.into_iter().map(move |m| format!("{},{address},{m}", g.name))
        })
        .collect();
    for lines in [&mut recipients, &mut aliases, &mut groups] {
        lines.sort_unstable();
    }
    [recipients, aliases, groups]
}

/// Whether an export's rows are exactly `expected` (sorted, as [`expected_lines`] gives them).
pub fn rows_are(text: &str, expected: &[String]) -> bool {
    let lines = export_lines(text);
    lines.len() == expected.len() && lines.iter().zip(expected).all(|(a, b)| *a == b.as_str())
}

/// A tenant's whole change log, newest first: the import list (imports, rollbacks, domain
/// removals) merged with the sync runs.
pub fn history(client: &Client) -> Vec<Value> {
    let mut entries = Vec::new();
    for (path, field) in [("/api/v1/imports", "imports"), ("/api/v1/sync/history", "runs")] {
        entries.extend(get_json(client, path)[field].as_array().expect("a list").iter().cloned());
    }
    entries.sort_by_key(|e| std::cmp::Reverse(e["id"].as_u64().expect("an id")));
    entries
}

/// Checks that an error answer is the API's JSON error shape, and returns its code.
pub fn error_code(answer: &Answer) -> String {
    let body = answer.json();
    let code =
        body["error"]["code"].as_str().unwrap_or_else(|| panic!("{} without a JSON error: {body}", answer.status));
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    assert!(answer.header("content-type").is_some_and(|t| t.starts_with("application/json")), "{body}");
    code.to_owned()
}
