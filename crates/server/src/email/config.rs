//! The `[email]` section of the server configuration: the SMTP relay, the
//! sender, and the limits of `POST /v1/email/send`. Without `smtp_host`
//! email is off and the endpoint answers 503.

use serde::{Deserialize, Serialize};

use crate::config::ConfigError;

/// How the connection to the relay is secured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS (required), port 587.
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS), port 465.
    Tls,
    /// No encryption, port 25: only for a relay on the same host or network.
    None,
}

impl SmtpSecurity {
    /// The conventional port.
    pub fn default_port(self) -> u16 {
        match self {
            Self::Starttls => 587,
            Self::Tls => 465,
            Self::None => 25,
        }
    }
}

/// `[email]`: outgoing plain-text email through an SMTP relay.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmailConfig {
    /// Relay host name; absent: email is not configured (503).
    pub smtp_host: Option<String>,
    /// Relay port (default by `security`: 587, 465 or 25).
    pub smtp_port: Option<u16>,
    /// `starttls` (default), `tls` or `none`.
    pub security: SmtpSecurity,
    /// SMTP user (with `password`).
    pub username: Option<String>,
    /// SMTP password (with `username`); never logged.
    pub password: Option<String>,
    /// Sender, `noreply@example.com` or `Basics <noreply@example.com>`.
    pub from: Option<String>,
    /// Time allowed for each SMTP command, ms.
    pub timeout_ms: u64,
    /// Sends allowed per tenant per minute.
    pub rate_limit_per_minute: u32,
    /// Longest subject (before the company name is appended), characters.
    pub max_subject_chars: usize,
    /// Largest body, bytes of UTF-8.
    pub max_content_bytes: usize,
}

impl Default for EmailConfig {
    fn default() -> Self {
        Self {
            smtp_host: None,
            smtp_port: None,
            security: SmtpSecurity::default(),
            username: None,
            password: None,
            from: None,
            timeout_ms: 10_000,
            rate_limit_per_minute: 60,
            max_subject_chars: 250,
            max_content_bytes: 100_000,
        }
    }
}

impl std::fmt::Debug for EmailConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailConfig")
            .field("smtp_host", &self.smtp_host)
            .field("smtp_port", &self.smtp_port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("from", &self.from)
            .field("timeout_ms", &self.timeout_ms)
            .field("rate_limit_per_minute", &self.rate_limit_per_minute)
            .field("max_subject_chars", &self.max_subject_chars)
            .field("max_content_bytes", &self.max_content_bytes)
            .finish()
    }
}

fn invalid(field: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field,
        reason: reason.into(),
    }
}

impl EmailConfig {
    /// Whether a relay is configured.
    pub fn enabled(&self) -> bool {
        self.smtp_host.is_some()
    }

    /// The port used.
    pub fn port(&self) -> u16 {
        self.smtp_port
            .unwrap_or_else(|| self.security.default_port())
    }

    /// Checks the section; with a relay, also builds the transport once
    /// (no network) so a bad host name or sender fails at start-up.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.timeout_ms < 100 {
            return Err(invalid("email.timeout_ms", "must be at least 100"));
        }
        if self.rate_limit_per_minute == 0 {
            return Err(invalid("email.rate_limit_per_minute", "must be at least 1"));
        }
        if !(1..=998).contains(&self.max_subject_chars) {
            return Err(invalid("email.max_subject_chars", "must be 1 to 998"));
        }
        if self.max_content_bytes < 1 {
            return Err(invalid("email.max_content_bytes", "must be at least 1"));
        }
        if self.smtp_port == Some(0) {
            return Err(invalid("email.smtp_port", "must not be 0"));
        }
        if self.username.is_some() != self.password.is_some() {
            return Err(invalid(
                "email.username/email.password",
                "set both or neither",
            ));
        }
        let Some(host) = &self.smtp_host else {
            return Ok(());
        };
        if host.trim().is_empty() {
            return Err(invalid("email.smtp_host", "must not be empty"));
        }
        let from = self
            .from
            .as_deref()
            .ok_or_else(|| invalid("email.from", "is required when smtp_host is set"))?;
        from.parse::<lettre::message::Mailbox>()
            .map_err(|e| invalid("email.from", format!("`{from}` is not an address: {e}")))?;
        super::mailer::Mailer::new(self)
            .map(drop)
            .map_err(|e| invalid("email.smtp_host", e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_off_and_valid() {
        let config = EmailConfig::default();
        assert!(!config.enabled());
        config.validate().unwrap();
        assert_eq!(config.port(), 587);
    }

    #[test]
    fn a_relay_needs_a_sender_and_paired_credentials() {
        let mut config = EmailConfig {
            smtp_host: Some("127.0.0.1".into()),
            security: SmtpSecurity::None,
            ..EmailConfig::default()
        };
        assert!(config
            .validate()
            .unwrap_err()
            .to_string()
            .contains("email.from"));
        config.from = Some("Basics <noreply@example.com>".into());
        config.validate().unwrap();
        assert_eq!(config.port(), 25);
        config.username = Some("u".into());
        assert!(config.validate().is_err());
        config.password = Some("secret".into());
        config.validate().unwrap();
        assert!(!format!("{config:?}").contains("secret"));
        config.from = Some("not an address".into());
        assert!(config.validate().is_err());
    }
}
