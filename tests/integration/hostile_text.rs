//! Text that crashes libespeak-ng (`s'` stacked 70+ times in one word aborts
//! it with `*** buffer overflow detected ***`) and other hostile input,
//! against the real server: `/v1/audio/speech` and `/ws/tts` answer with
//! audio or a clear error, never a dead process, and the server goes on
//! serving speech and `/healthz` afterwards.

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{dev_key, ServerProcess, Socket};

fn stacked(pairs: usize) -> String {
    format!("Hello {} world.", "s'".repeat(pairs))
}

/// The status of `POST /v1/audio/speech` with `input`, plus whether audio
/// came (the first chunk is read, then the response is dropped: long
/// syntheses stop when the client leaves) or the error code.
async fn speak(server: &ServerProcess, key: &str, input: &str) -> (u16, Result<usize, String>) {
    let response = reqwest::Client::new()
        .post(server.url("/v1/audio/speech"))
        .bearer_auth(key)
        .json(&json!({"input": input, "response_format": "pcm"}))
        .timeout(Duration::from_secs(300))
        .send()
        .await
        .unwrap_or_else(|e| panic!("no response for {:?}…: {e}", prefix(input)));
    let status = response.status().as_u16();
    if status == 200 {
        let mut response = response;
        let chunk = response.chunk().await.unwrap_or_else(|e| {
            panic!("body of {:?}… broke off: {e}", prefix(input));
        });
        (status, Ok(chunk.map_or(0, |c| c.len())))
    } else {
        let body: Value = response.json().await.expect("JSON error body");
        let code = body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(!code.is_empty(), "{body}");
        (status, Err(code))
    }
}

fn prefix(text: &str) -> String {
    text.chars().take(40).collect()
}

async fn healthy(server: &ServerProcess, key: &str) {
    let health = reqwest::get(server.url("/healthz"))
        .await
        .expect("/healthz");
    assert_eq!(health.status().as_u16(), 200);
    let response = reqwest::Client::new()
        .post(server.url("/v1/audio/speech"))
        .bearer_auth(key)
        .json(&json!({"input": "Hello world.", "response_format": "wav"}))
        .send()
        .await
        .expect("speech after hostile text");
    assert_eq!(response.status().as_u16(), 200);
    let wav = response.bytes().await.unwrap();
    assert!(wav.len() > 10_000, "{} bytes of WAV", wav.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_text_never_kills_the_server() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let key = dev_key(data.path());

    let cases = [
        stacked(100),
        stacked(80),
        stacked(300),
        format!(
            "The quick brown fox {} jumps over the {} lazy dog. It's James's rock'n'roll!",
            "s'".repeat(120),
            "'s".repeat(90)
        ),
        "s'".repeat(10_000),
        "x".repeat(20_000),
        "😀🎉👍".repeat(40),
        "\u{0}\u{1}Hello\u{7}\u{1b}[31m world\u{7f}\u{85}\u{feff}\u{202e}.\n\n\tNext\u{0}.".into(),
        "'".repeat(60_000) + &"?!".repeat(20_000),
        "word ".repeat(20_001),
    ];
    let mut accepted = 0;
    for input in &cases {
        let (status, outcome) = speak(&server, &key, input).await;
        match (&outcome, status) {
            (Ok(_), 200) => accepted += 1,
            (Err(_), 400..=499) => {}
            _ => panic!("{:?}…: {status} {outcome:?}", prefix(input)),
        }
        // After each one, the same server still speaks and is healthy.
        healthy(&server, &key).await;
        accepted += 1;
    }
    // The stacked clitics are spoken (bounded before espeak-ng), not refused.
    assert!(matches!(speak(&server, &key, &stacked(100)).await, (200, Ok(n)) if n > 0));
    // Over the request limit (100 000 characters): a clear 4xx.
    let (status, outcome) = speak(&server, &key, &"a ".repeat(50_001)).await;
    assert_eq!(status, 413, "{outcome:?}");
    healthy(&server, &key).await;
    accepted += 2;

    // Every accepted request wrote its usage row.
    let mut rows = 0;
    for _ in 0..600 {
        rows = server.usage(&key).await["sessions"]
            .as_array()
            .map_or(0, Vec::len);
        if rows >= accepted {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        rows >= accepted,
        "{rows} usage rows for {accepted} accepted requests"
    );
    assert!(
        !server
            .new_log_lines()
            .iter()
            .any(|l| l.contains("panicked")),
        "the server panicked"
    );
}

async fn next_json(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(120), socket.next())
            .await
            .expect("a message within 120 s");
        match message {
            Some(Ok(Message::Text(text))) => return serde_json::from_str(&text).expect("JSON"),
            Some(Ok(Message::Binary(_) | Message::Ping(_) | Message::Pong(_))) => {}
            other => panic!("socket ended: {other:?}"),
        }
    }
}

async fn until(socket: &mut Socket, kind: &str) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let message = next_json(socket).await;
        if message["type"] == kind {
            return seen;
        }
        seen.push(message);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_text_on_ws_tts_keeps_the_session() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let key = dev_key(data.path());
    let url = format!("ws://{}/ws/tts?apiKey={key}", server.addr);
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("upgrade");
    let send = |value: Value| Message::Text(value.to_string().into());
    socket
        .send(send(
            json!({"type": "start", "config": {"encoding": "linear16", "sample_rate": 16000}}),
        ))
        .await
        .unwrap();
    until(&mut socket, "session_started").await;
    for text in [
        stacked(100),
        stacked(300),
        "Now a normal sentence.".to_owned(),
    ] {
        socket
            .send(send(json!({"type": "text", "text": text})))
            .await
            .unwrap();
        socket.send(send(json!({"type": "flush"}))).await.unwrap();
        let others = until(&mut socket, "flushed").await;
        assert!(
            others.iter().all(|m| m["type"] == "error"),
            "unexpected messages: {others:?}"
        );
    }
    socket.send(send(json!({"type": "stop"}))).await.unwrap();
    let others = until(&mut socket, "session_stopped").await;
    assert!(others.iter().all(|m| m["type"] == "error"), "{others:?}");
    healthy(&server, &key).await;
}
