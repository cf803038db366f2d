//! The playground: a web page at `GET /` that shows the engine working in a
//! browser — live microphone transcription (`/ws/stt`), file transcription
//! (`/v1/audio/transcriptions`), text-to-speech (`/ws/tts`,
//! `/v1/audio/speech`) and a status panel (`/ws/health`, `/v1/usage`).
//!
//! The page's files (`crates/server/assets/playground/`) are compiled into
//! the binary, so it works offline and never loads anything from another
//! origin. Every asset is served with a strict Content-Security-Policy
//! ([`content_security_policy`]): scripts, styles, workers and connections
//! only to the page's own origin (and its `ws:`/`wss:` form).
//!
//! `GET /playground/setup.json` is the one unauthenticated fact the page
//! needs before it has a key: where the first-start developer key file is,
//! and only while the server listens on a loopback address and that file
//! exists. It never contains the key itself.

use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, HOST};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::server::AppState;

/// The name of the developer key file in the data dir (written by the
/// server's first start on a loopback address).
const DEV_KEY_FILE: &str = "dev-api-key";

/// One embedded file of the page.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

/// Every file the page is made of, by the path it is served at.
const ASSETS: &[Asset] = &[
    Asset {
        path: "/",
        content_type: "text/html; charset=utf-8",
        body: include_bytes!("../../assets/playground/index.html"),
    },
    Asset {
        path: "/playground/app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../assets/playground/app.js"),
    },
    Asset {
        path: "/playground/pcm-worklet.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../assets/playground/pcm-worklet.js"),
    },
    Asset {
        path: "/playground/style.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../assets/playground/style.css"),
    },
    Asset {
        path: "/playground/icon.svg",
        content_type: "image/svg+xml",
        body: include_bytes!("../../assets/playground/icon.svg"),
    },
];

/// The page's routes: each asset, and the developer-key hint.
pub fn routes() -> Router<AppState> {
    let mut router = Router::new().route("/playground/setup.json", get(setup));
    for asset in ASSETS {
        let (content_type, body) = (asset.content_type, asset.body);
        router = router.route(
            asset.path,
            get(move |headers: HeaderMap| async move { serve(&headers, content_type, body) }),
        );
    }
    router
}

fn serve(headers: &HeaderMap, content_type: &'static str, body: &'static [u8]) -> Response {
    let host = headers.get(HOST).and_then(|h| h.to_str().ok());
    let mut response = body.into_response();
    let out = response.headers_mut();
    out.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    // The binary is the version: revalidate rather than keep a stale page
    // after an upgrade.
    out.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(csp) = HeaderValue::from_str(&content_security_policy(host)) {
        out.insert(HeaderName::from_static("content-security-policy"), csp);
    }
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("x-frame-options", "DENY"),
        ("cross-origin-opener-policy", "same-origin"),
        (
            "permissions-policy",
            "microphone=(self), camera=(), geolocation=()",
        ),
    ] {
        out.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    response
}

/// The page's Content-Security-Policy: everything from its own origin only;
/// WebSockets to the same host (`ws:` and `wss:` spelled out, as older
/// browsers do not count them as `'self'`); no inline script or style, no
/// plugins, no framing, no form posts elsewhere. `host` is the request's
/// `Host` header, used only when it is a plain host\[:port\].
pub fn content_security_policy(host: Option<&str>) -> String {
    let sockets = host
        .filter(|h| is_plain_host(h))
        .map(|h| format!(" ws://{h} wss://{h}"))
        .unwrap_or_default();
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
         media-src 'self' blob:; connect-src 'self'{sockets}; worker-src 'self'; \
         font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'; object-src 'none'"
    )
}

/// A `Host` value safe to put into a header: a name, IPv4 or bracketed IPv6
/// address with an optional port, nothing else.
fn is_plain_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

/// The body of `GET /playground/setup.json`.
#[derive(Debug, Serialize, PartialEq)]
pub struct Setup {
    /// Where the first-start developer key is (a path on the server's
    /// machine), when the server listens on loopback and the file exists.
    pub dev_key_path: Option<String>,
    /// The server's version.
    pub version: &'static str,
}

async fn setup(State(state): State<AppState>) -> impl IntoResponse {
    let config = state.config.clone();
    let hint = tokio::task::spawn_blocking(move || {
        dev_key_hint(config.listen.ip().is_loopback(), &config.data_dir)
    })
    .await
    .unwrap_or(None);
    (
        [(CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(Setup {
            dev_key_path: hint,
            version: env!("CARGO_PKG_VERSION"),
        }),
    )
}

/// The developer key file's path if it should be shown: only on a loopback
/// listener (a network-facing server says nothing about its files) and only
/// when the file is there.
pub fn dev_key_hint(loopback: bool, data_dir: &std::path::Path) -> Option<String> {
    let path = data_dir.join(DEV_KEY_FILE);
    (loopback && path.is_file()).then(|| path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csp_allows_only_the_own_origin_and_its_websockets() {
        let csp = content_security_policy(Some("127.0.0.1:8080"));
        assert!(csp.contains("connect-src 'self' ws://127.0.0.1:8080 wss://127.0.0.1:8080;"));
        assert!(csp.contains("default-src 'none'"));
        assert!(csp.contains("script-src 'self';"));
        assert!(!csp.contains("unsafe-inline"));
        assert!(!csp.contains("http"));
        // A Host that could inject directives is left out entirely.
        let csp = content_security_policy(Some("evil.com; script-src *"));
        assert!(csp.contains("connect-src 'self';"));
        assert!(!csp.contains("evil"));
        assert!(content_security_policy(None).contains("connect-src 'self';"));
        assert!(content_security_policy(Some("[::1]:9")).contains("ws://[::1]:9 "));
    }

    #[test]
    fn every_asset_is_embedded_with_a_content_type() {
        let mut paths: Vec<_> = ASSETS.iter().map(|a| a.path).collect();
        paths.sort_unstable();
        paths.dedup();
        assert_eq!(paths.len(), ASSETS.len());
        for asset in ASSETS {
            assert!(!asset.body.is_empty(), "{} is empty", asset.path);
            assert!(asset.content_type.contains('/'));
        }
        // The page refers to every other asset by its served path, and to
        // nothing outside its origin.
        let index = std::str::from_utf8(ASSETS[0].body).unwrap();
        for asset in &ASSETS[1..] {
            if asset.path != "/playground/pcm-worklet.js" {
                assert!(
                    index.contains(asset.path),
                    "index.html misses {}",
                    asset.path
                );
            }
        }
        for asset in ASSETS {
            let text = std::str::from_utf8(asset.body)
                .unwrap()
                .replace("http://www.w3.org/2000/svg", "");
            assert!(
                !text.contains("http://") && !text.contains("https://") && !text.contains("//cdn"),
                "{} names another origin",
                asset.path
            );
        }
    }

    #[test]
    fn dev_key_hint_needs_loopback_and_the_file() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(dev_key_hint(true, dir.path()), None);
        std::fs::write(dir.path().join(DEV_KEY_FILE), "sk_secret\n").unwrap();
        let hint = dev_key_hint(true, dir.path()).unwrap();
        assert!(hint.ends_with(DEV_KEY_FILE));
        assert!(!hint.contains("sk_secret"));
        assert_eq!(dev_key_hint(false, dir.path()), None);
    }
}
