//! Who is asking: passwords, sessions, API keys, and the extractors that turn a request into a
//! [`Principal`].
//!
//! - Passwords are argon2id PHC strings ([`hash_password`] has the parameters).
//! - Session cookies and API keys are 256-bit random secrets; only their SHA-256 is stored
//!   (they are not guessable, so a slow hash would only slow every request down).
//! - An API key `dg_<id>_<secret>` is found by its public id, and the SHA-256 of the secret it
//!   carries is compared with the stored one by [`constant_time_eq`], so that the time an answer
//!   takes says nothing about how much of a guessed secret was right. A session is found by the
//!   SHA-256 of its token, which is the redb key: the lookup's timing can only tell an attacker
//!   how much of the *hash* of their guess matches a stored hash, which does not help them find
//!   a token that hashes to it.
//! - A request that changes state with a session cookie must also come from the same origin
//!   (`Origin` or `Sec-Fetch-Site`), so that another site cannot ride the cookie.
//! - Sign-in failures are limited per user name and per client address ([`SignInLimiter`]).

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::error::{AppError, Result};
use crate::store::{ApiKey, Role, Store, User};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "dirgate_session";
/// How long a browser session lasts.
pub const SESSION_SECONDS: u64 = 12 * 3600;
/// API keys look like `dg_<id>_<secret>`.
const KEY_PREFIX: &str = "dg_";

/// argon2id's memory cost in KiB, passes and lanes: OWASP's recommended minimum for argon2id
/// (19 MiB, 2 passes, 1 lane). Pinned here rather than taken from the crate's defaults, so that
/// an upgrade of `argon2` cannot change them unnoticed.
const ARGON2_MEMORY_KIB: u32 = 19 * 1024;
const ARGON2_PASSES: u32 = 2;
const ARGON2_LANES: u32 = 1;

/// The one password hasher: argon2id, version 0x13, with the parameters above.
fn argon2() -> Argon2<'static> {
    let params = Params::new(ARGON2_MEMORY_KIB, ARGON2_PASSES, ARGON2_LANES, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password for storage, as a PHC string
/// (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`) with a random 128-bit salt.
pub fn hash_password(password: &str) -> String {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).expect("16 bytes is a valid salt");
    argon2().hash_password(password.as_bytes(), &salt).expect("argon2id with valid parameters").to_string()
}

/// Checks a password against its stored hash. The algorithm and parameters are read from the
/// PHC string, so hashes made with other parameters keep working; the final comparison is the
/// `password-hash` crate's constant-time one.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| argon2().verify_password(password.as_bytes(), &parsed).is_ok())
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

/// Whether two SHA-256 digests are equal, in a time that does not depend on where they differ:
/// every byte is looked at, and the differences are folded together before the one test
/// (`black_box` keeps the compiler from turning the fold back into an early exit).
pub fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(difference) == 0
}

/// A digest stored as lower-case hex (as [`new_api_key`] makes it), back as bytes.
fn digest_from_hex(hex: &str) -> Option<[u8; 32]> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let nibble = |c: u8| char::from(c).to_digit(16).and_then(|d| u8::try_from(d).ok());
    let mut digest = [0u8; 32];
    for (byte, pair) in digest.iter_mut().zip(bytes.chunks_exact(2)) {
        *byte = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(digest)
}

/// Whether `secret` is the secret of `key`. The digests are compared in constant time first,
/// and revocation is looked at only after, so that timing shows neither.
fn key_accepts(key: &ApiKey, secret: &str) -> bool {
    let matches =
        digest_from_hex(&key.secret_sha256).is_some_and(|stored| constant_time_eq(&stored, &sha256(secret.as_bytes())));
    matches && key.revoked_at.is_none()
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
pub fn same_origin(headers: &HeaderMap) -> bool {
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

/// The 403 of a cookie request that changes state from somewhere other than our own pages.
pub fn cross_origin() -> AppError {
    AppError::forbidden("this request changes data and did not come from dirgate's own pages (Origin check failed)")
}

/// The principal of an API key `dg_<id>_<secret>`, if it is a stored, unrevoked key and the
/// secret is its own.
fn resolve_key(store: &Store, bearer: &str) -> crate::store::Result<Option<Principal>> {
    let Some((id, secret)) = bearer.strip_prefix(KEY_PREFIX).and_then(|rest| rest.split_once('_')) else {
        return Ok(None);
    };
    // The id is public (key lists show it), so finding it or not reveals nothing.
    let Some(key) = store.key(id)? else { return Ok(None) };
    if !key_accepts(&key, secret) {
        return Ok(None);
    }
    Ok(Some(Principal { actor: Actor::Key { id: key.id.clone(), tenant: key.tenant } }))
}

/// The principal of a session cookie's token, if the session is live and its user exists.
fn resolve_session(store: &Store, token: &str) -> crate::store::Result<Option<Principal>> {
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
        // One or two point reads, answered from redb's cache in microseconds: cheaper on this
        // thread than a hop to the blocking pool, which every authenticated request would pay.
        let principal = match parts.headers.get(header::AUTHORIZATION) {
            Some(value) => {
                let value = value.to_str().map_err(|_| AppError::unauthenticated())?;
                let token = value.strip_prefix("Bearer ").ok_or_else(AppError::unauthenticated)?;
                resolve_key(&state.store, token.trim())?
            }
            None => match session_token(&parts.headers) {
                Some(token) => {
                    if !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS)
                        && !same_origin(&parts.headers)
                    {
                        return Err(cross_origin());
                    }
                    resolve_session(&state.store, &token)?
                }
                None => None,
            },
        };
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

/// How many failed sign-ins are tolerated, and for how long they count.
///
/// A window starts at the first failure and lasts [`SignInPolicy::window`]; once a user name
/// or a client address has used up its failures, every sign-in for that name (or from that
/// address) answers 429 until the window ends, the right password included, so that a
/// lockout cannot be used to test passwords. Refused attempts do not count and do not extend
/// the window, so a lockout never lasts longer than one window after the failure that started
/// it: an attacker can keep a name locked only by keeping on failing, and the per-address
/// limit slows that down too. The operator is not special: the same rules hold for `admin`.
#[derive(Clone, Copy, Debug)]
pub struct SignInPolicy {
    /// Failures per user name and window.
    pub per_account: u32,
    /// Failures per client address and window, whatever the names. Behind a reverse proxy
    /// every client has the proxy's address, and this counts the failures of all of them.
    pub per_client: u32,
    /// How long failures count.
    pub window: Duration,
}

impl SignInPolicy {
    /// 5 failures per name and 20 per address in 15 minutes.
    pub const DEFAULT: SignInPolicy =
        SignInPolicy { per_account: 5, per_client: 20, window: Duration::from_secs(15 * 60) };
}

/// Which limit refused a sign-in, and for how many more seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lockout {
    /// The user name has used up its failures.
    Account(u64),
    /// The client address has used up its failures.
    Client(u64),
}

/// The failures of one name or address in its current window.
struct Window {
    failures: u32,
    started: Instant,
}

/// Failure counts per key, each in its own window.
struct Tally<K> {
    windows: HashMap<K, Window>,
}

/// Expired windows are dropped when a tally grows past this many keys. Every counted attempt
/// has cost an argon2 verification, so the number of live windows is bounded by how many of
/// those the server can do in one window.
const PRUNE_AT: usize = 10_000;

impl<K: Hash + Eq> Tally<K> {
    fn new() -> Tally<K> {
        Tally { windows: HashMap::new() }
    }

    /// How long `key` stays locked, when it has `limit` failures in a window that is still open.
    fn locked(&self, key: &K, limit: u32, window: Duration, now: Instant) -> Option<Duration> {
        let current = self.windows.get(key)?;
        let elapsed = now.saturating_duration_since(current.started);
        (current.failures >= limit && elapsed < window).then(|| window - elapsed)
    }

    /// Counts one failure, in a new window when the last one has ended.
    fn count(&mut self, key: K, window: Duration, now: Instant) {
        if self.windows.len() >= PRUNE_AT {
            self.windows.retain(|_, w| now.saturating_duration_since(w.started) < window);
        }
        let current = self.windows.entry(key).or_insert(Window { failures: 0, started: now });
        if now.saturating_duration_since(current.started) >= window {
            *current = Window { failures: 0, started: now };
        }
        current.failures += 1;
    }

    /// Forgets every failure of `key`.
    fn forget(&mut self, key: &K) {
        self.windows.remove(key);
    }

    /// Takes back one counted failure.
    fn uncount(&mut self, key: &K) {
        if let Some(current) = self.windows.get_mut(key) {
            current.failures = current.failures.saturating_sub(1);
        }
    }
}

/// Both tallies, under one lock so that an attempt is checked and counted in one step.
struct Tallies {
    /// Keyed by the SHA-256 of the name, so that an entry's size does not depend on what a
    /// client sends.
    accounts: Tally<[u8; 32]>,
    clients: Tally<IpAddr>,
}

/// Limits password guessing per user name and per client address ([`SignInPolicy`]).
///
/// An attempt is counted as a failure when it is admitted, before its password is checked, and
/// taken back when it succeeds: so many attempts in flight at once cannot get past the limit.
/// The counts live in memory and start again from zero when the server restarts.
pub struct SignInLimiter {
    policy: SignInPolicy,
    tallies: Mutex<Tallies>,
}

/// The address a client's failures are counted under: an IPv6 client usually has a whole /64,
/// so that is what counts; an IPv4 address mapped into IPv6 counts as the IPv4 address.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        v4 => v4,
    }
}

/// Whole seconds to wait, at least one.
fn retry_seconds(wait: Duration) -> u64 {
    u64::try_from(wait.as_nanos().div_ceil(1_000_000_000)).unwrap_or(u64::MAX).max(1)
}

impl SignInLimiter {
    /// A limiter with no failures yet.
    pub fn new(policy: SignInPolicy) -> SignInLimiter {
        let tallies = Tallies { accounts: Tally::new(), clients: Tally::new() };
        SignInLimiter { policy, tallies: Mutex::new(tallies) }
    }

    /// Admits one attempt and counts it as a failure, or refuses it when the name or the client
    /// (when the server knows its address) has no failures left.
    pub fn admit(&self, username: &str, client: Option<IpAddr>) -> Result<(), Lockout> {
        let SignInPolicy { per_account, per_client, window } = self.policy;
        let now = Instant::now();
        let account = sha256(username.as_bytes());
        let client = client.map(client_key);
        let mut tallies = self.tallies.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(wait) = client.and_then(|c| tallies.clients.locked(&c, per_client, window, now)) {
            return Err(Lockout::Client(retry_seconds(wait)));
        }
        if let Some(wait) = tallies.accounts.locked(&account, per_account, window, now) {
            return Err(Lockout::Account(retry_seconds(wait)));
        }
        tallies.accounts.count(account, window, now);
        if let Some(client) = client {
            tallies.clients.count(client, window, now);
        }
        Ok(())
    }

    /// Takes back an admitted attempt that signed in: the name's failures are forgotten, and the
    /// attempt no longer counts against the client.
    pub fn succeeded(&self, username: &str, client: Option<IpAddr>) {
        let mut tallies = self.tallies.lock().unwrap_or_else(|e| e.into_inner());
        tallies.accounts.forget(&sha256(username.as_bytes()));
        if let Some(client) = client {
            tallies.clients.uncount(&client_key(client));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_argon2id_with_the_pinned_parameters() {
        let hash = hash_password("correct horse battery staple");
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(verify_password("correct horse battery staple", &hash));
        assert!(!verify_password("correct horse battery stapler", &hash));
    }

    #[test]
    fn constant_time_eq_tells_equal_digests_from_any_difference() {
        let a = sha256(b"secret");
        assert!(constant_time_eq(&a, &sha256(b"secret")));
        for i in [0, 17, 31] {
            let mut b = a;
            b[i] ^= 0x80;
            assert!(!constant_time_eq(&a, &b), "byte {i}");
        }
    }

    #[test]
    fn a_stored_key_accepts_only_its_own_secret_and_only_until_revoked() {
        let (id, secret_sha256, full) = new_api_key();
        let secret = full.rsplit_once(&format!("{id}_")).map(|(_, s)| s.to_owned()).unwrap();
        let mut key = ApiKey {
            id,
            tenant: 1,
            secret_sha256,
            name: String::new(),
            created_by: String::new(),
            created_at: crate::store::Timestamp(0),
            revoked_at: None,
        };
        assert!(key_accepts(&key, &secret));
        assert!(!key_accepts(&key, &format!("{secret}x")));
        key.revoked_at = Some(crate::store::Timestamp(1));
        assert!(!key_accepts(&key, &secret));
    }

    #[test]
    fn ipv6_clients_count_per_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key("2001:db8:1:3::1".parse().unwrap()));
        assert_eq!(client_key("::ffff:192.0.2.7".parse().unwrap()), "192.0.2.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn a_lockout_ends_with_its_window_and_the_next_failure_starts_a_new_one() {
        let window = Duration::from_secs(900);
        let start = Instant::now();
        let mut tally = Tally::new();
        for _ in 0..4 {
            tally.count("ann", window, start);
        }
        assert_eq!(tally.locked(&"ann", 5, window, start), None);
        tally.count("ann", window, start);
        let later = start + Duration::from_secs(600);
        assert_eq!(tally.locked(&"ann", 5, window, later), Some(Duration::from_secs(300)));
        assert_eq!(tally.locked(&"bob", 5, window, later), None);
        let after = start + window;
        assert_eq!(tally.locked(&"ann", 5, window, after), None);
        tally.count("ann", window, after);
        assert_eq!(tally.windows[&"ann"].failures, 1);
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_seconds(Duration::from_millis(1)), 1);
        assert_eq!(retry_seconds(Duration::from_secs(3)), 3);
        assert_eq!(retry_seconds(Duration::from_millis(3001)), 4);
    }
}
