//! End-to-end tests of `dirgate serve`: each test starts the real binary on a free loopback
//! port with a temporary redb file and drives it over HTTP, as a script or the UI would.

mod support;

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use support::*;

#[test]
/// Every operation's refusals are walked in `tests/auth.rs`; here, what lies outside the
/// OpenAPI document: the public pages, unknown routes and the framework's own rejections.
fn public_pages_need_no_sign_in_and_every_error_is_json() {
    let server = Server::start();
    let anonymous = server.anonymous();
    // Health, the OpenAPI document, its page and the UI need no sign-in.
    for path in ["/healthz", "/api/openapi.json", "/api/docs", "/"] {
        assert_eq!(anonymous.get_raw(path).status, 200, "{path}");
    }
    let (status, body) = anonymous.get("/api/v1/no-such-route");
    assert_error(status, &body, 404, "not-found");
    // The framework's own rejections are JSON too.
    let (_, acme) = server.tenant("Acme", &["example.com"]);
    let (status, body) = acme.get("/api/v1/imports/not-a-number");
    assert_error(status, &body, 400, "bad-request");
    let (status, body) = acme.call_json("PUT", "/api/v1/stats", &json!({}));
    assert_error(status, &body, 405, "method-not-allowed");
}

#[test]
fn session_cookie_is_http_only_strict_and_needs_same_origin_to_change_state() {
    let server = Server::start();
    let mut wrong = server.anonymous();
    let answer = wrong.sign_in("admin", "not the password");
    assert_error(answer.status, &answer.json(), 401, "bad-credentials");

    let mut operator = server.anonymous();
    let answer = operator.sign_in("admin", ADMIN_PASSWORD);
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["user"]["role"], "operator");
    let cookie = answer.header("set-cookie").unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let Auth::Cookie(value) = &operator.auth else { unreachable!() };

    // The same cookie without Origin (or from another site) cannot change anything.
    let request =
        ureq::post(&server.url("/api/v1/tenants")).set("Cookie", value).set("Content-Type", "application/json");
    let answer = operator.send(request, Some(br#"{"name":"x","domains":[]}"#));
    assert_error(answer.status, &answer.json(), 403, "forbidden");
    let request = ureq::post(&server.url("/api/v1/tenants"))
        .set("Cookie", value)
        .set("Origin", "http://evil.example")
        .set("Content-Type", "application/json");
    let answer = operator.send(request, Some(br#"{"name":"x","domains":[]}"#));
    assert_error(answer.status, &answer.json(), 403, "forbidden");

    // From our own origin it works; tenant admins sign in and see their tenant.
    let (status, tenant) =
        operator.post_json("/api/v1/tenants", &json!({ "name": "Acme", "domains": ["Example.COM"] }));
    assert_eq!(status, 201);
    assert_eq!(tenant["domains"], json!(["example.com"]));
    let id = tenant["id"].as_u64().unwrap();
    let (status, body) = operator
        .post_json(&format!("/api/v1/tenants/{id}/users"), &json!({ "username": "alice", "password": "short" }));
    assert_error(status, &body, 400, "weak-password");
    let (status, _) = operator.post_json(
        &format!("/api/v1/tenants/{id}/users"),
        &json!({ "username": "alice", "password": "alice-password-1" }),
    );
    assert_eq!(status, 201);
    let mut alice = server.anonymous();
    assert_eq!(alice.sign_in("alice", "alice-password-1").status, 200);
    let (status, me) = alice.get("/api/v1/session");
    assert_eq!(status, 200);
    assert_eq!(me["tenant"]["name"], "Acme");
    // The operator manages tenants, not directories; tenant admins cannot manage tenants.
    let (status, body) = operator.get("/api/v1/stats");
    assert_error(status, &body, 403, "forbidden");
    let (status, body) = alice.get("/api/v1/tenants");
    assert_error(status, &body, 404, "not-found");
    // Signing out ends the session on the server, not only in the browser.
    let (status, _) = alice.delete("/api/v1/session");
    assert_eq!(status, 204);
    let (status, body) = alice.get("/api/v1/session");
    assert_error(status, &body, 401, "unauthenticated");
}

#[test]
fn an_import_replaces_only_the_domains_in_the_file() {
    let server = Server::start();
    let (_, acme) = server.tenant("Acme", &["example.com", "example.net"]);
    let first =
        csv_of(&["john@example.com,John", "jane@example.com,Jane", "bob@example.net,Bob", "eve@elsewhere.org,Eve"]);
    let (status, import) = acme.import_raw("all.csv", &first, "&description=first+load");
    assert_eq!(status, 201, "{import}");
    assert_eq!(import["status"], "in-effect");
    assert_eq!(import["description"], "first load");
    assert_eq!(import["files"][0]["name"], "all.csv");
    assert_eq!(import["files"][0]["size"], first.len());
    assert_eq!(import["files"][0]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(import["report"]["counts"]["unmanaged"], 1);
    assert_eq!(domain_stats(&acme.stats(), "example.com"), (2, 0, 0));
    assert_eq!(domain_stats(&acme.stats(), "example.net"), (1, 0, 0));

    // sales.csv holds only example.com: it wipes and reloads example.com, example.net stays.
    let (status, import) =
        acme.import_raw("sales.csv", &csv_of(&["john@example.com,John Smith", "new@example.com"]), "&force=true");
    assert_eq!(status, 201, "{import}");
    let domains = import["domains"].as_array().unwrap();
    assert_eq!(domains.len(), 1);
    assert_eq!(domains[0]["domain"], "example.com");
    assert_eq!(domains[0]["recipients"], json!({ "added": 1, "removed": 1, "kept": 1 }));
    assert_eq!(domain_stats(&acme.stats(), "example.com"), (2, 0, 0));
    assert_eq!(domain_stats(&acme.stats(), "example.net"), (1, 0, 0));
    let [recipients, _, _] = acme.exports(None);
    assert_eq!(
        recipients,
        "\u{feff}email,name\r\njohn@example.com,John Smith\r\nnew@example.com,\r\nbob@example.net,Bob\r\n"
    );
    assert_eq!(acme.recipient("JOHN@Example.com")["status"], "accepted");
    assert_eq!(acme.recipient("jane@example.com")["status"], "rejected");
    assert_eq!(acme.recipient("bob@example.net")["kind"], "recipient");
    assert_eq!(acme.recipient("eve@elsewhere.org")["status"], "not-managed");
    let (status, body) = acme.get("/api/v1/recipients/not-an-address");
    assert_error(status, &body, 400, "invalid-address");
}

#[test]
fn an_import_larger_than_the_json_limit_is_accepted() {
    // Ordinary requests are capped at 1 MiB; imports have their own, larger limit.
    let server = Server::start();
    let (_, acme) = server.tenant("Acme", &["example.com"]);
    let big = users("example.com", 0..100_000);
    assert!(big.len() > 2 << 20);
    let (status, import) = acme.import_raw("big.csv", &big, "");
    assert_eq!(status, 201, "{import}");
    assert_eq!(domain_stats(&acme.stats(), "example.com"), (100_000, 0, 0));
}

#[test]
fn a_dry_run_shows_the_diff_with_samples_and_stores_nothing() {
    let server = Server::start();
    let (_, acme) = server.tenant("Acme", &["example.com"]);
    assert_eq!(acme.import_raw("a.csv", &users("example.com", 0..30), "").0, 201);
    let before = acme.exports(None);
    let (status, dry) = acme.import_raw("b.csv", &users("example.com", 25..60), "&dry_run=true");
    assert_eq!(status, 200, "{dry}");
    assert_eq!(dry["dry_run"], true);
    let d = &dry["domains"][0];
    assert_eq!((d["before"].as_u64(), d["after"].as_u64()), (Some(30), Some(35)));
    assert_eq!(d["added"]["count"], 30);
    assert_eq!(d["removed"]["count"], 25);
    assert_eq!(d["kept"]["count"], 5);
    assert_eq!(d["added"]["samples"].as_array().unwrap().len(), 20);
    assert!(d["removed"]["samples"].as_array().unwrap().contains(&json!("user0@example.com")));
    assert_eq!(d["kept"]["samples"].as_array().unwrap().len(), 5);
    assert_eq!(d["threshold_exceeded"], true);
    assert_eq!(dry["threshold_exceeded"], true);
    assert_eq!(acme.exports(None), before);
    let (_, history) = acme.get("/api/v1/imports");
    assert_eq!(history["imports"].as_array().unwrap().len(), 1);
}

#[test]
fn the_deletion_threshold_refuses_with_the_diff_until_forced() {
    let server = Server::start();
    let (_, acme) = server.tenant("Acme", &["example.com", "example.net"]);
    assert_eq!(acme.import_raw("a.csv", &users("example.com", 0..100), "").0, 201);
    let before = acme.exports(None);
    // Removing 10 of 100 is at the 10% default: allowed. Removing 11 is not.
    let (status, _) = acme.import_raw("b.csv", &users("example.com", 0..90), "&dry_run=true");
    assert_eq!(status, 200);
    let (status, refused) = acme.import_raw("c.csv", &users("example.com", 11..100), "");
    assert_error(status, &refused, 409, "deletion-threshold-exceeded");
    let diff = &refused["diff"]["domains"][0];
    assert_eq!(diff["removed"]["count"], 11);
    assert_eq!(diff["threshold_exceeded"], true);
    assert_eq!(acme.exports(None), before, "a refused import changes nothing");
    // A new domain (nothing to remove) never trips the threshold.
    let (status, _) = acme.import_raw("net.csv", &users("example.net", 0..5), "");
    assert_eq!(status, 201);
    // Forcing passes it and is recorded.
    let (status, forced) = acme.import_raw("c.csv", &users("example.com", 11..100), "&force=true");
    assert_eq!(status, 201, "{forced}");
    assert_eq!(forced["forced"], true);
    assert_eq!(domain_stats(&acme.stats(), "example.com"), (89, 0, 0));
    // The threshold is a tenant setting.
    let (status, _) = acme.call_json(
        "PUT",
        "/api/v1/settings",
        &json!({ "deletion_threshold_percent": 50, "daily_import_limit": 24 }),
    );
    assert_eq!(status, 200);
    let (status, _) = acme.import_raw("d.csv", &users("example.com", 50..100), "");
    assert_eq!(status, 201);
}

#[test]
fn rollback_restores_the_exact_previous_state_as_a_new_audited_step() {
    let server = Server::start();
    let (_, acme) = server.tenant("Acme", &["example.com", "example.net"]);
    let first = b"dn: CN=John,DC=example,DC=com\nobjectClass: user\nmail: john@example.com\nproxyAddresses: SMTP:john@example.com\nproxyAddresses: smtp:j@example.com\ndisplayName: John\n\ndn: CN=Sales,DC=example,DC=com\nobjectClass: group\nmail: sales@example.com\nmember: CN=John,DC=example,DC=com\n\ndn: CN=Ann,DC=example,DC=net\nobjectClass: user\nmail: ann@example.net\n";
    let (status, a) = acme.import_raw("first.ldif", first, "");
    assert_eq!(status, 201, "{a}");
    let after_first = acme.exports(None);
    let (status, b) =
        acme.import_raw("second.csv", &csv_of(&["john@example.com,Johnny", "kim@example.com,Kim"]), "&force=true");
    assert_eq!(status, 201, "{b}");
    let (a_id, b_id) = (a["id"].as_u64().unwrap(), b["id"].as_u64().unwrap());
    assert_ne!(acme.exports(None), after_first);

    // The earlier import cannot be undone while a later one holds its domain.
    let (status, body) = acme.post_json(&format!("/api/v1/imports/{a_id}/rollback"), &json!({}));
    assert_error(status, &body, 409, "rollback-refused");
    let (_, one) = acme.get(&format!("/api/v1/imports/{a_id}"));
    assert_eq!(one["status"], "in-effect", "it still holds example.net: {one}");

    let (status, rollback) = acme.post_json(&format!("/api/v1/imports/{b_id}/rollback"), &json!({}));
    assert_eq!(status, 201, "{rollback}");
    assert_eq!(rollback["kind"], "rollback");
    assert_eq!(rollback["rollback_of"], b_id);
    assert_eq!(acme.exports(None), after_first, "the state before the import, exactly");
    assert_eq!(acme.recipient("j@example.com")["kind"], "alias");
    assert_eq!(acme.recipient("sales@example.com")["kind"], "group");
    assert_eq!(acme.recipient("kim@example.com")["status"], "rejected");

    let (_, history) = acme.get("/api/v1/imports");
    let statuses: Vec<(u64, String)> = history["imports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["id"].as_u64().unwrap(), e["status"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(statuses[1], (b_id, "rolled-back".to_owned()));
    assert_eq!(statuses[2], (a_id, "in-effect".to_owned()));
    // Twice is refused; and now the first import can be undone too, back to nothing.
    let (status, _) = acme.post_json(&format!("/api/v1/imports/{b_id}/rollback"), &json!({}));
    assert_eq!(status, 409);
    let (status, _) = acme.post_json(&format!("/api/v1/imports/{a_id}/rollback"), &json!({}));
    assert_eq!(status, 201);
    assert_eq!(acme.stats()["totals"], json!({ "recipients": 0, "aliases": 0, "groups": 0 }));
    let (status, body) = acme.post_json("/api/v1/imports/999/rollback", &json!({}));
    assert_error(status, &body, 404, "not-found");
}

#[test]
fn superseded_imports_are_marked_in_the_history() {
    let server = Server::start();
    let (_, acme) = server.tenant("Acme", &["example.com", "example.net"]);
    let (_, a) = acme.import_raw("a.csv", &csv_of(&["a@example.com", "b@example.net"]), "");
    let (_, _b) = acme.import_raw("b.csv", &csv_of(&["a@example.com", "c@example.com"]), "");
    let (_, one) = acme.get(&format!("/api/v1/imports/{}", a["id"]));
    assert_eq!(one["status"], "in-effect", "example.net is still a's");
    let (_, _c) = acme.import_raw("c.csv", &csv_of(&["b@example.net", "d@example.net"]), "");
    let (_, one) = acme.get(&format!("/api/v1/imports/{}", a["id"]));
    assert_eq!(one["status"], "superseded");
    assert_eq!(one["rollback_available"], false);
}

#[test]
fn the_daily_import_limit_answers_429_with_retry_after() {
    let server = Server::start();
    let (_, acme) = server.tenant("Acme", &["example.com"]);
    let (status, _) = acme.call_json(
        "PUT",
        "/api/v1/settings",
        &json!({ "deletion_threshold_percent": 100, "daily_import_limit": 2 }),
    );
    assert_eq!(status, 200);
    for i in 0..2 {
        assert_eq!(acme.import_raw("a.csv", &users("example.com", 0..i + 1), "").0, 201);
    }
    let request = acme.request("POST", "/api/v1/imports?name=c.csv").set("Content-Type", "text/csv");
    let answer = acme.send(request, Some(&users("example.com", 0..5)));
    assert_error(answer.status, &answer.json(), 429, "daily-import-limit");
    let retry: u64 = answer.header("retry-after").unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= 86_400);
    // A dry run is not an import: it still answers.
    assert_eq!(acme.import_raw("c.csv", &users("example.com", 0..5), "&dry_run=true").0, 200);
    assert_eq!(domain_stats(&acme.stats(), "example.com"), (2, 0, 0));
}

/// A multipart body that ends before its closing boundary is refused, says how much of it
/// arrived against what it declared, and changes nothing.
#[test]
fn a_cut_off_multipart_body_is_refused_with_how_much_arrived() {
    let server = Server::start();
    let (_, acme) = server.tenant("Acme", &["example.com"]);
    assert_eq!(acme.import_raw("before.csv", &users("example.com", 0..2), "").0, 201);
    let boundary = "dirgate-test-boundary-cut";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\r\nann@example.com\r\n"
    );
    let request = acme
        .request("POST", "/api/v1/imports")
        .set("Content-Type", &format!("multipart/form-data; boundary={boundary}"));
    let answer = acme.send(request, Some(body.as_bytes()));
    let error = answer.json();
    assert_error(answer.status, &error, 400, "bad-multipart");
    let message = error["error"]["message"].as_str().unwrap();
    assert!(message.contains(&format!("after {} of {} bytes", body.len(), body.len())), "{message}");
    assert_eq!(domain_stats(&acme.stats(), "example.com"), (2, 0, 0));
}

#[test]
fn exports_re_import_to_an_identical_directory() {
    let server = Server::start();
    let (_, acme) = server.tenant("Acme", &["example.com", "example.net"]);
    let ldif = "version: 1\n\
        dn: CN=John Smith,OU=Staff,DC=example,DC=com\nobjectClass: user\ndisplayName: =cmd|' /C calc'!A0\n\
        proxyAddresses: SMTP:John.Smith@example.com\nproxyAddresses: smtp:js@example.com\nproxyAddresses: smtp:-john@example.net\nproxyAddresses: X500:/o=x\n\n\
        dn: CN=Ann,OU=Staff,DC=example,DC=com\nobjectClass: user\ndisplayName:: w4VzYSBTw7ZkZXJiZXJn\nmail: ann@example.com\nmailAlternateAddress: ann.alt@example.net\n\n\
        dn: CN=-Sales,OU=Groups,DC=example,DC=com\nobjectClass: group\ncn: -Sales\nmail: sales@example.com\nmember: CN=John Smith,OU=Staff,DC=example,DC=com\nmember: CN=Ann,OU=Staff,DC=example,DC=com\nmember: CN=Ghost,OU=Gone,DC=example,DC=com\n\n\
        dn: CN=Everyone,OU=Groups,DC=example,DC=com\nobjectClass: group\ncn: Everyone\nmember: CN=Ann,OU=Staff,DC=example,DC=com\n\n\
        dn: CN=Empty,OU=Groups,DC=example,DC=com\nobjectClass: groupOfNames\ncn: Empty\nmail: empty@example.net\n";
    let (status, import) = acme.import_raw("ad.ldif", ldif.as_bytes(), "");
    assert_eq!(status, 201, "{import}");
    let exported = acme.exports(None);
    let [recipients, aliases, groups] = &exported;
    assert!(recipients.starts_with("\u{feff}email,name\r\n"));
    assert!(
        recipients.contains("John.Smith@example.com,'=cmd|' /C calc'!A0\r\n"),
        "formulas are neutralised: {recipients}"
    );
    assert!(recipients.contains("Åsa Söderberg"));
    assert!(aliases.contains("'-john@example.net,John.Smith@example.com\r\n"), "{aliases}");
    assert!(groups.contains("'-Sales,sales@example.com,John.Smith@example.com\r\n"), "{groups}");
    assert!(groups.contains("Empty,empty@example.net,\r\n"));
    assert!(groups.contains("Everyone,,ann@example.com\r\n"), "a group without address: {groups}");

    // Re-importing the three files as one import gives the same directory back.
    let (status, reimport) = acme.import_files(
        &[
            ("recipients.csv", recipients.as_bytes()),
            ("aliases.csv", aliases.as_bytes()),
            ("groups.csv", groups.as_bytes()),
        ],
        "",
    );
    assert_eq!(status, 201, "{reimport}");
    assert_eq!(reimport["files"].as_array().unwrap().len(), 3);
    for domain in reimport["domains"].as_array().unwrap() {
        assert_eq!(domain["added"]["count"], 0, "{domain}");
        assert_eq!(domain["removed"]["count"], 0, "{domain}");
    }
    assert_eq!(acme.exports(None), exported);
    // Per-domain exports hold only that domain.
    let [recipients_net, aliases_net, _] = acme.exports(Some("example.net"));
    assert_eq!(recipients_net, "\u{feff}email,name\r\n");
    assert_eq!(aliases_net.lines().count(), 3);
    let answer = acme.get_raw("/api/v1/exports/recipients.csv?domain=example.com");
    assert_eq!(answer.header("content-type"), Some("text/csv; charset=utf-8"));
    assert!(answer.header("content-disposition").unwrap().contains("recipients-example.com.csv"));
}

#[test]
fn one_tenant_cannot_claim_write_or_see_what_belongs_to_another() {
    let server = Server::start();
    let (_, acme) = server.tenant("Acme", &["acme.example"]);
    let (_, globex) = server.tenant("Globex", &["globex.example"]);
    let (status, import) = acme.import_raw("a.csv", &csv_of(&["ceo@acme.example", "cfo@acme.example"]), "");
    assert_eq!(status, 201);
    let import_id = import["id"].as_u64().unwrap();

    // Every operation on Acme's ids with Globex's key or session is walked in `tests/auth.rs`;
    // here, what a tenant can try with its own routes.
    let (status, body) = globex.post_json("/api/v1/domains", &json!({ "domain": "ACME.example" }));
    assert_error(status, &body, 409, "domain-taken");
    // Acme's addresses do not exist for Globex, and Globex cannot write into Acme's domain.
    assert_eq!(
        globex.recipient("ceo@acme.example"),
        json!({ "address": "ceo@acme.example", "status": "not-managed", "kind": null, "recipient_check": false })
    );
    let (status, body) = globex.import_raw("x.csv", &csv_of(&["intruder@acme.example"]), "");
    assert_error(status, &body, 422, "nothing-to-import");
    for path in ["/api/v1/imports", "/api/v1/sync/history", "/api/v1/domains", "/api/v1/stats", "/api/v1/keys"] {
        let (status, body) = globex.get(path);
        assert_eq!(status, 200);
        assert!(!body.to_string().contains("acme"), "{path}: {body}");
    }
    let [recipients, _, _] = globex.exports(None);
    assert_eq!(recipients, "\u{feff}email,name\r\n");
    // Acme is untouched.
    assert_eq!(acme.recipient("ceo@acme.example")["status"], "accepted");
    let (status, _) = acme.get(&format!("/api/v1/imports/{import_id}"));
    assert_eq!(status, 200);
}

#[test]
fn data_history_and_accounts_survive_a_restart() {
    let mut server = Server::start();
    let (_, acme) = server.tenant("Acme", &["example.com"]);
    let Auth::Key(key) = &acme.auth else { unreachable!() };
    let key = key.clone();
    assert_eq!(acme.import_raw("a.csv", &users("example.com", 0..50), "").0, 201);
    assert_eq!(acme.import_raw("b.csv", &users("example.com", 0..48), "").0, 201);
    let exports = acme.exports(None);
    let (_, history) = acme.get("/api/v1/imports");

    server.restart();
    let acme = Client { base: server.base.clone(), auth: Auth::Key(key) };
    assert_eq!(acme.exports(None), exports);
    assert_eq!(acme.get("/api/v1/imports").1, history);
    assert_eq!(server.operator().get("/api/v1/tenants").0, 200, "the operator's password still works");
    let latest = history["imports"][0]["id"].as_u64().unwrap();
    let (status, _) = acme.post_json(&format!("/api/v1/imports/{latest}/rollback"), &json!({}));
    assert_eq!(status, 201, "snapshots survive too");
    assert_eq!(domain_stats(&acme.stats(), "example.com"), (50, 0, 0));
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// Sends only the head of a request that announces `length` bytes and waits for the answer, as
/// a client using `Expect: 100-continue` does.
fn announce(client: &Client, path: &str, content_type: &str, length: usize) -> (u16, Value) {
    use std::net::TcpStream;
    let Auth::Key(key) = &client.auth else { panic!("needs a key") };
    let host = client.base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\nContent-Type: {content_type}\r\n\
         Content-Length: {length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

#[test]
fn oversized_bodies_and_zip_bombs_get_413_and_change_nothing() {
    let server = Server::start_with(&["--max-upload-mib", "1"]);
    let (_, acme) = server.tenant("Acme", &["example.com"]);
    assert_eq!(acme.import_raw("a.csv", &users("example.com", 0..10), "").0, 201);
    let before = acme.exports(None);

    // A client that announces a large body (curl does, with `Expect: 100-continue`) is told
    // 413 before it sends a byte of it.
    let (status, body) = announce(&acme, "/api/v1/imports?name=big.csv", "text/csv", 2 << 20);
    assert_error(status, &body, 413, "body-too-large");
    // A body without a declared length is cut off at the limit as it streams in.
    let big = users("example.com", 0..40_000);
    assert!(big.len() > 1 << 20);
    let response = match acme.request("POST", "/api/v1/imports?name=big.csv").send(&big[..]) {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(response.status(), 413);
    assert_eq!(response.into_json::<Value>().unwrap()["error"]["code"], "body-too-large");
    // Gzip that is small on the wire but large once decoded is cut off at the limit.
    let bomb = gzip(&vec![b'\n'; 16 << 20]);
    assert!(bomb.len() < 1 << 20);
    for content_type in ["text/csv", "application/json"] {
        let request = acme
            .request("POST", "/api/v1/imports?name=bomb.csv")
            .set("Content-Type", content_type)
            .set("Content-Encoding", "gzip");
        let answer = acme.send(request, Some(&bomb));
        assert_error(answer.status, &answer.json(), 413, "body-too-large");
    }
    // A gzip body within the limit is accepted; broken gzip and unknown encodings are not.
    let request = acme.request("POST", "/api/v1/imports?name=z.csv&dry_run=true").set("Content-Encoding", "gzip");
    assert_eq!(acme.send(request, Some(&gzip(&users("example.com", 0..10)))).status, 200);
    let request = acme.request("POST", "/api/v1/imports?name=z.csv").set("Content-Encoding", "gzip");
    let answer = acme.send(request, Some(b"definitely not gzip"));
    assert_error(answer.status, &answer.json(), 400, "bad-body");
    let request = acme.request("POST", "/api/v1/imports?name=z.csv").set("Content-Encoding", "br");
    let answer = acme.send(request, Some(b"x"));
    assert_error(answer.status, &answer.json(), 415, "unsupported-encoding");
    // Ordinary JSON routes have their own, small limit.
    let (status, body) = announce(&acme, "/api/v1/domains", "application/json", 2 << 20);
    assert_error(status, &body, 413, "body-too-large");
    let request = acme.request("POST", "/api/v1/domains").set("Content-Type", "application/json");
    let answer = acme.send(request, Some(b"{not json"));
    assert_error(answer.status, &answer.json(), 400, "bad-json");
    assert_eq!(acme.exports(None), before);
}

#[test]
fn a_file_with_errors_gets_422_with_lines_and_changes_nothing_unless_told_to_skip() {
    let server = Server::start();
    let (_, acme) = server.tenant("Acme", &["example.com"]);
    assert_eq!(acme.import_raw("a.csv", &users("example.com", 0..10), "").0, 201);
    let before = acme.exports(None);
    let bad = csv_of(&[
        "user0@example.com,User 0",
        "not an address,Oops",
        "user1@example.com,\"unterminated",
        "user2@example.com,x,y",
    ]);
    let (status, body) = acme.import_raw("bad.csv", &bad, "&force=true");
    assert_error(status, &body, 422, "invalid-directory");
    let lines: Vec<(u64, &str)> = body["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["severity"] == "error")
        .map(|d| (d["line"].as_u64().unwrap(), d["code"].as_str().unwrap()))
        .collect();
    assert!(lines.contains(&(2, "invalid-address")), "{lines:?}");
    assert!(lines.contains(&(3, "unterminated-quote")), "{lines:?}");
    assert!(body["diagnostics"][0]["file"] == "bad.csv");
    assert_eq!(acme.exports(None), before);

    let (status, import) = acme.import_raw("bad.csv", &bad, "&force=true&skip_invalid=true");
    assert_eq!(status, 201, "{import}");
    assert!(import["skipped_invalid"].as_u64().unwrap() >= 2);
    assert_eq!(acme.recipient("user0@example.com")["status"], "accepted");
    // Binary garbage and empty files are clear errors, not crashes.
    let (status, body) = acme.import_raw("x.bin", &[0u8, 159, 146, 150, 0, 1, 2, 3, 255, 0], "");
    assert_error(status, &body, 422, "invalid-directory");
    assert!(body.to_string().contains("binary-file"));
    let (status, body) = acme.import_raw("empty.csv", b"", "");
    assert_error(status, &body, 422, "invalid-directory");
    assert!(body.to_string().contains("empty-file"));
}

#[test]
fn a_normalised_json_upload_is_re_validated_by_the_server() {
    let server = Server::start();
    let (_, acme) = server.tenant("Acme", &["example.com"]);
    let upload = json!({
        "recipients": [{ "address": "John@EXAMPLE.com", "name": "John" }, { "address": "ann@example.com" }],
        "aliases": [{ "address": "j@example.com", "target": "John@example.com" }],
        "groups": [{ "name": "Staff", "address": "staff@example.com", "members": ["john@example.com", "ann@example.com"] }],
        "files": [{ "name": "ad.ldif", "size": 123456, "sha256": "ab".repeat(32), "format": "ldif", "encoding": "utf-16le" }],
        "description": "from the browser"
    });
    let request =
        acme.request("POST", "/api/v1/imports").set("Content-Type", "application/json").set("Content-Encoding", "gzip");
    let answer = acme.send(request, Some(&gzip(upload.to_string().as_bytes())));
    let import = answer.json();
    assert_eq!(answer.status, 201, "{import}");
    assert_eq!(import["format"], "ldif");
    assert_eq!(import["encoding"], "utf-16le");
    assert_eq!(import["files"][0]["size"], 123456);
    assert_eq!(import["submitted"], json!({ "recipients": 2, "aliases": 1, "groups": 1 }));
    assert_eq!(acme.recipient("john@example.com")["address"], "john@example.com");
    assert_eq!(acme.recipient("j@example.com")["kind"], "alias");

    // The server does not trust the browser: a bad address or a conflict is refused.
    let forged = json!({ "recipients": [{ "address": "bad address@example.com" }, { "address": "x@example.com" }], "aliases": [{ "address": "x@example.com", "target": "y@example.com" }] });
    let (status, body) = acme.post_json("/api/v1/imports", &forged);
    assert_error(status, &body, 422, "invalid-directory");
    let codes = body["diagnostic_totals"].as_object().unwrap();
    assert!(codes.contains_key("invalid-address") && codes.contains_key("address-conflict"), "{body}");
    let (status, body) = acme.post_json("/api/v1/imports", &json!({ "recipients": "nope" }));
    assert_error(status, &body, 400, "bad-json");
}

#[test]
fn sync_pushes_are_recorded_with_agent_and_result_and_summarised() {
    let server = Server::start();
    let (_, acme) = server.tenant("Acme", &["example.com"]);
    let push = |recipients: std::ops::Range<usize>, flags: &str| {
        let body = json!({
            "recipients": recipients.map(|i| json!({ "address": format!("u{i}@example.com") })).collect::<Vec<_>>(),
            "groups": [{ "name": "All", "members": ["u0@example.com"] }],
            "agent": { "host": "dc01.corp.example", "version": "0.1.0" },
            "source": "corp-ad"
        });
        acme.post_json(&format!("/api/v1/sync?x=1{flags}"), &body)
    };
    let (status, run) = push(0..100, "");
    assert_eq!(status, 201, "{run}");
    assert_eq!(run["kind"], "sync");
    assert_eq!(run["agent"]["host"], "dc01.corp.example");
    assert_eq!(run["agent"]["ip"], "127.0.0.1");
    let (status, body) = push(0..50, "");
    assert_error(status, &body, 409, "deletion-threshold-exceeded");
    let (status, _) = push(0..95, "&dry_run=true");
    assert_eq!(status, 200);

    let (_, history) = acme.get("/api/v1/sync/history");
    let runs = history["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "the dry run is not a run: {history}");
    assert_eq!(runs[0]["result"], "threshold-exceeded");
    assert_eq!(runs[0]["status"], "not-applied");
    assert_eq!(runs[1]["result"], "applied");
    let (_, summary) = acme.get("/api/v1/sync/summary");
    assert_eq!(summary["totals"], json!({ "recipients": 100, "aliases": 0, "groups": 1 }));
    assert_eq!(summary["sources"][0]["source"], "corp-ad");
    assert_eq!(summary["sources"][0]["result"], "threshold-exceeded");
    // Sync runs are not file imports.
    let (_, imports) = acme.get("/api/v1/imports");
    assert_eq!(imports["imports"].as_array().unwrap().len(), 0);
    // The browser session cannot pose as an agent.
    let operator = server.operator();
    let (status, tenant) = operator.get("/api/v1/tenants");
    assert_eq!(status, 200);
    let id = tenant["tenants"][0]["id"].as_u64().unwrap();
    operator.post_json(
        &format!("/api/v1/tenants/{id}/users"),
        &json!({ "username": "alice", "password": "alice-password-1" }),
    );
    let mut alice = server.anonymous();
    alice.sign_in("alice", "alice-password-1");
    let (status, body) = alice.post_json("/api/v1/sync", &json!({ "recipients": [] }));
    assert_error(status, &body, 403, "forbidden");
}

#[test]
fn domains_can_be_added_removed_and_have_checking_turned_off() {
    let server = Server::start();
    let (_, acme) = server.tenant("Acme", &["example.com"]);
    let (status, added) = acme.post_json("/api/v1/domains", &json!({ "domain": "Bücher.Example" }));
    assert_eq!(status, 201);
    assert_eq!(added["domain"], "xn--bcher-kva.example");
    let (status, body) = acme.post_json("/api/v1/domains", &json!({ "domain": "not a domain" }));
    assert_error(status, &body, 400, "invalid-domain");
    assert_eq!(acme.import_raw("a.csv", &csv_of(&["a@example.com", "b@bücher.example"]), "").0, 201);
    let (_, domains) = acme.get("/api/v1/domains");
    assert_eq!(domains["domains"].as_array().unwrap().len(), 2);

    // Turning checking off accepts every address in the domain, as while verifying an import.
    assert_eq!(acme.recipient("nobody@example.com")["status"], "rejected");
    let (status, _) = acme.call_json("PATCH", "/api/v1/domains/example.com", &json!({ "recipient_check": false }));
    assert_eq!(status, 200);
    let answer = acme.recipient("nobody@example.com");
    assert_eq!((answer["status"].as_str(), answer["recipient_check"].as_bool()), (Some("accepted"), Some(false)));
    acme.call_json("PATCH", "/api/v1/domains/example.com", &json!({ "recipient_check": true }));
    assert_eq!(acme.recipient("nobody@example.com")["status"], "rejected");

    // Removing a domain that holds addresses needs force, and deletes them.
    let (status, body) = acme.delete("/api/v1/domains/xn--bcher-kva.example");
    assert_error(status, &body, 409, "domain-has-records");
    assert_eq!(body["records"], 1);
    let (status, removed) = acme.delete("/api/v1/domains/bücher.example?force=true");
    assert_eq!(status, 200, "{removed}");
    assert_eq!(removed["kind"], "domain-removal");
    assert_eq!(acme.recipient("b@bücher.example")["status"], "not-managed");
    let (status, _) = acme.call_json("DELETE", "/api/v1/domains", &json!({ "domain": "example.com", "force": true }));
    assert_eq!(status, 200);
    let (status, body) = acme.import_raw("a.csv", &csv_of(&["a@example.com"]), "");
    assert_error(status, &body, 422, "no-managed-domains");
}

#[test]
fn revoked_api_keys_stop_working() {
    let server = Server::start();
    let (id, acme) = server.tenant("Acme", &["example.com"]);
    let (status, body) = acme.post_json("/api/v1/keys", &json!({ "name": "minted by a key" }));
    assert_error(status, &body, 403, "forbidden");
    let alice = server.admin(id, "alice");
    let (status, created) = alice.post_json("/api/v1/keys", &json!({ "name": "sync agent" }));
    assert_eq!(status, 201);
    let agent = Client { base: server.base.clone(), auth: Auth::Key(created["key"].as_str().unwrap().to_owned()) };
    assert_eq!(agent.get("/api/v1/stats").0, 200);
    let (_, keys) = acme.get("/api/v1/keys");
    assert!(!keys.to_string().contains(created["key"].as_str().unwrap()), "secrets are shown once");
    let (status, body) = agent.delete(&format!("/api/v1/keys/{}", created["id"].as_str().unwrap()));
    assert_error(status, &body, 403, "forbidden");
    let (status, _) = alice.delete(&format!("/api/v1/keys/{}", created["id"].as_str().unwrap()));
    assert_eq!(status, 204);
    let (status, body) = agent.get("/api/v1/stats");
    assert_error(status, &body, 401, "unauthenticated");
}

#[test]
fn the_openapi_document_describes_every_route() {
    let server = Server::start();
    let (status, doc) = server.anonymous().get("/api/openapi.json");
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for (path, methods) in [
        ("/healthz", &["get"][..]),
        ("/api/v1/session", &["get", "post", "delete"]),
        ("/api/v1/tenants", &["get", "post"]),
        ("/api/v1/tenants/{id}", &["get"]),
        ("/api/v1/tenants/{id}/keys", &["post"]),
        ("/api/v1/tenants/{id}/users", &["post"]),
        ("/api/v1/keys", &["get", "post"]),
        ("/api/v1/keys/{id}", &["delete"]),
        ("/api/v1/settings", &["get", "put"]),
        ("/api/v1/domains", &["get", "post", "delete"]),
        ("/api/v1/domains/{domain}", &["patch", "delete"]),
        ("/api/v1/imports", &["get", "post"]),
        ("/api/v1/imports/{id}", &["get"]),
        ("/api/v1/imports/{id}/rollback", &["post"]),
        ("/api/v1/exports/{file}", &["get"]),
        ("/api/v1/recipients/{address}", &["get"]),
        ("/api/v1/sync", &["post"]),
        ("/api/v1/sync/summary", &["get"]),
        ("/api/v1/sync/history", &["get"]),
        ("/api/v1/stats", &["get"]),
    ] {
        let item = paths.get(path).unwrap_or_else(|| panic!("{path} is not documented"));
        for method in methods {
            assert!(item.get(*method).is_some(), "{method} {path} is not documented");
        }
    }
}

/// The fixture corpus through the HTTP API (dry runs) gives exactly the report of the native
/// `dirgate check --json` with the same managed domains: the server and the CLI are one core.
#[test]
fn every_fixture_gives_the_same_report_over_http_as_dirgate_check() {
    let server = Server::start();
    let operator = server.operator();
    let mut checked = 0;
    for fixture in support::corpus::fixtures() {
        let (expect, inputs) = (&fixture.expect, &fixture.inputs);
        let stem = fixture.name.rsplit('/').next().unwrap().to_owned();
        let args = support::corpus::args_of(expect);
        // The server always has managed domains: use the fixture's, else those it holds.
        let mut domains: Vec<String> = args.windows(2).filter(|w| w[0] == "--domain").map(|w| w[1].clone()).collect();
        if domains.is_empty() {
            domains = expect["domains"]
                .as_array()
                .map(|a| a.iter().map(|d| d["domain"].as_str().unwrap().to_owned()).collect())
                .unwrap_or_default();
        }
        if domains.is_empty() {
            domains.push("fixture.invalid".to_owned());
        }
        let format_args: Vec<&String> = args.windows(2).filter(|w| w[0] == "--format").map(|w| &w[1]).collect();
        let format_flag = format_args.first().map(|f| format!("&format={f}")).unwrap_or_default();

        let mut cli = Command::new(env!("CARGO_BIN_EXE_dirgate"));
        cli.arg("check").arg("--json");
        for d in &domains {
            cli.args(["--domain", d]);
        }
        if let Some(f) = format_args.first() {
            cli.args(["--format", f]);
        }
        let output = cli.args(inputs).output().unwrap();
        let mut native: Value = serde_json::from_slice(&output.stdout).unwrap();

        let (status, tenant) = operator.post_json("/api/v1/tenants", &json!({ "name": stem, "domains": domains }));
        assert_eq!(status, 201, "{stem}: {tenant}");
        let id = tenant["id"].as_u64().unwrap();
        let (_, key) = operator.post_json(&format!("/api/v1/tenants/{id}/keys"), &json!({}));
        let client = Client { base: server.base.clone(), auth: Auth::Key(key["key"].as_str().unwrap().to_owned()) };
        let files: Vec<(String, Vec<u8>)> = inputs
            .iter()
            .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(p).unwrap()))
            .collect();
        let (status, body) = if files.len() == 1 {
            client.import_raw(&files[0].0, &files[0].1, &format!("&dry_run=true{format_flag}"))
        } else {
            let refs: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (n.as_str(), b.as_slice())).collect();
            client.import_files(&refs, &format!("&dry_run=true{format_flag}"))
        };
        let mut served = body["report"].clone();
        assert!(served.is_object(), "{stem}: {status} {body}");
        let valid = native["valid"].as_bool().unwrap();
        let has_records = native["counts"]["recipients"].as_u64().unwrap()
            + native["counts"]["aliases"].as_u64().unwrap()
            + native["counts"]["groups"].as_u64().unwrap()
            > 0;
        assert_eq!(status, if valid && has_records { 200 } else { 422 }, "{stem}: {body}");
        // File names differ (paths for the CLI, bare names over HTTP); nothing else may.
        for report in [&mut native, &mut served] {
            for d in report["diagnostics"].as_array_mut().unwrap() {
                let name = Path::new(d["file"].as_str().unwrap()).file_name().unwrap().to_string_lossy().into_owned();
                d["file"] = Value::String(name);
            }
            for f in report["files"].as_array_mut().unwrap() {
                let name = Path::new(f["name"].as_str().unwrap()).file_name().unwrap().to_string_lossy().into_owned();
                f["name"] = Value::String(name);
            }
        }
        assert_eq!(served, native, "{stem}: the server's report differs from dirgate check's");
        for d in &domains {
            client.delete(&format!("/api/v1/domains/{d}"));
        }
        checked += 1;
    }
    assert!(checked >= 80, "only {checked} fixtures");
}
