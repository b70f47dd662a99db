//! The gateway's question: is this recipient accepted?

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use serde::Serialize;

use crate::AppState;
use crate::auth::Principal;
use crate::error::{AppError, Json, Result};
use crate::store::{Lookup, RecordKind};

pub fn router() -> Router<AppState> {
    Router::new().route("/recipients/{address}", get(check))
}

/// The three answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// A recipient, alias or mail-enabled group, or a domain whose checking is turned off.
    Accepted,
    /// The domain is managed, but the address is unknown.
    Rejected,
    /// No tenant manages the domain (or, for a tenant's key, the tenant does not).
    NotManaged,
}

/// The answer for an address, given what the store knows and who asks (`None` = any tenant).
pub fn verdict(lookup: &Lookup, tenant: Option<u64>) -> Verdict {
    match &lookup.owner {
        Some(owner) if tenant.is_none_or(|t| t == owner.tenant) => {
            if lookup.kind.is_some() || !owner.recipient_check {
                Verdict::Accepted
            } else {
                Verdict::Rejected
            }
        }
        _ => Verdict::NotManaged,
    }
}

#[derive(Serialize)]
struct Answer {
    address: String,
    status: Verdict,
    kind: Option<RecordKind>,
    /// False when the domain's checking is turned off (every address is then accepted).
    recipient_check: bool,
}

async fn check(State(state): State<AppState>, principal: Principal, Path(raw): Path<String>) -> Result<Json<Answer>> {
    let address = dirgate_core::address::parse_address(raw.trim())
        .map_err(|e| AppError::bad_request("invalid-address", format!("`{raw}` is not a valid address: {e}")))?;
    // Up to four point reads in the store's shared snapshot of the last commit: done on this
    // thread, like authentication, because this route is the gateway's hot path and a
    // blocking-pool hop would dominate it.
    let lookup = state.store.lookup(address.domain(), &address.key)?;
    let status = verdict(&lookup, principal.tenant());
    let visible = status != Verdict::NotManaged;
    Ok(Json(Answer {
        address: address.address,
        status,
        kind: if visible { lookup.kind } else { None },
        recipient_check: visible && lookup.owner.is_some_and(|o| o.recipient_check),
    }))
}
