//! Authentication over real HTTP: missing, wrong and revoked keys get a 401
//! JSON error; a key revoked while the server runs fails at once; a JWT
//! opens a session billed to its `sub` tenant, at that tenant's prices.

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{create_key, vocalis, ServerProcess};

#[tokio::test]
async fn wrong_missing_and_revoked_keys_are_401_json() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let key = create_key(data.path(), "acme", &[]);
    let client = reqwest::Client::new();
    let usage = server.url("/v1/usage");

    let ok = client.get(&usage).bearer_auth(&key).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    let body: serde_json::Value = ok.json().await.unwrap();
    assert_eq!(body["tenant"], "acme");
    assert_eq!(body["totals"]["sessions"], 0);

    let by_query = client
        .get(format!("{usage}?apiKey={key}"))
        .send()
        .await
        .unwrap();
    assert_eq!(by_query.status(), 200);

    for request in [
        client.get(&usage),
        client
            .get(&usage)
            .bearer_auth("sk_live_wrongwrongwrongwrongwrongwrongwrongwr"),
        client.get(&usage).bearer_auth("not-a-jwt"),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unauthorized", "{body}");
        assert!(body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }

    let revoke = vocalis(data.path())
        .args(["keys", "revoke", &key[..16]])
        .output()
        .unwrap();
    assert!(revoke.status.success());
    let after = client.get(&usage).bearer_auth(&key).send().await.unwrap();
    assert_eq!(
        after.status(),
        401,
        "revoked key still accepted by the running server"
    );
}

fn jwt(secret: &str, sub: &str) -> String {
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 300;
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"sub": sub, "exp": exp}),
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

#[tokio::test]
async fn a_jwt_opens_ws_stt_for_its_tenant_at_the_tenants_price() {
    const SECRET: &str = "integration-test-secret-0123456789abcdef";
    let data = tempfile::tempdir().unwrap();
    let created = vocalis(data.path())
        .args([
            "keys",
            "create",
            "--tenant",
            "acme",
            "--stt-price-per-minute",
            "0.6",
            "--tts-price-per-1k-characters",
            "0.02",
        ])
        .output()
        .unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let config = data.path().join("vocalis.toml");
    std::fs::write(&config, format!("[jwt]\nhs256_secret = \"{SECRET}\"\n")).unwrap();
    let server = ServerProcess::start(data.path(), &["--config", config.to_str().unwrap()]);

    // A token for a tenant that does not exist, or signed with another
    // secret, is a 401 before any upgrade.
    for token in [
        jwt(SECRET, "nobody"),
        jwt("another-secret-0123456789abcdef0123456789", "acme"),
    ] {
        let response = reqwest::get(server.url(&format!("/ws/stt?token={token}")))
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
    }

    let url = format!("ws://{}/ws/stt?token={}", server.addr, jwt(SECRET, "acme"));
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("upgrade");
    socket
        .send(Message::Text(r#"{"type":"start"}"#.into()))
        .await
        .unwrap();
    // One second of 8 kHz μ-law silence.
    socket
        .send(Message::Binary(vec![0xFF; 8_000].into()))
        .await
        .unwrap();
    socket
        .send(Message::Text(r#"{"type":"stop"}"#.into()))
        .await
        .unwrap();
    let mut messages = Vec::new();
    while let Some(message) = tokio::time::timeout(Duration::from_secs(60), socket.next())
        .await
        .expect("the session ends within 60 s")
    {
        match message.unwrap() {
            Message::Text(text) => messages.push(serde_json::from_str::<Value>(&text).unwrap()),
            Message::Close(_) => break,
            _ => {}
        }
    }
    let established = messages
        .iter()
        .find(|m| m["type"] == "connection_established")
        .unwrap_or_else(|| panic!("{messages:#?}"));
    assert_eq!(established["connection_established"]["tenant"], "acme");
    let summary = &messages
        .iter()
        .find(|m| m["type"] == "session_stopped")
        .unwrap_or_else(|| panic!("{messages:#?}"))["billing_summary"];
    assert_eq!(summary["rate_per_minute"], 0.6, "{summary}");
    assert_eq!(summary["total_duration_seconds"], 1.0, "{summary}");
    assert_eq!(summary["total_cost"], 0.01, "{summary}");
}
