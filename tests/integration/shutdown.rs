//! Shutdown and crashes: SIGTERM finalizes open `/ws/stt` and `/ws/tts`
//! sessions (finals, billing summary, close 1001, one ledger row each);
//! `kill -9` leaves a consistent database (`PRAGMA integrity_check`), loses
//! nothing already billed, and a live session's usage survives up to its
//! last 10 s checkpoint.

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{dev_key, read_to_close_code, speak_mulaw_8k, ServerProcess, Socket};

/// Audio a checkpointed session may lose to a crash: one checkpoint interval.
const CHECKPOINT_SECONDS: f64 = 10.0;

/// `PRAGMA integrity_check` of the server's database in `data_dir`.
fn integrity_check(data_dir: &std::path::Path) -> String {
    let db = rusqlite::Connection::open(data_dir.join("vocalis.sqlite3")).expect("open the ledger");
    db.query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .expect("integrity_check")
}

/// Opens `/ws/tts`, sends `text` and waits for its first audio frame.
async fn open_tts_speaking(server: &ServerProcess, key: &str, text: &str) -> (Socket, String) {
    let url = format!("ws://{}/ws/tts?apiKey={key}", server.addr);
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let start = r#"{"type":"start","config":{"encoding":"linear16","sample_rate":16000}}"#;
    socket.send(Message::Text(start.into())).await.unwrap();
    let text = serde_json::json!({"type": "text", "text": text}).to_string();
    socket.send(Message::Text(text.into())).await.unwrap();
    socket
        .send(Message::Text(r#"{"type":"flush"}"#.into()))
        .await
        .unwrap();
    let mut session_id = None;
    loop {
        let message = tokio::time::timeout(Duration::from_secs(120), socket.next())
            .await
            .expect("audio within 120 s")
            .expect("open socket")
            .unwrap();
        match message {
            Message::Text(text) => {
                let message: Value = serde_json::from_str(&text).unwrap();
                if message["type"] == "session_started" {
                    session_id = message["session_id"].as_str().map(str::to_owned);
                }
            }
            Message::Binary(_) => break,
            _ => {}
        }
    }
    (socket, session_id.expect("session_started before audio"))
}

/// Every message up to the close (audio skipped) and the close code.
async fn tts_to_close(socket: &mut Socket) -> (Vec<Value>, Option<u16>) {
    let mut messages = Vec::new();
    loop {
        let next = tokio::time::timeout(Duration::from_secs(120), socket.next())
            .await
            .expect("the server closes within 120 s");
        match next {
            Some(Ok(Message::Text(text))) => messages.push(serde_json::from_str(&text).unwrap()),
            Some(Ok(Message::Close(frame))) => return (messages, frame.map(|f| u16::from(f.code))),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return (messages, None),
        }
    }
}

/// The `billing_summary` of a `session_stopped` among `messages`.
fn billing_summary(messages: &[Value]) -> Value {
    messages
        .iter()
        .find(|m| m["type"] == "session_stopped")
        .unwrap_or_else(|| panic!("no session_stopped in {messages:#?}"))["billing_summary"]
        .clone()
}

/// The ledger rows of `session_id` in a `/v1/usage` answer.
fn rows_of<'a>(usage: &'a Value, session_id: &str) -> Vec<&'a Value> {
    usage["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["session_id"] == session_id)
        .collect()
}

/// Opens new connections until one is refused with a 503 (the signal may
/// take a moment to arrive); its JSON body.
async fn refused_while_draining(server: &ServerProcess) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        // No pooling: every request is a new connection.
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        let response = client
            .get(server.url("/healthz"))
            .send()
            .await
            .expect("the listener stays open while sessions drain");
        if response.status() == 503 {
            return response.json().await.expect("JSON 503");
        }
        assert_eq!(response.status(), 200);
        assert!(
            std::time::Instant::now() < deadline,
            "no 503 within 30 s of SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

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
    let key = dev_key(data.path());
    // A synthesis in full flow: a dozen sentences, the first one's audio out.
    let long = "The quick brown fox jumps over the lazy dog near the river bank. ".repeat(12);
    let (mut tts, tts_id) = open_tts_speaking(&server, &key, &long).await;
    let mut socket = open_session(&server, &key).await;
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
    // While the sessions drain (the TTS one is not even read yet), new
    // connections are refused with a 503.
    let refused = refused_while_draining(&server).await;
    assert_eq!(refused["error"]["code"], "shutting_down", "{refused}");
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
    let stt_summary = billing_summary(&messages);
    let (tts_messages, tts_code) = tts_to_close(&mut tts).await;
    assert_eq!(tts_code, Some(1001), "{tts_messages:#?}");
    let tts_summary = billing_summary(&tts_messages);
    assert_eq!(tts_summary["session_id"], tts_id.as_str());
    assert!(
        tts_summary["characters"].as_u64().unwrap() > 0,
        "{tts_summary}"
    );
    let status = server
        .wait_exit(Duration::from_secs(30))
        .expect("the server exits within 30 s of SIGTERM");
    assert!(status.success(), "{status:?}");

    // One closed ledger row per session, matching what the client was told.
    let server = ServerProcess::start(data.path(), &[]);
    let usage = server.usage(&key).await;
    for summary in [&stt_summary, &tts_summary] {
        let rows = rows_of(&usage, summary["session_id"].as_str().unwrap());
        assert_eq!(rows.len(), 1, "{summary} {usage}");
        assert_eq!(rows[0]["outcome"], "server_error", "{usage}");
        assert_eq!(rows[0]["error_code"], "shutting_down", "{usage}");
        let cost = rows[0]["cost"].as_f64().unwrap();
        assert!(
            (cost - summary["total_cost"].as_f64().unwrap()).abs() < 1e-9,
            "{summary} {usage}"
        );
    }
    assert_eq!(usage["sessions"].as_array().unwrap().len(), 2, "{usage}");
}

#[tokio::test]
async fn kill_9_mid_session_keeps_every_billed_session() {
    let data = tempfile::tempdir().unwrap();
    let key;
    let billed;
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
        let stt_summary = billing_summary(&messages);
        let (mut tts, _) = open_tts_speaking(&server, &key, "Your call is important to us.").await;
        tts.send(Message::Text(r#"{"type":"stop"}"#.into()))
            .await
            .unwrap();
        let (messages, code) = tts_to_close(&mut tts).await;
        assert_eq!(code, Some(1000));
        billed = [stt_summary, billing_summary(&messages)];
        let mut second = open_session(&server, &key).await;
        second
            .send(Message::Binary(vec![0xFF; 16_000].into()))
            .await
            .unwrap();
        server.signal("KILL");
        server.wait_exit(Duration::from_secs(10)).expect("killed");
    }
    let server = ServerProcess::start(data.path(), &[]);
    assert_eq!(integrity_check(data.path()), "ok");
    let usage: Value = server.usage(&key).await;
    // Every session the client got a billing summary for, as billed.
    for summary in &billed {
        let rows = rows_of(&usage, summary["session_id"].as_str().unwrap());
        assert_eq!(rows.len(), 1, "{summary} {usage}");
        assert_eq!(rows[0]["outcome"], "ok", "{usage}");
        let cost = rows[0]["cost"].as_f64().unwrap();
        assert!(
            (cost - summary["total_cost"].as_f64().unwrap()).abs() < 1e-9,
            "{summary} {usage}"
        );
    }
    // The killed session had sent 2 s: no checkpoint was due, none is billed.
    let stt_seconds: f64 = usage["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["route"] == "/ws/stt")
        .map(|s| s["audio_seconds"].as_f64().unwrap())
        .sum();
    assert!((stt_seconds - 1.0).abs() < 1e-6, "{usage}");
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
    assert_eq!(integrity_check(data.path()), "ok");
    let usage: Value = server.usage(&key).await;
    let sessions = usage["sessions"].as_array().unwrap();
    let row = sessions
        .iter()
        .find(|s| s["session_id"] == session_id.as_str())
        .unwrap_or_else(|| panic!("no usage row for {session_id}: {usage}"));
    assert_eq!(row["outcome"], "open", "{row}");
    let audio = row["audio_seconds"].as_f64().unwrap();
    // At most one checkpoint interval is lost (here: the 6 s after the 20 s one).
    assert!(audio <= 26.0 && 26.0 - audio <= CHECKPOINT_SECONDS, "{row}");
    assert!((20.0..=26.0).contains(&audio), "{row}");
    // $0.003 per minute, billed for what the last checkpoint recorded.
    let cost = row["cost"].as_f64().unwrap();
    assert!((cost - audio / 60.0 * 0.003).abs() < 2e-6, "{row}");
}
