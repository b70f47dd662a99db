//! Authentication and isolation, operation by operation, against the real `dirgate serve`.
//!
//! `every_operation_refuses_wrong_credentials_and_leaks_nothing` reads the server's own OpenAPI
//! document and calls every operation in it with every kind of wrong credential, with another
//! tenant's credentials, with a session cookie from another site, and with each role, all
//! against real data of tenant A that carries distinctive marker strings. Every answer must
//! have the right status, be documented for that operation, and, unless it went to tenant A
//! itself, contain none of A's markers. The other tests hold the sign-in limiter to its policy
//! and look at what the database file stores for secrets.

mod support;

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::*;

/// Tenant A's data: distinctive strings that must never show in an answer to anyone else.
const A_TENANT: &str = "Zephyrine Holdings";
const A_DOMAIN: &str = "zephyrine-mail.example";
const A_CEO: &str = "zephyrine-ceo@zephyrine-mail.example";
const A_CEO_NAME: &str = "Quillon Zephyrine";
const A_CFO: &str = "zephyrine-cfo@zephyrine-mail.example";
const A_ALIAS: &str = "zephyrine-boss@zephyrine-mail.example";
const A_GROUP: &str = "Zephyrine Board";
const A_GROUP_ADDRESS: &str = "zephyrine-board@zephyrine-mail.example";
const A_ADMIN: &str = "zephyrine-admin";
const A_IMPORT_NOTE: &str = "zephyrine quarterly upload";
const A_FILE: &str = "zephyrine-directory.ldif";
const A_SOURCE: &str = "zephyrine-forest";
const A_AGENT_HOST: &str = "zephyrine-dc1";
const A_KEY_NAMES: [&str; 3] = ["zephyrine-key-main", "zephyrine-key-doomed", "zephyrine-key-revoked"];
/// Tenant B, the one that tries to reach A's data.
const B_TENANT: &str = "Betamax Industries";
const B_DOMAIN: &str = "betamax.example";

/// The operations that need no credentials, exempt from the table (static assets are not in
/// the document at all). Sign-out is here because it answers 204 to anyone; its same-origin
/// check is tested in the setup.
const PUBLIC: [(&str, &str); 5] = [
    ("GET", "/healthz"),
    ("GET", "/api/openapi.json"),
    ("GET", "/api/docs"),
    ("POST", "/api/v1/session"),
    ("DELETE", "/api/v1/session"),
];

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// Who a credential belongs to, as `x-dirgate-roles` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Role {
    Operator,
    Admin,
    Key,
}

impl Role {
    fn parse(name: &str) -> Role {
        match name {
            "operator" => Role::Operator,
            "admin" => Role::Admin,
            "key" => Role::Key,
            other => panic!("unknown role {other:?} in x-dirgate-roles"),
        }
    }
}

/// The credentials each operation is called with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Case {
    NoCredentials,
    /// `Authorization: Basic` with the operator's real user name and password.
    BasicScheme,
    NotAKey,
    UnknownKey,
    /// Tenant A's real key id with a wrong secret.
    WrongSecret,
    RevokedKey,
    SignedOutSession,
    /// A wrong key beside a live session: the key decides, so this is 401, not the session.
    WrongKeyBesideSession,
    SessionWithoutOrigin,
    SessionForeignOrigin,
    /// The right `Origin`, but the browser says the request came from another site.
    SessionCrossSite,
    OtherTenantKey,
    OtherTenantAdmin,
    /// Tenant A's own credential of one role (or the operator).
    Own(Role),
}

impl Case {
    /// The cases for an operation: the cookie's origin cases only where the method changes data.
    fn all(method: &str) -> Vec<Case> {
        let mut cases = vec![
            Case::NoCredentials,
            Case::BasicScheme,
            Case::NotAKey,
            Case::UnknownKey,
            Case::WrongSecret,
            Case::RevokedKey,
            Case::SignedOutSession,
            Case::WrongKeyBesideSession,
        ];
        if !matches!(method, "GET" | "HEAD" | "OPTIONS") {
            cases.extend([Case::SessionWithoutOrigin, Case::SessionForeignOrigin, Case::SessionCrossSite]);
        }
        cases.extend([Case::OtherTenantKey, Case::OtherTenantAdmin]);
        cases.extend([Role::Operator, Role::Admin, Role::Key].map(Case::Own));
        cases
    }
}

/// What an answer must be: a status, and for an error its code, or one field of the body.
#[derive(Clone, Copy, Debug)]
struct Expect {
    status: u16,
    code: Option<&'static str>,
    field: Option<(&'static str, &'static str)>,
}

const fn ok(status: u16) -> Expect {
    Expect { status, code: None, field: None }
}

const fn error(status: u16, code: &'static str) -> Expect {
    Expect { status, code: Some(code), field: None }
}

impl Expect {
    /// Also requires the string at a JSON pointer of the body.
    const fn with(self, pointer: &'static str, value: &'static str) -> Expect {
        Expect { field: Some((pointer, value)), ..self }
    }
}

/// How an answer is judged beyond its status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Refused for who is asking: exactly the error shape, and nothing of tenant A.
    Refusal,
    /// Another tenant's own view: nothing of tenant A.
    Foreign,
    /// Tenant A (or the operator) itself, which may see A's data.
    Control,
}

#[derive(Clone, Debug)]
enum Payload {
    Empty,
    Json(Value),
    Raw(&'static str, String),
}

/// What the table knows about one operation: how to call it on tenant A's data, what A's own
/// allowed credentials get (`control`), and what tenant B's allowed credentials get (`cross`;
/// `None` for the operator's routes, which B never reaches).
struct Spec {
    query: String,
    payload: Payload,
    control: Expect,
    cross: Option<Expect>,
}

/// The table. A new operation in the document fails the test until it is added here.
fn spec(method: &str, template: &str) -> Option<Spec> {
    let spec = |query: &str, payload, control, cross| Some(Spec { query: query.to_owned(), payload, control, cross });
    let none = Payload::Empty;
    let csv = || Payload::Raw("text/plain", format!("{A_CEO},Someone Else\n"));
    match (method, template) {
        ("GET", "/api/v1/session") => spec("", none, ok(200), Some(ok(200).with("/tenant/name", B_TENANT))),
        ("POST", "/api/v1/tenants") => spec(
            "",
            Payload::Json(json!({ "name": "A second tenant", "domains": [A_DOMAIN] })),
            error(409, "domain-taken"),
            None,
        ),
        ("GET", "/api/v1/tenants") => spec("", none, ok(200).with("/tenants/0/name", A_TENANT), None),
        ("GET", "/api/v1/tenants/{id}") => spec("", none, ok(200).with("/name", A_TENANT), None),
        ("POST", "/api/v1/tenants/{id}/keys") => {
            spec("", Payload::Json(json!({ "name": "one more" })), ok(201).with("/name", "one more"), None)
        }
        ("POST", "/api/v1/tenants/{id}/users") => spec(
            "",
            Payload::Json(json!({ "username": A_ADMIN, "password": "a long enough password" })),
            error(409, "username-taken"),
            None,
        ),
        ("POST", "/api/v1/keys") => {
            let payload = Payload::Json(json!({ "name": "minted" }));
            spec("", payload, ok(201).with("/name", "minted"), Some(ok(201).with("/name", "minted")))
        }
        ("DELETE", "/api/v1/keys/{id}") => spec("", none, ok(204), Some(error(404, "not-found"))),
        ("PUT", "/api/v1/settings") => {
            let payload = Payload::Json(json!({ "deletion_threshold_percent": 10, "daily_import_limit": 24 }));
            spec("", payload, ok(200), Some(ok(200)))
        }
        ("POST", "/api/v1/domains") => spec(
            "",
            Payload::Json(json!({ "domain": A_DOMAIN })),
            ok(200).with("/domain", A_DOMAIN),
            Some(error(409, "domain-taken")),
        ),
        ("DELETE", "/api/v1/domains") => spec(
            "",
            Payload::Json(json!({ "domain": A_DOMAIN })),
            error(409, "domain-has-records"),
            Some(error(404, "not-found")),
        ),
        ("PATCH", "/api/v1/domains/{domain}") => spec(
            "",
            Payload::Json(json!({ "recipient_check": true })),
            ok(200).with("/domain", A_DOMAIN),
            Some(error(404, "not-found")),
        ),
        ("DELETE", "/api/v1/domains/{domain}") => {
            spec("", none, error(409, "domain-has-records"), Some(error(404, "not-found")))
        }
        ("POST", "/api/v1/imports") => {
            spec("?dry_run=true&name=intrusion.csv", csv(), ok(200), Some(error(422, "nothing-to-import")))
        }
        ("GET", "/api/v1/imports/{id}") => spec("", none, ok(200), Some(error(404, "not-found"))),
        ("POST", "/api/v1/imports/{id}/rollback") => {
            spec("", none, error(409, "rollback-refused"), Some(error(404, "not-found")))
        }
        ("POST", "/api/v1/sync") => {
            spec("?dry_run=true&name=intrusion.csv", csv(), ok(200), Some(error(422, "nothing-to-import")))
        }
        ("GET", "/api/v1/exports/{file}") => {
            spec(&format!("?domain={A_DOMAIN}"), none, ok(200), Some(error(404, "not-found")))
        }
        ("GET", "/api/v1/recipients/{address}") => {
            spec("", none, ok(200).with("/status", "accepted"), Some(ok(200).with("/status", "not-managed")))
        }
        (
            "GET",
            "/api/v1/keys"
            | "/api/v1/settings"
            | "/api/v1/domains"
            | "/api/v1/imports"
            | "/api/v1/sync/summary"
            | "/api/v1/sync/history"
            | "/api/v1/stats",
        ) => spec("", none, ok(200), Some(ok(200))),
        _ => None,
    }
}

/// The real value of tenant A's that fills a path parameter.
fn path_value(world: &World, template: &str, name: &str) -> Option<String> {
    match (template, name) {
        (t, "id") if t.starts_with("/api/v1/tenants/") => Some(world.a_id.to_string()),
        (t, "id") if t.starts_with("/api/v1/keys/") => Some(world.a_doomed_key_id.clone()),
        (t, "id") if t.starts_with("/api/v1/imports/") => Some(world.a_first_import.to_string()),
        (_, "domain") => Some(A_DOMAIN.to_owned()),
        (_, "address") => Some(A_CEO.to_owned()),
        _ => None,
    }
}

/// Everything the table test sets up: two tenants with real data, and every credential.
struct World {
    base: String,
    doc: Value,
    a_id: u64,
    a_key: String,
    a_key_id: String,
    a_revoked_key: String,
    a_doomed_key_id: String,
    a_first_import: u64,
    a_admin_cookie: String,
    a_signed_out_cookie: String,
    operator_cookie: String,
    b_key: String,
    b_admin_cookie: String,
    /// Everything of tenant A's that must not leak: names, addresses, key ids and secrets.
    markers: Vec<String>,
}

fn cookie_of(client: &Client) -> String {
    match &client.auth {
        Auth::Cookie(cookie) => cookie.clone(),
        _ => panic!("not signed in"),
    }
}

fn key_client(server: &Server, key: &str) -> Client {
    Client { base: server.base.clone(), auth: Auth::Key(key.to_owned()) }
}

/// A tenant to make: its name, its domain, its first key's name and its administrator.
struct NewTenant {
    name: &'static str,
    domain: &'static str,
    key_name: &'static str,
    admin: &'static str,
}

/// Makes a tenant, an API key for it (by the operator) and an administrator, signed in.
fn make_tenant(server: &Server, operator: &Client, tenant: NewTenant) -> (u64, Value, Client) {
    let NewTenant { name, domain, key_name, admin } = tenant;
    let (status, tenant) = operator.post_json("/api/v1/tenants", &json!({ "name": name, "domains": [domain] }));
    assert_eq!(status, 201, "{tenant}");
    let id = tenant["id"].as_u64().unwrap();
    let (status, key) = operator.post_json(&format!("/api/v1/tenants/{id}/keys"), &json!({ "name": key_name }));
    assert_eq!(status, 201, "{key}");
    let password = format!("{admin}-password-1");
    let (status, user) =
        operator.post_json(&format!("/api/v1/tenants/{id}/users"), &json!({ "username": admin, "password": password }));
    assert_eq!(status, 201, "{user}");
    let mut client = server.anonymous();
    assert_eq!(client.sign_in(admin, &password).status, 200);
    (id, key, client)
}

/// Tenant A's directory: a recipient, an alias and a group, as the first import; the sync
/// agent then adds a second recipient, so that the first import is no longer on top.
fn plant_directory(a_admin: &Client, a_key: &Client) -> u64 {
    let upload = json!({
        "recipients": [{ "address": A_CEO, "name": A_CEO_NAME }],
        "aliases": [{ "address": A_ALIAS, "target": A_CEO }],
        "groups": [{ "name": A_GROUP, "address": A_GROUP_ADDRESS, "members": [A_CEO] }],
        "files": [{ "name": A_FILE, "size": 1234, "sha256": "ab".repeat(32), "format": "ldif", "encoding": "utf-8" }],
        "description": A_IMPORT_NOTE
    });
    let (status, import) = a_admin.post_json("/api/v1/imports", &upload);
    assert_eq!(status, 201, "{import}");
    let mut push = upload;
    push["recipients"] = json!([{ "address": A_CEO, "name": A_CEO_NAME }, { "address": A_CFO }]);
    push["source"] = json!(A_SOURCE);
    push["agent"] = json!({ "host": A_AGENT_HOST, "version": "9.9" });
    let (status, run) = a_key.post_json("/api/v1/sync", &push);
    assert_eq!(status, 201, "{run}");
    import["id"].as_u64().unwrap()
}

/// A session of tenant A's administrator that has been signed out. Signing out is a change
/// made with the cookie, so it must come from our own pages: from anywhere else it is refused
/// and the session goes on.
fn signed_out_session(server: &Server) -> String {
    let mut admin = server.anonymous();
    assert_eq!(admin.sign_in(A_ADMIN, &format!("{A_ADMIN}-password-1")).status, 200);
    let cookie = cookie_of(&admin);
    for origin in [None, Some("http://evil.example")] {
        let mut request = ureq::delete(&server.url("/api/v1/session")).set("Cookie", &cookie);
        if let Some(origin) = origin {
            request = request.set("Origin", origin);
        }
        let answer = admin.send(request, None);
        assert_error(answer.status, &answer.json(), 403, "forbidden");
        assert_eq!(admin.get("/api/v1/session").0, 200, "a cross-origin sign-out ended the session");
    }
    assert_eq!(admin.delete("/api/v1/session").0, 204);
    cookie
}

fn setup(server: &Server) -> World {
    let operator = server.operator();
    let a = NewTenant { name: A_TENANT, domain: A_DOMAIN, key_name: A_KEY_NAMES[0], admin: A_ADMIN };
    let (a_id, a_key, a_admin) = make_tenant(server, &operator, a);
    let b = NewTenant { name: B_TENANT, domain: B_DOMAIN, key_name: "betamax-key", admin: "betamax-admin" };
    let (_, b_key, b_admin) = make_tenant(server, &operator, b);
    let a_key_client = key_client(server, a_key["key"].as_str().unwrap());
    let (status, doomed) = a_admin.post_json("/api/v1/keys", &json!({ "name": A_KEY_NAMES[1] }));
    assert_eq!(status, 201, "{doomed}");
    let (status, revoked) = a_admin.post_json("/api/v1/keys", &json!({ "name": A_KEY_NAMES[2] }));
    assert_eq!(status, 201, "{revoked}");
    assert_eq!(a_admin.delete(&format!("/api/v1/keys/{}", revoked["id"].as_str().unwrap())).0, 204);
    let a_first_import = plant_directory(&a_admin, &a_key_client);
    let key_ids: Vec<String> =
        [&a_key, &doomed, &revoked].iter().map(|k| k["id"].as_str().unwrap().to_owned()).collect();
    let mut markers: Vec<String> = [
        A_TENANT,
        A_DOMAIN,
        A_CEO,
        A_CEO_NAME,
        A_CFO,
        A_ALIAS,
        A_GROUP,
        A_GROUP_ADDRESS,
        A_ADMIN,
        A_IMPORT_NOTE,
        A_FILE,
        A_SOURCE,
        A_AGENT_HOST,
    ]
    .iter()
    .chain(&A_KEY_NAMES)
    .map(|m| m.to_string())
    .collect();
    markers.extend(key_ids.iter().cloned());
    // And A's secrets: its keys and its administrator's session token.
    markers.extend([&a_key, &doomed, &revoked].map(|k| k["key"].as_str().unwrap().to_owned()));
    markers.push(cookie_of(&a_admin).trim_start_matches("dirgate_session=").to_owned());
    let (status, doc) = server.anonymous().get("/api/openapi.json");
    assert_eq!(status, 200);
    World {
        base: server.base.clone(),
        doc,
        a_id,
        a_key: a_key["key"].as_str().unwrap().to_owned(),
        a_key_id: key_ids[0].clone(),
        a_revoked_key: revoked["key"].as_str().unwrap().to_owned(),
        a_doomed_key_id: key_ids[1].clone(),
        a_first_import,
        a_admin_cookie: cookie_of(&a_admin),
        a_signed_out_cookie: signed_out_session(server),
        operator_cookie: cookie_of(&operator),
        b_key: b_key["key"].as_str().unwrap().to_owned(),
        b_admin_cookie: cookie_of(&b_admin),
        markers,
    }
}

/// One operation of the document, with the table's entry and the URLs that fill it.
struct Operation<'d> {
    method: String,
    template: String,
    doc: &'d Value,
    roles: Vec<Role>,
    urls: Vec<String>,
    spec: Spec,
}

/// Follows a `$ref` within the document.
fn resolve<'d>(doc: &'d Value, value: &'d Value) -> &'d Value {
    match value["$ref"].as_str() {
        Some(reference) => doc.pointer(reference.trim_start_matches('#')).unwrap_or_else(|| panic!("{reference}")),
        None => value,
    }
}

/// The concrete paths of an operation: every path parameter filled with tenant A's real value,
/// or with each value of its enum.
fn fill(world: &World, template: &str, item: &Value, operation: &Value) -> Vec<String> {
    let parameters = [&item["parameters"], &operation["parameters"]]
        .into_iter()
        .filter_map(Value::as_array)
        .flatten()
        .map(|p| resolve(&world.doc, p))
        .filter(|p| p["in"] == "path");
    let mut urls = vec![template.to_owned()];
    for parameter in parameters {
        let name = parameter["name"].as_str().unwrap();
        let values: Vec<String> = match parameter["schema"]["enum"].as_array() {
            Some(values) => values.iter().map(|v| v.as_str().unwrap().to_owned()).collect(),
            None => vec![path_value(world, template, name).unwrap_or_else(|| {
                panic!("the table does not know how to fill {{{name}}} of {template}: add it to `path_value`")
            })],
        };
        let placeholder = format!("{{{name}}}");
        let placeholder = &placeholder;
        urls = urls.iter().flat_map(|u| values.iter().map(move |v| u.replace(placeholder, v))).collect();
    }
    assert!(urls.iter().all(|u| !u.contains('{')), "{template} has a path parameter the document does not describe");
    urls
}

/// Every operation of the document, split into the table's and the public ones.
fn operations(world: &World) -> (Vec<Operation<'_>>, Vec<String>) {
    let (mut table, mut public) = (Vec::new(), Vec::new());
    for (template, item) in world.doc["paths"].as_object().unwrap() {
        for method in METHODS.iter().filter(|m| item.get(**m).is_some()) {
            let operation = &item[*method];
            let method = method.to_ascii_uppercase();
            let roles = operation["x-dirgate-roles"].as_array();
            if PUBLIC.contains(&(method.as_str(), template.as_str())) {
                assert_eq!(operation["security"], json!([]), "{method} {template} is public but needs credentials");
                assert!(roles.is_none(), "{method} {template} is public but lists roles");
                public.push(format!("{method} {template}"));
                continue;
            }
            assert_ne!(operation["security"], json!([]), "{method} {template} needs no credentials: add it to PUBLIC");
            let roles: Vec<Role> = roles
                .unwrap_or_else(|| panic!("{method} {template} has no x-dirgate-roles"))
                .iter()
                .map(|r| Role::parse(r.as_str().unwrap()))
                .collect();
            assert!(!roles.is_empty(), "{method} {template}: x-dirgate-roles is empty");
            let spec = spec(&method, template)
                .unwrap_or_else(|| panic!("the table does not know {method} {template}: add it to `spec`"));
            let urls =
                fill(world, template, item, operation).into_iter().map(|u| format!("{u}{}", spec.query)).collect();
            table.push(Operation { method, template: template.clone(), doc: operation, roles, urls, spec });
        }
    }
    (table, public)
}

/// What a role not admitted by an operation gets: operator routes do not reveal themselves.
fn role_refusal(roles: &[Role]) -> Expect {
    if roles == [Role::Operator] { error(404, "not-found") } else { error(403, "forbidden") }
}

fn expected(case: Case, operation: &Operation) -> (Expect, Kind) {
    let foreign = |role: Role| match (operation.roles.contains(&role), operation.spec.cross) {
        (false, _) => (role_refusal(&operation.roles), Kind::Refusal),
        (true, Some(cross)) => (cross, Kind::Foreign),
        (true, None) => panic!("{} {}: the table has no `cross` for {role:?}", operation.method, operation.template),
    };
    match case {
        Case::NoCredentials
        | Case::BasicScheme
        | Case::NotAKey
        | Case::UnknownKey
        | Case::WrongSecret
        | Case::RevokedKey
        | Case::SignedOutSession
        | Case::WrongKeyBesideSession => (error(401, "unauthenticated"), Kind::Refusal),
        Case::SessionWithoutOrigin | Case::SessionForeignOrigin | Case::SessionCrossSite => {
            (error(403, "forbidden"), Kind::Refusal)
        }
        Case::OtherTenantKey => foreign(Role::Key),
        Case::OtherTenantAdmin => foreign(Role::Admin),
        Case::Own(role) if operation.roles.contains(&role) => (operation.spec.control, Kind::Control),
        Case::Own(_) => (role_refusal(&operation.roles), Kind::Refusal),
    }
}

/// The headers of a case. The session cases use the session of a role the operation admits
/// (the operator's on operator routes, A's administrator's elsewhere), so that the cookie's
/// origin is the only thing wrong with them.
fn headers(world: &World, case: Case, roles: &[Role]) -> Vec<(&'static str, String)> {
    let session = if roles == [Role::Operator] { &world.operator_cookie } else { &world.a_admin_cookie };
    let bearer = |key: &str| ("Authorization", format!("Bearer {key}"));
    let cookie = |c: &str| vec![("Cookie", c.to_owned()), ("Origin", world.base.clone())];
    let wrong_secret = format!("dg_{}_{}", world.a_key_id, "W".repeat(43));
    match case {
        Case::NoCredentials => vec![],
        Case::BasicScheme => vec![("Authorization", "Basic YWRtaW46b3BlcmF0b3ItcGFzc3dvcmQtMQ==".to_owned())],
        Case::NotAKey => vec![bearer("not-a-dirgate-key")],
        Case::UnknownKey => vec![bearer(&format!("dg_000000000000_{}", "U".repeat(43)))],
        Case::WrongSecret => vec![bearer(&wrong_secret)],
        Case::RevokedKey => vec![bearer(&world.a_revoked_key)],
        Case::SignedOutSession => cookie(&world.a_signed_out_cookie),
        Case::WrongKeyBesideSession => [vec![bearer(&wrong_secret)], cookie(session)].concat(),
        Case::SessionWithoutOrigin => vec![("Cookie", session.clone())],
        Case::SessionForeignOrigin => vec![("Cookie", session.clone()), ("Origin", "http://evil.example".to_owned())],
        Case::SessionCrossSite => [cookie(session), vec![("Sec-Fetch-Site", "cross-site".to_owned())]].concat(),
        Case::OtherTenantKey => vec![bearer(&world.b_key)],
        Case::OtherTenantAdmin => cookie(&world.b_admin_cookie),
        Case::Own(Role::Operator) => cookie(&world.operator_cookie),
        Case::Own(Role::Admin) => cookie(&world.a_admin_cookie),
        Case::Own(Role::Key) => vec![bearer(&world.a_key)],
    }
}

/// Sends one request; also returns all of its text, to tell an echo of the request from a leak.
fn send(base: &str, method: &str, url: &str, headers: &[(&str, String)], payload: &Payload) -> (Answer, String) {
    let mut request = ureq::request(method, &format!("{base}{url}"));
    let mut text = url.to_owned();
    for (name, value) in headers {
        request = request.set(name, value);
        text.push_str(value);
    }
    let client = Client { base: base.to_owned(), auth: Auth::None };
    let answer = match payload {
        Payload::Empty => client.send(request, None),
        Payload::Json(value) => {
            text.push_str(&value.to_string());
            client.send(request.set("Content-Type", "application/json"), Some(value.to_string().as_bytes()))
        }
        Payload::Raw(content_type, body) => {
            text.push_str(body);
            client.send(request.set("Content-Type", content_type), Some(body.as_bytes()))
        }
    };
    (answer, text.to_lowercase())
}

/// Whether the document lists this status, with this media type, for the operation.
fn documented(doc: &Value, operation: &Value, answer: &Answer) -> Result<(), String> {
    let responses = &operation["responses"];
    let response = responses
        .get(answer.status.to_string())
        .or_else(|| responses.get("default"))
        .ok_or_else(|| format!("status {} is not documented", answer.status))?;
    let Some(content) = resolve(doc, response)["content"].as_object() else { return Ok(()) };
    let media = answer.header("content-type").unwrap_or("").split(';').next().unwrap_or("").trim().to_owned();
    match content.contains_key(&media) {
        true => Ok(()),
        false => Err(format!("{} answers {media:?}, documented: {:?}", answer.status, content.keys())),
    }
}

/// Tenant A's markers in an answer that the request did not itself carry.
fn leaks<'w>(world: &'w World, request: &str, answer: &Answer) -> Vec<&'w str> {
    let mut text = String::from_utf8_lossy(&answer.body).to_lowercase();
    for (_, value) in &answer.headers {
        text.push_str(&value.to_lowercase());
    }
    world
        .markers
        .iter()
        .map(|m| m.as_str())
        .filter(|m| text.contains(&m.to_lowercase()) && !request.contains(&m.to_lowercase()))
        .collect()
}

/// A refusal is exactly `{"error": {"code", "message"}}`, as JSON.
fn assert_refusal_shape(body: &Value, what: &str) {
    let keys = |v: &Value| v.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>());
    assert_eq!(keys(body), Some(vec!["error".to_owned()]), "{what}: {body}");
    assert_eq!(keys(&body["error"]), Some(vec!["code".to_owned(), "message".to_owned()]), "{what}: {body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}: {body}");
}

/// Calls one operation at one URL with one case and checks everything about the answer.
fn check(world: &World, operation: &Operation, url: &str, case: Case) -> u16 {
    let (expect, kind) = expected(case, operation);
    let headers = headers(world, case, &operation.roles);
    let (answer, request) = send(&world.base, &operation.method, url, &headers, &operation.spec.payload);
    let body = answer.json();
    let what = format!("{} {url} with {case:?}", operation.method);
    assert_eq!(answer.status, expect.status, "{what}: {body}");
    if let Err(problem) = documented(&world.doc, operation.doc, &answer) {
        panic!("{what}: the document disagrees with the server: {problem}");
    }
    if let Some(code) = expect.code {
        assert!(answer.header("content-type").is_some_and(|t| t.starts_with("application/json")), "{what}");
        assert_eq!(body["error"]["code"], code, "{what}: {body}");
    }
    if let Some((pointer, value)) = expect.field {
        assert_eq!(body.pointer(pointer).and_then(Value::as_str), Some(value), "{what}: {body}");
    }
    if kind == Kind::Refusal {
        assert_refusal_shape(&body, &what);
    }
    if kind != Kind::Control {
        let leaked = leaks(world, &request, &answer);
        assert!(leaked.is_empty(), "{what} leaks tenant A's {leaked:?}: {}", answer.text());
    }
    answer.status
}

/// What tenant A has, as its key and the operator see it.
fn tenant_a_state(world: &World) -> Vec<String> {
    let key = Client { base: world.base.clone(), auth: Auth::Key(world.a_key.clone()) };
    let operator = Client { base: world.base.clone(), auth: Auth::Cookie(world.operator_cookie.clone()) };
    let mut state: Vec<String> = [
        "/api/v1/domains",
        "/api/v1/settings",
        "/api/v1/keys",
        "/api/v1/imports",
        "/api/v1/sync/history",
        "/api/v1/stats",
        "/api/v1/exports/recipients.csv",
        "/api/v1/exports/aliases.csv",
        "/api/v1/exports/groups.csv",
    ]
    .iter()
    .map(|path| {
        let answer = key.get_raw(path);
        format!("{path} {} {}", answer.status, answer.text())
    })
    .collect();
    let answer = operator.get_raw(&format!("/api/v1/tenants/{}", world.a_id));
    state.push(format!("tenant {} {}", answer.status, answer.text()));
    state
}

#[test]
fn every_operation_refuses_wrong_credentials_and_leaks_nothing() {
    let started = Instant::now();
    let server = Server::start();
    let world = setup(&server);
    let (table, public) = operations(&world);
    for operation in public.iter().filter(|o| o.starts_with("GET ")) {
        let path = operation.trim_start_matches("GET ");
        assert_eq!(server.anonymous().get_raw(path).status, 200, "{operation}");
    }

    // Every credential that is not tenant A's own first, so that the state they could have
    // changed can be compared before A's own requests change it.
    let before = tenant_a_state(&world);
    let mut statuses: BTreeMap<String, BTreeMap<u16, usize>> = BTreeMap::new();
    let mut requests = 0;
    for phase in [false, true] {
        for operation in &table {
            for url in &operation.urls {
                for case in Case::all(&operation.method) {
                    if (expected(case, operation).1 == Kind::Control) != phase {
                        continue;
                    }
                    let status = check(&world, operation, url, case);
                    *statuses.entry(format!("{case:?}")).or_default().entry(status).or_default() += 1;
                    requests += 1;
                }
            }
        }
        if !phase {
            assert_eq!(tenant_a_state(&world), before, "a refused or foreign request changed tenant A");
        }
    }

    let urls: usize = table.iter().map(|o| o.urls.len()).sum();
    let per_case: Vec<String> = statuses
        .iter()
        .map(|(case, s)| {
            let counts: Vec<String> = s.iter().map(|(status, n)| format!("{status}×{n}")).collect();
            format!("{case} {}", counts.join(" "))
        })
        .collect();
    println!(
        "auth: {} operations ({urls} URLs) × {} credential cases = {requests} requests checked, {} public operations exempt, in {:.1?}",
        table.len(),
        statuses.len(),
        public.len(),
        started.elapsed()
    );
    println!("auth: statuses per case: {}", per_case.join("; "));
}

/// A sign-in attempt, as a fresh anonymous client.
fn sign_in(server: &Server, username: &str, password: &str) -> Answer {
    server.anonymous().sign_in(username, password)
}

/// Checks a 429 of the limiter: JSON, documented, and with a `Retry-After` within the window.
fn assert_locked(answer: &Answer, doc: &Value, whom: &str) {
    let body = answer.json();
    assert_error(answer.status, &body, 429, "too-many-attempts");
    assert!(body["error"]["message"].as_str().unwrap().contains(whom), "{body}");
    let retry: u64 = answer.header("retry-after").expect("Retry-After").parse().unwrap();
    assert!((1..=15 * 60).contains(&retry), "Retry-After: {retry}");
    let operation = &doc["paths"]["/api/v1/session"]["post"];
    documented(doc, operation, answer).unwrap();
}

/// Sends `attempts` wrong sign-ins from four threads at once and counts the statuses: the
/// limiter counts an attempt before it checks the password, so requests in flight together
/// cannot get past it, whatever the interleaving.
fn parallel_failures(
    server: &Server,
    attempts: usize,
    username: impl Fn(usize) -> String + Sync,
) -> BTreeMap<u16, usize> {
    let statuses = std::sync::Mutex::new(BTreeMap::new());
    std::thread::scope(|scope| {
        for thread in 0..4 {
            let (statuses, username) = (&statuses, &username);
            scope.spawn(move || {
                for i in (thread..attempts).step_by(4) {
                    let status = sign_in(server, &username(i), "not the password").status;
                    *statuses.lock().unwrap().entry(status).or_insert(0) += 1;
                }
            });
        }
    });
    statuses.into_inner().unwrap()
}

#[test]
fn five_failed_sign_ins_lock_that_name_for_a_window_and_nothing_else() {
    let mut server = Server::start();
    let doc = server.anonymous().get("/api/openapi.json").1;
    let (tenant, _) = server.tenant("Acme", &["acme.example"]);
    let operator = server.operator();
    for user in ["bob", "carol"] {
        let body = json!({ "username": user, "password": format!("{user}-password-1") });
        assert_eq!(operator.post_json(&format!("/api/v1/tenants/{tenant}/users"), &body).0, 201);
    }

    // Five failures for the operator's name, then 429 even with the right password.
    for _ in 0..5 {
        let answer = sign_in(&server, "admin", "not the password");
        assert_error(answer.status, &answer.json(), 401, "bad-credentials");
    }
    assert_locked(&sign_in(&server, "admin", "not the password"), &doc, "user name");
    assert_locked(&sign_in(&server, "admin", ADMIN_PASSWORD), &doc, "user name");
    // Another name, from the same address, is not affected; nor is a session made before.
    assert_eq!(sign_in(&server, "bob", "bob-password-1").status, 200);
    assert_eq!(operator.get("/api/v1/tenants").0, 200);

    // A successful sign-in forgets the failures before it: five more are allowed after it.
    for _ in 0..2 {
        assert_eq!(sign_in(&server, "carol", "wrong").status, 401);
    }
    assert_eq!(sign_in(&server, "carol", "carol-password-1").status, 200);
    for _ in 0..5 {
        assert_eq!(sign_in(&server, "carol", "wrong").status, 401);
    }
    assert_locked(&sign_in(&server, "carol", "carol-password-1"), &doc, "user name");

    // Names that do not exist are limited the same way, and attempts in flight together count.
    let statuses = parallel_failures(&server, 8, |_| "nobody-by-this-name".to_owned());
    assert_eq!(statuses, BTreeMap::from([(401, 5), (429, 3)]));

    // The counts live in memory: a restart forgets them.
    server.restart();
    assert_eq!(sign_in(&server, "admin", ADMIN_PASSWORD).status, 200);
}

#[test]
fn twenty_failed_sign_ins_from_one_address_lock_it_for_every_name() {
    let server = Server::start();
    let doc = server.anonymous().get("/api/openapi.json").1;
    // Distinct names, so that only the address's limit applies.
    let statuses = parallel_failures(&server, 24, |i| format!("guess-{i}"));
    assert_eq!(statuses, BTreeMap::from([(401, 20), (429, 4)]));
    assert_locked(&sign_in(&server, "admin", ADMIN_PASSWORD), &doc, "address");
}

/// Whether `needle` occurs in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn secrets_are_stored_only_as_argon2id_hashes_and_sha256_digests() {
    let mut server = Server::start();
    let (tenant, acme) = server.tenant("Acme", &["acme.example"]);
    let admin = server.admin(tenant, "alice");
    let (status, key) = admin.post_json("/api/v1/keys", &json!({ "name": "agent" }));
    assert_eq!(status, 201, "{key}");
    let full = key["key"].as_str().unwrap();
    let secret = full.strip_prefix(&format!("dg_{}_", key["id"].as_str().unwrap())).unwrap();
    let Auth::Cookie(cookie) = &admin.auth else { unreachable!() };
    let token = cookie.strip_prefix("dirgate_session=").unwrap();

    let db = std::fs::read(server.db()).unwrap();
    // Both users' passwords are argon2id PHC strings with the pinned parameters.
    // (redb may keep older copies of a page, so count every hash of any kind.)
    let count = |needle: &[u8]| db.windows(needle.len()).filter(|w| *w == needle).count();
    let pinned = count(b"$argon2id$v=19$m=19456,t=2,p=1$");
    assert!(pinned >= 2 && count(b"$argon2") == pinned, "{pinned} of {} password hashes", count(b"$argon2"));
    assert!(!contains(&db, ADMIN_PASSWORD.as_bytes()) && !contains(&db, b"alice-password-1"));
    // The key's secret and the session's token are stored only as their SHA-256.
    let hex: String = Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    assert!(contains(&db, hex.as_bytes()) && !contains(&db, secret.as_bytes()));
    assert!(contains(&db, &Sha256::digest(token.as_bytes())) && !contains(&db, token.as_bytes()));

    // What is stored is enough after a restart: the key and the tenant's first key still work.
    server.restart();
    let agent = Client { base: server.base.clone(), auth: Auth::Key(full.to_owned()) };
    assert_eq!(agent.get("/api/v1/stats").0, 200);
    assert_eq!(Client { base: server.base.clone(), auth: acme.auth }.get("/api/v1/keys").0, 200);
}
