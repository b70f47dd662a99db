//! `dirgate-sync`, the directory sync agent: it reads one or more LDAP directories (OpenLDAP,
//! Active Directory, the AD Global Catalog), normalises their entries with the same core rules
//! as every import (`dirgate_core::Validator`), and pushes the result to the dirgate server's
//! `POST /api/v1/sync`.
//!
//! A run is all or nothing: every source is read completely before anything is sent, and any
//! directory error (connection, bind, a search that fails on any page) aborts the run with
//! nothing pushed. The server applies the push with its usual per-domain replace and deletion
//! threshold; the agent can add its own threshold, checked against the server's dry run.
//!
//! The modules follow the path of a run: [`config`] (the TOML file), [`source`] (the
//! [`source::DirectorySource`] trait and the entry it yields), [`ldap`] (the LDAP
//! implementation), [`normalise`] (entries to LDIF to the core), [`push`] (the HTTP client) and
//! [`run`] (one run, and the daemon's schedule).

pub mod config;
pub mod ldap;
pub mod normalise;
pub mod push;
pub mod run;
pub mod source;
pub mod tls;

/// Everything that can stop a run, by what the administrator has to fix. Each maps to an exit
/// status ([`Error::exit_code`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration file, a secret it names, or the command line is wrong.
    #[error("configuration: {0}")]
    Config(String),
    /// A directory could not be read completely; nothing was pushed.
    #[error("source `{source_name}` failed, nothing was pushed: {message}")]
    Source {
        /// The source's configured name.
        source_name: String,
        /// What went wrong, as the directory server or the network said it.
        message: String,
    },
    /// The directory has invalid entries and `skip_invalid` is off; nothing was pushed.
    #[error(
        "{0} invalid entr(y/ies) (listed above); nothing was pushed. Fix them in the directory, or pass --skip-invalid to push only the valid entries"
    )]
    Invalid(u64),
    /// The push would remove more than a deletion threshold allows; nothing was changed.
    #[error("{0}")]
    Threshold(String),
    /// The server could not be reached, or refused the push.
    #[error("push to the server failed: {0}")]
    Push(String),
}

impl Error {
    /// The process exit status for this error: 1 a source or the push failed, 2 bad
    /// configuration or usage, 3 a deletion threshold refused the push, 4 invalid entries.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Source { .. } | Error::Push(_) => 1,
            Error::Config(_) => 2,
            Error::Threshold(_) => 3,
            Error::Invalid(_) => 4,
        }
    }
}

/// The agent's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
