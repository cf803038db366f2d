//! The one place where errors become HTTP responses.
//!
//! [`SessionClose`] does the same for WebSocket sessions: close code and
//! reason for each way a session can end abnormally.
//!
//! Every handler returns [`ApiError`]; its [`IntoResponse`] impl picks the
//! status code and writes OpenAI's body
//! `{"error":{"message":…,"type":…,"param":…,"code":…}}` with a stable,
//! machine-readable `code`. Routes of the Deepgram dialect (`/v1/listen`)
//! answer `{"err_code":…,"err_msg":…,"request_id":…}` instead: one mapping
//! (error → status and code), rendered per [`Dialect`] by [`dialect`].
//! Internal details are logged, never sent.

mod dialect;

pub use dialect::{dialect_layer, in_dialect, Dialect};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// An error a client can see: a stable code, an HTTP status and a message.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// No or bad credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// The request is malformed or names something that does not exist.
    #[error("{0}")]
    InvalidPayload(String),
    /// The request is well-formed but a field fails validation.
    #[error("{0}")]
    Unprocessable(String),
    /// The text cannot be spoken: the phonemizer crashed or hung on it, or
    /// it is too long for one phonemizer call (422, `text_unspeakable`).
    #[error("{0}")]
    Unspeakable(String),
    /// The body or audio is larger than the configured limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The uploaded media type cannot be decoded.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// No route matches.
    #[error("{0}")]
    NotFound(String),
    /// Every worker is busy and the queue is full; retry later.
    #[error("{0}")]
    Busy(String),
    /// Too many requests from this tenant; retry after the given delay.
    #[error("{message}")]
    RateLimited {
        /// What was limited.
        message: String,
        /// Seconds until a retry can succeed (`Retry-After`).
        retry_after_s: u64,
    },
    /// Email is not configured on this server.
    #[error("{0}")]
    EmailUnavailable(String),
    /// The SMTP relay refused the message or could not be reached.
    #[error("{0}")]
    EmailSendFailed(String),
    /// The tenant has a credit limit and no credit left (402).
    #[error("{0}")]
    InsufficientCredits(String),
    /// Usage cannot be recorded, so no billable work is accepted (503).
    #[error("{0}")]
    LedgerUnavailable(String),
    /// The server is at its connection or WebSocket session limit (503).
    #[error("{0}")]
    ServerBusy(String),
    /// The server is draining for shutdown and takes no new connections (503).
    #[error("{0}")]
    ShuttingDown(String),
    /// Something failed inside the server; the detail is logged, not sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// The stable code clients match on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthorized(_) => "unauthorized",
            Self::InvalidPayload(_) => "invalid_payload",
            Self::Unprocessable(_) => "invalid_payload",
            Self::Unspeakable(_) => "text_unspeakable",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::NotFound(_) => "not_found",
            Self::Busy(_) => "busy",
            Self::RateLimited { .. } => "rate_limited",
            Self::EmailUnavailable(_) => "service_unavailable",
            Self::EmailSendFailed(_) => "email_send_failed",
            Self::InsufficientCredits(_) => "insufficient_credits",
            Self::LedgerUnavailable(_) => "ledger_unavailable",
            Self::ServerBusy(_) => "server_busy",
            Self::ShuttingDown(_) => "shutting_down",
            Self::Internal(_) => "internal_error",
        }
    }

    /// The HTTP status for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::InvalidPayload(_) => StatusCode::BAD_REQUEST,
            Self::Unprocessable(_) | Self::Unspeakable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::EmailUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::EmailSendFailed(_) => StatusCode::BAD_GATEWAY,
            Self::InsufficientCredits(_) => StatusCode::PAYMENT_REQUIRED,
            Self::LedgerUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::ServerBusy(_) | Self::ShuttingDown(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The ledger outcome of a metered request that failed this way.
    pub fn outcome(&self) -> crate::store::ledger::Outcome {
        use crate::store::ledger::Outcome;
        if self.status().is_server_error() {
            Outcome::ServerError
        } else {
            Outcome::ClientError
        }
    }

    /// The message a client may see: internal details are replaced (they
    /// are logged once, when the response is built).
    pub(crate) fn public_message(&self) -> String {
        match self {
            Self::Internal(_) => "internal server error".to_owned(),
            other => other.to_string(),
        }
    }
}

impl ApiError {
    /// The response on `/v1/listen` (pre-recorded, and the live route's
    /// refusals before the upgrade): Deepgram's body
    /// `{"err_code":…,"err_msg":…,"request_id":…}` naming `request_id`.
    /// The status is [`status`](Self::status), as on every route.
    pub fn into_listen_response(self, request_id: &str) -> Response {
        self.render(Dialect::Deepgram, Some(request_id))
    }
}

impl IntoResponse for ApiError {
    /// The common (OpenAI) body; a route of another dialect re-renders it
    /// through [`dialect::in_dialect`] (the error travels in the response's
    /// extensions).
    fn into_response(self) -> Response {
        if let Self::Internal(detail) = &self {
            tracing::error!(detail = %detail, "internal error");
        }
        self.render(Dialect::OpenAi, None)
    }
}

/// Why a WebSocket session ends abnormally: the one mapping from session
/// errors to close codes and reasons. Recoverable problems are sent as
/// `error` messages instead and the session goes on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionClose {
    /// The tenant has no credit left (1008, `INSUFFICIENT_CREDITS`).
    #[error("insufficient credits")]
    InsufficientCredits,
    /// Every worker is busy and the queue is full (1013, try again later).
    #[error("server busy")]
    Busy,
    /// No audio or keepalive for the idle timeout (1011).
    #[error("idle timeout")]
    IdleTimeout,
    /// A message was larger than `max_frame_bytes` (1009).
    #[error("message too big")]
    TooBig,
    /// A text frame was not valid UTF-8 (1007).
    #[error("text frame is not valid UTF-8")]
    InvalidUtf8,
    /// The audio cannot be decoded (1008).
    #[error("undecodable audio")]
    BadAudio,
    /// The server is shutting down (1001).
    #[error("server shutting down")]
    ShuttingDown,
    /// Usage cannot be recorded, so the session cannot go on (1013, try
    /// again later).
    #[error("usage cannot be recorded")]
    LedgerUnavailable,
    /// An internal failure (1011).
    #[error("internal error")]
    Internal,
}

impl SessionClose {
    /// The WebSocket close code.
    pub fn close_code(&self) -> u16 {
        match self {
            Self::InsufficientCredits | Self::BadAudio => 1008,
            Self::Busy | Self::LedgerUnavailable => 1013,
            Self::IdleTimeout | Self::Internal => 1011,
            Self::TooBig => 1009,
            Self::InvalidUtf8 => 1007,
            Self::ShuttingDown => 1001,
        }
    }

    /// The close reason of the 60db protocol.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::InsufficientCredits => "INSUFFICIENT_CREDITS",
            Self::Busy => "SERVER_BUSY",
            Self::IdleTimeout => "IDLE_TIMEOUT",
            Self::TooBig => "MESSAGE_TOO_BIG",
            Self::InvalidUtf8 => "INVALID_UTF8",
            Self::BadAudio => "INVALID_AUDIO",
            Self::ShuttingDown => "SERVER_SHUTTING_DOWN",
            Self::LedgerUnavailable => "LEDGER_UNAVAILABLE",
            Self::Internal => "INTERNAL_ERROR",
        }
    }

    /// The close code and reason on a route of `dialect`: Deepgram's
    /// routes use only Deepgram's listen codes (1008 `DATA-0000`, 1011
    /// `NET-0000` / `NET-0001`), every other route
    /// [`close_code`](Self::close_code) and [`reason`](Self::reason).
    pub fn close_for(&self, dialect: Dialect) -> (u16, &'static str) {
        match dialect {
            Dialect::OpenAi => (self.close_code(), self.reason()),
            Dialect::Deepgram => match self {
                Self::BadAudio | Self::TooBig | Self::InvalidUtf8 => (1008, "DATA-0000"),
                Self::IdleTimeout => (1011, "NET-0001"),
                // Deepgram would refuse this at the handshake (402); 1008
                // is its policy close, the reason says why.
                Self::InsufficientCredits => (1008, "INSUFFICIENT_CREDITS"),
                Self::Busy | Self::LedgerUnavailable | Self::ShuttingDown | Self::Internal => {
                    (1011, "NET-0000")
                }
            },
        }
    }

    /// The close reason of Deepgram's protocol (`DATA-0000`, `NET-0001`…);
    /// see [`close_for`](Self::close_for).
    pub fn deepgram_reason(&self) -> &'static str {
        self.close_for(Dialect::Deepgram).1
    }

    /// The stable code of the `error` message sent before closing.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InsufficientCredits => "insufficient_credits",
            Self::Busy => "busy",
            Self::IdleTimeout => "idle_timeout",
            Self::TooBig => "message_too_big",
            Self::InvalidUtf8 => "invalid_message",
            Self::BadAudio => "invalid_audio",
            Self::ShuttingDown => "shutting_down",
            Self::LedgerUnavailable => "ledger_unavailable",
            Self::Internal => "internal_error",
        }
    }

    /// The ledger outcome of a session that ended this way.
    pub fn outcome(&self) -> crate::store::ledger::Outcome {
        use crate::store::ledger::Outcome;
        match self {
            Self::Internal | Self::Busy | Self::ShuttingDown | Self::LedgerUnavailable => {
                Outcome::ServerError
            }
            _ => Outcome::ClientError,
        }
    }

    /// How a failed WebSocket read ends a session: a message over the
    /// transport's limit (`max_frame_bytes`, refused from its header, before
    /// its payload is read) is [`Self::TooBig`], a text frame that is not
    /// UTF-8 is [`Self::InvalidUtf8`]; `None` when the connection is gone.
    pub fn from_receive_error(error: axum::Error) -> Option<Self> {
        match error.into_inner().downcast::<tungstenite::Error>() {
            Ok(error) => match *error {
                tungstenite::Error::Capacity(_) => Some(Self::TooBig),
                tungstenite::Error::Utf8(_) => Some(Self::InvalidUtf8),
                _ => None,
            },
            Err(_) => None,
        }
    }
}

impl From<vocalis_inference::TtsError> for ApiError {
    fn from(error: vocalis_inference::TtsError) -> Self {
        use vocalis_inference::TtsError;
        match error {
            TtsError::InvalidOption(message) => Self::Unprocessable(message),
            TtsError::Phonemize(e) if e.is_text_fault() => {
                tracing::warn!(error = %e, "text could not be phonemized");
                Self::Unspeakable(format!("this text cannot be spoken: {e}"))
            }
            other => Self::Internal(format!("synthesis failed: {other}")),
        }
    }
}

/// The code of the `/ws/tts` `error` message for a sentence that could not
/// be synthesized (the session goes on).
pub fn tts_sentence_error_code(error: &vocalis_inference::TtsError) -> &'static str {
    match error {
        vocalis_inference::TtsError::Phonemize(e) if e.is_text_fault() => "text_unspeakable",
        _ => "synthesis_failed",
    }
}

impl From<vocalis_inference::pool::PoolError> for ApiError {
    fn from(error: vocalis_inference::pool::PoolError) -> Self {
        use vocalis_inference::pool::PoolError;
        match error {
            busy @ PoolError::Busy { .. } => Self::Busy(format!("{busy}; retry shortly")),
            other => Self::Internal(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests;
