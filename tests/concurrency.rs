//! Concurrency (issue 8): writers import, push (sync) and roll back while readers export, check
//! recipients and read the counts and the history, on two tenants at once, against one real
//! `dirgate serve`.
//!
//! Every version of a tenant's directory identifies itself: each cell of each record of version
//! `N` starts with `vN-`, and the number of records in each domain depends on `N`. A reader that
//! sees a mix of tags in one export, rows that are not exactly those of the tag it sees, or
//! counts that belong to no version, has caught a half-applied change. Afterwards the history is
//! replayed: every change a writer saw committed is there, with what it submitted, the statuses
//! follow from the order of the changes, and the directory is exactly the version on top. Every
//! request has a deadline, so a deadlock fails the test instead of hanging it.
//!
//! Release build only: `cargo test --release -p dirgate --test concurrency`. Knobs:
//! `DIRGATE_CONCURRENCY_SECONDS` (60), `DIRGATE_CONCURRENCY_WRITERS` (8),
//! `DIRGATE_CONCURRENCY_READERS` (64), `DIRGATE_CONCURRENCY_SEED` (8).

#[path = "support/stress.rs"]
mod stress;
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dirgate_core::Directory;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use support::{Answer, Client, Server, domain_stats};

const TENANTS: [(&str, [&str; 2]); 2] =
    [("Alpha", ["alpha0.example", "alpha1.example"]), ("Beta", ["beta0.example", "beta1.example"])];

/// The recipients of version `tag` in the tenant's domain number `d`: a count that differs
/// between versions and between domains, so that counts of a mix match no version.
fn recipients_in(tag: u64, d: usize) -> usize {
    1000 + ((tag * 37 + d as u64 * 11) % 200) as usize
}

/// Version `tag` of a tenant's directory: in each domain its recipients, an alias for every
/// other one, and a group of the first five; every cell starts with `v{tag}-`.
fn version(tag: u64, domains: &[&str]) -> Directory {
    let mut directory = Directory::default();
    for (d, domain) in domains.iter().enumerate() {
        let user = |i: usize| format!("v{tag}-u{i}@{domain}");
        for i in 0..recipients_in(tag, d) {
            directory.push_recipient(&user(i), Some(&format!("v{tag}-user-{i}")));
            if i % 2 == 0 {
                directory.push_alias(&format!("v{tag}-a{i}@{domain}"), &user(i));
            }
        }
        let members: Vec<String> = (0..5).map(user).collect();
        directory.push_group(
            &format!("v{tag}-group-{d}"),
            None,
            Some(&format!("v{tag}-g@{domain}")),
            members.iter().map(String::as_str),
        );
    }
    directory
}

/// The stored counts (recipients, aliases, groups) of version `tag` in domain number `d`.
fn counts_in(tag: u64, d: usize) -> (u64, u64, u64) {
    let recipients = recipients_in(tag, d) as u64;
    (recipients, recipients.div_ceil(2), 1)
}

/// The version tag of an export row: every cell starts with `v{tag}-`.
fn tag_of(line: &str) -> u64 {
    let tag = |cell: &str| cell.strip_prefix('v').and_then(|c| c.split_once('-')).and_then(|(t, _)| t.parse().ok());
    let tags: BTreeSet<Option<u64>> = line.split(',').map(tag).collect();
    match tags.into_iter().collect::<Vec<_>>().as_slice() {
        [Some(t)] => *t,
        _ => panic!("a row of several versions: {line}"),
    }
}

/// One tenant, as every thread sees it.
struct Tenant {
    domains: [&'static str; 2],
    client: Client,
    /// The id of the first import, made before the run; no writer rolls it back.
    first: u64,
    /// Every version tag sent to be applied, committed or not.
    submitted: Mutex<Vec<u64>>,
    /// Change id -> version tag of every import and sync push answered with 201.
    committed: Mutex<BTreeMap<u64, u64>>,
    /// The ids of the rollbacks answered with 201.
    rolled_back: Mutex<BTreeSet<u64>>,
    /// Every version tag a reader saw.
    seen: Mutex<BTreeSet<u64>>,
}

impl Tenant {
    /// The tag of a version no reader may see uncommitted: fresh, and recorded as submitted.
    fn submit(&self, tags: &AtomicU64) -> u64 {
        let tag = tags.fetch_add(1, Ordering::Relaxed);
        self.submitted.lock().unwrap().push(tag);
        tag
    }

    fn upload(&self, path: &str, tag: u64) -> Answer {
        let body = stress::upload_body(&version(tag, &self.domains));
        self.client.send(stress::upload_request(&self.client, &format!("{path}description=v{tag}")), Some(&body))
    }
}

/// Operations done and errors answered, per kind of operation.
#[derive(Default)]
struct Tally {
    done: BTreeMap<&'static str, u64>,
    errors: BTreeMap<(&'static str, u16, String), u64>,
}

impl Tally {
    fn done(&mut self, kind: &'static str) {
        *self.done.entry(kind).or_default() += 1;
    }

    /// Counts an error answer, which must be one of the `legitimate` statuses with the API's
    /// JSON error body.
    fn error(&mut self, kind: &'static str, answer: &Answer, legitimate: &[u16]) {
        let code = stress::error_code(answer);
        assert!(legitimate.contains(&answer.status), "{kind} answered {} {code}: {}", answer.status, answer.text());
        self.done(kind);
        *self.errors.entry((kind, answer.status, code)).or_default() += 1;
    }

    fn merge(&mut self, other: Tally) {
        for (kind, n) in other.done {
            *self.done.entry(kind).or_default() += n;
        }
        for (key, n) in other.errors {
            *self.errors.entry(key).or_default() += n;
        }
    }
}

/// What every thread shares.
struct Run {
    tenants: Vec<Tenant>,
    tags: AtomicU64,
    until: Instant,
    /// Set when a thread fails, so that the others stop instead of running out the clock.
    failed: AtomicBool,
}

impl Run {
    fn running(&self) -> bool {
        Instant::now() < self.until && !self.failed.load(Ordering::Relaxed)
    }
}

/// Marks the run failed if the thread holding it panics.
struct FailOnPanic<'a>(&'a AtomicBool);

impl Drop for FailOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.store(true, Ordering::Relaxed);
        }
    }
}

/// One writer: imports, sync pushes, rollbacks (of its own change just made, or of the one the
/// history offers) and dry runs, on one tenant, until the end of the run.
fn writer(run: &Run, tenant: &Tenant, seed: u64) -> Tally {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut tally = Tally::default();
    let _fail = FailOnPanic(&run.failed);
    while run.running() {
        match rng.random_range(0..10) {
            0..=3 => {
                apply(tenant, &run.tags, "import", &mut tally);
            }
            4..=5 => {
                apply(tenant, &run.tags, "sync", &mut tally);
            }
            // Undoing its own change at once races only the other writers' next commits.
            6 => {
                if let Some(id) = apply(tenant, &run.tags, "import", &mut tally) {
                    rollback(tenant, id, &mut tally);
                }
            }
            7 => {
                if let Some(id) = undoable(tenant) {
                    rollback(tenant, id, &mut tally);
                }
            }
            _ => dry_run(tenant, &run.tags, &mut tally),
        }
    }
    tally
}

/// The change the history offers to roll back, unless it is the tenant's first import (whose
/// rollback would empty the directory).
fn undoable(tenant: &Tenant) -> Option<u64> {
    let history = stress::history(&tenant.client);
    let top = history.iter().find(|e| e["rollback_available"] == true)?;
    top["id"].as_u64().filter(|&id| id != tenant.first)
}

/// An import or sync push of a new version; its change id when it committed.
fn apply(tenant: &Tenant, tags: &AtomicU64, kind: &'static str, tally: &mut Tally) -> Option<u64> {
    let tag = tenant.submit(tags);
    let path = if kind == "import" { "/api/v1/imports?" } else { "/api/v1/sync?" };
    let answer = tenant.upload(path, tag);
    if answer.status != 201 {
        // The deletion threshold (409) may refuse either; the daily limit (429), raised for
        // this suite, applies to imports only.
        let legitimate: &[u16] = if kind == "import" { &[409, 429] } else { &[409] };
        tally.error(kind, &answer, legitimate);
        return None;
    }
    tally.done(kind);
    let id = answer.json()["id"].as_u64().expect("a change id");
    tenant.committed.lock().unwrap().insert(id, tag);
    Some(id)
}

/// Rolls back change `id`, which is refused (409) once another change has replaced its domains.
fn rollback(tenant: &Tenant, id: u64, tally: &mut Tally) {
    let request = stress::request(&tenant.client, "POST", &format!("/api/v1/imports/{id}/rollback"))
        .set("Content-Type", "application/json");
    let answer = tenant.client.send(request, Some(b"{}"));
    if answer.status != 201 {
        tally.error("rollback", &answer, &[409]);
        return;
    }
    tally.done("rollback");
    let body = answer.json();
    assert_eq!(body["rollback_of"], id, "{body}");
    tenant.rolled_back.lock().unwrap().insert(body["id"].as_u64().expect("a change id"));
}

/// A dry run of a version that is never applied: no reader may ever see its tag.
fn dry_run(tenant: &Tenant, tags: &AtomicU64, tally: &mut Tally) {
    let tag = tags.fetch_add(1, Ordering::Relaxed);
    let answer = tenant.upload("/api/v1/imports?dry_run=true&", tag);
    assert_eq!(answer.status, 200, "{}", answer.text());
    let body = answer.json();
    assert_eq!(body["dry_run"], true, "{body}");
    assert_eq!(body["domains"].as_array().map(Vec::len), Some(2), "{body}");
    tally.done("dry-run");
}

/// One reader: exports, recipient checks, counts and history of one tenant, each checked
/// against the versions, until the end of the run.
fn reader(run: &Run, tenant: &Tenant, other: &Tenant, seed: u64) -> Tally {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut tally = Tally::default();
    let _fail = FailOnPanic(&run.failed);
    while run.running() {
        let kind = match rng.random_range(0..6) {
            0..=2 => read_export(tenant, rng.random_range(0..3), rng.random_bool(0.5).then(|| rng.random_range(0..2))),
            3 => check_recipients(tenant, other, &mut rng),
            4 => read_stats(tenant),
            _ => read_history(tenant),
        };
        tally.done(kind);
    }
    tally
}

/// Reads one export (of one domain, or of all) and checks that it is exactly one version.
fn read_export(tenant: &Tenant, file: usize, domain: Option<usize>) -> &'static str {
    let name = ["recipients.csv", "aliases.csv", "groups.csv"][file];
    let text = stress::export(&tenant.client, name, domain.map(|d| tenant.domains[d]));
    let lines = stress::export_lines(&text);
    let tag = tag_of(lines.first().expect("a tenant's directory is never empty in this suite"));
    let mut expected = stress::expected_lines(&version(tag, &tenant.domains))[file].clone();
    if let Some(d) = domain {
        let suffix = format!("@{}", tenant.domains[d]);
        let in_domain =
            |line: &String| line.split(',').nth(if file == 0 { 0 } else { 1 }).is_some_and(|a| a.ends_with(&suffix));
        expected.retain(in_domain);
    }
    let scope = domain.map_or("the tenant", |d| tenant.domains[d]);
    assert!(stress::rows_are(&text, &expected), "{name} of {scope} is not exactly version {tag}");
    tenant.seen.lock().unwrap().insert(tag);
    "export"
}

/// Checks an address of some version of this tenant (accepted or rejected, depending on the
/// version in effect) and one of the other tenant's domains, which this tenant's key must not see.
fn check_recipients(tenant: &Tenant, other: &Tenant, rng: &mut StdRng) -> &'static str {
    let tag = {
        let submitted = tenant.submitted.lock().unwrap();
        submitted[rng.random_range(0..submitted.len())]
    };
    let body = stress::get_json(&tenant.client, &format!("/api/v1/recipients/v{tag}-u3@{}", tenant.domains[1]));
    match body["status"].as_str() {
        Some("accepted") => assert_eq!(body["kind"], "recipient", "{body}"),
        Some("rejected") => assert_eq!(body["kind"], Value::Null, "{body}"),
        _ => panic!("a managed address got {body}"),
    }
    let body = stress::get_json(&tenant.client, &format!("/api/v1/recipients/v{tag}-u3@{}", other.domains[0]));
    assert_eq!(body["status"], "not-managed", "another tenant's domain: {body}");
    "recipient-check"
}

/// The stored counts of every domain must be those of one version that was submitted.
fn read_stats(tenant: &Tenant) -> &'static str {
    let stats = stress::get_json(&tenant.client, "/api/v1/stats");
    let observed: Vec<(u64, u64, u64)> = tenant.domains.iter().map(|d| domain_stats(&stats, d)).collect();
    let matches = |tag: u64| (0..2).all(|d| counts_in(tag, d) == observed[d]);
    // The lock is released before the assertion, so that a failure does not poison it.
    let found = tenant.submitted.lock().unwrap().iter().any(|&tag| matches(tag));
    assert!(found, "counts {observed:?} belong to no version");
    "stats"
}

/// Every import and sync push sets both domains, so at most one of them is in effect.
fn read_history(tenant: &Tenant) -> &'static str {
    for (path, field) in [("/api/v1/imports", "imports"), ("/api/v1/sync/history", "runs")] {
        let body = stress::get_json(&tenant.client, path);
        let in_effect = body[field]
            .as_array()
            .expect("a list")
            .iter()
            .filter(|e| e["kind"] != "rollback" && e["status"] == "in-effect")
            .count();
        assert!(in_effect <= 1, "{in_effect} changes in effect in {path}");
    }
    "history"
}

/// Replays a tenant's change log, oldest first, against what the writers were answered, and
/// returns the tag of the version that must be in effect.
fn replay(tenant: &Tenant) -> u64 {
    let mut history = stress::history(&tenant.client);
    history.reverse();
    let committed = tenant.committed.lock().unwrap().clone();
    let rolled_back = tenant.rolled_back.lock().unwrap().clone();
    let mut stack: Vec<u64> = Vec::new();
    let mut undone: BTreeSet<u64> = BTreeSet::new();
    for entry in &history {
        let id = entry["id"].as_u64().unwrap();
        assert_eq!(entry["result"], "applied", "{entry}");
        if entry["kind"] == "rollback" {
            assert!(rolled_back.contains(&id), "a rollback no writer was answered for: {entry}");
            assert_eq!(entry["rollback_of"].as_u64(), stack.pop(), "a rollback undoes the change on top: {entry}");
            undone.insert(entry["rollback_of"].as_u64().unwrap());
            continue;
        }
        let tag = *committed.get(&id).unwrap_or_else(|| panic!("a change no writer was answered for: {entry}"));
        assert_eq!(entry["description"], format!("v{tag}"), "{entry}");
        for (d, diff) in entry["domains"].as_array().unwrap().iter().enumerate() {
            let (recipients, aliases, groups) = counts_in(tag, d);
            assert_eq!(diff["after"].as_u64(), Some(recipients + aliases + groups), "{diff}");
        }
        stack.push(id);
    }
    let applied = history.iter().filter(|e| e["kind"] != "rollback").count();
    assert_eq!(applied, committed.len(), "every change answered with 201 is in the history");
    assert_eq!(history.len() - applied, rolled_back.len(), "every rollback answered with 201 is in the history");
    for entry in history.iter().filter(|e| e["kind"] != "rollback") {
        let id = entry["id"].as_u64().unwrap();
        let status = match () {
            _ if undone.contains(&id) => "rolled-back",
            _ if stack.last() == Some(&id) => "in-effect",
            _ => "superseded",
        };
        assert_eq!(entry["status"], status, "{entry}");
    }
    committed[stack.last().expect("the first import is never rolled back")]
}

/// After the run: the directory is exactly the version on top of the history, and every tag a
/// reader saw was committed.
fn check_final(tenant: &Tenant) {
    let tag = replay(tenant);
    let expected = stress::expected_lines(&version(tag, &tenant.domains));
    for (file, lines) in ["recipients.csv", "aliases.csv", "groups.csv"].iter().zip(&expected) {
        assert!(stress::rows_are(&stress::export(&tenant.client, file, None), lines), "{file} is not version {tag}");
    }
    let stats = stress::get_json(&tenant.client, "/api/v1/stats");
    for (d, domain) in tenant.domains.iter().enumerate() {
        assert_eq!(domain_stats(&stats, domain), counts_in(tag, d), "{domain}");
    }
    let committed: BTreeSet<u64> = tenant.committed.lock().unwrap().values().copied().collect();
    let seen = tenant.seen.lock().unwrap();
    assert!(seen.is_subset(&committed), "readers saw versions that never committed: {:?}", seen.difference(&committed));
}

#[test]
fn concurrent_writers_and_readers_never_see_half_a_change() {
    if !stress::optimised_or_forced("concurrency") {
        return;
    }
    let seconds: u64 = stress::env_or("DIRGATE_CONCURRENCY_SECONDS", 60);
    let writers: usize = stress::env_or("DIRGATE_CONCURRENCY_WRITERS", 8);
    let readers: usize = stress::env_or("DIRGATE_CONCURRENCY_READERS", 64);
    let seed: u64 = stress::env_or("DIRGATE_CONCURRENCY_SEED", 8);
    let server = Server::start();
    let tags = AtomicU64::new(1);
    let tenants: Vec<Tenant> = TENANTS
        .iter()
        .map(|(name, domains)| {
            let (_, client) = server.tenant(name, domains);
            stress::allow_every_import(&client);
            let mut tenant = Tenant {
                domains: *domains,
                client,
                first: 0,
                submitted: Mutex::default(),
                committed: Mutex::default(),
                rolled_back: Mutex::default(),
                seen: Mutex::default(),
            };
            // The first version is in place before anyone reads.
            tenant.first = apply(&tenant, &tags, "import", &mut Tally::default()).expect("the first import");
            tenant
        })
        .collect();
    let began = Instant::now();
    let run = Run { tenants, tags, until: began + Duration::from_secs(seconds), failed: AtomicBool::new(false) };
    let mut tally = Tally::default();
    std::thread::scope(|scope| {
        let run = &run;
        let mut threads = Vec::new();
        for w in 0..writers {
            let tenant = &run.tenants[w % 2];
            threads.push(scope.spawn(move || writer(run, tenant, seed + w as u64)));
        }
        for r in 0..readers {
            let (tenant, other) = (&run.tenants[r % 2], &run.tenants[(r + 1) % 2]);
            threads.push(scope.spawn(move || reader(run, tenant, other, seed + 1000 + r as u64)));
        }
        for thread in threads {
            tally.merge(thread.join().expect("a writer or reader failed"));
        }
    });
    let elapsed = began.elapsed();
    println!("{writers} writers and {readers} readers on 2 tenants for {:.1} s:", elapsed.as_secs_f64());
    for (kind, n) in &tally.done {
        println!("  {kind:16} {n:7} ({:.1}/s)", *n as f64 / elapsed.as_secs_f64());
    }
    for ((kind, status, code), n) in &tally.errors {
        println!("  error: {kind:9} {status} {code:28} {n:7}");
    }
    for tenant in &run.tenants {
        check_final(tenant);
        println!(
            "  {}: {} changes committed, {} rollbacks, {} versions seen by readers",
            tenant.domains[0],
            tenant.committed.lock().unwrap().len(),
            tenant.rolled_back.lock().unwrap().len(),
            tenant.seen.lock().unwrap().len()
        );
    }
    for kind in ["import", "sync", "rollback", "dry-run", "export", "recipient-check", "stats", "history"] {
        assert!(tally.done.get(kind).is_some_and(|&n| n > 0), "no {kind} was done");
    }
}
