//! Fuzz target: credential parsing and checking — `find_credential` over a
//! query string and headers, API keys against a real (in-memory) key store,
//! and JWTs against an HS256 verifier with audience and issuer set.
//!
//! Never panics and never fails with a store error. Only the one real key is
//! accepted; a JWT is accepted exactly when its signature, algorithm and
//! claims are valid (the fuzzer signs tokens with the real secret, so claim
//! checks are reached); `find_credential` returns a non-empty secret and, for
//! a subprotocol, a protocol to select that the client offered (or `bearer`,
//! not offered, so none is selected) and that does not echo the secret.
//!
//! The first input byte picks the mode; the rest is that mode's input.

#![no_main]

use std::sync::{Arc, OnceLock};

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use base64::Engine as _;
use jsonwebtoken::{crypto, Algorithm, EncodingKey};
use libfuzzer_sys::arbitrary::{Result as ArbResult, Unstructured};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Map, Value};
use vocalis_server::auth::credentials::find_credential;
use vocalis_server::auth::{AuthError, Authenticator, Credential, JwtConfig, JwtVerifier};
use vocalis_server::store::keys::key_prefix;
use vocalis_server::store::{now_unix, Store};

const SECRET: &str = "fuzz-secret-0123456789abcdef0123456789";
const AUDIENCE: &str = "vocalis";
const ISSUER: &str = "https://issuer.example";
const TENANT: &str = "acme";

struct Fixture {
    auth: Authenticator,
    key: String,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let store = Store::open_in_memory().expect("in-memory store");
        store.ensure_tenant(TENANT, None).expect("tenant");
        let key = store.create_key(TENANT).expect("key").secret;
        let jwt = JwtVerifier::from_config(&JwtConfig {
            hs256_secret: Some(SECRET.into()),
            audience: Some(AUDIENCE.into()),
            issuer: Some(ISSUER.into()),
            ..JwtConfig::default()
        })
        .expect("valid JWT config");
        Fixture {
            auth: Authenticator::new(Arc::new(store), jwt),
            key,
        }
    })
}

/// `Ok(Some(tenant))`, `Ok(None)` for a refusal; panics on a store error.
fn authenticate(secret: &str) -> Option<String> {
    match fixture()
        .auth
        .authenticate(Some(&Credential::Query(secret.to_owned())))
    {
        Ok(principal) => Some(principal.tenant),
        Err(AuthError::Store(error)) => panic!("store error: {error}"),
        Err(_) => None,
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// `header.payload.signature`, signed with the server's secret.
fn token(header: &[u8], payload: &[u8], algorithm: Algorithm) -> String {
    let message = format!("{}.{}", b64(header), b64(payload));
    let key = EncodingKey::from_secret(SECRET.as_bytes());
    let signature = crypto::sign(message.as_bytes(), &key, algorithm).expect("HMAC signs");
    format!("{message}.{signature}")
}

/// Any string: the one credential. Only the real key gets in.
fn any_credential(text: &str) {
    let tenant = authenticate(text);
    assert_eq!(tenant.is_some(), text == fixture().key, "{text:?}");
    if let Some(prefix) = key_prefix(text) {
        assert!(text.starts_with(prefix) && prefix.starts_with("sk_live_"));
        assert_eq!((prefix.len(), text.len()), (16, 48));
    }
}

/// The real key with bytes overwritten: accepted exactly when unchanged.
fn mutated_key(u: &mut Unstructured<'_>) -> ArbResult<()> {
    let mut key = fixture().key.clone().into_bytes();
    for _ in 0..u.int_in_range(0..=3)? {
        let at = u.choose_index(key.len())?;
        key[at] = u.arbitrary()?;
    }
    if u.arbitrary()? {
        key.truncate(u.choose_index(key.len())?);
    }
    let key = String::from_utf8_lossy(&key).into_owned();
    assert_eq!(
        authenticate(&key).is_some(),
        key == fixture().key,
        "{key:?}"
    );
    Ok(())
}

/// Header and payload bytes as the fuzzer gives them, properly signed.
/// The first byte is the header's length.
fn raw_token(data: &[u8]) {
    let Some((&len, rest)) = data.split_first() else {
        return;
    };
    let (header, payload) = rest.split_at(usize::from(len).min(rest.len()));
    let tenant = authenticate(&token(header, payload, Algorithm::HS256));
    let Some(tenant) = tenant else {
        return;
    };
    // Accepted: the claims must really be valid.
    let header: Value = serde_json::from_slice(header).expect("accepted header is JSON");
    assert_eq!(header["alg"], "HS256");
    let claims: Value = serde_json::from_slice(payload).expect("accepted claims are JSON");
    assert_eq!(claims["sub"], tenant.as_str());
    assert!(claims["exp"]
        .as_i64()
        .is_some_and(|exp| exp >= now_unix() - 30));
    assert_eq!(claims["iss"], ISSUER);
    let aud = &claims["aud"];
    assert!(
        aud == AUDIENCE
            || aud
                .as_array()
                .is_some_and(|a| a.iter().any(|v| v == AUDIENCE))
    );
}

/// A claim value: valid, invalid, mistyped, a string, or absent.
fn claim(u: &mut Unstructured<'_>, good: Value, bad: Value) -> ArbResult<Option<Value>> {
    Ok(match u.int_in_range(0..=4)? {
        0 => None,
        1 => Some(good),
        2 => Some(bad),
        3 => Some(json!(u.arbitrary::<bool>()?)),
        _ => Some(json!(u.arbitrary::<String>()?)),
    })
}

/// Structured claims with an oracle: accepted exactly when everything is valid.
fn structured_token(u: &mut Unstructured<'_>) -> ArbResult<()> {
    let now = now_unix();
    let late = now - 31 - i64::from(u.arbitrary::<u16>()?);
    let mut claims = Map::new();
    for (name, good, bad) in [
        ("sub", json!(TENANT), json!("  ")),
        ("exp", json!(now + 600), json!(late)),
        ("aud", json!(["other", AUDIENCE]), json!(["other"])),
        ("iss", json!(ISSUER), json!("https://evil.example")),
    ] {
        if let Some(value) = claim(u, good, bad)? {
            claims.insert(name.to_owned(), value);
        }
    }
    let algorithm = *u.choose(&[Algorithm::HS256, Algorithm::HS384, Algorithm::HS512])?;
    let aud = claims.get("aud");
    let valid = algorithm == Algorithm::HS256
        && claims.get("sub") == Some(&json!(TENANT))
        && claims
            .get("exp")
            .and_then(Value::as_i64)
            .is_some_and(|exp| exp >= now - 30)
        && claims.get("iss") == Some(&json!(ISSUER))
        && (aud == Some(&json!(AUDIENCE))
            || aud
                .and_then(Value::as_array)
                .is_some_and(|a| a.contains(&json!(AUDIENCE))));
    let header = json!({"alg": format!("{algorithm:?}"), "typ": "JWT"}).to_string();
    let payload = Value::Object(claims).to_string();
    let tenant = authenticate(&token(header.as_bytes(), payload.as_bytes(), algorithm));
    assert_eq!(tenant.is_some(), valid, "{header} {payload}");
    Ok(())
}

/// Query, `Authorization` and `Sec-WebSocket-Protocol` values, one a line.
fn find(text: &str) {
    let mut lines = text.splitn(3, '\n');
    let query = lines.next();
    let mut headers = HeaderMap::new();
    let mut offered = Vec::new();
    for (name, value) in [
        ("authorization", lines.next()),
        ("sec-websocket-protocol", lines.next()),
    ] {
        let Some(Ok(value)) = value.map(HeaderValue::from_str) else {
            continue;
        };
        // Values with obs-text bytes are valid headers but not strings;
        // `find_credential` skips them.
        if let (Ok(list), "sec-websocket-protocol") = (value.to_str(), name) {
            offered.extend(list.split(',').map(str::trim).map(str::to_owned));
        }
        headers.append(HeaderName::from_static(name), value);
    }
    let Some(found) = find_credential(query, &headers) else {
        return;
    };
    assert!(!found.secret().trim().is_empty(), "{found:?}");
    if let Credential::Subprotocol { secret, protocol } = &found {
        // The protocol to select is one the client offered, or `bearer`
        // (then none is selected), and never echoes the secret.
        assert!(
            offered.contains(protocol) || protocol == "bearer",
            "{found:?} not in {offered:?}"
        );
        let scheme =
            protocol.eq_ignore_ascii_case("token") || protocol.eq_ignore_ascii_case("bearer");
        assert!(scheme || !protocol.contains(secret.as_str()), "{found:?}");
    }
    any_credential(found.secret());
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut u = Unstructured::new(rest);
    let text = std::str::from_utf8(rest).ok();
    match mode % 5 {
        0 => text.map_or((), any_credential),
        1 => mutated_key(&mut u).unwrap_or(()),
        2 => raw_token(rest),
        3 => structured_token(&mut u).unwrap_or(()),
        _ => text.map_or((), find),
    }
});
