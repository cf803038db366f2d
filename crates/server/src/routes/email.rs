//! `POST /v1/email/send`: one plain-text email from the configured sender to
//! one recipient, with the tenant's company name appended to the subject.
//!
//! Order of checks: body (400 malformed / BYOK / unknown fields; 422 field
//! validation), then the relay (503 when none is configured), the tenant's
//! rate limit (429), and the send itself (502 when the relay refuses or
//! cannot be reached). Every authenticated request writes one usage record
//! (`email`, never billed); its id is the answer's `id`.

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};

use super::rest::{read_body, with_request_id, RequestMeter};
use crate::auth::Authenticated;
use crate::billing::{new_session_id, Service};
use crate::config::ServerConfig;
use crate::email::{subject_with_company, validate, EmailService, SendError};
use crate::error::ApiError;
use crate::server::AppState;
use crate::wire::email::{SendEmailRequest, SendEmailResponse};

const ROUTE: &str = "/v1/email/send";

/// The email routes, with the relay and rate limiter built from `config`.
pub(crate) fn routes(config: &ServerConfig) -> Router<AppState> {
    let service = Arc::new(EmailService::from_config(&config.email));
    Router::new()
        .route(ROUTE, post(send))
        .layer(Extension(service))
        .layer(DefaultBodyLimit::disable())
}

async fn send(
    State(state): State<AppState>,
    Extension(service): Extension<Arc<EmailService>>,
    caller: Authenticated,
    request: Request,
) -> Response {
    let id = new_session_id("email");
    let admitted =
        RequestMeter::admit(&state, &caller.principal, Service::Email, ROUTE, id.clone());
    let meter = match admitted.await {
        Ok(meter) => meter,
        Err(refused) => return with_request_id(refused.into_response(), &id),
    };
    let response = match deliver(&state, &service, &caller.principal.tenant, &id, request).await {
        Ok(response) => {
            meter.ok().await;
            Json(response).into_response()
        }
        Err(error) => {
            meter.failed(&error).await;
            error.into_response()
        }
    };
    with_request_id(response, &id)
}

async fn deliver(
    state: &AppState,
    service: &EmailService,
    tenant: &str,
    id: &str,
    request: Request,
) -> Result<SendEmailResponse, ApiError> {
    let (parts, body) = request.into_parts();
    let bytes = read_body(body, &parts.headers, state.config.max_body_bytes).await?;
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::InvalidPayload(format!("the body is not valid JSON: {e}")))?;
    let request = SendEmailRequest::from_json(&value).map_err(|e| {
        if e.is_validation() {
            ApiError::Unprocessable(e.to_string())
        } else {
            ApiError::InvalidPayload(e.to_string())
        }
    })?;
    let email = validate(
        request.to.as_deref(),
        request.subject.as_deref(),
        request.content.as_deref(),
        service.limits(),
    )
    .map_err(|e| ApiError::Unprocessable(e.to_string()))?;
    let mailer = service.mailer().ok_or_else(|| {
        ApiError::EmailUnavailable("email is not configured on this server (no SMTP relay)".into())
    })?;
    service
        .try_acquire(tenant)
        .map_err(|wait| ApiError::RateLimited {
            message: format!(
                "too many emails from this tenant: at most {} per minute",
                state.config.email.rate_limit_per_minute
            ),
            retry_after_s: wait.as_secs().max(1),
        })?;
    let store = state.store.clone();
    let lookup = tenant.to_owned();
    let company = tokio::task::spawn_blocking(move || store.tenant(&lookup))
        .await
        .map_err(|e| ApiError::Internal(format!("tenant lookup failed: {e}")))?
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .and_then(|t| t.company);
    let subject = subject_with_company(&email.subject, company.as_deref());
    let domain = email.to.domain().to_owned();
    match mailer.send(id, email.to, &subject, &email.content).await {
        Ok(()) => {
            tracing::info!(email_id = %id, %tenant, to_domain = %domain, "email sent");
            Ok(SendEmailResponse {
                id: id.to_owned(),
                ok: true,
            })
        }
        Err(error) => {
            tracing::warn!(email_id = %id, %tenant, %error, "email not sent");
            Err(match error {
                SendError::Refused { code, reply } => ApiError::EmailSendFailed(format!(
                    "the mail relay refused the message ({code}): {reply}"
                )),
                SendError::Unreachable(_) => {
                    ApiError::EmailSendFailed("the mail relay could not be reached".into())
                }
                SendError::Build(detail) => ApiError::Internal(detail),
            })
        }
    }
}
