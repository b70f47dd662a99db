//! The push to the server: `POST /api/v1/sync` with the normalised directory as gzip JSON.
//!
//! The wire shapes here mirror the server's (`server/openapi.json`): the body is the same
//! normalised directory the browser uploads, plus the agent and the source; the answers are
//! the applied change (201), the dry-run diff (200), the threshold refusal with its diff (409)
//! and the re-validation refusal with its diagnostics (422).

use std::io::{Read, Write};
use std::time::Duration;

use dirgate_core::Directory;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::ServerConfig;
use crate::{Error, Result};

/// The body of a push.
#[derive(Serialize)]
pub struct PushBody<'a> {
    /// The normalised directory.
    #[serde(flatten)]
    pub directory: &'a Directory,
    /// Who pushes.
    pub agent: AgentInfo,
    /// The source name(s) the server records.
    pub source: String,
}

/// The agent, as the server's history shows it.
#[derive(Serialize)]
pub struct AgentInfo {
    /// This machine's host name.
    pub host: String,
    /// `dirgate-sync`'s version.
    pub version: String,
}

impl AgentInfo {
    /// This agent on this machine.
    pub fn here() -> AgentInfo {
        AgentInfo {
            host: gethostname::gethostname().to_string_lossy().into_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }
}

/// How the server is asked to apply a push.
#[derive(Clone, Copy, Debug, Default)]
pub struct PushFlags {
    /// Return the diff and change nothing.
    pub dry_run: bool,
    /// Pass the server's deletion threshold.
    pub force: bool,
    /// Apply only the valid records when the server finds errors.
    pub skip_invalid: bool,
}

/// Added, removed and kept counts of one kind of record.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
pub struct Delta {
    /// New records.
    pub added: u64,
    /// Records that go.
    pub removed: u64,
    /// Records that stay.
    pub kept: u64,
}

/// A count with some of the addresses it counts.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Sample {
    /// How many.
    pub count: u64,
    /// Some of them.
    #[serde(default)]
    pub samples: Vec<String>,
}

/// What a push does (or did, or would do) to one domain.
#[derive(Clone, Debug, Deserialize)]
pub struct DomainDiff {
    /// The domain; `None` for the tenant's groups without an address.
    pub domain: Option<String>,
    /// Addresses before.
    pub before: u64,
    /// Addresses after.
    pub after: u64,
    /// Addresses added.
    pub added: Sample,
    /// Addresses removed.
    pub removed: Sample,
    /// Addresses kept.
    pub kept: Sample,
    /// Recipients added, removed and kept.
    #[serde(default)]
    pub recipients: Delta,
    /// Aliases added, removed and kept.
    #[serde(default)]
    pub aliases: Delta,
    /// Groups added, removed and kept.
    #[serde(default)]
    pub groups: Delta,
    /// Whether the server's threshold is exceeded.
    #[serde(default)]
    pub threshold_exceeded: bool,
}

impl DomainDiff {
    /// The domain's name for people.
    pub fn label(&self) -> &str {
        self.domain.as_deref().unwrap_or("(groups without address)")
    }

    /// The share of the domain's addresses that the push removes, in percent.
    pub fn removed_percent(&self) -> f64 {
        if self.before == 0 { 0.0 } else { self.removed.count as f64 * 100.0 / self.before as f64 }
    }
}

/// How the server answered a push.
#[derive(Debug)]
pub enum Answer {
    /// 201: applied; the change's id and its diff.
    Applied {
        /// The change id in the server's history.
        id: u64,
        /// Per domain.
        domains: Vec<DomainDiff>,
    },
    /// 200: the dry run's diff.
    DryRun(Vec<DomainDiff>),
    /// 409: refused by the server's deletion threshold; its message and the diff.
    ThresholdExceeded {
        /// The server's sentence.
        message: String,
        /// Per domain.
        domains: Vec<DomainDiff>,
    },
}

/// A client of one dirgate server.
pub struct Server {
    agent: ureq::Agent,
    url: String,
    key: String,
}

impl Server {
    /// A client for `config`; reads the API key.
    pub fn new(config: &ServerConfig) -> Result<Server> {
        let key = config.api_key()?;
        let mut builder = ureq::AgentBuilder::new().timeout(Duration::from_secs(config.timeout_seconds));
        if let Some(path) = &config.ca_file {
            builder = builder.tls_config(crate::tls::trusting(path).map_err(Error::Config)?);
        }
        Ok(Server { agent: builder.build(), url: config.url.trim_end_matches('/').to_owned(), key })
    }

    /// The tenant's managed domains, so that the agent's own report counts what the server will
    /// keep.
    pub fn managed_domains(&self) -> Result<Vec<String>> {
        let response = self
            .agent
            .get(&format!("{}/api/v1/domains", self.url))
            .set("Authorization", &format!("Bearer {}", self.key))
            .call();
        let value: Value = match response {
            Ok(r) => r.into_json().map_err(|e| Error::Push(format!("reading the managed domains: {e}")))?,
            Err(ureq::Error::Status(status, r)) => {
                let value = r.into_json().unwrap_or(Value::Null);
                return Err(Error::Push(refusal(status, &value)));
            }
            Err(ureq::Error::Transport(t)) => return Err(Error::Push(format!("cannot reach {}: {t}", self.url))),
        };
        Ok(value["domains"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| d["domain"].as_str().map(str::to_owned))
            .collect())
    }

    /// Sends `body` with `flags`.
    pub fn push(&self, body: &PushBody, flags: PushFlags) -> Result<Answer> {
        let json = serde_json::to_vec(body).map_err(|e| Error::Push(e.to_string()))?;
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gzip.write_all(&json).map_err(|e| Error::Push(e.to_string()))?;
        let gzipped = gzip.finish().map_err(|e| Error::Push(e.to_string()))?;
        let url = format!(
            "{}/api/v1/sync?dry_run={}&force={}&skip_invalid={}",
            self.url, flags.dry_run, flags.force, flags.skip_invalid
        );
        let response = self
            .agent
            .post(&url)
            .set("Authorization", &format!("Bearer {}", self.key))
            .set("Content-Type", "application/json")
            .set("Content-Encoding", "gzip")
            .send_bytes(&gzipped);
        let (status, response) = match response {
            Ok(r) => (r.status(), r),
            Err(ureq::Error::Status(status, r)) => (status, r),
            Err(ureq::Error::Transport(t)) => return Err(Error::Push(format!("cannot reach {}: {t}", self.url))),
        };
        let mut text = String::new();
        response
            .into_reader()
            .take(64 << 20)
            .read_to_string(&mut text)
            .map_err(|e| Error::Push(format!("reading the answer: {e}")))?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        let domains = |v: &Value| -> Result<Vec<DomainDiff>> {
            serde_json::from_value(v.clone()).map_err(|e| Error::Push(format!("unexpected answer ({e}): {value}")))
        };
        match status {
            201 => Ok(Answer::Applied { id: value["id"].as_u64().unwrap_or(0), domains: domains(&value["domains"])? }),
            200 => Ok(Answer::DryRun(domains(&value["domains"])?)),
            409 if value["error"]["code"] == "deletion-threshold-exceeded" => Ok(Answer::ThresholdExceeded {
                message: error_message(&value),
                domains: domains(&value["diff"]["domains"])?,
            }),
            _ => Err(Error::Push(refusal(status, &value))),
        }
    }
}

fn error_message(value: &Value) -> String {
    value["error"]["message"].as_str().map(str::to_owned).unwrap_or_else(|| value.to_string())
}

/// The server's refusal in one paragraph: status, code, message and the first diagnostics.
fn refusal(status: u16, value: &Value) -> String {
    let code = value["error"]["code"].as_str().unwrap_or("unknown");
    let mut text = format!("the server answered {status} ({code}): {}", error_message(value));
    if let Some(diagnostics) = value["diagnostics"].as_array() {
        for d in diagnostics.iter().filter(|d| d["severity"] == "error").take(10) {
            text.push_str(&format!("\n  {}[{}]: {}", d["severity"].as_str().unwrap_or(""), d["code"], d["message"]));
        }
    }
    text
}
