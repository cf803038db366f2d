//! Deepgram's error body, as its REST API answers on every failure:
//! `{"err_code": "...", "err_msg": "...", "request_id": "..."}`.
//!
//! `err_code` is one of Deepgram's stable codes (`INVALID_AUTH`,
//! `Bad Request`, `INSUFFICIENT_CREDITS`, …); the mapping from server errors
//! to them lives in `crate::error`, next to the HTTP status.

use serde::{Deserialize, Serialize};

/// The body of every error answer on a Deepgram route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable, machine-readable code.
    pub err_code: String,
    /// Human-readable explanation.
    pub err_msg: String,
    /// The request's id (UUID).
    pub request_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_has_deepgram_fields() {
        let body = ErrorBody {
            err_code: "INVALID_AUTH".into(),
            err_msg: "Invalid credentials.".into(),
            request_id: "r".into(),
        };
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({"err_code":"INVALID_AUTH","err_msg":"Invalid credentials.","request_id":"r"})
        );
    }
}
