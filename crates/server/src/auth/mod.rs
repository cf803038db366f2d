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
use crate::store::tenants::PriceOverride;
use crate::store::{SharedStorage, StoreError};

pub use credentials::Credential;
pub use extract::Authenticated;
pub use jwt::{JwtConfig, JwtVerifier};

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    /// The tenant billed for this caller's usage.
    pub tenant: String,
    /// The API key prefix, for logs and the ledger; `None` for JWT callers.
    pub key_prefix: Option<String>,
    /// The tenant's own prices, read with the credential: a session is
    /// billed at the prices in force when it was accepted.
    pub prices: PriceOverride,
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
    store: SharedStorage,
    jwt: Option<JwtVerifier>,
}

impl Authenticator {
    /// An authenticator over `store`; without a JWT verifier, tokens are refused.
    pub fn new(store: SharedStorage, jwt: Option<JwtVerifier>) -> Self {
        Self { store, jwt }
    }

    /// Authenticates one credential. Blocking (reads SQLite): call it from
    /// `spawn_blocking` in async code.
    pub fn authenticate(&self, credential: Option<&Credential>) -> Result<Principal, AuthError> {
        let credential = credential.ok_or(AuthError::Missing)?;
        let secret = credential.secret();
        let (name, key_prefix) = if secret.starts_with(KEY_SCHEME) {
            let (tenant, prefix) = self.store.verify_key(secret)?.ok_or(AuthError::BadKey)?;
            (tenant, Some(prefix))
        } else {
            let verifier = self.jwt.as_ref().ok_or_else(|| {
                AuthError::BadToken("JWT authentication is not configured".into())
            })?;
            (verifier.verify(secret)?, None)
        };
        let Some(tenant) = self.store.tenant(&name)? else {
            // A key's tenant always exists (foreign key); a token's may not.
            return Err(match key_prefix {
                Some(_) => AuthError::BadKey,
                None => AuthError::BadToken(format!("unknown tenant `{name}`")),
            });
        };
        Ok(Principal {
            tenant: tenant.name,
            key_prefix,
            prices: tenant.prices,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::store::Store;

    #[test]
    fn api_keys_and_missing_credentials() {
        let store = Store::open_in_memory().unwrap();
        store.ensure_tenant("acme", None).unwrap();
        let prices = PriceOverride {
            stt_per_minute: Some(0.01),
            tts_per_1k_characters: None,
        };
        store.set_prices("acme", prices).unwrap();
        let key = store.create_key("acme").unwrap();
        let auth = Authenticator::new(std::sync::Arc::new(store), None);
        let principal = auth
            .authenticate(Some(&Credential::Query(key.secret.clone())))
            .unwrap();
        assert_eq!(principal.tenant, "acme");
        assert_eq!(principal.key_prefix.as_deref(), Some(key.prefix.as_str()));
        assert_eq!(principal.prices, prices);
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

    #[test]
    fn jwts_name_an_existing_tenant() {
        use jsonwebtoken::{encode, EncodingKey, Header};
        let secret = "0123456789abcdef0123456789abcdef";
        let store = Store::open_in_memory().unwrap();
        store.ensure_tenant("acme", None).unwrap();
        let jwt = JwtVerifier::from_config(&JwtConfig {
            hs256_secret: Some(secret.into()),
            ..JwtConfig::default()
        })
        .unwrap();
        let auth = Authenticator::new(std::sync::Arc::new(store), jwt);
        let token = |sub: &str| {
            let claims = serde_json::json!({"sub": sub, "exp": crate::store::now_unix() + 60});
            let key = EncodingKey::from_secret(secret.as_bytes());
            Credential::Query(encode(&Header::default(), &claims, &key).unwrap())
        };
        let principal = auth.authenticate(Some(&token("acme"))).unwrap();
        assert_eq!(principal.tenant, "acme");
        assert_eq!(principal.key_prefix, None);
        assert!(matches!(
            auth.authenticate(Some(&token("nobody"))),
            Err(AuthError::BadToken(_))
        ));
    }
}
