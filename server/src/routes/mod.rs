//! The HTTP API under `/api/v1`, the OpenAPI document, health, and the embedded UI.
//!
//! Each resource module exposes its own `router()`; this module merges them and adds the body
//! limit for ordinary JSON requests (uploads read their bodies themselves, with their own
//! limit).
//!
//! The API's own edge ([`JsonApi`]: every error as JSON, an announced oversize body refused at
//! once) is a plain tower service rather than `axum::middleware`, which clones the state and
//! boxes a future and the inner service for every request: on the recipient check, the
//! gateway's hot path, that was a sixth of the request's own CPU time.

mod accounts;
mod docs;
mod domains;
mod exports;
pub mod imports;
pub mod recipients;
mod stats;
mod sync;

use std::convert::Infallible;
use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::FutureExt;
use futures_util::future::{Either, Then};
use tower::{Layer, Service};

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
        .layer(JsonApiLayer {
            max_upload_bytes: state.config.max_upload_bytes,
            max_json_bytes: state.config.max_json_bytes as u64,
        });
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

/// Wraps the API's routes in [`JsonApi`].
#[derive(Clone, Copy)]
struct JsonApiLayer {
    max_upload_bytes: u64,
    max_json_bytes: u64,
}

impl<S> Layer<S> for JsonApiLayer {
    type Service = JsonApi<S>;

    fn layer(&self, inner: S) -> JsonApi<S> {
        JsonApi { inner, limits: *self }
    }
}

/// The API's edge: answers 413 at once when a request announces a body over its limit, before
/// reading any of it (so that a client waiting on `Expect: 100-continue` is told straight
/// away), and turns the framework's plain-text rejections into JSON ([`errors_as_json`]).
#[derive(Clone)]
struct JsonApi<S> {
    inner: S,
    limits: JsonApiLayer,
}

/// A future of an error answer that is not JSON yet: the framework's text has to be read.
type ToJson = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;
/// What the inner service's answer becomes: itself, or the same error as JSON.
type Answered = Either<Ready<Result<Response, Infallible>>, ToJson>;

impl<S> Service<Request> for JsonApi<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    #[allow(clippy::type_complexity)]
    type Future = Either<
        Ready<Result<Response, Infallible>>,
        Then<S::Future, Answered, fn(Result<Response, Infallible>) -> Answered>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let limit = if is_upload(&request) { self.limits.max_upload_bytes } else { self.limits.max_json_bytes };
        let declared = crate::body::declared_length(request.headers());
        if declared.is_some_and(|n| n > limit) {
            return Either::Left(ready(Ok(AppError::too_large(limit).into_response())));
        }
        let answered: fn(Result<Response, Infallible>) -> Answered = |result| {
            let Ok(response) = result;
            if is_json_or_success(&response) {
                Either::Left(ready(Ok(response)))
            } else {
                Either::Right(Box::pin(errors_as_json(response).map(Ok)))
            }
        };
        Either::Right(self.inner.call(request).then(answered))
    }
}

/// Whether an answer needs no rewriting: a success, or an error that is already JSON.
fn is_json_or_success(response: &Response) -> bool {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    !(status.is_client_error() || status.is_server_error()) || is_json
}

/// Turns the framework's plain-text rejections (a bad path parameter, a body over the limit)
/// into the API's JSON error shape, so that every API error is JSON.
async fn errors_as_json(response: Response) -> Response {
    let status = response.status();
    if is_json_or_success(&response) {
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
