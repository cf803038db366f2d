//! Finding the credential in a request: query string, `Authorization`
//! header, or `Sec-WebSocket-Protocol` (browsers).

use axum::http::{HeaderMap, HeaderValue};

/// Where a credential was found; each holds the secret itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// `?apiKey=` or `?token=`.
    Query(String),
    /// `Authorization: Bearer …` or `Authorization: Token …`.
    Header(String),
    /// A `Sec-WebSocket-Protocol` entry: `token, <secret>` (Deepgram's
    /// browser form) or `bearer.<secret>`. A browser accepts the upgrade only
    /// if the selected subprotocol is one it offered (or none is selected).
    Subprotocol {
        /// The secret.
        secret: String,
        /// The subprotocol to select if the client offered it. Never the
        /// secret nor an entry containing it, so the key is not echoed in
        /// the 101 response: `token` (or `bearer`) for the two-entry form;
        /// for `bearer.<secret>`, another entry the client offered, else
        /// `bearer`, which it did not offer, so none is selected.
        protocol: String,
    },
}

impl Credential {
    /// The secret (API key or JWT).
    pub fn secret(&self) -> &str {
        match self {
            Self::Query(secret) | Self::Header(secret) => secret,
            Self::Subprotocol { secret, .. } => secret,
        }
    }
}

/// The credential of a request, looked for in the query string
/// (`apiKey`, `api_key`, `token`), then the `Authorization` header, then
/// `Sec-WebSocket-Protocol`. Empty values count as absent.
pub fn find_credential(query: Option<&str>, headers: &HeaderMap) -> Option<Credential> {
    if let Some(query) = query {
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            if matches!(name.as_ref(), "apiKey" | "api_key" | "token") && !value.trim().is_empty() {
                return Some(Credential::Query(value.trim().to_owned()));
            }
        }
    }
    if let Some(value) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(header_str)
    {
        let mut parts = value.trim().splitn(2, char::is_whitespace);
        let scheme = parts.next().unwrap_or("");
        let secret = parts.next().unwrap_or("").trim();
        if (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token"))
            && !secret.is_empty()
        {
            return Some(Credential::Header(secret.to_owned()));
        }
    }
    let protocols: Vec<&str> = headers
        .get_all(axum::http::header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(header_str)
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    for (index, protocol) in protocols.iter().enumerate() {
        if let Some(secret) = protocol.strip_prefix("bearer.") {
            if !secret.is_empty() {
                let other = protocols
                    .iter()
                    .find(|p| !p.contains(secret) && !p.starts_with("bearer."));
                return Some(Credential::Subprotocol {
                    secret: secret.to_owned(),
                    protocol: other.map_or("bearer", |p| p).to_owned(),
                });
            }
        }
        if protocol.eq_ignore_ascii_case("token") || protocol.eq_ignore_ascii_case("bearer") {
            if let Some(secret) = protocols.get(index + 1) {
                // `bearer, bearer.<secret>`: the plain entry is there for
                // browsers that require a subprotocol to be selected.
                let secret = secret.strip_prefix("bearer.").unwrap_or(secret);
                if !secret.is_empty() {
                    return Some(Credential::Subprotocol {
                        secret: secret.to_owned(),
                        protocol: (*protocol).to_owned(),
                    });
                }
            }
        }
    }
    None
}

fn header_str(value: &HeaderValue) -> Option<&str> {
    value.to_str().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn finds_credentials_in_every_documented_place() {
        let none = HeaderMap::new();
        let cases: &[(Option<&str>, HeaderMap, Option<&str>)] = &[
            (Some("apiKey=sk_live_a"), none.clone(), Some("sk_live_a")),
            (Some("model=x&token=jwt.a.b"), none.clone(), Some("jwt.a.b")),
            (Some("apiKey="), none.clone(), None),
            (None, headers(&[("authorization", "Bearer k1")]), Some("k1")),
            (None, headers(&[("authorization", "Token k2")]), Some("k2")),
            (None, headers(&[("authorization", "Basic abc")]), None),
            (
                None,
                headers(&[("sec-websocket-protocol", "token, k3")]),
                Some("k3"),
            ),
            (
                None,
                headers(&[("sec-websocket-protocol", "bearer.k4")]),
                Some("k4"),
            ),
            (None, none.clone(), None),
        ];
        for (query, headers, expected) in cases {
            let found = find_credential(*query, headers);
            assert_eq!(
                found.as_ref().map(Credential::secret),
                *expected,
                "{query:?} {headers:?}"
            );
        }
    }

    #[test]
    fn the_protocol_to_select_never_holds_the_secret() {
        let cases = [
            ("token, sk_live_k3", "token"),
            ("bearer.sk_live_k4", "bearer"),
            ("bearer.sk_live_k5, vocalis", "vocalis"),
            ("vocalis, bearer.sk_live_k6", "vocalis"),
            ("bearer, bearer.sk_live_k7", "bearer"),
        ];
        for (offered, selected) in cases {
            let found = find_credential(None, &headers(&[("sec-websocket-protocol", offered)]));
            let Some(Credential::Subprotocol { secret, protocol }) = found else {
                panic!("no subprotocol credential in {offered}");
            };
            assert!(secret.starts_with("sk_live_k"), "{offered}");
            assert_eq!(protocol, selected, "{offered}");
            assert!(!protocol.contains(&secret), "{offered}");
        }
    }

    #[test]
    fn an_empty_bearer_entry_is_no_credential() {
        // Found by the auth_credential fuzz target: `bearer, bearer.` gave
        // a subprotocol credential with an empty secret.
        for offered in ["bearer, bearer.", "token, bearer."] {
            let found = find_credential(None, &headers(&[("sec-websocket-protocol", offered)]));
            assert_eq!(found, None, "{offered}");
        }
        let found = find_credential(
            None,
            &headers(&[("sec-websocket-protocol", "bearer, bearer., bearer.k")]),
        );
        assert_eq!(found.as_ref().map(Credential::secret), Some("k"));
    }

    #[test]
    fn query_wins_over_header() {
        let found = find_credential(Some("apiKey=q"), &headers(&[("authorization", "Bearer h")]));
        assert_eq!(found, Some(Credential::Query("q".into())));
    }
}
