//! JWT verification: HS256 with a shared secret, or RS256/ES256 with a public
//! key. `exp` is required; `aud` and `iss` are required and checked when
//! configured; `sub` names the tenant. The algorithm is fixed by the
//! configuration, so `alg: none` and algorithm confusion (an HS256 token
//! signed with the RSA public key) are rejected. `nbf` is honoured when
//! present, and a token longer than [`MAX_TOKEN_BYTES`] is refused unread.

use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::AuthError;

/// The longest token verified (8 KiB); a longer one is refused before it is
/// decoded.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// JWT settings from the server config.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JwtConfig {
    /// Shared secret for HS256.
    pub hs256_secret: Option<String>,
    /// PEM public key for RS256 or ES256 (chosen by the key's type).
    pub public_key_pem: Option<String>,
    /// Required `aud`, when set.
    pub audience: Option<String>,
    /// Required `iss`, when set.
    pub issuer: Option<String>,
}

/// Why the JWT settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum JwtConfigError {
    /// Both a secret and a public key were given.
    #[error("set either jwt.hs256_secret or jwt.public_key_pem, not both")]
    Ambiguous,
    /// The secret is too short to be safe.
    #[error("jwt.hs256_secret must be at least 32 bytes")]
    WeakSecret,
    /// The PEM is neither an RSA nor an EC public key.
    #[error("jwt.public_key_pem is not an RSA or EC (P-256) public key: {0}")]
    BadKey(String),
}

/// A configured verifier.
#[derive(Clone)]
pub struct JwtVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("algorithms", &self.validation.algorithms)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
}

impl JwtVerifier {
    /// Builds a verifier, or `None` when JWT auth is not configured.
    pub fn from_config(config: &JwtConfig) -> Result<Option<Self>, JwtConfigError> {
        let (key, algorithm) = match (&config.hs256_secret, &config.public_key_pem) {
            (Some(_), Some(_)) => return Err(JwtConfigError::Ambiguous),
            (None, None) => return Ok(None),
            (Some(secret), None) => {
                if secret.len() < 32 {
                    return Err(JwtConfigError::WeakSecret);
                }
                (
                    DecodingKey::from_secret(secret.as_bytes()),
                    Algorithm::HS256,
                )
            }
            (None, Some(pem)) => match DecodingKey::from_rsa_pem(pem.as_bytes()) {
                Ok(key) => (key, Algorithm::RS256),
                Err(rsa_error) => match DecodingKey::from_ec_pem(pem.as_bytes()) {
                    Ok(key) => (key, Algorithm::ES256),
                    Err(_) => return Err(JwtConfigError::BadKey(rsa_error.to_string())),
                },
            },
        };
        let mut validation = Validation::new(algorithm);
        validation.leeway = 30;
        validation.validate_nbf = true;
        let mut required = vec!["exp", "sub"];
        match &config.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        if let Some(issuer) = &config.issuer {
            validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        validation.set_required_spec_claims(&required);
        Ok(Some(Self { key, validation }))
    }

    /// The tenant named by a valid token's `sub`.
    pub fn verify(&self, token: &str) -> Result<String, AuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::BadToken(format!(
                "token longer than {MAX_TOKEN_BYTES} bytes"
            )));
        }
        let data = decode::<Claims>(token, &self.key, &self.validation)
            .map_err(|e| AuthError::BadToken(e.to_string()))?;
        if data.claims.sub.trim().is_empty() {
            return Err(AuthError::BadToken("empty `sub` claim".into()));
        }
        Ok(data.claims.sub)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{encode, EncodingKey, Header};
    use serde_json::json;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn now() -> i64 {
        crate::store::now_unix()
    }

    fn hs256(claims: serde_json::Value) -> String {
        encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap()
    }

    fn verifier(audience: Option<&str>, issuer: Option<&str>) -> JwtVerifier {
        JwtVerifier::from_config(&JwtConfig {
            hs256_secret: Some(SECRET.into()),
            audience: audience.map(Into::into),
            issuer: issuer.map(Into::into),
            ..JwtConfig::default()
        })
        .unwrap()
        .unwrap()
    }

    #[test]
    fn valid_hs256_token_names_the_tenant() {
        let token = hs256(json!({"sub": "acme", "exp": now() + 60}));
        assert_eq!(verifier(None, None).verify(&token).unwrap(), "acme");
    }

    #[test]
    fn rejects_expired_missing_exp_and_wrong_audience_or_issuer() {
        let v = verifier(Some("vocalis"), Some("issuer-a"));
        let good = json!({"sub": "acme", "exp": now() + 60, "aud": "vocalis", "iss": "issuer-a"});
        assert!(v.verify(&hs256(good.clone())).is_ok());
        let mut cases = Vec::new();
        for (field, value) in [
            ("exp", json!(now() - 3600)),
            ("aud", json!("other")),
            ("iss", json!("issuer-b")),
        ] {
            let mut claims = good.clone();
            claims[field] = value;
            cases.push(claims);
        }
        for field in ["exp", "aud", "iss", "sub"] {
            let mut claims = good.clone();
            claims.as_object_mut().unwrap().remove(field);
            cases.push(claims);
        }
        for claims in cases {
            assert!(
                v.verify(&hs256(claims.clone())).is_err(),
                "accepted {claims}"
            );
        }
    }

    #[test]
    fn rejects_a_token_not_yet_valid_and_an_overlong_one() {
        let v = verifier(None, None);
        let early = json!({"sub": "acme", "exp": now() + 7200, "nbf": now() + 3600});
        assert!(v.verify(&hs256(early)).is_err());
        let started = json!({"sub": "acme", "exp": now() + 7200, "nbf": now() - 10});
        assert_eq!(v.verify(&hs256(started)).unwrap(), "acme");
        let padded = json!({"sub": "acme", "exp": now() + 60, "pad": "x".repeat(16 * 1024)});
        let long = hs256(padded);
        assert!(long.len() > MAX_TOKEN_BYTES);
        let error = v.verify(&long).unwrap_err();
        assert!(error.to_string().contains("longer than"), "{error}");
    }

    #[test]
    fn rejects_alg_none_and_other_algorithms() {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = b64.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = b64.encode(json!({"sub": "acme", "exp": now() + 60}).to_string());
        let v = verifier(None, None);
        assert!(v.verify(&format!("{header}.{payload}.")).is_err());
        let hs512 = encode(
            &Header::new(Algorithm::HS512),
            &json!({"sub": "acme", "exp": now() + 60}),
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap();
        assert!(v.verify(&hs512).is_err());
    }

    // Test-only key pairs, generated with `openssl genpkey` for these tests.
    const RSA_PRIVATE: &str = include_str!("../../tests/data/jwt-rs256-private.pem");
    const RSA_PUBLIC: &str = include_str!("../../tests/data/jwt-rs256-public.pem");
    const EC_PRIVATE: &str = include_str!("../../tests/data/jwt-es256-private.pem");
    const EC_PUBLIC: &str = include_str!("../../tests/data/jwt-es256-public.pem");

    fn public_key_verifier(pem: &str) -> JwtVerifier {
        JwtVerifier::from_config(&JwtConfig {
            public_key_pem: Some(pem.into()),
            ..JwtConfig::default()
        })
        .unwrap()
        .unwrap()
    }

    fn signed(algorithm: Algorithm, key: &EncodingKey, claims: &serde_json::Value) -> String {
        encode(&Header::new(algorithm), claims, key).unwrap()
    }

    #[test]
    fn rs256_tokens_verify_with_the_public_key() {
        let verifier = public_key_verifier(RSA_PUBLIC);
        assert_eq!(verifier.validation.algorithms, vec![Algorithm::RS256]);
        let key = EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap();
        let good = json!({"sub": "acme", "exp": now() + 60});
        assert_eq!(
            verifier
                .verify(&signed(Algorithm::RS256, &key, &good))
                .unwrap(),
            "acme"
        );
        let expired = json!({"sub": "acme", "exp": now() - 3600});
        assert!(verifier
            .verify(&signed(Algorithm::RS256, &key, &expired))
            .is_err());
        // A payload changed after signing fails the signature check.
        use base64::Engine as _;
        let forged_payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(json!({"sub": "other", "exp": now() + 60}).to_string());
        let token = signed(Algorithm::RS256, &key, &good);
        let mut parts: Vec<&str> = token.split('.').collect();
        parts[1] = &forged_payload;
        assert!(verifier.verify(&parts.join(".")).is_err());
    }

    #[test]
    fn es256_tokens_verify_with_the_public_key() {
        let verifier = public_key_verifier(EC_PUBLIC);
        assert_eq!(verifier.validation.algorithms, vec![Algorithm::ES256]);
        let key = EncodingKey::from_ec_pem(EC_PRIVATE.as_bytes()).unwrap();
        let good = json!({"sub": "acme", "exp": now() + 60});
        assert_eq!(
            verifier
                .verify(&signed(Algorithm::ES256, &key, &good))
                .unwrap(),
            "acme"
        );
        // An RS256 token, even a valid one for the RSA key, is refused.
        let rsa = EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap();
        assert!(verifier
            .verify(&signed(Algorithm::RS256, &rsa, &good))
            .is_err());
    }

    #[test]
    fn hs256_signed_with_the_public_key_is_rejected_when_rs256_is_configured() {
        // Algorithm confusion: the attacker knows the public key and uses
        // its PEM bytes as an HMAC secret.
        let claims = json!({"sub": "acme", "exp": now() + 60});
        for public in [RSA_PUBLIC, EC_PUBLIC] {
            let forged = signed(
                Algorithm::HS256,
                &EncodingKey::from_secret(public.as_bytes()),
                &claims,
            );
            let error = public_key_verifier(public).verify(&forged).unwrap_err();
            assert!(matches!(error, AuthError::BadToken(_)), "{error}");
        }
    }

    #[test]
    fn a_pem_that_is_no_public_key_is_refused() {
        let config = JwtConfig {
            public_key_pem: Some(
                "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n".into(),
            ),
            ..JwtConfig::default()
        };
        assert!(matches!(
            JwtVerifier::from_config(&config),
            Err(JwtConfigError::BadKey(_))
        ));
    }

    #[test]
    fn weak_or_ambiguous_configs_are_refused() {
        let weak = JwtConfig {
            hs256_secret: Some("short".into()),
            ..JwtConfig::default()
        };
        assert!(matches!(
            JwtVerifier::from_config(&weak),
            Err(JwtConfigError::WeakSecret)
        ));
        let both = JwtConfig {
            hs256_secret: Some(SECRET.into()),
            public_key_pem: Some("x".into()),
            ..JwtConfig::default()
        };
        assert!(matches!(
            JwtVerifier::from_config(&both),
            Err(JwtConfigError::Ambiguous)
        ));
        assert!(JwtVerifier::from_config(&JwtConfig::default())
            .unwrap()
            .is_none());
    }
}
