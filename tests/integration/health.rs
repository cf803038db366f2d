//! `/ws/health` (plain GET and WebSocket) and `/metrics` on a real server.

use futures_util::{SinkExt as _, StreamExt as _};
use tokio_tungstenite::tungstenite::Message;

use crate::support::ServerProcess;

#[tokio::test]
async fn ws_health_answers_plain_get_and_pushes_over_websocket() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);

    let response = reqwest::get(server.url("/ws/health")).await.unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["type"], "health");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["models"]["stt"][0], "tiny.en");
    assert_eq!(body["models"]["tts"][0], "en_US-joe-medium");
    assert_eq!(body["models"]["vad"], true);
    assert_eq!(body["workers"]["total"], 3, "{body}");

    let (mut socket, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/ws/health", server.addr))
            .await
            .unwrap();
    let first = next_json(&mut socket).await;
    assert_eq!(first["type"], "health");
    socket
        .send(Message::Text(r#"{"type":"ping"}"#.into()))
        .await
        .unwrap();
    let second = next_json(&mut socket).await;
    assert_eq!(second["type"], "health");
    assert!(second["uptime_s"].as_f64() >= first["uptime_s"].as_f64());
}

#[tokio::test]
async fn metrics_are_prometheus_text() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let response = reqwest::get(server.url("/metrics")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = response.text().await.unwrap();
    for needle in [
        "# TYPE vocalis_sessions_active gauge",
        "vocalis_sessions_total{route=\"/ws/stt\"} 0",
        "vocalis_stt_workers 2",
        "vocalis_stt_final_latency_seconds_count 0",
        "vocalis_stt_partials_shed_total 0",
        "# TYPE vocalis_stt_live_beam_decodes_total counter",
        "vocalis_stt_live_beam_decodes_total 0",
        "vocalis_stt_live_beam_declined_total 0",
        "vocalis_stt_final_queue_wait_seconds_count 0",
        "vocalis_stt_partial_queue_wait_seconds_sum 0",
    ] {
        assert!(text.contains(needle), "missing `{needle}` in\n{text}");
    }
}

async fn next_json<S>(socket: &mut S) -> serde_json::Value
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let message = tokio::time::timeout(std::time::Duration::from_secs(30), socket.next())
            .await
            .expect("a message within 30 s")
            .expect("socket open")
            .expect("valid frame");
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).expect("JSON");
        }
    }
}
