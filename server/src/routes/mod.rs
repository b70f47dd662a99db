//! The HTTP API under `/api/v1`, the OpenAPI document, health, and the embedded UI.
//!
//! Each resource module exposes its own `router()`; this module merges them and adds the body
//! limit for ordinary JSON requests (uploads read their bodies themselves, with their own
//! limit).

mod accounts;
mod docs;
mod domains;
mod exports;
pub mod imports;
pub mod recipients;
mod stats;
mod sync;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
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
        .fallback(|| async { AppError::not_found("API route") })
        .method_not_allowed_fallback(|| async {
            AppError::new(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "this route does not take that method")
        })
        .layer(middleware::map_response(errors_as_json))
        .layer(middleware::from_fn_with_state(state.clone(), refuse_declared_oversize));
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .merge(docs::router())
        .nest("/api/v1", api)
        .fallback(crate::www::serve_asset)
        .layer(DefaultBodyLimit::max(state.config.max_json_bytes))
        .with_state(state)
}

/// Whether a request carries an import or sync body, which has the larger upload limit. (The
/// path is seen inside the `/api/v1` nest, without that prefix.)
fn is_upload(request: &Request) -> bool {
    let path = request.uri().path().trim_end_matches('/');
    request.method() == axum::http::Method::POST && matches!(path, "/imports" | "/sync")
}

/// Answers 413 at once when a request announces a body over its limit, before reading any of
/// it, so that a client waiting on `Expect: 100-continue` is told straight away.
async fn refuse_declared_oversize(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limit = if is_upload(&request) { state.config.max_upload_bytes } else { state.config.max_json_bytes as u64 };
    let declared =
        request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return AppError::too_large(limit).into_response();
    }
    next.run(request).await
}

/// Turns the framework's plain-text rejections (a bad path parameter, a body over the limit)
/// into the API's JSON error shape, so that every API error is JSON.
async fn errors_as_json(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let text = axum::body::to_bytes(response.into_body(), 4096).await.unwrap_or_default();
    let message = String::from_utf8_lossy(&text).trim().to_owned();
    let code = match status {
        StatusCode::BAD_REQUEST => "bad-request",
        StatusCode::PAYLOAD_TOO_LARGE => "body-too-large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported-media-type",
        StatusCode::UNPROCESSABLE_ENTITY => "bad-json",
        _ => "error",
    };
    let message = if message.is_empty() { status.canonical_reason().unwrap_or("error").to_owned() } else { message };
    AppError::new(status, code, message).into_response()
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
