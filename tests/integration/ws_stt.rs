//! `/ws/stt` end to end: a 60db-style client streams real speech (Piper
//! voice, 8 kHz μ-law) to the real server and checks partials, finals,
//! billing, errors and close codes.

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{
    dev_key, read_to_close_code, speak_mulaw_8k, vocalis, wer, ServerProcess, Socket,
};

const FIRST: &str = "The quarterly report shows strong growth in every region.";
const SECOND: &str = "Please send the final numbers to the finance team by Friday.";

async fn connect(server: &ServerProcess, key: &str) -> Socket {
    let url = format!("ws://{}/ws/stt?apiKey={key}", server.addr);
    let (socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("upgrade");
    socket
}

/// The next JSON message, or `None` when the server closed (close frame kept in `closed`).
async fn next(socket: &mut Socket) -> Option<Value> {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(60), socket.next())
            .await
            .expect("a message within 60 s")?;
        match message.expect("valid frame") {
            Message::Text(text) => return Some(serde_json::from_str(&text).expect("JSON")),
            Message::Close(_) => return None,
            _ => {}
        }
    }
}

async fn expect_type(socket: &mut Socket, kind: &str) -> Value {
    let message = next(socket)
        .await
        .unwrap_or_else(|| panic!("closed while waiting for {kind}"));
    assert_eq!(message["type"], kind, "{message}");
    message
}

async fn handshake(socket: &mut Socket) -> Value {
    expect_type(socket, "connecting").await;
    expect_type(socket, "connection_established").await
}

fn two_sentences_with_pause() -> Vec<u8> {
    let mut audio = speak_mulaw_8k(FIRST);
    audio.extend(std::iter::repeat_n(0xFF, 8_000)); // 1 s of μ-law silence
    audio.extend(speak_mulaw_8k(SECOND));
    audio.extend(std::iter::repeat_n(0xFF, 4_000));
    audio
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telephony_client_gets_partials_finals_and_a_billing_summary() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let key = dev_key(data.path());
    let audio = two_sentences_with_pause();
    let mut socket = connect(&server, &key).await;

    let established = handshake(&mut socket).await;
    assert_eq!(established["connection_established"]["service"], "stt");
    assert_eq!(established["connection_established"]["tenant"], "default");
    socket
        .send(Message::Text(
            json!({"type": "start", "languages": ["en"],
                   "config": {"encoding": "mulaw", "sample_rate": 8000, "interim_results": true}})
            .to_string()
            .into(),
        ))
        .await
        .unwrap();
    let started = expect_type(&mut socket, "session_started").await;
    assert_eq!(started["config"]["encoding"], "mulaw");
    assert_eq!(started["config"]["utterance_end_ms"], 500);
    expect_type(&mut socket, "connected").await;

    // Stream 20 ms frames at real-time pace while reading what comes back.
    let (mut sink, mut stream) = socket.split();
    let sender = tokio::spawn(async move {
        let mut ticker = tokio::time::interval(Duration::from_millis(20));
        for frame in audio.chunks(160) {
            ticker.tick().await;
            sink.send(Message::Binary(frame.to_vec().into()))
                .await
                .unwrap();
        }
        sink.send(Message::Text(json!({"type": "stop"}).to_string().into()))
            .await
            .unwrap();
        (sink, audio.len())
    });
    let mut messages = Vec::new();
    let mut close_code = None;
    while let Some(message) = tokio::time::timeout(Duration::from_secs(120), stream.next())
        .await
        .unwrap()
    {
        match message.unwrap() {
            Message::Text(text) => messages.push(serde_json::from_str::<Value>(&text).unwrap()),
            Message::Close(frame) => {
                close_code = frame.map(|f| u16::from(f.code));
                break;
            }
            _ => {}
        }
    }
    let (_sink, bytes_sent) = sender.await.unwrap();
    assert_eq!(close_code, Some(1000), "{messages:#?}");

    let finals: Vec<&Value> = messages
        .iter()
        .filter(|m| m["type"] == "transcription" && m["is_final"] == true)
        .collect();
    let first_final = messages
        .iter()
        .position(|m| m["type"] == "transcription" && m["is_final"] == true)
        .expect("a final");
    let partials_before = messages[..first_final]
        .iter()
        .filter(|m| m["type"] == "transcription" && m["is_final"] == false)
        .count();
    assert!(
        partials_before >= 1,
        "no partial before the first final: {messages:#?}"
    );
    assert!(
        messages.iter().any(|m| m["type"] == "speech_started"),
        "{messages:#?}"
    );
    assert_eq!(finals.len(), 2, "{finals:#?}");
    for (index, f) in finals.iter().enumerate() {
        assert_eq!(f["speech_final"], true);
        assert_eq!(f["sentence_id"], index);
        assert!(!f["words"].as_array().unwrap().is_empty());
    }
    let heard: Vec<&str> = finals.iter().map(|f| f["text"].as_str().unwrap()).collect();
    let error = wer(&format!("{FIRST} {SECOND}"), &heard.join(" "));
    assert!(error <= 0.15, "WER {error:.2}: {heard:?}");
    // Each final is a sentence said before a pause: capital and full stop,
    // whether the beam or greedy decoding made it.
    for text in &heard {
        assert!(
            text.starts_with(char::is_uppercase) && text.ends_with(['.', '!', '?']),
            "{heard:?}"
        );
    }
    // A lone call on an idle server: its finals ask for the default beam
    // and at least one gets it.
    let beams = server
        .metric(&key, "vocalis_stt_live_beam_decodes_total")
        .await;
    assert!(beams >= 1.0, "{beams} beam finals");

    let stopped = messages
        .iter()
        .find(|m| m["type"] == "session_stopped")
        .expect("session_stopped");
    let summary = &stopped["billing_summary"];
    let seconds_sent = bytes_sent as f64 / 8000.0;
    let billed = summary["total_duration_seconds"].as_f64().unwrap();
    assert!(
        (billed - seconds_sent).abs() <= 0.1,
        "billed {billed} for {seconds_sent} s"
    );
    assert_eq!(summary["currency"], "USD");
    assert!(summary["total_cost"].as_f64().unwrap() > 0.0);

    let usage: Value = server.usage(&key).await;
    let sessions = usage["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1, "{usage}");
    assert_eq!(sessions[0]["session_id"], summary["session_id"]);
    assert_eq!(sessions[0]["outcome"], "ok");
}

#[tokio::test]
async fn binary_audio_without_start_is_telephony_mulaw() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let mut socket = connect(&server, &dev_key(data.path())).await;
    handshake(&mut socket).await;
    let mut audio = speak_mulaw_8k(FIRST);
    audio.extend(std::iter::repeat_n(0xFF, 8_000));
    for frame in audio.chunks(480) {
        socket
            .send(Message::Binary(frame.to_vec().into()))
            .await
            .unwrap();
    }
    socket
        .send(Message::Text(r#"{"type":"stop"}"#.into()))
        .await
        .unwrap();
    let (messages, code) = read_to_close_code(&mut socket).await;
    assert_eq!(code, Some(1000));
    let started = messages
        .iter()
        .find(|m| m["type"] == "session_started")
        .expect("implicit start");
    assert_eq!(started["config"]["encoding"], "mulaw");
    assert_eq!(started["config"]["sample_rate"], 8000);
    let text: Vec<&str> = messages
        .iter()
        .filter(|m| m["type"] == "transcription" && m["is_final"] == true)
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    let error = wer(FIRST, &text.join(" "));
    assert!(error <= 0.15, "WER {error:.2}: {text:?}");
}

#[tokio::test]
async fn bad_messages_get_errors_and_the_connection_stays_open() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let mut socket = connect(&server, &dev_key(data.path())).await;
    handshake(&mut socket).await;
    let cases = [
        ("{not json", "invalid_message"),
        (r#"{"type":"dance"}"#, "invalid_message"),
        (r#"{"type":"audio","audio":"AAAA"}"#, "not_started"),
        (r#"{"type":"finalize"}"#, "not_started"),
        (
            r#"{"type":"start","config":{"encoding":"opus"}}"#,
            "unsupported_encoding",
        ),
        (
            r#"{"type":"start","config":{"sample_rate":11025}}"#,
            "unsupported_sample_rate",
        ),
        (
            r#"{"type":"start","languages":["de"]}"#,
            "unsupported_language",
        ),
        // Settings that cannot be honoured are refused, never defaulted,
        // also inside the seed's `{"type","data"}` envelope.
        (
            r#"{"type":"start","config":{"continuous_mode":false}}"#,
            "unsupported_setting",
        ),
        (
            r#"{"type":"start","data":{"config":{"encoding":"flac"}}}"#,
            "unsupported_encoding",
        ),
        (
            r#"{"type":"start","data":{"config":{"encoding":"linear","sample_rate":12000}}}"#,
            "unsupported_sample_rate",
        ),
    ];
    for (text, code) in cases {
        socket.send(Message::Text(text.into())).await.unwrap();
        let error = expect_type(&mut socket, "error").await;
        assert_eq!(error["code"], code, "{text}: {error}");
        assert!(!error["error"].as_str().unwrap().is_empty());
    }
    socket
        .send(Message::Text(r#"{"type":"test"}"#.into()))
        .await
        .unwrap();
    let pong = expect_type(&mut socket, "test_response").await;
    assert!(pong["server_time"].as_u64().unwrap() > 0);
    // After a refused `start`, audio never opens a μ-law session by itself:
    // one `start_required` error, the rest is dropped unbilled.
    for _ in 0..3 {
        socket
            .send(Message::Binary(vec![0x7F; 160].into()))
            .await
            .unwrap();
    }
    assert_eq!(
        expect_type(&mut socket, "error").await["code"],
        "start_required"
    );
    socket
        .send(Message::Text(r#"{"type":"test"}"#.into()))
        .await
        .unwrap();
    expect_type(&mut socket, "test_response").await;
    socket
        .send(Message::Text(
            r#"{"type":"start","config":{"encoding":"linear","sample_rate":16000}}"#.into(),
        ))
        .await
        .unwrap();
    expect_type(&mut socket, "session_started").await;
    expect_type(&mut socket, "connected").await;
    socket
        .send(Message::Text(r#"{"type":"start"}"#.into()))
        .await
        .unwrap();
    assert_eq!(
        expect_type(&mut socket, "error").await["code"],
        "already_started"
    );
    socket
        .send(Message::Text(r#"{"type":"stop"}"#.into()))
        .await
        .unwrap();
    let (messages, code) = read_to_close_code(&mut socket).await;
    assert_eq!(code, Some(1000));
    assert!(messages.iter().any(|m| m["type"] == "session_stopped"));
}

/// A `start.config` field the server does not know (flat, enveloped or
/// mistyped) refuses the `start` naming the field; audio after it opens no
/// session and bills nothing; a `start` with every documented field is
/// accepted.
#[tokio::test]
async fn unknown_start_config_fields_are_refused_and_open_no_session() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let mut socket = connect(&server, &dev_key(data.path())).await;
    handshake(&mut socket).await;
    let refused = [
        (
            r#"{"type":"start","config":{"encoding":"linear","sample_rate":16000,"smart_format":true}}"#,
            "unsupported_setting",
            "smart_format",
        ),
        (
            r#"{"type":"start","data":{"languages":["en"],"config":{"encoding":"mulaw","vad_threshold":0.4}}}"#,
            "unsupported_setting",
            "vad_threshold",
        ),
        (
            r#"{"type":"start","config":{"sample_rate":"16000"}}"#,
            "invalid_message",
            "sample_rate",
        ),
    ];
    for (text, code, field) in refused {
        socket.send(Message::Text(text.into())).await.unwrap();
        let error = expect_type(&mut socket, "error").await;
        assert_eq!(error["code"], code, "{text}: {error}");
        assert!(
            error["error"].as_str().unwrap().contains(field),
            "{text}: {error}"
        );
        // No session: audio is refused once, never opens μ-law 8 kHz.
        socket
            .send(Message::Binary(vec![0x7F; 160].into()))
            .await
            .unwrap();
        assert_eq!(
            expect_type(&mut socket, "error").await["code"],
            "start_required",
            "{text}"
        );
        socket
            .send(Message::Text(r#"{"type":"test"}"#.into()))
            .await
            .unwrap();
        expect_type(&mut socket, "test_response").await;
    }
    let all = json!({"type": "start", "languages": ["en"], "context": "Vocalis",
        "config": {"encoding": "linear", "sample_rate": 16000, "utterance_end_ms": 700,
                   "continuous_mode": true, "interim_results": false, "diarize": false}});
    socket
        .send(Message::Text(all.to_string().into()))
        .await
        .unwrap();
    let started = expect_type(&mut socket, "session_started").await;
    assert_eq!(started["config"]["utterance_end_ms"], 700);
    assert_eq!(started["config"]["interim_results"], false);
    expect_type(&mut socket, "connected").await;
    socket
        .send(Message::Text(r#"{"type":"stop"}"#.into()))
        .await
        .unwrap();
    let (messages, code) = read_to_close_code(&mut socket).await;
    assert_eq!(code, Some(1000));
    let stopped = messages
        .iter()
        .find(|m| m["type"] == "session_stopped")
        .expect("session_stopped");
    // The refused starts' audio was never billed.
    assert_eq!(
        stopped["billing_summary"]["total_duration_seconds"], 0.0,
        "{stopped}"
    );
}

#[tokio::test]
async fn idle_sessions_close_1011_and_are_still_billed() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &["--idle-timeout-ms", "1500"]);
    let key = dev_key(data.path());
    let mut socket = connect(&server, &key).await;
    handshake(&mut socket).await;
    socket
        .send(Message::Binary(vec![0xFF; 1600].into()))
        .await
        .unwrap();
    let (messages, code) = read_to_close_code(&mut socket).await;
    assert_eq!(code, Some(1011), "{messages:#?}");
    assert!(
        messages
            .iter()
            .any(|m| m["type"] == "error" && m["code"] == "idle_timeout"),
        "{messages:#?}"
    );
    let stopped = messages
        .iter()
        .find(|m| m["type"] == "session_stopped")
        .expect("billing summary");
    assert!(
        (stopped["billing_summary"]["total_duration_seconds"]
            .as_f64()
            .unwrap()
            - 0.2)
            .abs()
            < 1e-6
    );
}

#[tokio::test]
async fn tenants_without_credit_are_closed_1008() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let created = vocalis(data.path())
        .args(["keys", "create", "--tenant", "broke", "--credits", "0"])
        .output()
        .unwrap();
    let key = String::from_utf8(created.stdout).unwrap().trim().to_owned();
    let mut socket = connect(&server, &key).await;
    let (messages, code) = read_to_close_code(&mut socket).await;
    assert_eq!(code, Some(1008), "{messages:#?}");
    assert!(messages.iter().any(|m| m["code"] == "insufficient_credits"));
}

#[tokio::test]
async fn oversized_frames_close_1009() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let mut socket = connect(&server, &dev_key(data.path())).await;
    handshake(&mut socket).await;
    let _ = socket
        .send(Message::Binary(vec![0xFF; 2 * 1024 * 1024].into()))
        .await;
    let (_, code) = read_to_close_code(&mut socket).await;
    assert_eq!(code.map(CloseCode::from), Some(CloseCode::Size));
}

#[tokio::test]
async fn wrong_key_is_refused_before_upgrade() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let url = format!(
        "ws://{}/ws/stt?apiKey=sk_live_wrongwrongwrongwrongwrongwrongwrongwr",
        server.addr
    );
    match tokio_tungstenite::connect_async(url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 401);
            let body: Value =
                serde_json::from_slice(response.body().as_deref().unwrap_or_default()).unwrap();
            assert_eq!(body["error"]["code"], "unauthorized");
        }
        other => panic!("expected 401, got {other:?}"),
    }
}
