//! The playground page at `/` over real sockets: every asset embedded with
//! its content type and the strict security headers, the developer-key hint
//! (a path, never the key), and `GET /v1/voices`. The page itself is driven
//! in headless Chromium by `tests/browser` (`scripts/browser-tests.sh`).

use crate::support::{dev_key, ServerProcess};

#[tokio::test]
async fn playground_assets_headers_key_hint_and_voices() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let key = dev_key(data.path());
    let client = reqwest::Client::new();
    let host = server.addr.to_string();

    for (path, content_type) in [
        ("/", "text/html; charset=utf-8"),
        ("/playground/app.js", "text/javascript; charset=utf-8"),
        (
            "/playground/pcm-worklet.js",
            "text/javascript; charset=utf-8",
        ),
        ("/playground/style.css", "text/css; charset=utf-8"),
        ("/playground/icon.svg", "image/svg+xml"),
    ] {
        let response = client.get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers().clone();
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(header("content-type"), content_type, "{path}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        let csp = header("content-security-policy");
        assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
        assert!(csp.contains("script-src 'self';"), "{path}: {csp}");
        assert!(
            csp.contains(&format!("connect-src 'self' ws://{host} wss://{host};")),
            "{path}: {csp}"
        );
        assert!(
            !csp.contains("unsafe") && !csp.contains('*'),
            "{path}: {csp}"
        );
        let body = response.text().await.unwrap();
        assert!(!body.is_empty(), "{path}");
        if path == "/" {
            assert!(body.contains("/playground/app.js"), "{body}");
        }
    }

    // The hint names the key's file on a loopback server, never the key.
    let response = client
        .get(server.url("/playground/setup.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(!text.contains(&key), "the hint leaks the key: {text}");
    let setup: serde_json::Value = serde_json::from_str(&text).unwrap();
    let expected = data.path().join("dev-api-key");
    assert_eq!(setup["dev_key_path"], expected.display().to_string());

    // Voices need a key like every /v1 route.
    let response = client.get(server.url("/v1/voices")).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let voices: serde_json::Value = client
        .get(server.url("/v1/voices"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(voices["default"], "en_US-joe-medium", "{voices}");
    assert_eq!(voices["voices"][0]["id"], "en_US-joe-medium", "{voices}");
    assert_eq!(voices["voices"][0]["language"], "en_US", "{voices}");
    assert_eq!(voices["voices"][0]["sample_rate"], 22050, "{voices}");
    assert_eq!(voices["voices"][0]["default"], true, "{voices}");

    // Unknown paths stay JSON 404s (the page does not swallow the fallback).
    let response = client
        .get(server.url("/playground/nope.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}
