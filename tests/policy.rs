//! The Postfix policy service of `dirgate serve --policy-listen`: the protocol, driven over TCP
//! against the real binary, and a real Postfix that rejects unknown recipients because of it.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use support::*;

/// One policy connection, kept open across requests as Postfix keeps it.
struct Policy {
    reader: BufReader<TcpStream>,
}

impl Policy {
    fn connect(server: &Server) -> Policy {
        let stream = TcpStream::connect(server.policy.as_deref().expect("started with --policy-listen")).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        Policy { reader: BufReader::new(stream) }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.reader.get_mut().write_all(bytes).unwrap();
    }

    /// The action of the next answer, or `None` when the service closed the connection.
    fn answer(&mut self) -> Option<String> {
        let mut action = None;
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line).unwrap_or(0) == 0 {
                return None;
            }
            let line = line.trim_end_matches('\n');
            if line.is_empty() {
                return action;
            }
            action = Some(line.strip_prefix("action=").expect("an action line").to_owned());
        }
    }

    /// Asks as Postfix does at RCPT TO.
    fn ask(&mut self, recipient: &str) -> String {
        let request = format!(
            "request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\nclient_address=192.0.2.1\n\
             client_name=unknown\nhelo_name=spammer.example\nsender=probe@spammer.example\nrecipient={recipient}\n\
             recipient_count=0\nqueue_id=\nsize=0\n\n"
        );
        self.send(request.as_bytes());
        self.answer().expect("an answer")
    }
}

fn reject(address: &str) -> String {
    format!("REJECT 5.1.1 <{address}>: Recipient address rejected: user unknown")
}

/// A server with the policy service and a tenant that manages example.com and example.net.
fn policy_server(args: &[&str]) -> (Server, Client) {
    let mut all = vec!["--policy-listen", "127.0.0.1:0"];
    all.extend_from_slice(args);
    let server = Server::start_with(&all);
    let (_, acme) = server.tenant("Acme", &["example.com", "example.net"]);
    let ldif = b"dn: CN=John,DC=example,DC=com\nobjectClass: user\nproxyAddresses: SMTP:John.Smith@example.com\nproxyAddresses: smtp:js@example.net\n\ndn: CN=Sales,DC=example,DC=com\nobjectClass: group\nmail: sales@example.com\nmember: CN=John,DC=example,DC=com\n\ndn: CN=Ann,DC=example,DC=net\nobjectClass: user\nmail: ann@example.net\n";
    let (status, body) = acme.import_raw("ad.ldif", ldif, "");
    assert_eq!(status, 201, "{body}");
    (server, acme)
}

#[test]
fn answers_known_unknown_and_unmanaged_recipients_on_one_connection() {
    let (server, _) = policy_server(&[]);
    let mut policy = Policy::connect(&server);
    assert_eq!(policy.ask("john.smith@example.com"), "DUNNO");
    assert_eq!(policy.ask("JOHN.SMITH@EXAMPLE.COM"), "DUNNO", "addresses compare case-insensitively");
    assert_eq!(policy.ask("js@example.net"), "DUNNO", "an alias");
    assert_eq!(policy.ask("sales@example.com"), "DUNNO", "a mail-enabled group");
    assert_eq!(policy.ask("nobody@example.com"), reject("nobody@example.com"));
    assert_eq!(policy.ask("john.smith@example.org"), "DUNNO", "a domain no tenant manages");
    assert_eq!(policy.ask("x@bücher.example"), "DUNNO");
    // Not at RCPT time, not a policy request, or no recipient: no opinion.
    policy.send(b"request=smtpd_access_policy\nprotocol_state=DATA\nrecipient=nobody@example.com\n\n");
    assert_eq!(policy.answer().unwrap(), "DUNNO");
    policy.send(b"request=smtpd_access_policy\nprotocol_state=RCPT\nsender=a@b.example\n\n");
    assert_eq!(policy.answer().unwrap(), "DUNNO");
    policy.send(b"\n");
    assert_eq!(policy.answer().unwrap(), "DUNNO", "an empty request");
    // CRLF line ends, and a request that arrives a few bytes at a time.
    policy.send(b"request=smtpd_access_policy\r\nrecipient=nobody@example.net\r\n\r\n");
    assert_eq!(policy.answer().unwrap(), reject("nobody@example.net"));
    for piece in b"request=smtpd_access_policy\nrecipient=ghost@example.com\n\n".chunks(3) {
        policy.send(piece);
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(policy.answer().unwrap(), reject("ghost@example.com"));
    // Two requests in one write get two answers, in order.
    policy.send(b"recipient=ann@example.net\n\nrecipient=ann2@example.net\n\n");
    assert_eq!(policy.answer().unwrap(), "DUNNO");
    assert_eq!(policy.answer().unwrap(), reject("ann2@example.net"));
}

#[test]
fn answers_follow_every_committed_change_and_the_checking_switch() {
    let (server, acme) = policy_server(&[]);
    let mut policy = Policy::connect(&server);
    assert_eq!(policy.ask("new@example.com"), reject("new@example.com"));
    let (status, import) =
        acme.import_raw("more.csv", &csv_of(&["john.smith@example.com", "new@example.com"]), "&force=true");
    assert_eq!(status, 201, "{import}");
    assert_eq!(policy.ask("new@example.com"), "DUNNO", "the import is seen at once");
    assert_eq!(policy.ask("sales@example.com"), reject("sales@example.com"), "example.com was replaced");
    assert_eq!(policy.ask("ann@example.net"), "DUNNO", "example.net was not in the file");
    let (status, _) = acme.post_json(&format!("/api/v1/imports/{}/rollback", import["id"]), &json!({}));
    assert_eq!(status, 201);
    assert_eq!(policy.ask("new@example.com"), reject("new@example.com"));
    assert_eq!(policy.ask("sales@example.com"), "DUNNO");
    // A dry run changes nothing.
    acme.import_raw("dry.csv", &csv_of(&["dry@example.com"]), "&dry_run=true");
    assert_eq!(policy.ask("dry@example.com"), reject("dry@example.com"));
    // "Disable checking" while an administrator verifies an import: every address passes.
    let (status, _) = acme.call_json("PATCH", "/api/v1/domains/example.com", &json!({ "recipient_check": false }));
    assert_eq!(status, 200);
    assert_eq!(policy.ask("anyone@example.com"), "DUNNO");
    assert_eq!(policy.ask("anyone@example.net"), reject("anyone@example.net"), "only that domain");
    acme.call_json("PATCH", "/api/v1/domains/example.com", &json!({ "recipient_check": true }));
    assert_eq!(policy.ask("anyone@example.com"), reject("anyone@example.com"));
    // A removed domain is no longer managed.
    let (status, _) = acme.delete("/api/v1/domains/example.net?force=true");
    assert_eq!(status, 200);
    assert_eq!(policy.ask("anyone@example.net"), "DUNNO");
}

#[test]
fn malformed_requests_close_the_connection_and_never_crash_the_service() {
    let (server, _) = policy_server(&[]);
    let closes = |bytes: &[u8]| {
        let mut policy = Policy::connect(&server);
        // The service may close while we are still writing; that is the point.
        let _ = policy.reader.get_mut().write_all(bytes);
        let mut rest = Vec::new();
        let _ = policy.reader.read_to_end(&mut rest);
        String::from_utf8_lossy(&rest).into_owned()
    };
    // An over-long line, too many attributes, and bytes that are not text get no answer.
    let long = format!("recipient={}@example.com\n\n", "a".repeat(100_000));
    assert_eq!(closes(long.as_bytes()), "");
    let many: String = (0..1000).map(|i| format!("x{i}=y\n")).collect::<String>() + "recipient=nobody@example.com\n\n";
    assert_eq!(closes(many.as_bytes()), "");
    assert_eq!(closes(b"recipient=\xff\xfe\x00garbage@example.com\n\n"), "");
    assert_eq!(closes(&[0u8; 64 << 10]), "");
    // Lines without `=` carry nothing; junk values are no opinion, never a wrong REJECT.
    let mut policy = Policy::connect(&server);
    policy.send(b"this is not a policy request\nrecipient=nobody@example.com\n\n");
    assert_eq!(policy.answer().unwrap(), reject("nobody@example.com"));
    for junk in ["<>", "@", "no-at-sign", "a@b@c", "x@[127.0.0.1]", "x@example.com\r", "\"quoted\"@nowhere.example"] {
        policy.send(format!("request=smtpd_access_policy\nrecipient={junk}\n\n").as_bytes());
        let answer = policy.answer().unwrap();
        assert!(answer == "DUNNO" || answer.starts_with("REJECT 5.1.1 <"), "{junk:?}: {answer}");
        assert!(!answer.contains('\r'));
    }
    // A client that goes away mid-request does no harm either.
    let mut half = Policy::connect(&server);
    half.send(b"request=smtpd_access_policy\nrecipient=nob");
    drop(half);
    // After all of that the service still answers, correctly.
    assert_eq!(Policy::connect(&server).ask("john.smith@example.com"), "DUNNO");
    assert_eq!(Policy::connect(&server).ask("nobody@example.com"), reject("nobody@example.com"));
}

#[test]
fn many_concurrent_connections_each_get_their_own_right_answers() {
    let (server, _) = policy_server(&[]);
    let address = server.policy.clone().unwrap();
    let threads: Vec<_> = (0..100)
        .map(|t| {
            let address = address.clone();
            std::thread::spawn(move || {
                let stream = TcpStream::connect(&address).unwrap();
                stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                let mut policy = Policy { reader: BufReader::new(stream) };
                for i in 0..20 {
                    if (t + i) % 2 == 0 {
                        assert_eq!(policy.ask("ann@example.net"), "DUNNO");
                    } else {
                        let unknown = format!("user{t}-{i}@example.com");
                        assert_eq!(policy.ask(&unknown), reject(&unknown));
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}

#[test]
fn the_reject_text_is_configurable() {
    let (server, _) = policy_server(&["--policy-reject-text", "5.1.1 <{recipient}>: no such mailbox at Acme"]);
    assert_eq!(
        Policy::connect(&server).ask("nobody@example.com"),
        "REJECT 5.1.1 <nobody@example.com>: no such mailbox at Acme"
    );
}

/// A process that is killed when the test ends, however it ends.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Reads one SMTP reply (all its lines) and returns its code and text.
fn smtp_reply(reader: &mut BufReader<TcpStream>) -> (u16, String) {
    let mut text = String::new();
    loop {
        let mut line = String::new();
        assert!(reader.read_line(&mut line).unwrap() > 0, "Postfix closed the connection");
        text.push_str(&line);
        if line.as_bytes().get(3) != Some(&b'-') {
            return (line[..3].parse().unwrap(), text);
        }
    }
}

fn smtp(reader: &mut BufReader<TcpStream>, command: &str) -> (u16, String) {
    reader.get_mut().write_all(format!("{command}\r\n").as_bytes()).unwrap();
    smtp_reply(reader)
}

/// How a Postfix instance knows its recipients.
#[derive(Clone, Copy)]
enum Check<'a> {
    /// `check_policy_service` pointing at dirgate's policy service.
    Policy(&'a str),
    /// A static `relay_recipient_maps` table with these addresses: the fastest Postfix can do.
    Table(&'a [String]),
}

/// A private Postfix instance in a temporary folder, relaying example.com, example.net and
/// other.example to an smtp-sink.
struct Postfix {
    config: std::path::PathBuf,
    port: u16,
    _sink: Reaped,
}

impl Postfix {
    fn start(root: &Path, check: Check<'_>) -> Postfix {
        let (config, log) = (root.join("etc"), root.join("log"));
        for dir in [&config, &log, &root.join("spool"), &root.join("data")] {
            std::fs::create_dir_all(dir).unwrap();
        }
        let (port, sink_port) = (free_port(), free_port());
        let sink = Command::new("smtp-sink")
            .args(["-u", "postfix", "-c", &format!("127.0.0.1:{sink_port}"), "1000"])
            .stdout(Stdio::null())
            .spawn()
            .expect("smtp-sink (from Debian's postfix package)");
        let transport = format!("smtp:[127.0.0.1]:{sink_port}");
        let restrictions = match check {
            Check::Policy(policy) => {
                format!(
                    "smtpd_recipient_restrictions = reject_unauth_destination, check_policy_service inet:{policy}\n"
                )
            }
            Check::Table(addresses) => {
                let table = config.join("relay_recipients");
                let lines: String = addresses.iter().map(|a| format!("{a} OK\n")).collect();
                std::fs::write(&table, lines).unwrap();
                format!(
                    "smtpd_recipient_restrictions = reject_unauth_destination\n\
                     relay_recipient_maps = hash:{}\nunknown_relay_recipient_reject_code = 550\n",
                    table.display()
                )
            }
        };
        let main_cf = format!(
            "compatibility_level = 3.6\n\
             queue_directory = {spool}\n\
             data_directory = {data}\n\
             mail_owner = postfix\n\
             setgid_group = postdrop\n\
             myhostname = mx.test.invalid\n\
             mydestination =\n\
             inet_interfaces = 127.0.0.1\n\
             inet_protocols = ipv4\n\
             mynetworks = 127.0.0.0/8\n\
             relay_domains = example.com, example.net, other.example\n\
             transport_maps = inline:{{ example.com={transport}, example.net={transport}, other.example={transport} }}\n\
             smtp_dns_support_level = disabled\n\
             smtpd_relay_restrictions = reject_unauth_destination\n\
             {restrictions}\
             access_map_reject_code = 550\n\
             maillog_file = {log}/postfix.log\n\
             maillog_file_prefixes = /var, /dev/stdout, {log}\n",
            spool = root.join("spool").display(),
            data = root.join("data").display(),
            log = log.display(),
        );
        std::fs::write(config.join("main.cf"), main_cf).unwrap();
        if let Check::Table(_) = check {
            let table = config.join("relay_recipients");
            let status = Command::new("postmap")
                .arg("-c")
                .arg(&config)
                .arg(format!("hash:{}", table.display()))
                .status()
                .unwrap();
            assert!(status.success(), "postmap");
        }
        let dist = ["/usr/share/postfix/master.cf.dist", "/etc/postfix/master.cf"]
            .iter()
            .find(|p| Path::new(p).exists())
            .expect("Postfix's master.cf");
        let master: String = std::fs::read_to_string(dist)
            .unwrap()
            .lines()
            .map(|line| {
                if line.starts_with("smtp ") && line.contains(" inet ") {
                    format!("127.0.0.1:{port} inet n - n - - smtpd\n")
                } else {
                    format!("{line}\n")
                }
            })
            .collect();
        std::fs::write(config.join("master.cf"), master).unwrap();
        let postfix = |args: &[&str]| {
            let output = Command::new("postconf").arg("-c").arg(&config).args(args).output().unwrap();
            assert!(output.status.success(), "postconf {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        };
        postfix(&["-F", "*/*/chroot = n"]);
        for step in ["set-permissions", "check", "start"] {
            let output = Command::new("postfix").arg("-c").arg(&config).arg(step).output().unwrap();
            assert!(
                output.status.success(),
                "postfix {step}: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Postfix { config, port, _sink: Reaped(sink) }
    }

    fn connect(&self) -> BufReader<TcpStream> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match TcpStream::connect(("127.0.0.1", self.port)) {
                Ok(stream) => {
                    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                    return BufReader::new(stream);
                }
                Err(e) if Instant::now() > deadline => panic!("Postfix is not listening: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let _ = Command::new("postfix").arg("-c").arg(&self.config).arg("stop").output();
    }
}

#[test]
fn a_real_postfix_rejects_unknown_recipients_because_of_dirgate() {
    if !Path::new("/usr/sbin/postfix").exists() {
        assert!(
            std::env::var_os("DIRGATE_REQUIRE_POSTFIX").is_none(),
            "Postfix is required here: apt-get install postfix (see .ci/run)"
        );
        eprintln!("SKIPPED: Postfix is not installed (apt-get install postfix); CI installs it and requires this test");
        return;
    }
    let (server, acme) = policy_server(&[]);
    let root = tempfile::tempdir().unwrap();
    let postfix = Postfix::start(root.path(), Check::Policy(server.policy.as_deref().unwrap()));
    let mut smtp_conn = postfix.connect();
    let (code, banner) = smtp_reply(&mut smtp_conn);
    assert_eq!(code, 220, "{banner}");
    assert_eq!(smtp(&mut smtp_conn, "EHLO client.test.invalid").0, 250);
    assert_eq!(smtp(&mut smtp_conn, "MAIL FROM:<sender@test.invalid>").0, 250);
    let (code, text) = smtp(&mut smtp_conn, "RCPT TO:<john.smith@example.com>");
    assert_eq!(code, 250, "a known recipient: {text}");
    let (code, text) = smtp(&mut smtp_conn, "RCPT TO:<js@example.net>");
    assert_eq!(code, 250, "a known alias: {text}");
    let (code, text) = smtp(&mut smtp_conn, "RCPT TO:<nobody@example.com>");
    assert_eq!(code, 550, "an unknown recipient in a managed domain: {text}");
    // Postfix writes its own "<address>: Recipient address rejected:" before the policy's text.
    assert!(text.starts_with("550 5.1.1 <nobody@example.com>: Recipient address rejected:"), "{text}");
    assert!(text.trim_end().ends_with("user unknown"), "{text}");
    let (code, text) = smtp(&mut smtp_conn, "RCPT TO:<anyone@other.example>");
    assert_eq!(code, 250, "a domain dirgate does not manage is not rejected by it: {text}");
    // And the accepted recipients really get their mail.
    assert_eq!(smtp(&mut smtp_conn, "DATA").0, 354);
    let (code, text) = smtp(&mut smtp_conn, "Subject: test\r\n\r\nhello\r\n.");
    assert_eq!(code, 250, "{text}");
    assert_eq!(smtp(&mut smtp_conn, "QUIT").0, 221);

    // Re-import without John: his next RCPT TO is rejected, with no restart of anything.
    let (status, body) = acme.import_raw(
        "ad.ldif",
        b"dn: CN=Sales,DC=example,DC=com\nobjectClass: group\nmail: sales@example.com\n",
        "&force=true",
    );
    assert_eq!(status, 201, "{body}");
    let mut smtp_conn = postfix.connect();
    assert_eq!(smtp_reply(&mut smtp_conn).0, 220);
    assert_eq!(smtp(&mut smtp_conn, "EHLO client.test.invalid").0, 250);
    assert_eq!(smtp(&mut smtp_conn, "MAIL FROM:<sender@test.invalid>").0, 250);
    let (code, text) = smtp(&mut smtp_conn, "RCPT TO:<john.smith@example.com>");
    assert_eq!(code, 550, "John was removed by the re-import: {text}");
    assert_eq!(smtp(&mut smtp_conn, "RCPT TO:<sales@example.com>").0, 250);
    assert_eq!(smtp(&mut smtp_conn, "QUIT").0, 221);
}

/// Messages per second that Postfix accepts, driven by its own `smtp-source`.
fn smtp_source_rate(postfix: &Postfix, recipient: &str, messages: u32, sessions: u32) -> f64 {
    let started = Instant::now();
    let output = Command::new("smtp-source")
        .args([
            "-c",
            "-m",
            &messages.to_string(),
            "-s",
            &sessions.to_string(),
            "-f",
            "load@test.invalid",
            "-t",
            recipient,
        ])
        .arg(format!("127.0.0.1:{}", postfix.port))
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert!(output.status.success(), "smtp-source: {}", String::from_utf8_lossy(&output.stderr));
    f64::from(messages) / started.elapsed().as_secs_f64()
}

/// The load benchmark of the whole SMTP path (`make bench-postfix`): Postfix checking
/// recipients through dirgate's policy service, against the same Postfix with the same address
/// list as a static `relay_recipient_maps` hash table, in one run, alternating.
#[test]
#[ignore = "a benchmark: make bench-postfix"]
fn bench_postfix_policy_against_a_static_table() {
    let users = 10_000;
    let (server, acme) = policy_server(&[]);
    let addresses: Vec<String> = (0..users).map(|i| format!("user{i}@example.com")).collect();
    let csv: String = addresses.iter().map(|a| format!("{a}\n")).collect();
    let (status, body) = acme.import_raw("load.csv", csv.as_bytes(), "&force=true");
    assert_eq!(status, 201, "{body}");
    let (policy_root, table_root) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let with_policy = Postfix::start(policy_root.path(), Check::Policy(server.policy.as_deref().unwrap()));
    let with_table = Postfix::start(table_root.path(), Check::Table(&addresses));
    let (messages, sessions) = (2000, 5);
    let recipient = "user4242@example.com";
    // Warm both up, then alternate three runs each and keep the medians.
    smtp_source_rate(&with_policy, recipient, 200, sessions);
    smtp_source_rate(&with_table, recipient, 200, sessions);
    let (mut policy_rates, mut table_rates) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        policy_rates.push(smtp_source_rate(&with_policy, recipient, messages, sessions));
        table_rates.push(smtp_source_rate(&with_table, recipient, messages, sessions));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (policy_rate, table_rate) = (median(&mut policy_rates), median(&mut table_rates));
    // The policy service on its own, over one kept-open connection.
    let mut policy = Policy::connect(&server);
    let mut latencies: Vec<Duration> = (0..5000)
        .map(|i| {
            let started = Instant::now();
            let answer = policy.ask(&format!("user{}@example.com", i * 7 % (2 * users)));
            let took = started.elapsed();
            assert_eq!(answer == "DUNNO", i * 7 % (2 * users) < users);
            took
        })
        .collect();
    latencies.sort();
    let total: Duration = latencies.iter().sum();
    println!(
        "\nPostfix + smtp-source, {messages} messages x 3 runs, {sessions} sessions, {users} recipients:\n  \
         check_policy_service (dirgate): {policy_rate:.0} msg/s\n  relay_recipient_maps (hash):    {table_rate:.0} msg/s\n  \
         ratio: {:.0}% of the static table\n  policy service alone: {:.0} req/s, p50 {:?}, p99 {:?}",
        100.0 * policy_rate / table_rate,
        latencies.len() as f64 / total.as_secs_f64(),
        latencies[latencies.len() / 2],
        latencies[latencies.len() * 99 / 100],
    );
}
