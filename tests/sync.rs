//! End-to-end tests of the directory sync agent: a real OpenLDAP `slapd` in a temporary
//! directory, a real `dirgate serve`, and the real `dirgate-sync` binary between them.
//!
//! slapd comes from Debian's `slapd` and `ldap-utils`. Without them these tests skip with a
//! loud message, unless `DIRGATE_REQUIRE_SLAPD` is set (as `.ci/run` does), when they fail.

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Auth, Client, Server};

const ROOT_DN: &str = "cn=admin,dc=example,dc=org";
const ROOT_PASSWORD: &str = "root-password";
const READER_DN: &str = "cn=reader,dc=example,dc=org";
const READER_PASSWORD: &str = "reader-password";

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/sync").join(name)
}

fn fixture() -> String {
    std::fs::read_to_string(data("directory.ldif")).unwrap()
}

/// Whether slapd and ldap-utils are installed; skips loudly (or fails in CI) when not.
fn slapd_available() -> bool {
    let found = ["/usr/sbin/slapd", "/usr/bin/ldapadd", "/usr/bin/ldapdelete"].iter().all(|p| Path::new(p).exists());
    if !found {
        assert!(
            std::env::var_os("DIRGATE_REQUIRE_SLAPD").is_none(),
            "DIRGATE_REQUIRE_SLAPD is set but slapd / ldap-utils are not installed"
        );
        eprintln!(
            "SKIPPED: slapd or ldap-utils is not installed (apt-get install slapd ldap-utils); the sync test did not run"
        );
    }
    found
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_for_port(port: u16, child: &mut Child, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("slapd exited ({status}): {}", std::fs::read_to_string(log).unwrap_or_default());
        }
        assert!(Instant::now() < deadline, "slapd did not listen on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[derive(Default)]
struct SlapdOptions {
    /// `sizelimit size.soft=N size.hard=N size.prtotal=unlimited`.
    size_limit: Option<u32>,
    /// Without `size.prtotal=unlimited`: the size limit also caps the total over all pages.
    cap_paged_total: bool,
    /// Also listen on ldaps, and offer StartTLS, with a certificate of a test CA.
    tls: bool,
}

/// A private slapd on loopback ports.
struct Slapd {
    dir: tempfile::TempDir,
    child: Child,
    port: u16,
    ldaps_port: Option<u16>,
}

impl Slapd {
    fn start(options: SlapdOptions) -> Slapd {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("db")).unwrap();
        let mut conf = String::new();
        for schema in ["core", "cosine", "inetorgperson", "nis", "misc"] {
            conf.push_str(&format!("include /etc/ldap/schema/{schema}.schema\n"));
        }
        conf.push_str(&format!("include {}\n", data("mail-alternate.schema").display()));
        conf.push_str(&format!("pidfile {0}/slapd.pid\nargsfile {0}/slapd.args\n", d.display()));
        conf.push_str("modulepath /usr/lib/ldap\nmoduleload back_mdb\n");
        if options.tls {
            make_certificates(d);
            conf.push_str(&format!(
                "TLSCACertificateFile {0}/ca.pem\nTLSCertificateFile {0}/server.pem\nTLSCertificateKeyFile {0}/server.key\n",
                d.display()
            ));
        }
        if let Some(n) = options.size_limit {
            let total = if options.cap_paged_total { "" } else { " size.prtotal=unlimited" };
            conf.push_str(&format!("sizelimit size.soft={n} size.hard={n}{total}\n"));
        }
        conf.push_str(&format!(
            "database mdb\nmaxsize 1073741824\nsuffix \"dc=example,dc=org\"\nrootdn \"{ROOT_DN}\"\nrootpw {ROOT_PASSWORD}\ndirectory {}/db\n",
            d.display()
        ));
        std::fs::write(d.join("slapd.conf"), conf).unwrap();
        let port = free_port();
        let ldaps_port = options.tls.then(free_port);
        let mut urls = format!("ldap://127.0.0.1:{port}/");
        if let Some(p) = ldaps_port {
            urls.push_str(&format!(" ldaps://127.0.0.1:{p}/"));
        }
        let log = d.join("slapd.log");
        let mut child = Command::new("/usr/sbin/slapd")
            .args(["-h", &urls, "-f"])
            .arg(d.join("slapd.conf"))
            .args(["-d", "0"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        wait_for_port(port, &mut child, &log);
        Slapd { dir, child, port, ldaps_port }
    }

    fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    fn ldap_tool(&self, tool: &str, args: &[&str], input: &str) {
        let input = if input.is_empty() { input.to_owned() } else { format!("{input}\n") };
        let mut child = Command::new(tool)
            .args(["-x", "-H", &self.url(), "-D", ROOT_DN, "-w", ROOT_PASSWORD])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{tool} failed: {}", String::from_utf8_lossy(&output.stderr));
    }

    fn add(&self, ldif: &str) {
        self.ldap_tool("ldapadd", &[], ldif);
    }

    fn delete(&self, dns: &[&str]) {
        self.ldap_tool("ldapdelete", dns, "");
    }

    fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A test CA and a server certificate for 127.0.0.1, made with openssl.
fn make_certificates(d: &Path) {
    let openssl = |args: &[&str]| {
        let output = Command::new("openssl").args(args).current_dir(d).output().unwrap();
        assert!(output.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    openssl(
        &[
            &["req", "-x509"][..],
            &ec,
            &["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=dirgate test CA"],
            &["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        ]
        .concat(),
    );
    openssl(&[&["req"][..], &ec, &["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]].concat());
    std::fs::write(
        d.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
}

/// `n` more users `user{i}@example.com`.
fn more_users(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "dn: uid=user{i:05},ou=people,dc=example,dc=org\nobjectClass: inetOrgPerson\nuid: user{i:05}\ncn: User {i}\nsn: {i}\nmail: user{i:05}@example.com\n\n"
            )
        })
        .collect()
}

/// The agent's configuration and how to run it against one server.
struct Agent {
    dir: tempfile::TempDir,
    key: String,
}

struct Run {
    code: i32,
    log: String,
}

impl Agent {
    fn new(client: &Client) -> Agent {
        let Auth::Key(key) = &client.auth else { panic!("the tenant client has no API key") };
        Agent { dir: tempfile::tempdir().unwrap(), key: key.clone() }
    }

    /// Writes the configuration: the server, then `rest` (sources and settings).
    fn configure(&self, server: &Server, top: &str, sources: &str) -> PathBuf {
        let path = self.dir.path().join("dirgate-sync.toml");
        std::fs::write(
            &path,
            format!("{top}\n[server]\nurl = \"{}\"\napi_key_env = \"DIRGATE_TEST_API_KEY\"\n\n{sources}", server.base),
        )
        .unwrap();
        path
    }

    fn run(&self, args: &[&str]) -> Run {
        let output: Output = Command::new(env!("CARGO_BIN_EXE_dirgate-sync"))
            .arg("--config")
            .arg(self.dir.path().join("dirgate-sync.toml"))
            .args(args)
            .env("DIRGATE_TEST_API_KEY", &self.key)
            .env("DIRGATE_TEST_LDAP_PASSWORD", READER_PASSWORD)
            .output()
            .unwrap();
        let log = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        // Shown with --nocapture, and for a failing test.
        eprintln!("$ dirgate-sync {}\n{log}", args.join(" "));
        Run { code: output.status.code().unwrap_or(-1), log }
    }
}

impl Agent {
    /// Starts `dirgate-sync daemon`, reads its log until a line contains `marker`, stops it.
    fn daemon_until(&self, marker: &str) -> String {
        let mut child = Command::new(env!("CARGO_BIN_EXE_dirgate-sync"))
            .arg("--config")
            .arg(self.dir.path().join("dirgate-sync.toml"))
            .arg("daemon")
            .env("DIRGATE_TEST_API_KEY", &self.key)
            .env("DIRGATE_TEST_LDAP_PASSWORD", READER_PASSWORD)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut log = String::new();
        let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stderr.take().unwrap()));
        while !log.contains(marker) {
            match lines.next() {
                Some(line) => log.push_str(&format!("{}\n", line.unwrap())),
                None => break,
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        eprintln!("$ dirgate-sync daemon\n{log}");
        log
    }
}

/// A `[[source]]` for the slapd on `port`, bound as the reader.
fn source(port: u16, extra: &str) -> String {
    format!(
        "[[source]]\nname = \"corp-ldap\"\nkind = \"openldap\"\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nbase_dn = \"dc=example,dc=org\"\nbind_dn = \"{READER_DN}\"\npassword_env = \"DIRGATE_TEST_LDAP_PASSWORD\"\npage_size = 5\ntimeout_seconds = 10\n{extra}\n"
    )
}

fn assert_ok(run: &Run) {
    assert_eq!(run.code, 0, "dirgate-sync failed:\n{}", run.log);
}

/// The rows of one export, without BOM and header, sorted.
fn rows(export: &str) -> Vec<String> {
    let mut rows: Vec<String> = export
        .trim_start_matches('\u{feff}')
        .split("\r\n")
        .skip(1)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect();
    rows.sort();
    rows
}

fn sorted(rows: &[&str]) -> Vec<String> {
    let mut rows: Vec<String> = rows.iter().map(|r| r.to_string()).collect();
    rows.sort();
    rows
}

fn runs(client: &Client) -> Vec<Value> {
    let (status, history) = client.get("/api/v1/sync/history");
    assert_eq!(status, 200, "{history}");
    history["runs"].as_array().unwrap().clone()
}

const PEOPLE: [(&str, &str, &str); 15] = [
    ("alice", "Alice Liddell", "example.com"),
    ("bob", "Bob Builder", "example.com"),
    ("carol", "Carol Danvers", "example.com"),
    ("dave", "Dave Lister", "example.com"),
    ("erin", "Erin Brockovich", "example.com"),
    ("frank", "Frank Drebin", "example.com"),
    ("grace", "Grace Hopper", "example.com"),
    ("heidi", "Heidi Klum", "example.com"),
    ("ivan", "Ivan Drago", "example.com"),
    ("judy", "Judy Hopps", "example.com"),
    ("oscar", "Oscar Grouch", "example.com"),
    ("rupert", "Rupert Giles", "example.com"),
    ("peggy", "Peggy Carter", "example.net"),
    ("trent", "Trent Reznor", "example.net"),
    ("victor", "Victor Meldrew", "example.net"),
];

fn expected_recipients(without: &[&str]) -> Vec<String> {
    let rows: Vec<String> = PEOPLE
        .iter()
        .filter(|(uid, _, _)| !without.contains(uid))
        .map(|(uid, name, domain)| format!("{uid}@{domain},{name}"))
        .collect();
    sorted(&rows.iter().map(String::as_str).collect::<Vec<_>>())
}

#[test]
fn a_sync_replaces_the_directory_and_the_history_shows_each_run() {
    if !slapd_available() {
        return;
    }
    let slapd = Slapd::start(SlapdOptions::default());
    slapd.add(&fixture());
    let server = Server::start();
    let (_, client) = server.tenant("Acme", &["example.com", "example.net"]);
    let agent = Agent::new(&client);
    agent.configure(&server, "", &source(slapd.port, ""));

    // The dry run shows the per-domain counts and the server's diff, and changes nothing.
    let dry = agent.run(&["run", "--dry-run"]);
    assert_ok(&dry);
    assert!(dry.log.contains("example.com: 12 recipients, 2 aliases, 1 groups"), "{}", dry.log);
    assert!(dry.log.contains("example.com: 0 -> 15 addresses (+15 -0 =0)"), "{}", dry.log);
    assert!(dry.log.contains("1 addresses outside the managed domains"), "{}", dry.log);
    assert!(client.stats()["domains"].as_array().unwrap().iter().all(|d| d["recipients"] == 0), "{}", client.stats());
    assert!(runs(&client).is_empty());

    assert_ok(&agent.run(&["run"]));
    let [recipients, aliases, groups] = client.exports(None);
    assert_eq!(rows(&recipients), expected_recipients(&[]));
    assert_eq!(
        rows(&aliases),
        sorted(&[
            "a.liddell@example.com,alice@example.com",
            "robert@example.com,bob@example.com",
            "carol@example.net,carol@example.com",
            "v@example.net,victor@example.net",
        ])
    );
    assert_eq!(
        rows(&groups),
        sorted(&[
            "staff,staff@example.com,alice@example.com",
            "staff,staff@example.com,bob@example.com",
            "staff,staff@example.com,peggy@example.net",
            "ops,,carol@example.com",
            "ops,,dave@example.com",
            "ops,,\"uid=ghost,ou=people,dc=example,dc=org\"",
            "netteam,netteam@example.net,trent@example.net",
            "netteam,netteam@example.net,victor@example.net",
        ])
    );

    slapd.delete(&["uid=dave,ou=people,dc=example,dc=org"]);
    let second = agent.run(&["run"]);
    assert_ok(&second);
    assert!(second.log.contains("example.com: 15 -> 14 addresses (+0 -1 =14)"), "{}", second.log);
    let [recipients, _, groups] = client.exports(None);
    assert_eq!(rows(&recipients), expected_recipients(&["dave"]));
    // slapd has no referential integrity here, so `ops` still names dave, now unresolved.
    assert!(rows(&groups).contains(&"ops,,\"uid=dave,ou=people,dc=example,dc=org\"".to_owned()), "{groups}");
    assert_eq!(client.recipient("dave@example.com")["status"], "rejected");

    let history = runs(&client);
    assert_eq!(history.len(), 2, "{history:?}");
    for run in &history {
        assert_eq!(run["result"], "applied", "{run}");
        assert_eq!(run["source"], "corp-ldap", "{run}");
        assert!(!run["agent"]["host"].as_str().unwrap().is_empty(), "{run}");
        assert_eq!(run["agent"]["ip"], "127.0.0.1", "{run}");
    }
    let (status, summary) = client.get("/api/v1/sync/summary");
    assert_eq!(status, 200, "{summary}");
    assert_eq!(summary["totals"]["recipients"], 14, "{summary}");
    assert_eq!(summary["totals"]["aliases"], 4, "{summary}");
    assert_eq!(summary["totals"]["groups"], 3, "{summary}");

    // The daemon runs at once, logs the run and waits for the next one.
    agent.configure(&server, "", &format!("{}\n[schedule]\nevery = \"1m\"\n", source(slapd.port, "")));
    let log = agent.daemon_until("daemon: next run in");
    assert!(log.contains("daemon: a run every 1m"), "{log}");
    assert!(log.contains("daemon: run succeeded"), "{log}");
    assert_eq!(runs(&client).len(), 3);
}

#[test]
fn deleting_most_users_is_refused_by_the_thresholds_until_forced() {
    if !slapd_available() {
        return;
    }
    let slapd = Slapd::start(SlapdOptions::default());
    slapd.add(&fixture());
    let server = Server::start();
    let (_, client) = server.tenant("Acme", &["example.com", "example.net"]);
    let agent = Agent::new(&client);
    agent.configure(&server, "deletion_threshold_percent = 5", &source(slapd.port, ""));
    assert_ok(&agent.run(&["run"]));
    let before = client.exports(None);

    // The agent's own threshold (5%) refuses losing one of 15 addresses, before any push.
    slapd.delete(&["uid=dave,ou=people,dc=example,dc=org"]);
    let refused = agent.run(&["run"]);
    assert_eq!(refused.code, 3, "{}", refused.log);
    assert!(refused.log.contains("example.com (removes 1 of 15, 6.7%)"), "{}", refused.log);
    assert_eq!(client.exports(None), before);
    assert_eq!(runs(&client).len(), 1);

    // Without it, the server's (10%) allows that, but not losing most of the domain.
    agent.configure(&server, "", &source(slapd.port, ""));
    let most = ["erin", "frank", "grace", "heidi", "ivan", "judy", "oscar", "rupert"];
    let dns: Vec<String> = most.iter().map(|u| format!("uid={u},ou=people,dc=example,dc=org")).collect();
    slapd.delete(&dns.iter().map(String::as_str).collect::<Vec<_>>());
    let dry = agent.run(&["run", "--dry-run"]);
    assert_eq!(dry.code, 3, "{}", dry.log);
    assert!(dry.log.contains("a real run would be refused"), "{}", dry.log);
    let refused = agent.run(&["run"]);
    assert_eq!(refused.code, 3, "{}", refused.log);
    assert!(refused.log.contains("the server refused the push, nothing was changed"), "{}", refused.log);
    assert!(refused.log.contains("example.com: 15 -> 6 addresses"), "{}", refused.log);
    assert_eq!(client.exports(None), before);
    let history = runs(&client);
    assert_eq!(history.len(), 2, "{history:?}");
    assert_eq!(history[0]["result"], "threshold-exceeded", "{}", history[0]);

    let forced = agent.run(&["run", "--force"]);
    assert_ok(&forced);
    let [recipients, _, _] = client.exports(None);
    let mut gone = most.to_vec();
    gone.push("dave");
    assert_eq!(rows(&recipients), expected_recipients(&gone));
    assert_eq!(runs(&client)[0]["forced"], true);
}

#[test]
fn invalid_entries_are_reported_with_their_dn_and_not_pushed_by_default() {
    if !slapd_available() {
        return;
    }
    let slapd = Slapd::start(SlapdOptions::default());
    slapd.add(&fixture());
    slapd.add(
        "dn: uid=broken,ou=people,dc=example,dc=org\nobjectClass: inetOrgPerson\nuid: broken\ncn: Broken\nsn: Broken\nmail: broken.example.com\n",
    );
    let server = Server::start();
    let (_, client) = server.tenant("Acme", &["example.com", "example.net"]);
    let agent = Agent::new(&client);
    agent.configure(&server, "", &source(slapd.port, ""));

    let refused = agent.run(&["run"]);
    assert_eq!(refused.code, 4, "{}", refused.log);
    assert!(
        refused.log.contains("source corp-ldap: uid=broken,ou=people,dc=example,dc=org: error[invalid-address]"),
        "{}",
        refused.log
    );
    assert!(runs(&client).is_empty());

    assert_ok(&agent.run(&["run", "--skip-invalid"]));
    let [recipients, _, _] = client.exports(None);
    assert_eq!(rows(&recipients), expected_recipients(&[]));
    assert_eq!(runs(&client).len(), 1);
}

#[test]
fn a_paged_search_reads_past_the_size_limit() {
    if !slapd_available() {
        return;
    }
    let slapd = Slapd::start(SlapdOptions { size_limit: Some(10), ..SlapdOptions::default() });
    slapd.add(&fixture());
    slapd.add(&more_users(40));
    let server = Server::start();
    let (_, client) = server.tenant("Acme", &["example.com", "example.net"]);
    let agent = Agent::new(&client);

    // Pages of 7 stay under the limit of 10, and together read all 59 entries.
    agent.configure(&server, "", &source(slapd.port, "").replace("page_size = 5", "page_size = 7"));
    let run = agent.run(&["run"]);
    assert_ok(&run);
    assert!(run.log.contains("source corp-ldap: 59 entries"), "{}", run.log);
    assert_eq!(rows(&client.exports(None)[0]).len(), 55);

    assert_eq!(runs(&client).len(), 1);

    // A server whose limit caps the total over all pages ends the search with rc=4 midway:
    // the entries read so far are not pushed.
    let capped = Slapd::start(SlapdOptions { size_limit: Some(10), cap_paged_total: true, ..SlapdOptions::default() });
    capped.add(&fixture());
    agent.configure(&server, "", &source(capped.port, ""));
    let over = agent.run(&["run"]);
    assert_eq!(over.code, 1, "{}", over.log);
    assert!(over.log.contains("source `corp-ldap` failed, nothing was pushed"), "{}", over.log);
    assert!(over.log.contains("size limit"), "{}", over.log);
    assert_eq!(runs(&client).len(), 1);
    assert_eq!(rows(&client.exports(None)[0]).len(), 55);
}

/// Forwards one connection to slapd, and kills slapd once `after_bytes` of its answers have
/// been forwarded: the directory server dies in the middle of the search.
fn killing_proxy(slapd: &Slapd, after_bytes: usize) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (target, pid) = (slapd.port, slapd.child.id());
    std::thread::spawn(move || {
        let (client, _) = listener.accept().unwrap();
        let server = TcpStream::connect(("127.0.0.1", target)).unwrap();
        let (mut up_from, mut up_to) = (client.try_clone().unwrap(), server.try_clone().unwrap());
        std::thread::spawn(move || std::io::copy(&mut up_from, &mut up_to));
        let (mut from, mut to) = (server, client);
        let mut buffer = [0u8; 4096];
        let mut forwarded = 0;
        while forwarded < after_bytes {
            let n = from.read(&mut buffer).unwrap_or(0);
            if n == 0 {
                break;
            }
            let take = n.min(after_bytes - forwarded);
            if to.write_all(&buffer[..take]).is_err() {
                break;
            }
            forwarded += take;
        }
        let killed = Command::new("kill").args(["-KILL", &pid.to_string()]).status().unwrap();
        assert!(killed.success());
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
    port
}

#[test]
fn slapd_stopping_mid_run_pushes_nothing() {
    if !slapd_available() {
        return;
    }
    let slapd = Slapd::start(SlapdOptions::default());
    slapd.add(&fixture());
    slapd.add(&more_users(200));
    let server = Server::start();
    let (_, client) = server.tenant("Acme", &["example.com", "example.net"]);
    let agent = Agent::new(&client);
    agent.configure(&server, "", &source(slapd.port, ""));
    assert_ok(&agent.run(&["run"]));
    let before = client.exports(None);

    // 200 users are about 40 KB of answers; slapd dies after the first 8 KB.
    let proxy = killing_proxy(&slapd, 8 * 1024);
    agent.configure(&server, "", &source(proxy, ""));
    let failed = agent.run(&["run"]);
    assert_eq!(failed.code, 1, "{}", failed.log);
    assert!(failed.log.contains("source `corp-ldap` failed, nothing was pushed"), "{}", failed.log);
    assert!(failed.log.contains("the search failed after"), "{}", failed.log);
    assert!(!failed.log.contains("pushed: change"), "{}", failed.log);
    assert_eq!(client.exports(None), before);
    assert_eq!(runs(&client).len(), 1);

    // With slapd gone, the next run cannot even connect, and says so.
    let down = agent.run(&["run"]);
    assert_eq!(down.code, 1, "{}", down.log);
    assert!(down.log.contains("cannot connect to ldap://127.0.0.1:"), "{}", down.log);
    assert_eq!(runs(&client).len(), 1);
}

#[test]
fn starttls_and_ldaps_with_a_test_ca() {
    if !slapd_available() {
        return;
    }
    let slapd = Slapd::start(SlapdOptions { tls: true, ..SlapdOptions::default() });
    slapd.add(&fixture());
    let server = Server::start();
    let (_, client) = server.tenant("Acme", &["example.com", "example.net"]);
    let agent = Agent::new(&client);
    let ca = format!("ca_file = \"{}\"", slapd.ca().display());

    let starttls = source(slapd.port, &ca).replace("tls = \"none\"", "tls = \"starttls\"");
    agent.configure(&server, "", &starttls);
    let run = agent.run(&["run"]);
    assert_ok(&run);
    assert!(run.log.contains("(StartTLS)"), "{}", run.log);
    assert_eq!(rows(&client.exports(None)[0]), expected_recipients(&[]));

    let ldaps_port = slapd.ldaps_port.unwrap();
    agent.configure(&server, "", &source(ldaps_port, &ca).replace("tls = \"none\"", "tls = \"ldaps\""));
    let run = agent.run(&["run"]);
    assert_ok(&run);
    assert!(run.log.contains(&format!("ldaps://127.0.0.1:{ldaps_port}")), "{}", run.log);

    // Without the test CA, the certificate is not trusted and nothing is read or pushed.
    agent.configure(&server, "", &source(slapd.port, "").replace("tls = \"none\"", "tls = \"starttls\""));
    let untrusted = agent.run(&["run"]);
    assert_eq!(untrusted.code, 1, "{}", untrusted.log);
    assert!(untrusted.log.contains("certificate"), "{}", untrusted.log);
    assert_eq!(runs(&client).len(), 2);
}

#[test]
fn init_writes_a_config_that_check_config_accepts_once_its_secrets_exist() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.toml");
    let sync = || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_dirgate-sync"));
        command.env_remove("DIRGATE_API_KEY").env_remove("CORP_AD_PASSWORD");
        command
    };
    let init = sync().arg("init").arg(&path).output().unwrap();
    assert!(init.status.success(), "{init:?}");
    let again = sync().arg("init").arg(&path).output().unwrap();
    assert_eq!(again.status.code(), Some(2), "init must never overwrite a file");

    let check = sync().args(["check-config", "-c"]).arg(&path).output().unwrap();
    assert_eq!(check.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&check.stderr).contains("DIRGATE_API_KEY is not set"), "{check:?}");

    let check = sync()
        .args(["check-config", "-c"])
        .arg(&path)
        .env("DIRGATE_API_KEY", "dg_x")
        .env("CORP_AD_PASSWORD", "p")
        .output()
        .unwrap();
    assert!(check.status.success(), "{check:?}");
    assert!(
        String::from_utf8_lossy(&check.stdout).contains("source corp-ad (ActiveDirectory): dc1.corp.example.com:389")
    );

    let usage = sync().args(["run", "--bogus"]).output().unwrap();
    assert_eq!(usage.status.code(), Some(2));
}
