//! Crash safety (issue 8): a real `dirgate serve` is killed with SIGKILL at random points of a
//! one-million-recipient import, sync push or rollback, and started again on the same redb file.
//! After every kill the database must open; the four domains the change spans must all hold
//! exactly their contents before it, or all exactly their contents after it (it is one write
//! transaction: never a mix, not even across domains); the history must record the change if and
//! only if its contents are there; and the exports must stream to the end.
//!
//! The domains alternate between two versions, A and B, which share half their addresses (so
//! that every change keeps, removes and adds rows) and differ in every name. Each trial turns the
//! current version into the other one and kills the server after a delay drawn from a seeded RNG
//! over 1.5 times the longest change seen (the first measured in the setup), so that some kills
//! land before the commit and some after it; a server that answers sooner is killed at once.
//!
//! Release build only: `cargo test --release -p dirgate --test crash`. Knobs:
//! `DIRGATE_CRASH_RECIPIENTS` (1000000), `DIRGATE_CRASH_TRIALS` (20), `DIRGATE_CRASH_SEED` (8).

#[path = "support/stress.rs"]
mod stress;
mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use dirgate_core::Directory;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use support::{Auth, Client, Server, domain_stats};

const DOMAINS: [&str; 4] = ["crash0.example", "crash1.example", "crash2.example", "crash3.example"];
const NAMES: [&str; 2] = ["A", "B"];

/// Kills are spread over this multiple of the longest change seen; the part past 1.0 lands
/// after the commit.
const KILL_SPREAD: f64 = 1.5;

/// Version `v` (0 is A, 1 is B): in every domain, `per_domain` recipients `u{i}`, B's range
/// starting halfway through A's, each named after its version.
fn version(v: usize, per_domain: usize) -> Directory {
    let first = v * per_domain / 2;
    let mut directory = Directory::new();
    for d in DOMAINS {
        for i in first..first + per_domain {
            directory.push_recipient(&format!("u{i}@{d}"), Some(&format!("{} {i}", NAMES[v])));
        }
    }
    directory
}

/// The two versions, as the test uploads them and as the server must export them.
struct Versions {
    per_domain: usize,
    bodies: [Vec<u8>; 2],
    /// Each version's recipients.csv as the server exported it right after the version was
    /// imported, once checked row by row against the version; later exports must equal one of
    /// them byte for byte.
    exports: [String; 2],
}

impl Versions {
    /// Which version an export is, or a description of what it holds instead.
    fn identify(&self, text: &str) -> Result<usize, String> {
        self.exports.iter().position(|e| e == text).ok_or_else(|| describe_rows(text))
    }

    /// Version `v`'s export of one domain: its full export's rows in that domain, in order.
    fn domain_export(&self, v: usize, domain: &str) -> String {
        let suffix = format!("@{domain},");
        let mut lines = self.exports[v].split_inclusive("\r\n");
        let header = lines.next().unwrap_or_default();
        std::iter::once(header).chain(lines.filter(|l| l.contains(&suffix))).collect()
    }
}

/// How many rows of each version each domain of an export holds, for a failure message.
fn describe_rows(text: &str) -> String {
    let mut tally: BTreeMap<(String, String), usize> = BTreeMap::new();
    for line in stress::export_lines(text) {
        let (address, name) = line.split_once(',').unwrap_or((line, ""));
        let domain = address.rsplit('@').next().unwrap_or("").to_owned();
        let tag = name.split(' ').next().unwrap_or("").to_owned();
        *tally.entry((domain, tag)).or_default() += 1;
    }
    format!("the export is neither version; rows per (domain, version): {tally:?}")
}

/// A client of the server as it runs now (its port changes with every start), with the key.
fn key_client(server: &Server, key: &str) -> Client {
    Client { base: server.base.clone(), auth: Auth::Key(key.to_owned()) }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Operation {
    Import,
    Sync,
    /// The rollback of the change with this id.
    Rollback(u64),
}

impl Operation {
    fn name(self) -> &'static str {
        match self {
            Operation::Import => "import",
            Operation::Sync => "sync",
            Operation::Rollback(_) => "rollback",
        }
    }

    /// Sends the trial's request: the answer's status, or `None` when the connection died with
    /// the server.
    fn send(self, client: &Client, trial: usize, body: &[u8]) -> Option<u16> {
        let result = match self {
            Operation::Import | Operation::Sync => {
                let path = format!(
                    "/api/v1/{}?description=trial-{trial}",
                    if self == Operation::Import { "imports" } else { "sync" }
                );
                stress::upload_request(client, &path).send_bytes(body)
            }
            Operation::Rollback(id) => stress::request(client, "POST", &format!("/api/v1/imports/{id}/rollback"))
                .set("Content-Type", "application/json")
                .send_bytes(b"{}"),
        };
        match result {
            Ok(response) => Some(response.status()),
            Err(ureq::Error::Status(status, _)) => Some(status),
            Err(ureq::Error::Transport(_)) => None,
        }
    }
}

/// A change that holds the domains, with the version they held before it (`None`: empty).
struct Applied {
    id: u64,
    before: Option<usize>,
}

/// What the test knows the database holds.
struct Model {
    /// The version the domains hold.
    current: usize,
    /// The changes in effect, oldest first: each one's rollback pops it.
    stack: Vec<Applied>,
    /// The change log as last read, newest first.
    history: Vec<Value>,
}

impl Model {
    /// The change a rollback trial can undo back to a version: the top of the stack, while its
    /// before-snapshot is kept.
    fn rollback_target(&self) -> Option<u64> {
        let top = self.stack.last().filter(|c| c.before.is_some())?;
        let entry = self.history.iter().find(|e| e["id"] == top.id)?;
        (entry["rollback_available"] == true).then_some(top.id)
    }

    /// Every fifth trial is a sync push and every fifth a rollback, when one is possible.
    fn choose(&self, trial: usize) -> Operation {
        match (trial % 5, self.rollback_target()) {
            (2, _) => Operation::Sync,
            (4, Some(id)) => Operation::Rollback(id),
            _ => Operation::Import,
        }
    }

    /// The version the domains hold once `operation` has committed.
    fn after(&self, operation: Operation) -> usize {
        match operation {
            Operation::Rollback(_) => self.stack.last().and_then(|c| c.before).expect("a rollback target"),
            _ => 1 - self.current,
        }
    }
}

/// Imports `v` while the server is up, checks the export row by row and returns the change id,
/// the export (the reference for that version from now on) and how long the import took.
fn import_version(client: &Client, v: usize, per_domain: usize, body: &[u8]) -> (u64, String, Duration) {
    let request = stress::upload_request(client, &format!("/api/v1/imports?description=setup-{v}"));
    let importing = Instant::now();
    let answer = client.send(request, Some(body));
    let import_time = importing.elapsed();
    assert_eq!(answer.status, 201, "{}", answer.text());
    let [expected, _, _] = stress::expected_lines(&version(v, per_domain));
    let export = stress::export(client, "recipients.csv", None);
    assert!(stress::rows_are(&export, &expected), "version {} was not exported as imported", NAMES[v]);
    (answer.json()["id"].as_u64().unwrap(), export, import_time)
}

/// The database holds version `v` everywhere: every export, the per-domain counts and the
/// recipient check agree.
fn check_contents(client: &Client, versions: &Versions, v: usize, trial: usize) {
    for file in ["aliases.csv", "groups.csv"] {
        assert!(stress::export_lines(&stress::export(client, file, None)).is_empty(), "{file} is empty");
    }
    let domain = DOMAINS[trial % DOMAINS.len()];
    let export = stress::export(client, "recipients.csv", Some(domain));
    assert!(export == versions.domain_export(v, domain), "the export of {domain} is not version {}", NAMES[v]);
    let stats = stress::get_json(client, "/api/v1/stats");
    let per = versions.per_domain as u64;
    for domain in DOMAINS {
        assert_eq!(domain_stats(&stats, domain), (per, 0, 0), "the stored counts of {domain}");
    }
    // u0 is only in A, and u{per_domain} only in B.
    let only = |w: usize| format!("u{}@{}", w * versions.per_domain, DOMAINS[trial % DOMAINS.len()]);
    let status = |w: usize| stress::get_json(client, &format!("/api/v1/recipients/{}", only(w)))["status"].clone();
    assert_eq!(status(v), "accepted");
    assert_eq!(status(1 - v), "rejected");
}

/// The history after a trial: unchanged when the change did not commit; otherwise the same
/// entries with the new change on top, which records what it did.
fn check_history(model: &Model, after: &[Value], operation: Operation, trial: usize, committed: bool, per: usize) {
    if !committed {
        assert!(after == model.history, "a change that did not commit left a trace in the history");
        return;
    }
    let ids = |entries: &[Value]| entries.iter().map(|e| e["id"].as_u64().unwrap()).collect::<Vec<_>>();
    assert_eq!(ids(&after[1..]), ids(&model.history), "the history gained exactly one change");
    let newest = &after[0];
    assert_eq!(newest["kind"], operation.name(), "{newest}");
    assert_eq!(newest["result"], "applied", "{newest}");
    assert_eq!(newest["status"], "in-effect", "{newest}");
    assert_eq!(newest["submitted"]["recipients"].as_u64(), Some((per * DOMAINS.len()) as u64), "{newest}");
    let domains = newest["domains"].as_array().unwrap();
    assert_eq!(domains.len(), DOMAINS.len(), "{newest}");
    for diff in domains {
        let delta = &diff["recipients"];
        let moved = (per / 2) as u64;
        assert_eq!(
            (delta["added"].as_u64(), delta["removed"].as_u64(), delta["kept"].as_u64()),
            (Some(moved), Some(moved), Some((per - per / 2) as u64)),
            "{diff}"
        );
    }
    let previous_top = model.stack.last().expect("a change in effect").id;
    let previous = after.iter().find(|e| e["id"] == previous_top).unwrap();
    match operation {
        Operation::Rollback(target) => {
            assert_eq!(newest["rollback_of"], target, "{newest}");
            assert_eq!(previous["status"], "rolled-back", "{previous}");
            assert_eq!(previous["rolled_back_by"], newest["id"], "{previous}");
        }
        _ => {
            assert_eq!(newest["description"], format!("trial-{trial}"), "{newest}");
            assert_eq!(previous["status"], "superseded", "{previous}");
        }
    }
}

/// Sends `operation` and kills the server after `delay`, or as soon as it answers if that is
/// sooner (a kill right after the answer tests that an acknowledged commit survives). Returns
/// the answer's status and when it came, or `None` when the connection died with the server.
fn send_and_kill(
    server: &mut Server,
    client: &Client,
    operation: Operation,
    number: usize,
    body: &[u8],
    delay: Duration,
) -> Option<(u16, Duration)> {
    std::thread::scope(|scope| {
        let (answered, answer) = std::sync::mpsc::channel();
        scope.spawn(move || {
            let sent = Instant::now();
            let status = operation.send(client, number, body);
            answered.send(status.map(|s| (s, sent.elapsed()))).unwrap();
        });
        let early = answer.recv_timeout(delay).ok();
        server.kill();
        early.unwrap_or_else(|| answer.recv().unwrap())
    })
}

/// How a trial ended.
struct Outcome {
    committed: bool,
    /// How long the server took to answer, when it did before the kill.
    answered_after: Option<Duration>,
}

/// One trial: start `operation`, kill the server, start it again and check everything. Returns
/// how the trial ended.
fn trial(
    server: &mut Server,
    model: &mut Model,
    versions: &Versions,
    (number, operation, delay): (usize, Operation, Duration),
    key: &str,
) -> Outcome {
    let before = key_client(server, key);
    let answer = send_and_kill(server, &before, operation, number, &versions.bodies[1 - model.current], delay);
    let status = answer.map(|(status, _)| status);
    assert!(matches!(status, None | Some(201)), "trial {number}: {} answered {status:?}", operation.name());
    let restarting = Instant::now();
    server.start_again();
    let restart = restarting.elapsed();
    let client = &key_client(server, key);
    let found = versions
        .identify(&stress::export(client, "recipients.csv", None))
        .unwrap_or_else(|e| panic!("trial {number}: {e}"));
    let expected_new = model.after(operation);
    assert!(
        found == model.current || found == expected_new,
        "trial {number}: version {} after {}",
        NAMES[found],
        operation.name()
    );
    let committed = found == expected_new;
    assert!(
        committed || status.is_none(),
        "trial {number}: answered 201, yet the change is not there after the restart"
    );
    check_contents(client, versions, found, number);
    let history = stress::history(client);
    check_history(model, &history, operation, number, committed, versions.per_domain);
    println!(
        "trial {number:2}: {:8} kill at {:5.2} s, answer {:>14}, {} contents (version {}), restart {:.2} s",
        operation.name(),
        answer.map_or(delay, |(_, after)| after.min(delay)).as_secs_f64(),
        answer.map_or("none".to_owned(), |(s, after)| format!("{s} at {:.2} s", after.as_secs_f64())),
        if committed { "new" } else { "old" },
        NAMES[found],
        restart.as_secs_f64(),
    );
    if committed {
        match operation {
            Operation::Rollback(_) => {
                model.stack.pop();
            }
            _ => model.stack.push(Applied { id: history[0]["id"].as_u64().unwrap(), before: Some(model.current) }),
        }
        model.current = found;
    }
    model.history = history;
    Outcome { committed, answered_after: answer.map(|(_, after)| after) }
}

/// What the trials start from: the graceful server that made the database (it owns the file),
/// the tenant's API key, the versions, the model, and the length of an import.
struct Setup {
    server: Server,
    key: String,
    versions: Versions,
    model: Model,
    import_time: Duration,
}

/// Makes the tenant, imports A and then B (timed) with a graceful server, and stops it.
fn set_up(per_domain: usize) -> Setup {
    let bodies = [0, 1].map(|v| stress::upload_body(&version(v, per_domain)));
    let mut server = Server::start();
    let (_, client) = server.tenant("Crash", &DOMAINS);
    stress::allow_every_import(&client);
    let Auth::Key(key) = &client.auth else { unreachable!("the harness makes an API key") };
    let (first, export_a, _) = import_version(&client, 0, per_domain, &bodies[0]);
    let (second, export_b, import_time) = import_version(&client, 1, per_domain, &bodies[1]);
    let history = stress::history(&client);
    server.terminate();
    let stack = vec![Applied { id: first, before: None }, Applied { id: second, before: Some(0) }];
    Setup {
        server,
        key: key.clone(),
        versions: Versions { per_domain, bodies, exports: [export_a, export_b] },
        model: Model { current: 1, stack, history },
        import_time,
    }
}

#[test]
fn a_killed_server_keeps_every_domain_old_or_new_and_the_history_agrees() {
    if !stress::optimised_or_forced("crash") {
        return;
    }
    let began = Instant::now();
    let recipients: usize = stress::env_or("DIRGATE_CRASH_RECIPIENTS", 1_000_000);
    let trials: usize = stress::env_or("DIRGATE_CRASH_TRIALS", 20);
    let seed: u64 = stress::env_or("DIRGATE_CRASH_SEED", 8);
    let Setup { mut server, key, versions, mut model, import_time } = set_up(recipients / DOMAINS.len());
    println!(
        "{} recipients in {} domains, {:.1} MB gzip JSON; an import over the other version takes {:.2} s; setup {:.1} s; seed {seed}",
        versions.per_domain * DOMAINS.len(),
        DOMAINS.len(),
        versions.bodies[1].len() as f64 / 1e6,
        import_time.as_secs_f64(),
        began.elapsed().as_secs_f64(),
    );
    server.start_again();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut longest = import_time;
    let mut outcomes: BTreeMap<(&str, bool), usize> = BTreeMap::new();
    for number in 0..trials {
        let operation = model.choose(number);
        let delay = longest.mul_f64(rng.random_range(0.0..KILL_SPREAD));
        let outcome = trial(&mut server, &mut model, &versions, (number, operation, delay), &key);
        *outcomes.entry((operation.name(), outcome.committed)).or_default() += 1;
        // On a loaded machine a change can take longer than the one measured first; spreading
        // the kills over the longest one seen keeps some of them after the commit.
        longest = longest.max(outcome.answered_after.unwrap_or_default());
    }
    println!("outcomes (operation, committed) -> trials: {outcomes:?}; total {:.1} s", began.elapsed().as_secs_f64());
    if trials >= 10 {
        for committed in [false, true] {
            assert!(
                outcomes.iter().any(|((_, c), _)| *c == committed),
                "no trial ended with the {} contents: the kills did not spread over the commit",
                if committed { "new" } else { "old" }
            );
        }
    }
}
