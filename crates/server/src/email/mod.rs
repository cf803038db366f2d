//! Transactional email for `POST /v1/email/send`: plain-text messages to one
//! recipient through the configured SMTP relay (lettre), with per-tenant
//! rate limits. Provider keys are never taken from requests (no BYOK).
//!
//! # Layout
//! - [`config`]: the `[email]` configuration section.
//! - [`mailer`]: the SMTP transport and the send errors.
//! - [`rate_limit`]: per-tenant sends per minute.
//!
//! [`EmailService`] ties them together; [`validate`] turns a request's
//! fields into a [`ValidEmail`] or a typed [`ValidationError`].

pub mod config;
pub mod mailer;
pub mod rate_limit;

use std::time::{Duration, Instant};

use lettre::Address;

pub use config::{EmailConfig, SmtpSecurity};
pub use mailer::{Mailer, SendError, SetupError};
pub use rate_limit::RateLimiter;

/// Longest accepted recipient address (RFC 5321 path limit).
pub const MAX_ADDRESS_CHARS: usize = 254;

/// A request field that fails validation (answered with 422).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// A required field is missing or empty.
    #[error("`{0}` is required and must not be empty")]
    Missing(&'static str),
    /// A field is longer than its limit.
    #[error("`{field}` is longer than {max} {unit}")]
    TooLong {
        /// The field.
        field: &'static str,
        /// The limit.
        max: usize,
        /// `characters` or `bytes`.
        unit: &'static str,
    },
    /// `to` is not a single plain email address.
    #[error("`to` is not a valid email address: {0}")]
    BadAddress(String),
    /// The subject holds a line break or another control character
    /// (header injection).
    #[error("`subject` must be one line without control characters")]
    SubjectControlChars,
    /// The content holds a NUL or another control character other than
    /// line breaks and tabs.
    #[error("`content` must not contain control characters other than line breaks and tabs")]
    ContentControlChars,
}

/// A validated message, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidEmail {
    /// Recipient.
    pub to: Address,
    /// Subject as given (one line).
    pub subject: String,
    /// Plain-text body.
    pub content: String,
}

/// Limits applied by [`validate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest subject, characters.
    pub max_subject_chars: usize,
    /// Largest body, bytes.
    pub max_content_bytes: usize,
}

/// Checks a request's fields.
pub fn validate(
    to: Option<&str>,
    subject: Option<&str>,
    content: Option<&str>,
    limits: Limits,
) -> Result<ValidEmail, ValidationError> {
    let to = to
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or(ValidationError::Missing("to"))?;
    if to.chars().count() > MAX_ADDRESS_CHARS {
        return Err(ValidationError::TooLong {
            field: "to",
            max: MAX_ADDRESS_CHARS,
            unit: "characters",
        });
    }
    if to.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ValidationError::BadAddress(format!(
            "`{}` contains spaces or control characters",
            to.escape_debug()
        )));
    }
    let address: Address = to
        .parse()
        .map_err(|e| ValidationError::BadAddress(format!("`{to}`: {e}")))?;
    let subject = subject
        .filter(|s| !s.trim().is_empty())
        .ok_or(ValidationError::Missing("subject"))?;
    if subject.chars().any(char::is_control) {
        return Err(ValidationError::SubjectControlChars);
    }
    if subject.chars().count() > limits.max_subject_chars {
        return Err(ValidationError::TooLong {
            field: "subject",
            max: limits.max_subject_chars,
            unit: "characters",
        });
    }
    let content = content
        .filter(|s| !s.trim().is_empty())
        .ok_or(ValidationError::Missing("content"))?;
    if content.len() > limits.max_content_bytes {
        return Err(ValidationError::TooLong {
            field: "content",
            max: limits.max_content_bytes,
            unit: "bytes",
        });
    }
    if content
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(ValidationError::ContentControlChars);
    }
    Ok(ValidEmail {
        to: address,
        subject: subject.trim().to_owned(),
        content: content.to_owned(),
    })
}

/// The subject with the tenant's company name appended (`Welcome | Acme`),
/// unless there is none or the subject already ends with it. Control
/// characters in the stored name are dropped.
pub fn subject_with_company(subject: &str, company: Option<&str>) -> String {
    let company: String = company
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    let company = company.trim();
    if company.is_empty() || subject.ends_with(company) {
        subject.to_owned()
    } else {
        format!("{subject} | {company}")
    }
}

/// What the email endpoint needs at run time: the relay (when configured),
/// the rate limiter and the field limits.
#[derive(Debug)]
pub struct EmailService {
    mailer: Option<Mailer>,
    limiter: RateLimiter,
    limits: Limits,
}

impl EmailService {
    /// From the validated config; a relay that cannot be set up (already
    /// refused by config validation) leaves email unavailable.
    pub fn from_config(config: &EmailConfig) -> Self {
        let mailer = if config.enabled() {
            Mailer::new(config)
                .map_err(|error| tracing::error!(%error, "email is unavailable"))
                .ok()
        } else {
            None
        };
        Self {
            mailer,
            limiter: RateLimiter::new(config.rate_limit_per_minute),
            limits: Limits {
                max_subject_chars: config.max_subject_chars,
                max_content_bytes: config.max_content_bytes,
            },
        }
    }

    /// The relay, if configured.
    pub fn mailer(&self) -> Option<&Mailer> {
        self.mailer.as_ref()
    }

    /// Field limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Takes one send from `tenant`'s budget, or says how long to wait.
    pub fn try_acquire(&self, tenant: &str) -> Result<(), Duration> {
        self.limiter.try_acquire(tenant, Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_subject_chars: 20,
        max_content_bytes: 50,
    };

    fn check(to: &str, subject: &str, content: &str) -> Result<ValidEmail, ValidationError> {
        validate(Some(to), Some(subject), Some(content), LIMITS)
    }

    #[test]
    fn accepts_a_plain_message() {
        let email = check("user@example.com", "Welcome", "Thanks!\r\nBye").unwrap();
        assert_eq!(email.to.to_string(), "user@example.com");
    }

    #[test]
    fn rejects_bad_fields() {
        use ValidationError::*;
        assert_eq!(
            validate(None, Some("s"), Some("c"), LIMITS),
            Err(Missing("to"))
        );
        assert_eq!(check("u@example.com", " ", "c"), Err(Missing("subject")));
        assert_eq!(check("u@example.com", "s", ""), Err(Missing("content")));
        for bad in ["nobody", "a@", "@b.com", "A <a@b.com>", "a@b.com, c@d.com"] {
            assert!(matches!(check(bad, "s", "c"), Err(BadAddress(_))), "{bad}");
        }
        assert_eq!(
            check("u@example.com", "Hi\r\nBcc: x@y.com", "c"),
            Err(SubjectControlChars)
        );
        assert_eq!(
            check("u@example.com", "Hi\nthere", "c"),
            Err(SubjectControlChars)
        );
        assert!(matches!(
            check("u@example.com", &"s".repeat(21), "c"),
            Err(TooLong {
                field: "subject",
                ..
            })
        ));
        assert!(matches!(
            check("u@example.com", "s", &"c".repeat(51)),
            Err(TooLong {
                field: "content",
                ..
            })
        ));
        assert_eq!(
            check("u@example.com", "s", "a\0b"),
            Err(ContentControlChars)
        );
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(matches!(
            check(&long, "s", "c"),
            Err(TooLong { field: "to", .. })
        ));
    }

    #[test]
    fn company_is_appended_once() {
        assert_eq!(
            subject_with_company("Welcome", Some("Acme")),
            "Welcome | Acme"
        );
        assert_eq!(subject_with_company("Welcome", None), "Welcome");
        assert_eq!(
            subject_with_company("Hi from Acme", Some("Acme")),
            "Hi from Acme"
        );
        assert_eq!(
            subject_with_company("Welcome", Some("Ac\r\nme")),
            "Welcome | Acme"
        );
    }
}
