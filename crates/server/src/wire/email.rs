//! The gateway's `POST /v1/email/send` body (`to`, `subject`, `content`)
//! and answer (`{"id":"email_…","ok":true}`).
//!
//! Parsing is strict about field names: a provider key in the body (BYOK)
//! and fields this endpoint does not implement (`html`, `cc`, `from`…) are
//! refused rather than silently ignored.

use serde::Serialize;
use serde_json::{Map, Value};

/// The fields of a send request.
pub const FIELDS: [&str; 3] = ["to", "subject", "content"];

/// A send request; every field optional here, checked by
/// [`crate::email::validate`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendEmailRequest {
    /// Recipient address.
    pub to: Option<String>,
    /// Subject line.
    pub subject: Option<String>,
    /// Plain-text body.
    pub content: Option<String>,
}

/// The success answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SendEmailResponse {
    /// `email_…`, also the usage record's id and the Message-ID's local part.
    pub id: String,
    /// Always `true`.
    pub ok: bool,
}

/// Why a body is not a send request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// Not a JSON object.
    #[error("the body must be a JSON object with `to`, `subject` and `content`")]
    NotAnObject,
    /// The body names a provider credential.
    #[error(
        "BYOK is not supported: provider credentials are configured on the server; remove `{0}`"
    )]
    Byok(String),
    /// A field this endpoint does not implement.
    #[error("unsupported field `{0}`: this endpoint sends plain text with `to`, `subject` and `content` only")]
    Unsupported(String),
    /// A field is present but not a string.
    #[error("`{0}` must be a string")]
    NotAString(&'static str),
}

impl PayloadError {
    /// Whether this is a field-validation problem (422) rather than a
    /// malformed request (400).
    pub fn is_validation(&self) -> bool {
        matches!(self, Self::NotAString(_))
    }
}

/// Whether a field name looks like a provider credential (`api_key`,
/// `provider_key`, `resend_api_key`, `apiKey`, `smtp_password`…).
pub fn is_credential_field(name: &str) -> bool {
    let name = name.to_ascii_lowercase().replace('-', "_");
    let compact = name.replace('_', "");
    compact.contains("apikey")
        || name.ends_with("_key")
        || name.ends_with("_token")
        || name.ends_with("_secret")
        || name.ends_with("password")
        || matches!(name.as_str(), "key" | "provider" | "credentials" | "secret")
}

impl SendEmailRequest {
    /// Reads a parsed JSON body.
    pub fn from_json(value: &Value) -> Result<Self, PayloadError> {
        let object: &Map<String, Value> = value.as_object().ok_or(PayloadError::NotAnObject)?;
        if let Some(name) = object.keys().find(|k| is_credential_field(k)) {
            return Err(PayloadError::Byok(name.clone()));
        }
        if let Some(name) = object.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(PayloadError::Unsupported(name.clone()));
        }
        let field = |name: &'static str| -> Result<Option<String>, PayloadError> {
            match object.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(PayloadError::NotAString(name)),
            }
        };
        Ok(Self {
            to: field("to")?,
            subject: field("subject")?,
            content: field("content")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_documented_body() {
        let request = SendEmailRequest::from_json(&json!({
            "to": "user@example.com", "subject": "Welcome to Basics", "content": "Thanks for signing up!"
        }))
        .unwrap();
        assert_eq!(request.to.as_deref(), Some("user@example.com"));
        assert_eq!(request.content.as_deref(), Some("Thanks for signing up!"));
    }

    #[test]
    fn refuses_byok_unknown_fields_and_wrong_types() {
        for key in [
            "api_key",
            "provider_key",
            "resend_api_key",
            "apiKey",
            "smtp_password",
        ] {
            let body = json!({"to": "a@b.com", "subject": "s", "content": "c", key: "x"});
            assert_eq!(
                SendEmailRequest::from_json(&body),
                Err(PayloadError::Byok(key.into())),
                "{key}"
            );
        }
        assert_eq!(
            SendEmailRequest::from_json(&json!({"to": "a@b.com", "html": "<b>"})),
            Err(PayloadError::Unsupported("html".into()))
        );
        let wrong = SendEmailRequest::from_json(&json!({"to": 5})).unwrap_err();
        assert!(wrong.is_validation());
        assert_eq!(
            SendEmailRequest::from_json(&json!([1])),
            Err(PayloadError::NotAnObject)
        );
    }
}
