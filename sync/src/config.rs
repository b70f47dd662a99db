//! The agent's TOML configuration: where the server is, which directories to read and how
//! often. Secrets are never in the file itself: the API key and bind passwords are read from an
//! environment variable or a file that the configuration names.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::{Error, Result};

/// The whole configuration file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The dirgate server.
    pub server: ServerConfig,
    /// The directories to read; every run reads all of them and pushes them as one directory.
    #[serde(rename = "source", default)]
    pub sources: Vec<SourceConfig>,
    /// How often `daemon` runs.
    #[serde(default)]
    pub schedule: Schedule,
    /// The agent's own deletion guard: before a real push, the server's dry run is checked, and
    /// the push is refused when it would remove more than this share of any domain. The
    /// server's per-tenant threshold applies as well; `None` leaves only the server's.
    #[serde(default)]
    pub deletion_threshold_percent: Option<f64>,
    /// Push only the valid entries when some are invalid (the invalid ones are always reported).
    /// Off by default: a directory with errors is refused, as an import with errors is.
    #[serde(default)]
    pub skip_invalid: bool,
}

/// `[server]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// The server's base URL, e.g. `https://dirgate.example.com`.
    pub url: String,
    /// The environment variable that holds the tenant's API key.
    pub api_key_env: Option<String>,
    /// A file that holds the tenant's API key (surrounding whitespace is ignored).
    pub api_key_file: Option<PathBuf>,
    /// A PEM file of CA certificates to trust for an `https` URL instead of the built-in roots.
    pub ca_file: Option<PathBuf>,
    /// Seconds to wait for the server to answer a push.
    #[serde(default = "default_http_timeout")]
    pub timeout_seconds: u64,
}

fn default_http_timeout() -> u64 {
    300
}

/// Which kind of directory a source is; it chooses the defaults of the filter, the port and
/// the attribute mapping.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// OpenLDAP or any RFC 4519 directory (`mail`, `mailAlternateAddress`, `groupOfNames`).
    Openldap,
    /// An Active Directory domain controller (`proxyAddresses`, `group`, `contact`).
    ActiveDirectory,
    /// The Active Directory Global Catalog: the whole forest, on port 3268 / 3269.
    GlobalCatalog,
}

impl SourceKind {
    /// The search filter used when the source names none.
    pub fn default_filter(self) -> &'static str {
        match self {
            SourceKind::Openldap => "(|(mail=*)(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))",
            SourceKind::ActiveDirectory | SourceKind::GlobalCatalog => {
                "(|(&(objectCategory=person)(objectClass=user)(proxyAddresses=*))(objectClass=group)(objectClass=contact))"
            }
        }
    }

    /// The port used when the source names none.
    pub fn default_port(self, tls: TlsMode) -> u16 {
        match (self, tls) {
            (SourceKind::GlobalCatalog, TlsMode::Ldaps) => 3269,
            (SourceKind::GlobalCatalog, _) => 3268,
            (_, TlsMode::Ldaps) => 636,
            _ => 389,
        }
    }

    /// The attribute mapping used when the source names none.
    pub fn default_attributes(self) -> Attributes {
        let s = |v: &str| v.to_owned();
        match self {
            SourceKind::Openldap => Attributes {
                mail: s("mail"),
                proxy_addresses: String::new(),
                alternate_addresses: vec![s("mailAlternateAddress"), s("mailLocalAddress")],
                member: s("member"),
                unique_member: s("uniqueMember"),
                name: s("cn"),
                display_name: s("displayName"),
            },
            SourceKind::ActiveDirectory | SourceKind::GlobalCatalog => Attributes {
                mail: s("mail"),
                proxy_addresses: s("proxyAddresses"),
                alternate_addresses: vec![s("otherMailbox")],
                member: s("member"),
                unique_member: String::new(),
                name: s("cn"),
                display_name: s("displayName"),
            },
        }
    }
}

/// The transport security of an LDAP connection.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum TlsMode {
    /// Plain `ldap://`; the bind password crosses the network in clear.
    None,
    /// `ldap://` upgraded with the StartTLS extended operation before the bind.
    #[default]
    Starttls,
    /// `ldaps://`: TLS from the first byte.
    Ldaps,
}

/// `[[source]]`: one directory to read.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// A short name for logs and the server's history, e.g. `corp-ad`.
    pub name: String,
    /// The kind of directory.
    pub kind: SourceKind,
    /// The directory server's host name or IP address.
    pub host: String,
    /// The port; by default 389 (636 with ldaps), or 3268 / 3269 for the Global Catalog.
    pub port: Option<u16>,
    /// The transport security; StartTLS by default.
    #[serde(default)]
    pub tls: TlsMode,
    /// A PEM file of CA certificates to trust instead of the system's.
    pub ca_file: Option<PathBuf>,
    /// Where the search starts.
    pub base_dn: String,
    /// The DN to bind as; an anonymous bind when absent.
    pub bind_dn: Option<String>,
    /// The environment variable that holds the bind password.
    pub password_env: Option<String>,
    /// A file that holds the bind password (one trailing newline is ignored).
    pub password_file: Option<PathBuf>,
    /// The search filter; by default one per kind (see [`SourceKind::default_filter`]).
    pub filter: Option<String>,
    /// Entries per page of the paged search (RFC 2696).
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// Seconds to wait for the connection and for each answer of the directory server.
    #[serde(default = "default_ldap_timeout")]
    pub timeout_seconds: u64,
    /// Which directory attributes hold what; missing keys take the kind's defaults.
    #[serde(default)]
    pub attributes: AttributeOverrides,
}

fn default_page_size() -> u32 {
    500
}

fn default_ldap_timeout() -> u64 {
    60
}

/// The directory attributes that hold each thing dirgate reads. An empty name reads nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attributes {
    /// The primary address (`mail`).
    pub mail: String,
    /// Active Directory's `proxyAddresses` (`SMTP:` primary, `smtp:` aliases).
    pub proxy_addresses: String,
    /// Attributes whose values are aliases (`mailAlternateAddress`, `otherMailbox`, ...).
    pub alternate_addresses: Vec<String>,
    /// Group members as DNs (`member`).
    pub member: String,
    /// Group members of `groupOfUniqueNames` (`uniqueMember`).
    pub unique_member: String,
    /// A group's name (`cn`).
    pub name: String,
    /// A recipient's display name (`displayName`).
    pub display_name: String,
}

/// `[source.attributes]` as written: each key overrides the kind's default.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeOverrides {
    mail: Option<String>,
    proxy_addresses: Option<String>,
    alternate_addresses: Option<Vec<String>>,
    member: Option<String>,
    unique_member: Option<String>,
    name: Option<String>,
    display_name: Option<String>,
}

impl SourceConfig {
    /// The port, explicit or by default.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or_else(|| self.kind.default_port(self.tls))
    }

    /// The filter, explicit or by default.
    pub fn filter(&self) -> &str {
        self.filter.as_deref().unwrap_or_else(|| self.kind.default_filter())
    }

    /// The attribute mapping: the kind's defaults with the configured overrides.
    pub fn attributes(&self) -> Attributes {
        let mut a = self.kind.default_attributes();
        let o = &self.attributes;
        let set = |field: &mut String, value: &Option<String>| {
            if let Some(v) = value {
                *field = v.clone();
            }
        };
        set(&mut a.mail, &o.mail);
        set(&mut a.proxy_addresses, &o.proxy_addresses);
        set(&mut a.member, &o.member);
        set(&mut a.unique_member, &o.unique_member);
        set(&mut a.name, &o.name);
        set(&mut a.display_name, &o.display_name);
        if let Some(v) = &o.alternate_addresses {
            a.alternate_addresses = v.clone();
        }
        a
    }

    /// The bind password, read from its variable or file; `None` for an anonymous bind.
    pub fn password(&self) -> Result<Option<String>> {
        if self.bind_dn.is_none() {
            return Ok(None);
        }
        let what = format!("the bind password of source `{}`", self.name);
        read_secret(&what, self.password_env.as_deref(), self.password_file.as_deref()).map(Some)
    }
}

impl ServerConfig {
    /// The API key, read from its variable or file.
    pub fn api_key(&self) -> Result<String> {
        read_secret("the server's API key", self.api_key_env.as_deref(), self.api_key_file.as_deref())
    }
}

fn read_secret(what: &str, env: Option<&str>, file: Option<&Path>) -> Result<String> {
    let secret = match (env, file) {
        (Some(_), Some(_)) => return Err(Error::Config(format!("{what}: give either a variable or a file, not both"))),
        (Some(var), None) => std::env::var(var)
            .map_err(|_| Error::Config(format!("{what}: the environment variable {var} is not set")))?,
        (None, Some(path)) => std::fs::read_to_string(path)
            .map_err(|e| Error::Config(format!("{what}: cannot read {}: {e}", path.display())))?,
        (None, None) => {
            return Err(Error::Config(format!("{what}: name an environment variable (…_env) or a file (…_file)")));
        }
    };
    let secret = secret.trim_end_matches(['\n', '\r']).to_owned();
    if secret.is_empty() {
        return Err(Error::Config(format!("{what} is empty")));
    }
    Ok(secret)
}

/// `[schedule]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// The interval between the starts of two runs, e.g. `"4h"` or `"30m"`.
    #[serde(default = "default_every")]
    pub every: String,
}

impl Default for Schedule {
    fn default() -> Schedule {
        Schedule { every: default_every() }
    }
}

fn default_every() -> String {
    "4h".to_owned()
}

impl Schedule {
    /// The interval, parsed.
    pub fn interval(&self) -> Result<Duration> {
        let every = humantime::parse_duration(&self.every)
            .map_err(|e| Error::Config(format!("schedule.every = {:?}: {e}", self.every)))?;
        if every < Duration::from_secs(60) {
            return Err(Error::Config(format!("schedule.every = {:?} is shorter than a minute", self.every)));
        }
        Ok(every)
    }
}

impl Config {
    /// Reads and checks a configuration file. Secrets are not read here, so that a file can be
    /// checked on a machine that lacks them; [`Config::check_secrets`] reads them.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Config(format!("cannot read the configuration {}: {e}", path.display())))?;
        Config::parse(&text).map_err(|e| match e {
            Error::Config(message) => Error::Config(format!("{}: {message}", path.display())),
            other => other,
        })
    }

    /// Parses and checks the text of a configuration file.
    pub fn parse(text: &str) -> Result<Config> {
        let config: Config = toml::from_str(text).map_err(|e| Error::Config(e.to_string()))?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(m));
        let url = self.server.url.as_str();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return bad(format!("server.url = {url:?} must start with http:// or https://"));
        }
        if self.sources.is_empty() {
            return bad("no [[source]]: name at least one directory to read".to_owned());
        }
        let mut names = std::collections::BTreeSet::new();
        for source in &self.sources {
            let name = &source.name;
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
                return bad(format!("source name {name:?}: use letters, digits, '-', '_' and '.'"));
            }
            if !names.insert(name.as_str()) {
                return bad(format!("two sources are named {name:?}"));
            }
            if source.host.is_empty() {
                return bad(format!("source `{name}`: host is empty"));
            }
            if source.page_size == 0 || source.page_size > i32::MAX as u32 {
                return bad(format!("source `{name}`: page_size must be at least 1"));
            }
            let filter = source.filter();
            if !(filter.starts_with('(') && filter.ends_with(')')) {
                return bad(format!("source `{name}`: the filter {filter:?} must be in parentheses"));
            }
            if source.bind_dn.is_none() && (source.password_env.is_some() || source.password_file.is_some()) {
                return bad(format!("source `{name}`: a password is configured but no bind_dn"));
            }
            if source.bind_dn.is_some() && source.password_env.is_none() && source.password_file.is_none() {
                return bad(format!("source `{name}`: bind_dn needs password_env or password_file"));
            }
            if source.tls == TlsMode::None && source.ca_file.is_some() {
                return bad(format!("source `{name}`: ca_file is set but tls = \"none\""));
            }
        }
        if let Some(p) = self.deletion_threshold_percent
            && !(0.0..=100.0).contains(&p)
        {
            return bad(format!("deletion_threshold_percent = {p} must be between 0 and 100"));
        }
        self.schedule.interval()?;
        Ok(())
    }

    /// Reads every secret the configuration names, so that a missing one is found before a run.
    pub fn check_secrets(&self) -> Result<()> {
        self.server.api_key()?;
        for source in &self.sources {
            source.password()?;
        }
        Ok(())
    }
}

/// The commented example that `dirgate-sync init` writes.
pub const EXAMPLE: &str = r#"# dirgate-sync configuration. Check it with `dirgate-sync check-config -c THIS_FILE`.
# Secrets are never written here: name an environment variable (…_env) or a file (…_file).

# Refuse a push that would remove more than this share of any domain (checked against the
# server's dry run first). The tenant's own threshold on the server applies as well.
# `dirgate-sync run --force` passes both.
deletion_threshold_percent = 10

# Entries that break the address rules are always reported with their DN. By default a
# directory with any invalid entry is not pushed; set this to push only the valid ones.
skip_invalid = false

[server]
url = "https://dirgate.example.com"
# An API key of your tenant (the operator creates it: POST /api/v1/tenants/ID/keys).
api_key_env = "DIRGATE_API_KEY"
# api_key_file = "/etc/dirgate-sync/api-key"
# ca_file = "/etc/dirgate-sync/server-ca.pem"   # trust this CA instead of the built-in roots
# timeout_seconds = 300

# Every run reads all sources and pushes them as ONE directory, so that a domain whose
# users live in two directories is replaced by the union of both. If any source fails,
# nothing is pushed.

[[source]]
name = "corp-ad"
kind = "active-directory"          # "openldap" | "active-directory" | "global-catalog"
host = "dc1.corp.example.com"
# port = 389                       # default: 389, 636 for ldaps, 3268/3269 for the Global Catalog
tls = "starttls"                   # "none" | "starttls" | "ldaps"
# ca_file = "/etc/dirgate-sync/corp-ca.pem"
base_dn = "DC=corp,DC=example,DC=com"
bind_dn = "CN=dirgate-sync,OU=Service Accounts,DC=corp,DC=example,DC=com"
password_env = "CORP_AD_PASSWORD"
# password_file = "/etc/dirgate-sync/corp-ad.password"
# filter = "(|(&(objectCategory=person)(objectClass=user)(proxyAddresses=*))(objectClass=group)(objectClass=contact))"
# page_size = 500
# timeout_seconds = 60

# Which attributes hold what. These are the defaults for Active Directory;
# an empty string reads nothing.
# [source.attributes]
# mail = "mail"
# proxy_addresses = "proxyAddresses"
# alternate_addresses = ["otherMailbox"]
# member = "member"
# unique_member = ""
# name = "cn"
# display_name = "displayName"

# [[source]]
# name = "unix-ldap"
# kind = "openldap"
# host = "ldap.example.com"
# tls = "ldaps"
# base_dn = "dc=example,dc=com"
# bind_dn = "cn=dirgate-sync,ou=services,dc=example,dc=com"
# password_file = "/etc/dirgate-sync/ldap.password"
# # default filter: (|(mail=*)(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))
# # default attributes: mail, mailAlternateAddress + mailLocalAddress, member, uniqueMember, cn, displayName

[schedule]
every = "4h"                       # for `dirgate-sync daemon`
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_configuration_is_valid() {
        let config = Config::parse(EXAMPLE).unwrap();
        let source = &config.sources[0];
        assert_eq!(source.kind, SourceKind::ActiveDirectory);
        assert_eq!(source.port(), 389);
        assert_eq!(source.attributes(), SourceKind::ActiveDirectory.default_attributes());
        assert_eq!(config.schedule.interval().unwrap(), Duration::from_secs(4 * 3600));
    }

    #[test]
    fn attribute_overrides_replace_only_what_they_name() {
        let text = EXAMPLE
            .replace("# [source.attributes]\n# mail = \"mail\"", "[source.attributes]\nmail = \"userPrincipalName\"");
        let a = Config::parse(&text).unwrap().sources[0].attributes();
        assert_eq!(a.mail, "userPrincipalName");
        assert_eq!(a.proxy_addresses, "proxyAddresses");
    }

    #[test]
    fn mistakes_are_reported_by_name() {
        let cases = [
            ("url = \"https://dirgate.example.com\"", "url = \"dirgate.example.com\"", "must start with http"),
            ("every = \"4h\"", "every = \"soon\"", "schedule.every"),
            ("kind = \"active-directory\"", "kind = \"domino\"", "unknown variant"),
            ("password_env = \"CORP_AD_PASSWORD\"", "", "bind_dn needs password_env"),
            ("base_dn = ", "basedn = ", "unknown field"),
        ];
        for (from, to, expected) in cases {
            let text = EXAMPLE.replacen(from, to, 1);
            let error = Config::parse(&text).unwrap_err().to_string();
            assert!(error.contains(expected), "{from} -> {to}: {error}");
        }
    }
}
