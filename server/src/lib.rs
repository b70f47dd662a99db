//! The dirgate server: an axum application over one redb file.
//!
//! [`app`] builds the whole router from an [`AppState`]; `main.rs` only parses arguments, opens
//! the database and serves. Tests drive [`app`] directly or the real binary over HTTP.

pub mod auth;
pub mod body;
pub mod check;
pub mod error;
pub mod policy;
pub mod routes;
pub mod serve;
pub mod store;
pub mod www;

use std::sync::Arc;

use auth::{SignInLimiter, SignInPolicy};
use store::Store;

/// Limits and switches of a running server.
#[derive(Clone, Debug)]
pub struct Config {
    /// The largest import or sync body, after decompression, in bytes.
    pub max_upload_bytes: u64,
    /// The largest body of any other request, in bytes.
    pub max_json_bytes: usize,
    /// Whether the session cookie carries `Secure` (set this when serving behind TLS).
    pub secure_cookies: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config { max_upload_bytes: 128 << 20, max_json_bytes: 1 << 20, secure_cookies: false }
    }
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// Limits and switches.
    pub config: Arc<Config>,
    /// Sign-in failure counts per user name and client address. They are kept in memory only,
    /// so a restart forgets them (and ends any lockout).
    pub sign_in_limiter: Arc<SignInLimiter>,
}

impl AppState {
    /// The state of a server over `store`.
    pub fn new(store: Store, config: Config) -> AppState {
        let sign_in_limiter = Arc::new(SignInLimiter::new(SignInPolicy::DEFAULT));
        AppState { store, config: Arc::new(config), sign_in_limiter }
    }
}

pub use routes::app;
