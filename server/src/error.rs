//! The one error type of the HTTP layer. Every error is JSON, `{"error":{"code","message"}}`,
//! plus `diagnostics` or `diff` where they help. Internal errors are logged and never shown.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::store::StoreError;

/// An error answer: a status, a stable code, a sentence, and optional extra fields.
#[derive(Debug)]
pub struct AppError {
    status: StatusCode,
    code: &'static str,
    message: String,
    extra: Map<String, Value>,
    retry_after: Option<u64>,
}

/// The HTTP layer's result type.
pub type Result<T, E = AppError> = std::result::Result<T, E>;

impl AppError {
    /// An error with a status, a stable kebab-case code and a sentence for a person.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> AppError {
        AppError { status, code, message: message.into(), extra: Map::new(), retry_after: None }
    }

    /// Adds a top-level field beside `error` (for example `diagnostics` or `diff`).
    pub fn with(mut self, key: &str, value: impl serde::Serialize) -> AppError {
        self.extra.insert(key.to_owned(), serde_json::to_value(value).unwrap_or(Value::Null));
        self
    }

    /// The sentence for a person.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Adds a `Retry-After` header.
    pub fn retry_after(mut self, seconds: u64) -> AppError {
        self.retry_after = Some(seconds);
        self
    }

    /// 400 with a code.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> AppError {
        AppError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 401: no or bad credentials.
    pub fn unauthenticated() -> AppError {
        AppError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "sign in, or send an API key as `Authorization: Bearer <key>`",
        )
    }

    /// 403 with a reason.
    pub fn forbidden(message: impl Into<String>) -> AppError {
        AppError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404. Also the answer for another tenant's data, so that nothing leaks.
    pub fn not_found(what: &str) -> AppError {
        AppError::new(StatusCode::NOT_FOUND, "not-found", format!("no such {what}"))
    }

    /// 413: the body is larger than the limit (after decompression).
    pub fn too_large(limit: u64) -> AppError {
        AppError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            format!("the request body is larger than the limit of {limit} bytes (after decompression)"),
        )
    }

    /// 500; the cause is logged, not shown.
    pub fn internal(cause: impl std::fmt::Display) -> AppError {
        eprintln!("dirgate: internal error: {cause}");
        AppError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "something went wrong on the server; see its log")
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert("error".to_owned(), json!({ "code": self.code, "message": self.message }));
        body.extend(self.extra);
        let mut response = (self.status, axum::Json(Value::Object(body))).into_response();
        if let Some(seconds) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> AppError {
        AppError::internal(e)
    }
}

impl From<tokio::task::JoinError> for AppError {
    fn from(e: tokio::task::JoinError) -> AppError {
        AppError::internal(e)
    }
}

impl From<JsonRejection> for AppError {
    fn from(rejection: JsonRejection) -> AppError {
        if crate::body::is_too_slow(&rejection) {
            return crate::body::too_slow();
        }
        let status = rejection.status();
        let code = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "body-too-large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported-media-type",
            _ => "bad-json",
        };
        AppError::new(status, code, rejection.body_text())
    }
}

impl From<QueryRejection> for AppError {
    fn from(rejection: QueryRejection) -> AppError {
        AppError::bad_request("bad-query", rejection.body_text())
    }
}

/// `axum::Json`, with rejections in the API's own error shape.
#[derive(axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(AppError))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Query`, with rejections in the API's own error shape.
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct Query<T>(pub T);
