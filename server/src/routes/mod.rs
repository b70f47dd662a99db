//! The HTTP API under `/api/v1`, the OpenAPI document, health, and the embedded UI.
//!
//! Each resource module exposes its own `router()`; this module merges them and adds the body
//! limit for ordinary JSON requests (uploads read their bodies themselves, with their own
//! limit).

mod accounts;
mod docs;
mod domains;
mod exports;
mod imports;
mod recipients;
mod stats;
mod sync;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;

use crate::AppState;
use crate::error::{AppError, Result};
use crate::store::{self, Store};

/// The whole application.
pub fn app(state: AppState) -> Router {
    let api = Router::new()
        .merge(accounts::router())
        .merge(domains::router())
        .merge(imports::router())
        .merge(exports::router())
        .merge(recipients::router())
        .merge(stats::router())
        .merge(sync::router())
        .fallback(|| async { AppError::not_found("API route") });
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .merge(docs::router())
        .nest("/api/v1", api)
        .fallback(crate::www::serve_asset)
        .layer(DefaultBodyLimit::max(state.config.max_json_bytes))
        .with_state(state)
}

/// Runs storage work on the blocking pool, off the async threads.
pub async fn blocking<T, F>(store: &Store, work: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&Store) -> store::Result<T> + Send + 'static,
{
    let store = store.clone();
    Ok(tokio::task::spawn_blocking(move || work(&store)).await??)
}
