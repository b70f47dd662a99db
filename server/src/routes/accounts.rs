//! Sign-in, tenants, users, API keys and tenant settings.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::LazyLock;

use super::blocking;
use super::domains::normalise_domain;
use super::sync::PeerAddr;
use crate::AppState;
use crate::auth::{self, Lockout, Operator, Principal, SESSION_COOKIE, SESSION_SECONDS, TenantPrincipal};
use crate::error::{AppError, Json, Result};
use crate::store::{ApiKey, Role, Session, Store, Tenant, TenantSettings, Timestamp, User};

/// A real hash of nothing, verified when the user name is unknown.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| auth::hash_password("no such user"));

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/session", post(sign_in).get(who_am_i).delete(sign_out))
        .route("/tenants", post(create_tenant).get(list_tenants))
        .route("/tenants/{id}", get(get_tenant))
        .route("/tenants/{id}/keys", post(create_tenant_key))
        .route("/tenants/{id}/users", post(create_tenant_user))
        .route("/keys", post(create_own_key).get(list_keys))
        .route("/keys/{id}", delete(revoke_key))
        .route("/settings", get(get_settings).put(put_settings))
}

/// A tenant as the API shows it.
#[derive(Serialize)]
pub struct TenantView {
    id: u64,
    name: String,
    domains: Vec<String>,
    settings: TenantSettings,
    created_at: Timestamp,
}

fn tenant_view(store: &Store, tenant: Tenant) -> crate::store::Result<TenantView> {
    let domains = store.tenant_domains(tenant.id)?.into_iter().map(|(d, _)| d).collect();
    Ok(TenantView {
        id: tenant.id,
        name: tenant.name,
        domains,
        settings: tenant.settings,
        created_at: tenant.created_at,
    })
}

#[derive(Serialize)]
struct UserView {
    username: String,
    role: Role,
}

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

/// The 429 of a sign-in that the limiter refused.
fn too_many_attempts(lockout: Lockout) -> AppError {
    let (whom, seconds) = match lockout {
        Lockout::Account(seconds) => ("for this user name", seconds),
        Lockout::Client(seconds) => ("from your address", seconds),
    };
    let message = format!("too many failed sign-ins {whom}; try again in {seconds} seconds");
    AppError::new(StatusCode::TOO_MANY_REQUESTS, "too-many-attempts", message).retry_after(seconds)
}

async fn sign_in(
    State(state): State<AppState>,
    PeerAddr(peer): PeerAddr,
    Json(body): Json<Credentials>,
) -> Result<Response> {
    let client = peer.map(|p| p.ip());
    state.sign_in_limiter.admit(&body.username, client).map_err(too_many_attempts)?;
    let username = body.username.clone();
    let signed_in = blocking(&state.store, move |store| {
        let Some(user) = store.user(&body.username)? else {
            // Hash anyway, so that timing does not tell which user names exist.
            auth::verify_password(&body.password, &DUMMY_HASH);
            return Ok(None);
        };
        if !auth::verify_password(&body.password, &user.password_hash) {
            return Ok(None);
        }
        let token = auth::random_secret(32);
        let expires_at = Timestamp(Timestamp::now().0 + SESSION_SECONDS);
        store.create_session(
            &auth::sha256(token.as_bytes()),
            &Session { username: user.username.clone(), expires_at },
        )?;
        let tenant = match user.tenant {
            Some(id) => store.tenant(id)?.map(|t| tenant_view(store, t)).transpose()?,
            None => None,
        };
        Ok(Some((token, user, tenant)))
    })
    .await?;
    // A failed attempt stays counted: the limiter counted it when it admitted it.
    let Some((token, user, tenant)) = signed_in else {
        return Err(AppError::new(StatusCode::UNAUTHORIZED, "bad-credentials", "the user name or password is wrong"));
    };
    state.sign_in_limiter.succeeded(&username, client);
    let secure = if state.config.secure_cookies { "; Secure" } else { "" };
    let cookie =
        format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={SESSION_SECONDS}{secure}");
    let body = json!({ "user": UserView { username: user.username, role: user.role }, "tenant": tenant });
    Ok(([(header::SET_COOKIE, cookie)], Json(body)).into_response())
}

async fn who_am_i(State(state): State<AppState>, principal: Principal) -> Result<Json<serde_json::Value>> {
    let tenant = match principal.tenant() {
        Some(id) => blocking(&state.store, move |s| s.tenant(id)?.map(|t| tenant_view(s, t)).transpose()).await?,
        None => None,
    };
    let role = match principal.actor {
        auth::Actor::Operator { .. } => "operator",
        auth::Actor::Admin { .. } => "admin",
        auth::Actor::Key { .. } => "key",
    };
    Ok(Json(json!({ "user": { "username": principal.name(), "role": role }, "tenant": tenant })))
}

/// Ends the cookie's session. Like every other change made with the cookie, it must come from
/// our own pages, so that another site cannot sign a user out.
async fn sign_out(State(state): State<AppState>, headers: HeaderMap) -> Result<Response> {
    if let Some(token) = auth::session_token(&headers) {
        if !auth::same_origin(&headers) {
            return Err(auth::cross_origin());
        }
        blocking(&state.store, move |s| s.delete_session(&auth::sha256(token.as_bytes()))).await?;
    }
    let cookie = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    Ok(([(header::SET_COOKIE, cookie)], StatusCode::NO_CONTENT).into_response())
}

#[derive(Deserialize)]
struct NewTenant {
    name: String,
    #[serde(default)]
    domains: Vec<String>,
}

async fn create_tenant(
    State(state): State<AppState>,
    _operator: Operator,
    Json(body): Json<NewTenant>,
) -> Result<(StatusCode, Json<TenantView>)> {
    let name = body.name.trim().to_owned();
    if name.is_empty() || name.len() > 200 {
        return Err(AppError::bad_request("invalid-name", "a tenant needs a name of 1 to 200 characters"));
    }
    let mut domains = body.domains.iter().map(|d| normalise_domain(d)).collect::<Result<Vec<_>>>()?;
    domains.sort();
    domains.dedup();
    let created = blocking(&state.store, move |s| match s.create_tenant(&name, &domains)? {
        Ok(tenant) => Ok(Ok(tenant_view(s, tenant)?)),
        Err(taken) => Ok(Err(taken)),
    })
    .await?;
    match created {
        Ok(view) => Ok((StatusCode::CREATED, Json(view))),
        Err(taken) => Err(AppError::new(
            StatusCode::CONFLICT,
            "domain-taken",
            format!("the domain {taken} is already managed by another tenant"),
        )),
    }
}

async fn list_tenants(State(state): State<AppState>, _operator: Operator) -> Result<Json<serde_json::Value>> {
    let tenants = blocking(&state.store, |s| s.tenants()?.into_iter().map(|t| tenant_view(s, t)).collect()).await?;
    let tenants: Vec<TenantView> = tenants;
    Ok(Json(json!({ "tenants": tenants })))
}

async fn get_tenant(
    State(state): State<AppState>,
    _operator: Operator,
    Path(id): Path<u64>,
) -> Result<Json<TenantView>> {
    let view = blocking(&state.store, move |s| s.tenant(id)?.map(|t| tenant_view(s, t)).transpose()).await?;
    view.map(Json).ok_or_else(|| AppError::not_found("tenant"))
}

#[derive(Deserialize, Default)]
struct NewKey {
    #[serde(default)]
    name: String,
}

/// The optional `{"name"}` body of a key request.
fn key_name(body: &[u8]) -> Result<String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(String::new());
    }
    let key: NewKey =
        serde_json::from_slice(body).map_err(|e| AppError::bad_request("bad-json", format!("bad JSON body: {e}")))?;
    Ok(key.name)
}

#[derive(Serialize)]
struct CreatedKey {
    id: String,
    key: String,
    name: String,
    tenant: u64,
}

async fn make_key(state: &AppState, tenant: u64, by: String, name: String) -> Result<(StatusCode, Json<CreatedKey>)> {
    let (id, secret_sha256, full) = auth::new_api_key();
    let key = ApiKey {
        id: id.clone(),
        tenant,
        secret_sha256,
        name: name.clone(),
        created_by: by,
        created_at: Timestamp::now(),
        revoked_at: None,
    };
    let found = blocking(&state.store, move |s| {
        if s.tenant(tenant)?.is_none() {
            return Ok(false);
        }
        s.create_key(&key)?;
        Ok(true)
    })
    .await?;
    if !found {
        return Err(AppError::not_found("tenant"));
    }
    Ok((StatusCode::CREATED, Json(CreatedKey { id, key: full, name, tenant })))
}

async fn create_tenant_key(
    State(state): State<AppState>,
    Operator(operator): Operator,
    Path(id): Path<u64>,
    body: Bytes,
) -> Result<(StatusCode, Json<CreatedKey>)> {
    let name = key_name(&body)?;
    make_key(&state, id, operator.name(), name).await
}

async fn create_own_key(
    State(state): State<AppState>,
    who: TenantPrincipal,
    body: Bytes,
) -> Result<(StatusCode, Json<CreatedKey>)> {
    refuse_keys(&who)?;
    let name = key_name(&body)?;
    make_key(&state, who.tenant, who.principal.name(), name).await
}

#[derive(Serialize)]
struct KeyView {
    id: String,
    name: String,
    created_by: String,
    created_at: Timestamp,
    revoked_at: Option<Timestamp>,
}

async fn list_keys(State(state): State<AppState>, who: TenantPrincipal) -> Result<Json<serde_json::Value>> {
    let keys = blocking(&state.store, move |s| s.tenant_keys(who.tenant)).await?;
    let keys: Vec<KeyView> = keys
        .into_iter()
        .map(|k| KeyView {
            id: k.id,
            name: k.name,
            created_by: k.created_by,
            created_at: k.created_at,
            revoked_at: k.revoked_at,
        })
        .collect();
    Ok(Json(json!({ "keys": keys })))
}

/// Keys are managed by people: a leaked key (a sync agent's, say) must not be able to mint
/// more keys or revoke the administrators' own.
fn refuse_keys(who: &TenantPrincipal) -> Result<()> {
    if who.principal.is_key() {
        return Err(AppError::forbidden("API keys are created and revoked by a signed-in administrator, not by a key"));
    }
    Ok(())
}

async fn revoke_key(State(state): State<AppState>, who: TenantPrincipal, Path(id): Path<String>) -> Result<StatusCode> {
    refuse_keys(&who)?;
    let revoked = blocking(&state.store, move |s| s.revoke_key(who.tenant, &id)).await?;
    if revoked { Ok(StatusCode::NO_CONTENT) } else { Err(AppError::not_found("key")) }
}

#[derive(Deserialize)]
struct NewUser {
    username: String,
    password: String,
}

async fn create_tenant_user(
    State(state): State<AppState>,
    _operator: Operator,
    Path(id): Path<u64>,
    Json(body): Json<NewUser>,
) -> Result<(StatusCode, Json<serde_json::Value>)> {
    let username = body.username.trim().to_owned();
    if username.is_empty() || username.len() > 100 || username.chars().any(char::is_control) {
        return Err(AppError::bad_request("invalid-username", "a user name is 1 to 100 printable characters"));
    }
    if body.password.len() < 12 {
        return Err(AppError::bad_request("weak-password", "a password needs at least 12 characters"));
    }
    let password = body.password;
    let name = username.clone();
    let outcome = blocking(&state.store, move |s| {
        if s.tenant(id)?.is_none() {
            return Ok(None);
        }
        let user = User {
            username: name,
            password_hash: auth::hash_password(&password),
            role: Role::Admin,
            tenant: Some(id),
            created_at: Timestamp::now(),
        };
        Ok(Some(s.create_user(&user)?))
    })
    .await?;
    match outcome {
        None => Err(AppError::not_found("tenant")),
        Some(false) => Err(AppError::new(StatusCode::CONFLICT, "username-taken", "that user name is taken")),
        Some(true) => Ok((StatusCode::CREATED, Json(json!({ "username": username, "role": "admin", "tenant": id })))),
    }
}

async fn get_settings(State(state): State<AppState>, who: TenantPrincipal) -> Result<Json<TenantSettings>> {
    let tenant = blocking(&state.store, move |s| s.tenant(who.tenant)).await?;
    tenant.map(|t| Json(t.settings)).ok_or_else(|| AppError::not_found("tenant"))
}

async fn put_settings(
    State(state): State<AppState>,
    who: TenantPrincipal,
    Json(settings): Json<TenantSettings>,
) -> Result<Json<TenantSettings>> {
    if settings.deletion_threshold_percent > 100 || settings.daily_import_limit == 0 {
        return Err(AppError::bad_request(
            "invalid-settings",
            "deletion_threshold_percent is between 0 and 100, and daily_import_limit is at least 1",
        ));
    }
    let saved = blocking(&state.store, move |s| s.set_tenant_settings(who.tenant, settings)).await?;
    if saved { Ok(Json(settings)) } else { Err(AppError::not_found("tenant")) }
}
