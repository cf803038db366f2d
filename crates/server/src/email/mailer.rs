//! The SMTP side of email: one lettre transport per server, built from
//! [`EmailConfig`], sending one plain-text message per call.
//!
//! Each send opens its own connection (no pool), so a relay that went away
//! is noticed on the next send and nothing is held open between requests.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::config::{EmailConfig, SmtpSecurity};

/// Why a message was not handed to the relay.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The relay answered with an error code (4xx or 5xx).
    #[error("the mail relay refused the message ({code}): {reply}")]
    Refused {
        /// The SMTP reply code, e.g. `550`.
        code: String,
        /// The relay's reply text.
        reply: String,
    },
    /// The relay could not be reached, or the connection failed (network,
    /// TLS, timeout).
    #[error("cannot reach the mail relay: {0}")]
    Unreachable(String),
    /// The message could not be built (a bug: input is validated first).
    #[error("cannot build the message: {0}")]
    Build(String),
}

/// Why the transport could not be set up from the config.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// No `smtp_host`.
    #[error("no SMTP relay is configured")]
    NotConfigured,
    /// `from` is missing or not an address.
    #[error("invalid sender address: {0}")]
    Sender(String),
    /// The TLS parameters for the host could not be built.
    #[error("invalid relay host: {0}")]
    Host(String),
}

/// A configured relay and sender.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// Builds the transport (no network traffic).
    pub fn new(config: &EmailConfig) -> Result<Self, SetupError> {
        let host = config
            .smtp_host
            .as_deref()
            .map(str::trim)
            .ok_or(SetupError::NotConfigured)?;
        let from = config
            .from
            .as_deref()
            .ok_or_else(|| SetupError::Sender("`email.from` is not set".into()))?
            .parse::<Mailbox>()
            .map_err(|e| SetupError::Sender(e.to_string()))?;
        let builder = match config.security {
            SmtpSecurity::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
            SmtpSecurity::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
                .map_err(|e| SetupError::Host(e.to_string()))?,
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)
                .map_err(|e| SetupError::Host(e.to_string()))?,
        };
        let mut builder = builder
            .port(config.port())
            .timeout(Some(Duration::from_millis(config.timeout_ms)));
        if let (Some(user), Some(password)) = (&config.username, &config.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(Self {
            transport: builder.build(),
            from,
        })
    }

    /// Sends one plain-text message; `id` becomes its `Message-ID`.
    pub async fn send(
        &self,
        id: &str,
        to: Address,
        subject: &str,
        content: &str,
    ) -> Result<(), SendError> {
        let domain = self.from.email.domain().to_owned();
        let message = Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to))
            .subject(subject)
            .message_id(Some(format!("<{id}@{domain}>")))
            .header(ContentType::TEXT_PLAIN)
            .body(content.to_owned())
            .map_err(|e| SendError::Build(e.to_string()))?;
        self.transport
            .send(message)
            .await
            .map(drop)
            .map_err(classify)
    }
}

fn classify(error: lettre::transport::smtp::Error) -> SendError {
    if error.is_permanent() || error.is_transient() {
        let code = error
            .status()
            .map(|c| c.to_string())
            .unwrap_or_else(|| "unknown".into());
        // Display is "permanent error (550): <reply>"; keep the reply.
        let text = error.to_string();
        let reply = text
            .split_once("): ")
            .map(|(_, reply)| reply.trim().to_owned())
            .unwrap_or(text);
        SendError::Refused { code, reply }
    } else {
        SendError::Unreachable(error.to_string())
    }
}
