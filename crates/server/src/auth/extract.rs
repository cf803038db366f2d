//! The axum extractor that authenticates a request before its handler runs,
//! so a bad credential gets a 401 JSON answer before any WebSocket upgrade.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::credentials::find_credential;
use super::{AuthError, Credential, Principal};
use crate::error::ApiError;
use crate::server::AppState;

/// An authenticated caller, and the credential it used (a browser's
/// subprotocol must be echoed back on upgrade).
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// Who is calling.
    pub principal: Principal,
    /// The credential as presented.
    pub credential: Credential,
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        authenticate(state, parts.uri.query(), &parts.headers).await
    }
}

/// Authenticates the credential found in `query` or `headers`: the
/// extractor's check, for handlers that authenticate only when configured to
/// (`/metrics` and `/ws/health` with `metrics_auth`).
pub async fn authenticate(
    state: &AppState,
    query: Option<&str>,
    headers: &axum::http::HeaderMap,
) -> Result<Authenticated, ApiError> {
    {
        let credential = find_credential(query, headers);
        let authenticator = state.auth.clone();
        let checked = credential.clone();
        let principal =
            tokio::task::spawn_blocking(move || authenticator.authenticate(checked.as_ref()))
                .await
                .map_err(|e| ApiError::Internal(format!("auth task failed: {e}")))?;
        match (principal, credential) {
            (Ok(principal), Some(credential)) => Ok(Authenticated {
                principal,
                credential,
            }),
            (Ok(_), None) => Err(ApiError::Unauthorized(AuthError::Missing.to_string())),
            (Err(AuthError::Store(e)), _) if e.is_unavailable() => {
                Err(ApiError::LedgerUnavailable(format!(
                    "the database cannot be reached, so no billable work is accepted; \
                     retry shortly ({e})"
                )))
            }
            (Err(AuthError::Store(e)), _) => Err(ApiError::Internal(e.to_string())),
            (Err(e), _) => Err(ApiError::Unauthorized(e.to_string())),
        }
    }
}
