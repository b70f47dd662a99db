//! Who is asking: passwords, sessions, API keys, and the extractors that turn a request into a
//! [`Principal`].
//!
//! - Passwords are argon2id PHC strings.
//! - Session cookies and API keys are 256-bit random secrets; only their SHA-256 is stored
//!   (they are not guessable, so a slow hash would only slow every request down).
//! - A request that changes state with a session cookie must also come from the same origin
//!   (`Origin` or `Sec-Fetch-Site`), so that another site cannot ride the cookie.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::error::{AppError, Result};
use crate::store::{Role, Store, User};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "dirgate_session";
/// How long a browser session lasts.
pub const SESSION_SECONDS: u64 = 12 * 3600;
/// API keys look like `dg_<id>_<secret>`.
const KEY_PREFIX: &str = "dg_";

/// Hashes a password for storage.
pub fn hash_password(password: &str) -> String {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).expect("16 bytes is a valid salt");
    Argon2::default().hash_password(password.as_bytes(), &salt).expect("argon2 with default parameters").to_string()
}

/// Checks a password against its stored hash.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// A new random secret, URL-safe.
pub fn random_secret(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buffer);
    URL_SAFE_NO_PAD.encode(buffer)
}

/// SHA-256, as bytes.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// SHA-256, as lower-case hex.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&sha256(data))
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new API key: its public id and the whole key to show once.
pub fn new_api_key() -> (String, String, String) {
    let id = hex(&sha256(random_secret(16).as_bytes())[..6]);
    let secret = random_secret(32);
    let full = format!("{KEY_PREFIX}{id}_{secret}");
    (id, sha256_hex(secret.as_bytes()), full)
}

/// Constant-time comparison of two equal-length strings.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Who is making a request.
#[derive(Clone, Debug)]
pub enum Actor {
    /// The operator, signed in to the UI.
    Operator {
        /// The user name.
        username: String,
    },
    /// A tenant administrator, signed in to the UI.
    Admin {
        /// The user name.
        username: String,
        /// Their tenant.
        tenant: u64,
    },
    /// A script or sync agent with an API key.
    Key {
        /// The key's id.
        id: String,
        /// The key's tenant.
        tenant: u64,
    },
}

/// An authenticated request.
#[derive(Clone, Debug)]
pub struct Principal {
    /// Who.
    pub actor: Actor,
}

impl Principal {
    /// The tenant the request acts for, when it is not the operator.
    pub fn tenant(&self) -> Option<u64> {
        match &self.actor {
            Actor::Operator { .. } => None,
            Actor::Admin { tenant, .. } | Actor::Key { tenant, .. } => Some(*tenant),
        }
    }

    /// The name recorded in history: the user name, or `key:<id>`.
    pub fn name(&self) -> String {
        match &self.actor {
            Actor::Operator { username } | Actor::Admin { username, .. } => username.clone(),
            Actor::Key { id, .. } => format!("key:{id}"),
        }
    }

    /// Whether this is an API key rather than a browser session.
    pub fn is_key(&self) -> bool {
        matches!(self.actor, Actor::Key { .. })
    }
}

/// The cookie value of our session, if the request carries one.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        (name == SESSION_COOKIE && !value.is_empty()).then(|| value.to_owned())
    })
}

/// Whether a cookie-authenticated request that changes state comes from our own pages.
fn same_origin(parts: &Parts) -> bool {
    let headers = &parts.headers;
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return site == "same-origin";
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    match (origin, host) {
        (Some(origin), Some(host)) => {
            origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://")).is_some_and(|o| o == host)
        }
        _ => false,
    }
}

fn resolve(store: &Store, parts_auth: Option<&str>, cookie: Option<&str>) -> crate::store::Result<Option<Principal>> {
    if let Some(bearer) = parts_auth {
        let Some((id, secret)) = bearer.strip_prefix(KEY_PREFIX).and_then(|rest| rest.split_once('_')) else {
            return Ok(None);
        };
        let Some(key) = store.key(id)? else { return Ok(None) };
        if key.revoked_at.is_some() || !same(&key.secret_sha256, &sha256_hex(secret.as_bytes())) {
            return Ok(None);
        }
        return Ok(Some(Principal { actor: Actor::Key { id: key.id, tenant: key.tenant } }));
    }
    let Some(token) = cookie else { return Ok(None) };
    let Some(session) = store.session(&sha256(token.as_bytes()))? else { return Ok(None) };
    let Some(user) = store.user(&session.username)? else { return Ok(None) };
    Ok(Some(principal_of(user)))
}

/// The principal a signed-in user becomes.
pub fn principal_of(user: User) -> Principal {
    let actor = match (user.role, user.tenant) {
        (Role::Admin, Some(tenant)) => Actor::Admin { username: user.username, tenant },
        _ => Actor::Operator { username: user.username },
    };
    Principal { actor }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Principal> {
        if let Some(principal) = parts.extensions.get::<Principal>() {
            return Ok(principal.clone());
        }
        let bearer = match parts.headers.get(header::AUTHORIZATION) {
            Some(value) => {
                let value = value.to_str().map_err(|_| AppError::unauthenticated())?;
                let token = value.strip_prefix("Bearer ").ok_or_else(AppError::unauthenticated)?;
                Some(token.trim().to_owned())
            }
            None => None,
        };
        let cookie = if bearer.is_none() { session_token(&parts.headers) } else { None };
        if cookie.is_some()
            && !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS)
            && !same_origin(parts)
        {
            return Err(AppError::forbidden(
                "this request changes data and did not come from dirgate's own pages (Origin check failed)",
            ));
        }
        let store = state.store.clone();
        let principal =
            tokio::task::spawn_blocking(move || resolve(&store, bearer.as_deref(), cookie.as_deref())).await??;
        let principal = principal.ok_or_else(AppError::unauthenticated)?;
        parts.extensions.insert(principal.clone());
        Ok(principal)
    }
}

/// A principal that acts for a tenant: a tenant admin or a tenant's API key.
pub struct TenantPrincipal {
    /// The tenant.
    pub tenant: u64,
    /// Who.
    pub principal: Principal,
}

impl FromRequestParts<AppState> for TenantPrincipal {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<TenantPrincipal> {
        let principal = Principal::from_request_parts(parts, state).await?;
        match principal.tenant() {
            Some(tenant) => Ok(TenantPrincipal { tenant, principal }),
            None => Err(AppError::forbidden(
                "the operator manages tenants; sign in as one of the tenant's administrators, or use its API key",
            )),
        }
    }
}

/// The operator.
pub struct Operator(pub Principal);

impl FromRequestParts<AppState> for Operator {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Operator> {
        let principal = Principal::from_request_parts(parts, state).await?;
        match principal.actor {
            Actor::Operator { .. } => Ok(Operator(principal)),
            _ => Err(AppError::not_found("resource")),
        }
    }
}

/// Slows down password guessing: after too many failures for one user name within a window,
/// sign-in for that name is refused until the window passes.
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

/// Failures allowed per user name and window.
const MAX_FAILURES: u32 = 10;
const WINDOW: Duration = Duration::from_secs(15 * 60);

impl LoginThrottle {
    /// An empty throttle.
    pub fn new() -> LoginThrottle {
        LoginThrottle { failures: Mutex::new(HashMap::new()) }
    }

    /// Seconds to wait, when this name is locked out.
    pub fn locked(&self, username: &str) -> Option<u64> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let (count, since) = failures.get(username)?;
        let elapsed = since.elapsed();
        (*count >= MAX_FAILURES && elapsed < WINDOW).then(|| (WINDOW - elapsed).as_secs().max(1))
    }

    /// Notes a failed attempt.
    pub fn failed(&self, username: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() > 10_000 {
            failures.retain(|_, (_, since)| since.elapsed() < WINDOW);
        }
        let entry = failures.entry(username.to_owned()).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= WINDOW {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }

    /// Clears the failures after a successful sign-in.
    pub fn succeeded(&self, username: &str) {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).remove(username);
    }
}

impl Default for LoginThrottle {
    fn default() -> LoginThrottle {
        LoginThrottle::new()
    }
}
