//! Per-domain counts for the UI's summary and charts.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::Serialize;
use serde_json::{Value, json};

use super::blocking;
use crate::AppState;
use crate::auth::TenantPrincipal;
use crate::error::{Json, Result};
use crate::store::StoredCounts;

pub fn router() -> Router<AppState> {
    Router::new().route("/stats", get(stats))
}

#[derive(Serialize)]
struct DomainStats {
    domain: String,
    recipient_check: bool,
    #[serde(flatten)]
    counts: StoredCounts,
}

async fn stats(State(state): State<AppState>, who: TenantPrincipal) -> Result<Json<Value>> {
    let (domains, without_address) = blocking(&state.store, move |s| {
        let counts: std::collections::HashMap<String, StoredCounts> = s.counts(who.tenant)?.into_iter().collect();
        let domains: Vec<DomainStats> = s
            .tenant_domains(who.tenant)?
            .into_iter()
            .map(|(domain, record)| DomainStats {
                counts: counts.get(&domain).copied().unwrap_or_default(),
                domain,
                recipient_check: record.recipient_check,
            })
            .collect();
        Ok((domains, counts.get("").map(|c| c.groups).unwrap_or(0)))
    })
    .await?;
    let mut totals = StoredCounts { groups: without_address, ..StoredCounts::default() };
    for d in &domains {
        totals.recipients += d.counts.recipients;
        totals.aliases += d.counts.aliases;
        totals.groups += d.counts.groups;
    }
    Ok(Json(json!({ "domains": domains, "groups_without_address": without_address, "totals": totals })))
}
