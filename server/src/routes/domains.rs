//! A tenant's managed domains: list, add, remove, and turn recipient checking off and on.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, patch};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::blocking;
use crate::AppState;
use crate::auth::TenantPrincipal;
use crate::error::{AppError, Json, Query, Result};
use crate::store::{AddDomain, Change, DomainRemoved, StoredCounts, Timestamp};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/domains", get(list).post(add).delete(remove_by_body))
        .route("/domains/{domain}", patch(set_checking).delete(remove_by_path))
}

/// Lower-cases a domain and converts it to A-labels with the core's own rules.
pub fn normalise_domain(raw: &str) -> Result<String> {
    dirgate_core::address::normalise_domain(raw.trim().trim_end_matches('.'))
        .map_err(|e| AppError::bad_request("invalid-domain", format!("`{raw}` is not a valid domain: {e}")))
}

#[derive(Serialize)]
struct DomainView {
    domain: String,
    recipient_check: bool,
    added_at: Timestamp,
    #[serde(flatten)]
    counts: StoredCounts,
}

async fn list(State(state): State<AppState>, who: TenantPrincipal) -> Result<Json<serde_json::Value>> {
    let domains = blocking(&state.store, move |s| {
        let counts: std::collections::HashMap<String, StoredCounts> = s.counts(who.tenant)?.into_iter().collect();
        Ok(s.tenant_domains(who.tenant)?
            .into_iter()
            .map(|(domain, record)| DomainView {
                counts: counts.get(&domain).copied().unwrap_or_default(),
                domain,
                recipient_check: record.recipient_check,
                added_at: record.added_at,
            })
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(Json(json!({ "domains": domains })))
}

#[derive(Deserialize)]
struct DomainBody {
    domain: String,
    #[serde(default)]
    force: bool,
}

async fn add(
    State(state): State<AppState>,
    who: TenantPrincipal,
    Json(body): Json<DomainBody>,
) -> Result<(StatusCode, Json<serde_json::Value>)> {
    let domain = normalise_domain(&body.domain)?;
    let name = domain.clone();
    let outcome = blocking(&state.store, move |s| s.add_domain(who.tenant, &name)).await?;
    match outcome {
        AddDomain::Added => Ok((StatusCode::CREATED, Json(json!({ "domain": domain, "recipient_check": true })))),
        AddDomain::AlreadyOwned => Ok((StatusCode::OK, Json(json!({ "domain": domain })))),
        AddDomain::Taken => Err(AppError::new(
            StatusCode::CONFLICT,
            "domain-taken",
            format!("the domain {domain} is already managed by another tenant"),
        )),
    }
}

#[derive(Deserialize)]
struct ForceQuery {
    #[serde(default)]
    force: bool,
}

async fn remove(state: AppState, who: TenantPrincipal, raw: &str, force: bool) -> Result<Json<Change>> {
    let domain = normalise_domain(raw)?;
    let by = who.principal.name();
    let name = domain.clone();
    let outcome = blocking(&state.store, move |s| s.remove_domain(who.tenant, &name, &by, force)).await?;
    match outcome {
        DomainRemoved::Removed(change) => Ok(Json(*change)),
        DomainRemoved::NotFound => Err(AppError::not_found("domain")),
        DomainRemoved::HasRecords(n) => Err(AppError::new(
            StatusCode::CONFLICT,
            "domain-has-records",
            format!("{domain} still holds {n} addresses; removing it deletes them. Repeat with force=true to confirm"),
        )
        .with("records", n)),
    }
}

async fn remove_by_path(
    State(state): State<AppState>,
    who: TenantPrincipal,
    Path(domain): Path<String>,
    Query(query): Query<ForceQuery>,
) -> Result<Json<Change>> {
    remove(state, who, &domain, query.force).await
}

async fn remove_by_body(
    State(state): State<AppState>,
    who: TenantPrincipal,
    Query(query): Query<ForceQuery>,
    Json(body): Json<DomainBody>,
) -> Result<Json<Change>> {
    remove(state, who, &body.domain, body.force || query.force).await
}

#[derive(Deserialize)]
struct CheckingBody {
    recipient_check: bool,
}

async fn set_checking(
    State(state): State<AppState>,
    who: TenantPrincipal,
    Path(domain): Path<String>,
    Json(body): Json<CheckingBody>,
) -> Result<Json<serde_json::Value>> {
    let domain = normalise_domain(&domain)?;
    let name = domain.clone();
    let enabled = body.recipient_check;
    let found = blocking(&state.store, move |s| s.set_recipient_check(who.tenant, &name, enabled)).await?;
    if !found {
        return Err(AppError::not_found("domain"));
    }
    Ok(Json(json!({ "domain": domain, "recipient_check": enabled })))
}
