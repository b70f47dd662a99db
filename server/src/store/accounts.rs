//! Accounts: the operator and tenant users, sessions, tenants, managed domains and API keys.
//! Secrets are stored only as hashes, made by the caller (`auth`).

use std::sync::Arc;

use redb::{ReadableTable, ReadableTableMetadata};
use serde::{Deserialize, Serialize};

use super::{API_KEYS, DOMAINS, Result, SESSIONS, Store, TENANTS, Timestamp, USERS, decode, encode, get_json, next_id};

/// What a user may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Creates tenants and their first users and keys; sees no directory.
    Operator,
    /// Manages one tenant's domains and directory.
    Admin,
}

/// A person who signs in to the UI.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct User {
    /// The sign-in name, unique.
    pub username: String,
    /// The argon2 PHC string.
    pub password_hash: String,
    /// Operator or tenant admin.
    pub role: Role,
    /// The tenant of an admin; `None` for the operator.
    pub tenant: Option<u64>,
    /// When the account was made.
    pub created_at: Timestamp,
}

/// A signed-in browser session, stored under the SHA-256 of its cookie value.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Session {
    /// Whose session it is.
    pub username: String,
    /// When it stops being accepted.
    pub expires_at: Timestamp,
}

/// Per-tenant import rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantSettings {
    /// An import that removes more than this percentage of a domain's addresses needs
    /// confirmation (`force`).
    pub deletion_threshold_percent: u32,
    /// How many imports may be applied in any 24 hours.
    pub daily_import_limit: u32,
}

impl Default for TenantSettings {
    fn default() -> TenantSettings {
        TenantSettings { deletion_threshold_percent: 10, daily_import_limit: 24 }
    }
}

/// One customer organisation.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Tenant {
    /// The tenant's id.
    pub id: u64,
    /// Its display name.
    pub name: String,
    /// Import rules.
    pub settings: TenantSettings,
    /// When it was made.
    pub created_at: Timestamp,
}

/// A managed domain: which tenant owns it, and whether recipients are checked in it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DomainRecord {
    /// The owning tenant.
    pub tenant: u64,
    /// False while an administrator has turned recipient checking off for this domain: then
    /// every address in it is accepted.
    pub recipient_check: bool,
    /// When it was added.
    pub added_at: Timestamp,
}

/// An API key for scripts and the sync agent. Only the SHA-256 of its secret is stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ApiKey {
    /// The public part of the key, also its id.
    pub id: String,
    /// The tenant it acts for.
    pub tenant: u64,
    /// Hex SHA-256 of the secret part.
    pub secret_sha256: String,
    /// A label chosen by whoever made it.
    pub name: String,
    /// Who made it.
    pub created_by: String,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
}

/// What adding a domain to a tenant did.
#[derive(Debug, PartialEq, Eq)]
pub enum AddDomain {
    /// The domain is now the tenant's.
    Added,
    /// The tenant already had it.
    AlreadyOwned,
    /// Another tenant owns it.
    Taken,
}

impl Store {
    /// How many user accounts exist (zero on a new database).
    pub fn user_count(&self) -> Result<u64> {
        Ok(self.read()?.open_table(USERS)?.len()?)
    }

    /// Creates a user; false when the name is taken.
    pub fn create_user(&self, user: &User) -> Result<bool> {
        let txn = self.write()?;
        {
            let mut users = txn.open_table(USERS)?;
            if users.get(user.username.as_str())?.is_some() {
                return Ok(false);
            }
            users.insert(user.username.as_str(), encode(user).as_slice())?;
        }
        txn.commit()?;
        Ok(true)
    }

    /// A user by name.
    pub fn user(&self, username: &str) -> Result<Option<User>> {
        get_json(&self.read()?.open_table(USERS)?, username)
    }

    /// The users of one tenant.
    pub fn tenant_users(&self, tenant: u64) -> Result<Vec<User>> {
        let txn = self.read()?;
        let users = txn.open_table(USERS)?;
        let mut out = Vec::new();
        for item in users.iter()? {
            let user: User = decode(item?.1.value())?;
            if user.tenant == Some(tenant) {
                out.push(user);
            }
        }
        Ok(out)
    }

    /// Stores a new session and drops the expired ones.
    pub fn create_session(&self, token_hash: &[u8], session: &Session) -> Result<()> {
        let now = Timestamp::now();
        let txn = self.write()?;
        {
            let mut sessions = txn.open_table(SESSIONS)?;
            sessions.retain(|_, value| {
                serde_json::from_slice::<Session>(value).map(|s| s.expires_at > now).unwrap_or(false)
            })?;
            sessions.insert(token_hash, encode(session).as_slice())?;
        }
        txn.commit()?;
        Ok(())
    }

    /// A session by the hash of its token, if it has not expired.
    pub fn session(&self, token_hash: &[u8]) -> Result<Option<Session>> {
        let session: Option<Session> = get_json(&self.read()?.open_table(SESSIONS)?, token_hash)?;
        Ok(session.filter(|s| s.expires_at > Timestamp::now()))
    }

    /// Ends a session.
    pub fn delete_session(&self, token_hash: &[u8]) -> Result<()> {
        let txn = self.write()?;
        txn.open_table(SESSIONS)?.remove(token_hash)?;
        txn.commit()?;
        Ok(())
    }

    /// Creates a tenant that owns `domains` (already normalised). When another tenant owns one
    /// of them, nothing is created and that domain is returned as the error.
    pub fn create_tenant(&self, name: &str, domains: &[String]) -> Result<Result<Tenant, String>> {
        let now = Timestamp::now();
        let txn = self.write()?;
        let tenant;
        {
            let mut domain_table = txn.open_table(DOMAINS)?;
            for domain in domains {
                if domain_table.get(domain.as_str())?.is_some() {
                    return Ok(Err(domain.clone()));
                }
            }
            let id = next_id(&txn, "next_tenant")?;
            tenant = Tenant { id, name: name.to_owned(), settings: TenantSettings::default(), created_at: now };
            txn.open_table(TENANTS)?.insert(id, encode(&tenant).as_slice())?;
            let record = DomainRecord { tenant: id, recipient_check: true, added_at: now };
            for domain in domains {
                domain_table.insert(domain.as_str(), encode(&record).as_slice())?;
            }
        }
        txn.commit()?;
        Ok(Ok(tenant))
    }

    /// A tenant by id.
    pub fn tenant(&self, id: u64) -> Result<Option<Tenant>> {
        get_json(&self.read()?.open_table(TENANTS)?, id)
    }

    /// Every tenant, by id.
    pub fn tenants(&self) -> Result<Vec<Tenant>> {
        let txn = self.read()?;
        let table = txn.open_table(TENANTS)?;
        let mut out = Vec::new();
        for item in table.iter()? {
            out.push(decode(item?.1.value())?);
        }
        Ok(out)
    }

    /// Replaces a tenant's import rules; false when there is no such tenant.
    pub fn set_tenant_settings(&self, id: u64, settings: TenantSettings) -> Result<bool> {
        let txn = self.write()?;
        {
            let mut table = txn.open_table(TENANTS)?;
            let Some(mut tenant) = get_json::<u64, Tenant, _>(&table, id)? else { return Ok(false) };
            tenant.settings = settings;
            table.insert(id, encode(&tenant).as_slice())?;
        }
        txn.commit()?;
        Ok(true)
    }

    /// A tenant's managed domains, sorted.
    pub fn tenant_domains(&self, tenant: u64) -> Result<Vec<(String, DomainRecord)>> {
        let txn = self.read()?;
        let table = txn.open_table(DOMAINS)?;
        let mut out = Vec::new();
        for item in table.iter()? {
            let (key, value) = item?;
            let record: DomainRecord = decode(value.value())?;
            if record.tenant == tenant {
                out.push((key.value().to_owned(), record));
            }
        }
        Ok(out)
    }

    /// Who owns a domain.
    pub fn domain(&self, domain: &str) -> Result<Option<DomainRecord>> {
        get_json(&self.read()?.open_table(DOMAINS)?, domain)
    }

    /// Gives a (normalised) domain to a tenant.
    pub fn add_domain(&self, tenant: u64, domain: &str) -> Result<AddDomain> {
        let txn = self.write()?;
        {
            let mut table = txn.open_table(DOMAINS)?;
            if let Some(existing) = get_json::<&str, DomainRecord, _>(&table, domain)? {
                return Ok(if existing.tenant == tenant { AddDomain::AlreadyOwned } else { AddDomain::Taken });
            }
            let record = DomainRecord { tenant, recipient_check: true, added_at: Timestamp::now() };
            table.insert(domain, encode(&record).as_slice())?;
        }
        txn.commit()?;
        Ok(AddDomain::Added)
    }

    /// Turns recipient checking on or off for one of the tenant's domains; false when the
    /// tenant does not own it.
    pub fn set_recipient_check(&self, tenant: u64, domain: &str, enabled: bool) -> Result<bool> {
        let txn = self.write()?;
        {
            let mut table = txn.open_table(DOMAINS)?;
            let Some(mut record) = get_json::<&str, DomainRecord, _>(&table, domain)? else { return Ok(false) };
            if record.tenant != tenant {
                return Ok(false);
            }
            record.recipient_check = enabled;
            table.insert(domain, encode(&record).as_slice())?;
        }
        txn.commit()?;
        Ok(true)
    }

    /// Stores a new API key.
    pub fn create_key(&self, key: &ApiKey) -> Result<()> {
        let txn = self.write()?;
        txn.open_table(API_KEYS)?.insert(key.id.as_str(), encode(key).as_slice())?;
        txn.commit()?;
        Ok(())
    }

    /// A key by id (revoked keys included; the caller checks), as of the last commit. Read
    /// from the shared snapshot, which a commit that creates or revokes a key retires before it
    /// returns: a revoked key is refused from the next request on.
    pub fn key(&self, id: &str) -> Result<Option<Arc<ApiKey>>> {
        self.snapshot()?.key(id)
    }

    /// A tenant's keys, newest last.
    pub fn tenant_keys(&self, tenant: u64) -> Result<Vec<ApiKey>> {
        let txn = self.read()?;
        let table = txn.open_table(API_KEYS)?;
        let mut out: Vec<ApiKey> = Vec::new();
        for item in table.iter()? {
            let key: ApiKey = decode(item?.1.value())?;
            if key.tenant == tenant {
                out.push(key);
            }
        }
        out.sort_by_key(|k| k.created_at);
        Ok(out)
    }

    /// Revokes one of the tenant's keys; false when it has no such key.
    pub fn revoke_key(&self, tenant: u64, id: &str) -> Result<bool> {
        let txn = self.write()?;
        {
            let mut table = txn.open_table(API_KEYS)?;
            let Some(mut key) = get_json::<&str, ApiKey, _>(&table, id)? else { return Ok(false) };
            if key.tenant != tenant {
                return Ok(false);
            }
            if key.revoked_at.is_none() {
                key.revoked_at = Some(Timestamp::now());
                table.insert(id, encode(&key).as_slice())?;
            }
        }
        txn.commit()?;
        Ok(true)
    }
}
