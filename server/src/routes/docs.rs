//! The OpenAPI 3 document of the API, and a readable page for it. Neither needs signing in.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::AppState;

/// The API's OpenAPI 3 document; kept beside the code and checked against the router by tests.
pub const OPENAPI_JSON: &str = include_str!("../../openapi.json");

const DOCS_HTML: &str = include_str!("../../api-docs.html");

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/openapi.json", get(|| async { ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON) }))
        .route(
            "/api/docs",
            get(|| async { ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], DOCS_HTML).into_response() }),
        )
}
