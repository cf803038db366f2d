//! The server skeleton over real sockets: `/healthz`, JSON 404s, config
//! precedence (TOML file < env < flags), and the keep-alive pings of every
//! WebSocket route.

use std::time::Duration;

use futures_util::StreamExt as _;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{dev_key, ServerProcess};

#[tokio::test]
async fn healthz_answers_200_json() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let response = reqwest::get(server.url("/healthz")).await.unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert!(body["uptime_seconds"].as_f64().is_some(), "{body}");
}

#[tokio::test]
async fn unknown_path_is_a_json_404() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let response = reqwest::get(server.url("/nope")).await.unwrap();
    assert_eq!(response.status(), 404);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
}

#[test]
fn flag_overrides_toml_file() {
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("vocalis.toml");
    // The file asks for a fixed port; the flag (port 0) must win, or the
    // server would not report an ephemeral port.
    std::fs::write(&config, "listen = \"127.0.0.1:1\"\nmax_body_bytes = 4096\n").unwrap();
    let server = ServerProcess::start(data.path(), &["--config", config.to_str().unwrap()]);
    assert_ne!(server.addr.port(), 1);
}

#[test]
fn invalid_config_fails_fast_with_the_setting_named() {
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("vocalis.toml");
    std::fs::write(&config, "max_body_bytes = 3\n").unwrap();
    let output = crate::support::vocalis(data.path())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--config",
            config.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("max_body_bytes"), "{stderr}");
}

#[tokio::test]
async fn every_websocket_route_sends_pings() {
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("vocalis.toml");
    std::fs::write(&config, "ping_interval_ms = 200\n").unwrap();
    let server = ServerProcess::start(data.path(), &["--config", config.to_str().unwrap()]);
    let key = dev_key(data.path());
    for path in [
        format!("/ws/stt?apiKey={key}"),
        format!("/v1/listen?apiKey={key}&encoding=mulaw&sample_rate=8000"),
        format!("/ws/tts?apiKey={key}"),
        "/ws/health".to_owned(),
    ] {
        let url = format!("ws://{}{path}", server.addr);
        let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let mut seen = Vec::new();
        let pinged = loop {
            let message = tokio::time::timeout(Duration::from_secs(30), socket.next())
                .await
                .unwrap_or_else(|_| panic!("{path}: nothing for 30 s after {seen:?}"));
            match message {
                Some(Ok(Message::Ping(_))) => break true,
                Some(Ok(other)) => seen.push(other),
                Some(Err(_)) | None => break false,
            }
        };
        assert!(pinged, "{path}: closed without a ping; saw {seen:?}");
    }
}
