//! Throughput of the core on generated directory files, against the limits it is held to:
//! - CSV: full validation should reach at least half the `csv` crate's raw record loop;
//! - LDIF: full validation should stay within 2x of a plain line scan.
//!
//! Data comes from `tests/bench/gen_data.py` (`make bench-data`); set `DIRGATE_BENCH_DATA` to
//! its folder and `DIRGATE_BENCH_USERS` to a comma-separated list of sizes (default 100000).
//! After criterion's own figures, a summary table prints MB/s, records/s and the ratios from a
//! median of runs made back to back, so that the ratio is measured on the same noisy machine.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group};
use dirgate_core::{Options, Validator};

const CHUNK: usize = 256 * 1024;

fn data_dir() -> PathBuf {
    std::env::var_os("DIRGATE_BENCH_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-data"))
}

fn sizes() -> Vec<String> {
    std::env::var("DIRGATE_BENCH_USERS")
        .unwrap_or_else(|_| "100000".to_owned())
        .split(',')
        .map(|s| s.trim().to_owned())
        .collect()
}

fn load(name: &str) -> Option<Vec<u8>> {
    let path = data_dir().join(name);
    match std::fs::read(&path) {
        Ok(bytes) => Some(bytes),
        Err(_) => {
            eprintln!("skipping {}: run `make bench-data` first", path.display());
            None
        }
    }
}

/// The core, fed as the CLI and the browser feed it: the file's size announced, then the file in
/// fixed-size chunks.
fn validate(name: &str, bytes: &[u8]) -> u64 {
    let mut validator = Validator::new(Options::default());
    validator.begin_file(name);
    validator.expect_size(bytes.len() as u64);
    for chunk in bytes.chunks(CHUNK) {
        validator.feed(chunk);
    }
    let outcome = validator.finish();
    let c = outcome.report.counts;
    c.recipients + c.aliases + c.groups
}

/// The `csv` crate's raw record loop: the parsing limit for CSV.
fn csv_raw(bytes: &[u8]) -> u64 {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(bytes);
    let mut record = csv::ByteRecord::new();
    let mut n = 0;
    while reader.read_byte_record(&mut record).unwrap() {
        n += record.len() as u64;
    }
    n
}

/// A plain line scan: read each line into a reused `String` (UTF-8 checked), as the simplest
/// line-by-line reader does, and find its `attribute:` separator. This is the bar for LDIF.
fn line_scan(bytes: &[u8]) -> u64 {
    use std::io::BufRead;
    let mut reader = std::io::BufReader::with_capacity(CHUNK, bytes);
    let mut line = String::new();
    let mut attributes = 0;
    while reader.read_line(&mut line).unwrap() > 0 {
        if memchr::memchr(b':', line.as_bytes()).is_some() {
            attributes += 1;
        }
        line.clear();
    }
    attributes
}

/// Counting newlines with memchr, as `wc -l` does: the memory-scan limit, for context.
fn newline_count(bytes: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', bytes).count() as u64
}

struct Case {
    label: String,
    file: String,
    bytes: Vec<u8>,
    baseline_name: &'static str,
    baseline: fn(&[u8]) -> u64,
}

const SCAN_NAME: &str = "newline count";

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for n in sizes() {
        let csv_name = format!("users-{n}.csv");
        if let Some(bytes) = load(&csv_name) {
            cases.push(Case {
                label: format!("csv/{n}"),
                file: csv_name,
                bytes,
                baseline_name: "csv crate raw",
                baseline: csv_raw,
            });
        }
        let ldif_name = format!("ad-{n}.ldif");
        if let Some(bytes) = load(&ldif_name) {
            cases.push(Case {
                label: format!("ldif/{n}"),
                file: ldif_name,
                bytes,
                baseline_name: "line scan",
                baseline: line_scan,
            });
        }
    }
    cases
}

fn bench(c: &mut Criterion) {
    for case in cases() {
        let mut group = c.benchmark_group(&case.label);
        group.throughput(Throughput::Bytes(case.bytes.len() as u64));
        group.sample_size(10);
        group.measurement_time(Duration::from_secs(10));
        group.bench_function("dirgate validate", |b| b.iter(|| validate(&case.file, black_box(&case.bytes))));
        group.bench_function(case.baseline_name, |b| b.iter(|| (case.baseline)(black_box(&case.bytes))));
        group.bench_function(SCAN_NAME, |b| b.iter(|| newline_count(black_box(&case.bytes))));
        group.finish();
    }
}

fn median_seconds(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[runs / 2]
}

fn summary() {
    println!(
        "\n{:<14} {:>8} {:>9} {:>13} {:>14} {:>11} {:>7} {:>12}",
        "file", "MB", "records", "dirgate MB/s", "dirgate rec/s", "limit MB/s", "ratio", "wc -l MB/s"
    );
    for case in cases() {
        let mb = case.bytes.len() as f64 / 1e6;
        let records = validate(&case.file, &case.bytes);
        let ours = median_seconds(5, || {
            black_box(validate(&case.file, black_box(&case.bytes)));
        });
        let limit = median_seconds(5, || {
            black_box((case.baseline)(black_box(&case.bytes)));
        });
        let scan = median_seconds(5, || {
            black_box(newline_count(black_box(&case.bytes)));
        });
        println!(
            "{:<14} {:>8.1} {:>9} {:>13.1} {:>14.0} {:>11.1} {:>7.2} {:>12.0}   (limit: {}; ratio = dirgate / limit)",
            case.label,
            mb,
            records,
            mb / ours,
            records as f64 / ours,
            mb / limit,
            limit / ours,
            mb / scan,
            case.baseline_name
        );
    }
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    summary();
}
