//! The directory sync agent's push, and the Synchronize tab's summary and history.
//!
//! A push is an import in all but name: the same normalised body, the same re-validation, the
//! same per-domain replace and deletion threshold. It needs an API key, records the agent's
//! host and address, and is recorded even when it is refused, so that a failing agent shows
//! in the history.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Serialize;
use serde_json::{Value, json};

use super::blocking;
use super::imports::{self, ImportQuery, Received};
use crate::AppState;
use crate::auth::TenantPrincipal;
use crate::error::{AppError, Json, Query, Result};
use crate::store::{Agent, Applied, Change, ChangeKind, ChangeResult, HistoryEntry, Submitted, Timestamp};

pub fn router() -> Router<AppState> {
    Router::new().route("/sync", post(push)).route("/sync/summary", get(summary)).route("/sync/history", get(history))
}

/// The address a request came from, when the server knows it.
pub struct PeerAddr(pub Option<SocketAddr>);

impl<S: Send + Sync> FromRequestParts<S> for PeerAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<PeerAddr, Self::Rejection> {
        Ok(PeerAddr(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0)))
    }
}

async fn push(
    State(state): State<AppState>,
    who: TenantPrincipal,
    PeerAddr(peer): PeerAddr,
    Query(query): Query<ImportQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    if !who.principal.is_key() {
        return Err(AppError::forbidden(
            "the sync agent authenticates with an API key (`Authorization: Bearer <key>`)",
        ));
    }
    let received = imports::receive(&state, who.tenant, &headers, body, &query).await?;
    let mut change = Change::new(who.tenant, ChangeKind::Sync, &who.principal.name());
    change.agent = Some(Agent { ip: peer.map(|p| p.ip().to_string()), ..Agent::default() });
    imports::describe(&mut change, &received);
    change.submitted = Submitted {
        recipients: received.directory.recipients().len() as u64,
        aliases: received.directory.aliases().len() as u64,
        groups: received.directory.groups().len() as u64,
    };
    if let Some(error) = imports::refusal(&received, query.skip_invalid) {
        if !query.dry_run {
            let message = error.message().to_owned();
            imports::record_refused(&state.store, change, ChangeResult::Invalid, message).await?;
        }
        return Err(error);
    }
    let Received { report, directory, .. } = received;
    let applied = imports::apply(&state.store, change.clone(), directory, &query, false).await?;
    if let Applied::ThresholdExceeded(domains) = &applied {
        let mut refused = change;
        refused.domains = domains.clone();
        let message = "refused: the push would remove more addresses than the deletion threshold allows".to_owned();
        imports::record_refused(&state.store, refused, ChangeResult::ThresholdExceeded, message).await?;
    }
    imports::respond(applied, &report)
}

/// The last push of one source.
#[derive(Serialize)]
struct SourceSummary {
    source: String,
    last_run: Timestamp,
    result: ChangeResult,
    agent: Option<Agent>,
    /// The counts of its last applied push.
    counts: Submitted,
    last_applied: Option<Timestamp>,
}

async fn summary(State(state): State<AppState>, who: TenantPrincipal) -> Result<Json<Value>> {
    let runs = blocking(&state.store, move |s| s.history(who.tenant, &[ChangeKind::Sync])).await?;
    // Oldest first, so that each source ends up with its latest run.
    let mut sources: BTreeMap<String, SourceSummary> = BTreeMap::new();
    for HistoryEntry { change, .. } in runs.iter().rev() {
        let name = change.source.clone().unwrap_or_else(|| "default".to_owned());
        let entry = sources.entry(name.clone()).or_insert_with(|| SourceSummary {
            source: name,
            last_run: change.created_at,
            result: change.result,
            agent: None,
            counts: Submitted::default(),
            last_applied: None,
        });
        entry.last_run = change.created_at;
        entry.result = change.result;
        entry.agent = change.agent.clone();
        if change.result == ChangeResult::Applied {
            entry.counts = change.submitted;
            entry.last_applied = Some(change.created_at);
        }
    }
    let mut totals = Submitted::default();
    for s in sources.values() {
        totals.recipients += s.counts.recipients;
        totals.aliases += s.counts.aliases;
        totals.groups += s.counts.groups;
    }
    let sources: Vec<SourceSummary> = sources.into_values().collect();
    Ok(Json(json!({ "totals": totals, "sources": sources, "runs": runs.len() })))
}

async fn history(State(state): State<AppState>, who: TenantPrincipal) -> Result<Json<Value>> {
    let runs = blocking(&state.store, move |s| s.history(who.tenant, &[ChangeKind::Sync])).await?;
    Ok(Json(json!({ "runs": runs })))
}
