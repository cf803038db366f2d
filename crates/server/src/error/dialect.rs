//! One error, rendered in each API dialect's body. The status and the
//! stable code come from [`ApiError`] alone; only the JSON differs:
//!
//! - [`Dialect::OpenAi`] (every route but `/v1/listen`):
//!   `{"error":{"message":…,"type":…,"param":null,"code":…}}`, OpenAI's
//!   shape, with `type` from the status (`invalid_request_error`,
//!   `insufficient_quota`, `requests`, `server_error`) and `code` the stable
//!   code (`unauthorized`, `invalid_payload`, …).
//! - [`Dialect::Deepgram`] (`/v1/listen`): `{"err_code":…,"err_msg":…,
//!   "request_id":…}`, with Deepgram's codes where it documents one
//!   (`INVALID_AUTH`, `Bad Request`, `ASR_PAYMENT_REQUIRED`,
//!   `TOO_MANY_REQUESTS`) and the stable code upper-cased otherwise.
//!
//! Errors that never passed through [`ApiError`] (axum's own rejections:
//! a method not allowed, a WebSocket handshake without `Upgrade`) are
//! re-rendered by [`in_dialect`], the router's last layer, so no route
//! answers an error in another shape.

use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::ApiError;

/// `x-request-id`, the request's id (set on Deepgram errors that had none).
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// Deepgram's own name for the request id header.
const DG_REQUEST_ID: HeaderName = HeaderName::from_static("dg-request-id");

/// Largest non-JSON error body read to carry its text over (axum's
/// rejections are one line).
const MAX_REJECTION_BODY: usize = 4096;

/// Which API's error body a route answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// OpenAI's `{"error":{message,type,param,code}}` (the common shape).
    OpenAi,
    /// Deepgram's `{"err_code","err_msg","request_id"}`.
    Deepgram,
}

impl Dialect {
    /// The dialect of a request path: `/v1/listen` (pre-recorded and the
    /// live route's answers before the upgrade) speaks Deepgram; every other
    /// route the common shape.
    pub fn for_path(path: &str) -> Self {
        let path = path.trim_end_matches('/');
        if path == "/v1/listen" {
            Self::Deepgram
        } else {
            Self::OpenAi
        }
    }
}

/// The error a response was rendered from, kept in its extensions so a
/// later layer can render it in another dialect.
#[derive(Debug, Clone)]
struct Rendered {
    error: ApiError,
    dialect: Dialect,
}

impl ApiError {
    /// OpenAI's `error.type` for this error.
    pub fn openai_type(&self) -> &'static str {
        match self.status().as_u16() {
            402 => "insufficient_quota",
            429 => "requests",
            500..=599 => "server_error",
            _ => "invalid_request_error",
        }
    }

    /// Deepgram's `err_code` for this error.
    pub fn deepgram_code(&self) -> String {
        match self {
            Self::Unauthorized(_) => "INVALID_AUTH".into(),
            Self::InvalidPayload(_) | Self::Unprocessable(_) => "Bad Request".into(),
            Self::InsufficientCredits(_) => "ASR_PAYMENT_REQUIRED".into(),
            Self::RateLimited { .. } => "TOO_MANY_REQUESTS".into(),
            Self::PayloadTooLarge(_) => "Payload Too Large".into(),
            other => other.code().to_ascii_uppercase(),
        }
    }

    /// The JSON body in `dialect`; `request_id` is used by Deepgram's body.
    pub fn body(&self, dialect: Dialect, request_id: &str) -> Value {
        match dialect {
            Dialect::OpenAi => json!({
                "error": {
                    "message": self.public_message(),
                    "type": self.openai_type(),
                    "param": Value::Null,
                    "code": self.code(),
                }
            }),
            Dialect::Deepgram => json!({
                "err_code": self.deepgram_code(),
                "err_msg": self.public_message(),
                "request_id": request_id,
            }),
        }
    }

    /// The response in `dialect` with this error's status (and
    /// `Retry-After` when rate limited). A Deepgram answer without a
    /// `request_id` gets a new one, also in `x-request-id` and
    /// `dg-request-id`.
    pub fn render(self, dialect: Dialect, request_id: Option<&str>) -> Response {
        let status = self.status();
        self.render_with_status(status, dialect, request_id)
    }

    fn render_with_status(
        self,
        status: StatusCode,
        dialect: Dialect,
        request_id: Option<&str>,
    ) -> Response {
        let new_id;
        let id = match (dialect, request_id) {
            (_, Some(id)) => id,
            (Dialect::Deepgram, None) => {
                new_id = crate::wire::deepgram::new_request_id();
                &new_id
            }
            (Dialect::OpenAi, None) => "",
        };
        let mut response = (status, Json(self.body(dialect, id))).into_response();
        let headers = response.headers_mut();
        if dialect == Dialect::Deepgram {
            if let Ok(value) = HeaderValue::from_str(id) {
                headers.insert(REQUEST_ID, value.clone());
                headers.insert(DG_REQUEST_ID, value);
            }
        }
        if let Self::RateLimited { retry_after_s, .. } = &self {
            headers.insert(RETRY_AFTER, HeaderValue::from(*retry_after_s));
        }
        response.extensions_mut().insert(Rendered {
            error: self,
            dialect,
        });
        response
    }

    /// The error an error response without one stands for (axum's
    /// rejections), from its status; `text` is its message.
    fn from_status(status: StatusCode, text: String) -> Self {
        match status.as_u16() {
            401 => Self::Unauthorized(text),
            404 => Self::NotFound(text),
            413 => Self::PayloadTooLarge(text),
            415 => Self::UnsupportedMediaType(text),
            422 => Self::Unprocessable(text),
            429 => Self::RateLimited {
                message: text,
                retry_after_s: 1,
            },
            500..=599 => Self::Internal(text),
            _ => Self::InvalidPayload(text),
        }
    }
}

/// Makes an error response speak `dialect`: one rendered from an
/// [`ApiError`] in another dialect is rendered again (status and headers
/// kept), and one that never was (axum's plain-text rejections) becomes
/// that dialect's body with its text as the message. Other responses pass
/// unchanged.
pub async fn in_dialect(response: Response, dialect: Dialect) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let request_id = parts
        .headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let error = match parts.extensions.get::<Rendered>() {
        Some(rendered) if rendered.dialect == dialect => {
            return Response::from_parts(parts, body);
        }
        Some(rendered) => rendered.error.clone(),
        None => {
            let is_json = parts
                .headers
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("json"));
            if is_json {
                // A body some handler wrote on purpose; leave it alone.
                return Response::from_parts(parts, body);
            }
            let text = match axum::body::to_bytes(body, MAX_REJECTION_BODY).await {
                Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_owned(),
                Err(_) => String::new(),
            };
            let text = if text.is_empty() {
                status.canonical_reason().unwrap_or("error").to_owned()
            } else {
                text
            };
            ApiError::from_status(status, text)
        }
    };
    let mut rendered = error.render_with_status(status, dialect, request_id.as_deref());
    for (name, value) in &parts.headers {
        if name != CONTENT_TYPE && name != CONTENT_LENGTH {
            rendered.headers_mut().insert(name.clone(), value.clone());
        }
    }
    rendered
}

/// The router layer: renders every error of a route in its path's dialect
/// ([`Dialect::for_path`]).
pub async fn dialect_layer(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let dialect = Dialect::for_path(request.uri().path());
    in_dialect(next.run(request).await, dialect).await
}
