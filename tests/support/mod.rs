//! The harness of the end-to-end tests: starts the real `dirgate serve` on a free loopback port
//! with a temporary redb file, and talks to it over HTTP as a script or the UI would.

// Each test binary uses its own part of the harness.
#![allow(dead_code)]

pub mod corpus;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

pub const ADMIN_PASSWORD: &str = "operator-password-1";

/// A running `dirgate serve`.
pub struct Server {
    child: Child,
    pub base: String,
    /// The policy service's address, when it was asked for.
    pub policy: Option<String>,
    dir: tempfile::TempDir,
    extra_args: Vec<String>,
}

impl Server {
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    pub fn start_with(args: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let extra_args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let (child, base, policy) = spawn(&dir.path().join("dirgate.redb"), &extra_args);
        Server { child, base, policy, dir, extra_args }
    }

    /// The process id of the running `dirgate serve`, to read its memory use from `/proc`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("dirgate.redb")
    }

    /// Stops the server with SIGTERM (a graceful shutdown) and starts it again on the same file.
    pub fn restart(&mut self) {
        self.terminate();
        self.start_again();
    }

    /// Starts the server again on the same file, with the same arguments, once it has stopped
    /// ([`Self::terminate`] or [`Self::kill`]). It returns once the database has opened and the
    /// server listens.
    pub fn start_again(&mut self) {
        let (child, base, policy) = spawn(&self.db(), &self.extra_args);
        self.child = child;
        self.base = base;
        self.policy = policy;
    }

    /// Kills the server with SIGKILL, as a crash or the OOM killer would, and waits for it.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    pub fn terminate(&mut self) {
        let status = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status().unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        assert!(exit.success(), "dirgate serve did not shut down cleanly on SIGTERM: {exit}");
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Signs in as the operator.
    pub fn operator(&self) -> Client {
        let mut client = Client { base: self.base.clone(), auth: Auth::None };
        client.sign_in("admin", ADMIN_PASSWORD);
        client
    }

    /// Makes a tenant with `domains` and returns its id and a client with its API key.
    pub fn tenant(&self, name: &str, domains: &[&str]) -> (u64, Client) {
        let operator = self.operator();
        let (status, tenant) = operator.post_json("/api/v1/tenants", &json!({ "name": name, "domains": domains }));
        assert_eq!(status, 201, "{tenant}");
        let id = tenant["id"].as_u64().unwrap();
        let (status, key) = operator.post_json(&format!("/api/v1/tenants/{id}/keys"), &json!({ "name": "tests" }));
        assert_eq!(status, 201, "{key}");
        let client = Client { base: self.base.clone(), auth: Auth::Key(key["key"].as_str().unwrap().to_owned()) };
        (id, client)
    }

    /// Makes a tenant administrator and signs in as them.
    pub fn admin(&self, tenant: u64, username: &str) -> Client {
        let password = format!("{username}-password-1");
        let (status, body) = self.operator().post_json(
            &format!("/api/v1/tenants/{tenant}/users"),
            &json!({ "username": username, "password": password }),
        );
        assert_eq!(status, 201, "{body}");
        let mut client = self.anonymous();
        assert_eq!(client.sign_in(username, &password).status, 200);
        client
    }

    pub fn anonymous(&self) -> Client {
        Client { base: self.base.clone(), auth: Auth::None }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `dirgate` binary. Tests built by the server package get Cargo's own path; the sync
/// agent's tests (another package) use the one beside their test executable
/// (`target/debug/dirgate`), which `cargo test --workspace` builds before any test runs.
pub fn dirgate_exe() -> PathBuf {
    if let Some(path) = option_env!("CARGO_BIN_EXE_dirgate") {
        return PathBuf::from(path);
    }
    let test_exe = std::env::current_exe().unwrap();
    let path = test_exe.parent().and_then(Path::parent).unwrap().join("dirgate");
    assert!(path.exists(), "{} is missing: build it first with `cargo build -p dirgate`", path.display());
    path
}

fn spawn(db: &Path, args: &[String]) -> (Child, String, Option<String>) {
    let mut child = Command::new(dirgate_exe())
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(db)
        .args(args)
        .env("DIRGATE_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut policy = None;
    let base = loop {
        let mut line = String::new();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "dirgate serve exited before it listened");
        if let Some(rest) = line.strip_prefix("policy service listening on ") {
            policy = rest.split_whitespace().next().map(str::to_owned);
        }
        if let Some(url) = line.split_whitespace().find(|w| w.starts_with("http://")) {
            break url.trim_end_matches('/').to_owned();
        }
    };
    // Keep draining stdout so that the server never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    (child, base, policy)
}

pub enum Auth {
    None,
    Key(String),
    Cookie(String),
}

/// An HTTP client that answers every request with (status, JSON or text as a JSON string).
pub struct Client {
    pub base: String,
    pub auth: Auth,
}

pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&self.body).into()))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }
}

impl Client {
    pub fn request(&self, method: &str, path: &str) -> ureq::Request {
        let request = ureq::request(method, &format!("{}{path}", self.base));
        match &self.auth {
            Auth::None => request,
            Auth::Key(key) => request.set("Authorization", &format!("Bearer {key}")),
            Auth::Cookie(cookie) => request.set("Cookie", cookie).set("Origin", &self.base),
        }
    }

    pub fn send(&self, request: ureq::Request, body: Option<&[u8]>) -> Answer {
        let result = match body {
            Some(bytes) => request.send_bytes(bytes),
            None => request.call(),
        };
        let response = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("transport error: {e}"),
        };
        let status = response.status();
        let headers = response
            .headers_names()
            .into_iter()
            .flat_map(|n| response.all(&n).into_iter().map(move |v| (n.clone(), v.to_owned())).collect::<Vec<_>>())
            .collect();
        let mut body = Vec::new();
        response.into_reader().read_to_end(&mut body).unwrap();
        Answer { status, headers, body }
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        let answer = self.send(self.request("GET", path), None);
        (answer.status, answer.json())
    }

    pub fn get_raw(&self, path: &str) -> Answer {
        self.send(self.request("GET", path), None)
    }

    pub fn call_json(&self, method: &str, path: &str, body: &Value) -> (u16, Value) {
        let request = self.request(method, path).set("Content-Type", "application/json");
        let answer = self.send(request, Some(body.to_string().as_bytes()));
        (answer.status, answer.json())
    }

    pub fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        self.call_json("POST", path, body)
    }

    pub fn delete(&self, path: &str) -> (u16, Value) {
        let answer = self.send(self.request("DELETE", path), None);
        (answer.status, answer.json())
    }

    /// Posts a raw file to the import route.
    pub fn import_raw(&self, name: &str, bytes: &[u8], flags: &str) -> (u16, Value) {
        let request =
            self.request("POST", &format!("/api/v1/imports?name={name}{flags}")).set("Content-Type", "text/plain");
        let answer = self.send(request, Some(bytes));
        (answer.status, answer.json())
    }

    /// Posts several files as one multipart import.
    pub fn import_files(&self, files: &[(&str, &[u8])], flags: &str) -> (u16, Value) {
        let boundary = "dirgate-test-boundary-7d1e";
        let mut body = Vec::new();
        for (name, bytes) in files {
            write!(body, "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n")
                .unwrap();
            body.extend_from_slice(b"Content-Type: application/octet-stream\r\n\r\n");
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        write!(body, "--{boundary}--\r\n").unwrap();
        let request = self
            .request("POST", &format!("/api/v1/imports?x=1{flags}"))
            .set("Content-Type", &format!("multipart/form-data; boundary={boundary}"));
        let answer = self.send(request, Some(&body));
        (answer.status, answer.json())
    }

    pub fn sign_in(&mut self, username: &str, password: &str) -> Answer {
        let request =
            ureq::request("POST", &format!("{}/api/v1/session", self.base)).set("Content-Type", "application/json");
        let answer =
            self.send(request, Some(json!({ "username": username, "password": password }).to_string().as_bytes()));
        if answer.status == 200 {
            let cookie = answer.header("set-cookie").unwrap().split(';').next().unwrap().to_owned();
            self.auth = Auth::Cookie(cookie);
        }
        answer
    }

    /// The tenant's directory, as the three exports.
    pub fn exports(&self, domain: Option<&str>) -> [String; 3] {
        let query = domain.map(|d| format!("?domain={d}")).unwrap_or_default();
        ["recipients.csv", "aliases.csv", "groups.csv"].map(|file| {
            let answer = self.get_raw(&format!("/api/v1/exports/{file}{query}"));
            assert_eq!(answer.status, 200, "{file}: {}", answer.text());
            answer.text()
        })
    }

    pub fn stats(&self) -> Value {
        let (status, stats) = self.get("/api/v1/stats");
        assert_eq!(status, 200, "{stats}");
        stats
    }

    pub fn recipient(&self, address: &str) -> Value {
        let (status, answer) = self.get(&format!("/api/v1/recipients/{address}"));
        assert_eq!(status, 200, "{answer}");
        answer
    }
}

pub fn domain_stats(stats: &Value, domain: &str) -> (u64, u64, u64) {
    let d = stats["domains"].as_array().unwrap().iter().find(|d| d["domain"] == domain).unwrap();
    (d["recipients"].as_u64().unwrap(), d["aliases"].as_u64().unwrap(), d["groups"].as_u64().unwrap())
}

pub fn assert_error(status: u16, body: &Value, expected_status: u16, code: &str) {
    assert_eq!(status, expected_status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
}

pub fn csv_of(rows: &[&str]) -> Vec<u8> {
    rows.iter().map(|r| format!("{r}\n")).collect::<String>().into_bytes()
}

/// A directory of `n` recipients `user{i}@domain`.
pub fn users(domain: &str, range: std::ops::Range<usize>) -> Vec<u8> {
    range.map(|i| format!("user{i}@{domain},User {i}\n")).collect::<String>().into_bytes()
}
