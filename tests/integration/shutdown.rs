//! Shutdown and crashes: SIGTERM finalizes open sessions (finals, billing
//! summary, close 1001); `kill -9` loses nothing already billed, and a live
//! session's usage survives up to its last 10 s checkpoint.

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{dev_key, read_to_close_code, speak_mulaw_8k, ServerProcess, Socket};

async fn open_session(server: &ServerProcess, key: &str) -> Socket {
    let url = format!("ws://{}/ws/stt?apiKey={key}", server.addr);
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    socket
        .send(Message::Text(
            r#"{"type":"start","config":{"encoding":"mulaw","sample_rate":8000}}"#.into(),
        ))
        .await
        .unwrap();
    socket
}

#[tokio::test]
async fn sigterm_finalizes_open_sessions_and_closes_1001() {
    let data = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(data.path(), &[]);
    let mut socket = open_session(&server, &dev_key(data.path())).await;
    // Speech with no trailing silence: only the shutdown can end the utterance.
    for frame in speak_mulaw_8k("Please hold while I transfer your call.").chunks(160) {
        socket
            .send(Message::Binary(frame.to_vec().into()))
            .await
            .unwrap();
    }
    socket
        .send(Message::Text(r#"{"type":"test"}"#.into()))
        .await
        .unwrap();
    // Once the test answer is back, every audio frame before it was read.
    loop {
        let message = tokio::time::timeout(Duration::from_secs(30), socket.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let Message::Text(text) = message {
            if serde_json::from_str::<Value>(&text).unwrap()["type"] == "test_response" {
                break;
            }
        }
    }
    server.signal("TERM");
    let (messages, code) = read_to_close_code(&mut socket).await;
    assert_eq!(code, Some(1001), "{messages:#?}");
    let final_text: Vec<&str> = messages
        .iter()
        .filter(|m| m["type"] == "transcription" && m["is_final"] == true)
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert!(
        final_text.join(" ").to_lowercase().contains("transfer"),
        "{messages:#?}"
    );
    assert!(
        messages.iter().any(|m| m["type"] == "session_stopped"),
        "{messages:#?}"
    );
    let status = server
        .wait_exit(Duration::from_secs(30))
        .expect("the server exits after draining");
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn kill_9_mid_session_keeps_every_billed_session() {
    let data = tempfile::tempdir().unwrap();
    let key;
    let billed_session;
    {
        let mut server = ServerProcess::start(data.path(), &[]);
        key = dev_key(data.path());
        let mut first = open_session(&server, &key).await;
        first
            .send(Message::Binary(vec![0xFF; 8_000].into()))
            .await
            .unwrap();
        first
            .send(Message::Text(r#"{"type":"stop"}"#.into()))
            .await
            .unwrap();
        let (messages, code) = read_to_close_code(&mut first).await;
        assert_eq!(code, Some(1000));
        billed_session = messages
            .iter()
            .find(|m| m["type"] == "session_stopped")
            .expect("billing summary")["billing_summary"]["session_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let mut second = open_session(&server, &key).await;
        second
            .send(Message::Binary(vec![0xFF; 16_000].into()))
            .await
            .unwrap();
        server.signal("KILL");
        server.wait_exit(Duration::from_secs(10)).expect("killed");
    }
    let server = ServerProcess::start(data.path(), &[]);
    let usage: Value = server.usage(&key).await;
    let sessions = usage["sessions"].as_array().unwrap();
    assert!(
        sessions
            .iter()
            .any(|s| s["session_id"] == billed_session.as_str()),
        "{usage}"
    );
    assert!(
        (usage["totals"]["audio_seconds"].as_f64().unwrap() - 1.0).abs() < 1e-6,
        "{usage}"
    );
}

#[tokio::test]
async fn kill_9_after_25_s_of_audio_keeps_the_checkpointed_usage() {
    let data = tempfile::tempdir().unwrap();
    let key;
    let session_id;
    {
        let mut server = ServerProcess::start(data.path(), &[]);
        key = dev_key(data.path());
        let mut socket = open_session(&server, &key).await;
        // 26 s of μ-law silence, sent as fast as the socket takes it.
        for _ in 0..26 {
            socket
                .send(Message::Binary(vec![0xFF; 8_000].into()))
                .await
                .unwrap();
        }
        socket
            .send(Message::Text(r#"{"type":"test"}"#.into()))
            .await
            .unwrap();
        // The test answer comes after every audio frame before it was read
        // (and every checkpoint it was due for was written).
        let mut started = None;
        loop {
            let message = tokio::time::timeout(Duration::from_secs(60), socket.next())
                .await
                .expect("test_response within 60 s")
                .expect("open socket")
                .unwrap();
            let Message::Text(text) = message else {
                continue;
            };
            let message: Value = serde_json::from_str(&text).unwrap();
            if message["type"] == "session_started" {
                started = message["session_id"].as_str().map(str::to_owned);
            }
            if message["type"] == "test_response" {
                break;
            }
        }
        session_id = started.expect("session_started before test_response");
        server.signal("KILL");
        server.wait_exit(Duration::from_secs(10)).expect("killed");
    }
    let server = ServerProcess::start(data.path(), &[]);
    let usage: Value = server.usage(&key).await;
    let sessions = usage["sessions"].as_array().unwrap();
    let row = sessions
        .iter()
        .find(|s| s["session_id"] == session_id.as_str())
        .unwrap_or_else(|| panic!("no usage row for {session_id}: {usage}"));
    assert_eq!(row["outcome"], "open", "{row}");
    let audio = row["audio_seconds"].as_f64().unwrap();
    assert!((20.0..=26.0).contains(&audio), "{row}");
    // $0.003 per minute, billed for what the last checkpoint recorded.
    let cost = row["cost"].as_f64().unwrap();
    assert!((cost - audio / 60.0 * 0.003).abs() < 2e-6, "{row}");
}
