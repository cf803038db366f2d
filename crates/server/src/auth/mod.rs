//! Authentication: who is calling, and which tenant pays.
//!
//! Credentials may arrive as `?apiKey=` or `?token=` on the URL, an
//! `Authorization: Bearer …` (or Deepgram's `Token …`) header, or — for
//! browsers, which cannot set headers on WebSockets — a `Sec-WebSocket-Protocol`
//! entry. A credential that looks like an API key (`sk_live_…`) is checked
//! against the key store; anything else is verified as a JWT.
//!
//! # Layout
//! - [`credentials`]: pulling the credential out of a request.
//! - [`extract`]: the axum extractor that rejects with 401 before a handler runs.
//! - [`jwt`]: JWT verification (HS256, RS256, ES256) with strict claims.

pub mod credentials;
pub mod extract;
pub mod jwt;

use crate::store::keys::KEY_SCHEME;
use crate::store::{Store, StoreError};

pub use credentials::Credential;
pub use extract::Authenticated;
pub use jwt::{JwtConfig, JwtVerifier};

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The tenant billed for this caller's usage.
    pub tenant: String,
    /// The API key prefix, for logs and the ledger; `None` for JWT callers.
    pub key_prefix: Option<String>,
}

/// Why a caller was not let in. The public message never says which check
/// failed beyond what the caller can already know.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No credential was presented.
    #[error("missing credentials: pass ?apiKey=, ?token= or an Authorization: Bearer header")]
    Missing,
    /// The API key is unknown, malformed or revoked.
    #[error("invalid or revoked API key")]
    BadKey,
    /// The JWT is invalid, expired, or not for this server.
    #[error("invalid token: {0}")]
    BadToken(String),
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks credentials against the key store and the JWT settings.
#[derive(Clone)]
pub struct Authenticator {
    store: Store,
    jwt: Option<JwtVerifier>,
}

impl Authenticator {
    /// An authenticator over `store`; without a JWT verifier, tokens are refused.
    pub fn new(store: Store, jwt: Option<JwtVerifier>) -> Self {
        Self { store, jwt }
    }

    /// Authenticates one credential. Blocking (reads SQLite): call it from
    /// `spawn_blocking` in async code.
    pub fn authenticate(&self, credential: Option<&Credential>) -> Result<Principal, AuthError> {
        let credential = credential.ok_or(AuthError::Missing)?;
        let secret = credential.secret();
        if secret.starts_with(KEY_SCHEME) {
            let (tenant, prefix) = self.store.verify_key(secret)?.ok_or(AuthError::BadKey)?;
            return Ok(Principal {
                tenant,
                key_prefix: Some(prefix),
            });
        }
        let verifier = self
            .jwt
            .as_ref()
            .ok_or_else(|| AuthError::BadToken("JWT authentication is not configured".into()))?;
        let tenant = verifier.verify(secret)?;
        if self.store.tenant(&tenant)?.is_none() {
            return Err(AuthError::BadToken(format!("unknown tenant `{tenant}`")));
        }
        Ok(Principal {
            tenant,
            key_prefix: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_keys_and_missing_credentials() {
        let store = Store::open_in_memory().unwrap();
        store.ensure_tenant("acme", None).unwrap();
        let key = store.create_key("acme").unwrap();
        let auth = Authenticator::new(store, None);
        let principal = auth
            .authenticate(Some(&Credential::Query(key.secret.clone())))
            .unwrap();
        assert_eq!(principal.tenant, "acme");
        assert_eq!(principal.key_prefix.as_deref(), Some(key.prefix.as_str()));
        assert!(matches!(auth.authenticate(None), Err(AuthError::Missing)));
        assert!(matches!(
            auth.authenticate(Some(&Credential::Query("sk_live_nope".into()))),
            Err(AuthError::BadKey)
        ));
        assert!(matches!(
            auth.authenticate(Some(&Credential::Query("eyJhbGciOi.x.y".into()))),
            Err(AuthError::BadToken(_))
        ));
    }
}
