//! Credit and ledger enforcement against the real server: a tenant without
//! credit is refused (402) on every billable route, a live session stops
//! where its credit runs out (final, billing summary, close 1008), and an
//! unwritable ledger (a full disk: a tiny tmpfs filled up) refuses billable
//! work with 503 until space is back, so nothing is served unmetered.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{create_key, dev_key, speak_mulaw_8k, ServerProcess};

const SENTENCE: &str = "The quarterly report shows strong growth in every region.";

/// Creates a key for a new tenant with `credits` dollars (and own prices).
/// A billable REST request: (status, `x-request-id`, JSON body).
async fn post(
    server: &ServerProcess,
    key: &str,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, String, Value) {
    let response = reqwest::Client::new()
        .post(server.url(path))
        .bearer_auth(key)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let id = response
        .headers()
        .get("x-request-id")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.bytes().await.unwrap();
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (status, id, json)
}

fn speech_request() -> Vec<u8> {
    json!({"input": "Hello there.", "encoding": "mulaw"})
        .to_string()
        .into_bytes()
}

fn email_request() -> Vec<u8> {
    json!({"to": "someone@example.com", "subject": "Hi", "content": "Hello"})
        .to_string()
        .into_bytes()
}

/// A gateway JSON transcription request; these requests are refused
/// before the body is read, so the audio is only a placeholder.
fn transcription_request() -> Vec<u8> {
    json!({"audio": "AAAA", "model": "whisper-1"})
        .to_string()
        .into_bytes()
}

const LISTEN: &str = "/v1/listen?encoding=mulaw&sample_rate=8000";

/// Asserts the common error shape with `code`.
fn assert_code(status: u16, body: &Value, expected_status: u16, code: &str) {
    assert_eq!(status, expected_status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
}

/// Asserts Deepgram's error shape with `err_code`, naming the request.
fn assert_deepgram(status: u16, id: &str, body: &Value, expected_status: u16, err_code: &str) {
    assert_eq!(status, expected_status, "{body}");
    assert_eq!(body["err_code"], err_code, "{body}");
    assert!(
        body["err_msg"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert_eq!(body["request_id"], id, "{body}");
}

/// `WS /v1/listen` refused before the upgrade: (status, body).
async fn listen_ws_refusal(server: &ServerProcess, key: &str) -> (u16, Value) {
    let url = format!(
        "ws://{}/v1/listen?encoding=mulaw&sample_rate=8000&apiKey={key}",
        server.addr
    );
    match tokio_tungstenite::connect_async(url).await {
        Ok(_) => panic!("the upgrade was accepted"),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let body = response.body().clone().unwrap_or_default();
            (
                response.status().as_u16(),
                serde_json::from_slice(&body).unwrap_or(Value::Null),
            )
        }
        Err(other) => panic!("unexpected error: {other}"),
    }
}

/// Streams `audio` (8 kHz μ-law) to `/ws/stt` at real-time pace until the
/// server closes; the messages and the close code and reason.
async fn stream_stt(
    server: &ServerProcess,
    key: &str,
    audio: Vec<u8>,
) -> (Vec<Value>, (u16, String)) {
    let url = format!("ws://{}/ws/stt?apiKey={key}", server.addr);
    let (socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("upgrade");
    let (mut sink, mut stream) = socket.split();
    let start = json!({"type": "start", "languages": ["en"],
                       "config": {"encoding": "mulaw", "sample_rate": 8000}});
    sink.send(Message::Text(start.to_string().into()))
        .await
        .unwrap();
    let sender = tokio::spawn(async move {
        let mut ticker = tokio::time::interval(Duration::from_millis(20));
        for frame in audio.chunks(160) {
            ticker.tick().await;
            if sink
                .send(Message::Binary(frame.to_vec().into()))
                .await
                .is_err()
            {
                return; // The server ended the session.
            }
        }
        let _ = sink
            .send(Message::Text(json!({"type": "stop"}).to_string().into()))
            .await;
    });
    let mut messages = Vec::new();
    let close = loop {
        let next = tokio::time::timeout(Duration::from_secs(120), stream.next())
            .await
            .expect("the server answers within 120 s");
        match next {
            Some(Ok(Message::Text(text))) => messages.push(serde_json::from_str(&text).unwrap()),
            Some(Ok(Message::Close(frame))) => {
                break frame.map_or((0, String::new()), |f| {
                    (u16::from(f.code), f.reason.to_string())
                })
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => break (0, String::new()),
        }
    };
    sender.abort();
    (messages, close)
}

/// Sends `text` to `/ws/tts` (session dialect) and reads until the server
/// closes; the JSON messages and the close code and reason.
async fn synthesize(server: &ServerProcess, key: &str, text: &str) -> (Vec<Value>, (u16, String)) {
    let url = format!("ws://{}/ws/tts?apiKey={key}", server.addr);
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("upgrade");
    for message in [
        json!({"type": "start", "config": {"encoding": "linear16", "sample_rate": 16000}}),
        json!({"type": "text", "text": text}),
        json!({"type": "flush"}),
    ] {
        socket
            .send(Message::Text(message.to_string().into()))
            .await
            .unwrap();
    }
    let mut messages = Vec::new();
    loop {
        let next = tokio::time::timeout(Duration::from_secs(120), socket.next())
            .await
            .expect("the server answers within 120 s");
        match next {
            Some(Ok(Message::Text(text))) => messages.push(serde_json::from_str(&text).unwrap()),
            Some(Ok(Message::Close(frame))) => {
                let close = frame.map_or((0, String::new()), |f| {
                    (u16::from(f.code), f.reason.to_string())
                });
                return (messages, close);
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return (messages, (0, String::new())),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credit_is_enforced_on_every_billable_route() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let sentence = speak_mulaw_8k(SENTENCE);

    // A tenant with a limit and no credit: refused everywhere, no row.
    let broke = create_key(data.path(), "broke", &["--credits", "0"]);
    let (status, id, body) = post(
        &server,
        &broke,
        "/v1/audio/transcriptions",
        "application/json",
        transcription_request(),
    )
    .await;
    assert_code(status, &body, 402, "insufficient_credits");
    assert!(!id.is_empty());
    let (status, _, body) = post(
        &server,
        &broke,
        "/v1/audio/speech",
        "application/json",
        speech_request(),
    )
    .await;
    assert_code(status, &body, 402, "insufficient_credits");
    let (status, _, body) = post(
        &server,
        &broke,
        "/v1/email/send",
        "application/json",
        email_request(),
    )
    .await;
    assert_code(status, &body, 402, "insufficient_credits");
    let (status, id, body) = post(&server, &broke, LISTEN, "audio/basic", sentence.clone()).await;
    assert_deepgram(status, &id, &body, 402, "ASR_PAYMENT_REQUIRED");
    let (status, body) = listen_ws_refusal(&server, &broke).await;
    assert_eq!(status, 402, "{body}");
    assert_eq!(body["err_code"], "ASR_PAYMENT_REQUIRED", "{body}");
    assert!(
        body["request_id"].as_str().is_some_and(|id| !id.is_empty()),
        "{body}"
    );
    let usage = server.usage(&broke).await;
    assert_eq!(
        usage["totals"]["sessions"], 0,
        "refused work is not recorded: {usage}"
    );

    // An unlimited tenant is served as before.
    let unlimited = dev_key(data.path());
    let (status, _, body) =
        post(&server, &unlimited, LISTEN, "audio/basic", sentence.clone()).await;
    assert_eq!(status, 200, "{body}");

    // 12 s of credit at $1 per minute-of-audio-second ($60/min), ~30 s sent:
    // the session ends where the credit runs out, with its final, its
    // billing summary and close 1008.
    let tiny = create_key(
        data.path(),
        "tiny",
        &["--credits", "12", "--stt-price-per-minute", "60"],
    );
    let mut audio = Vec::new();
    while audio.len() < 30 * 8000 {
        audio.extend_from_slice(&sentence);
        audio.extend(std::iter::repeat_n(0xFF, 8_000));
    }
    let sent_seconds = audio.len() as f64 / 8000.0;
    let (messages, (code, reason)) = stream_stt(&server, &tiny, audio).await;
    assert_eq!(
        (code, reason.as_str()),
        (1008, "INSUFFICIENT_CREDITS"),
        "{messages:#?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m["type"] == "transcription" && m["is_final"] == true),
        "no final: {messages:#?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m["type"] == "error" && m["code"] == "insufficient_credits"),
        "{messages:#?}"
    );
    let summary = &messages
        .iter()
        .find(|m| m["type"] == "session_stopped")
        .unwrap_or_else(|| panic!("no billing summary: {messages:#?}"))["billing_summary"];
    let billed = summary["total_duration_seconds"].as_f64().unwrap();
    let balance = summary["credit_balance"].as_f64().unwrap();
    assert!(
        billed < sent_seconds - 5.0,
        "billed {billed} of {sent_seconds} s"
    );
    // Never more negative than one checkpoint (10 s at $1/s).
    assert!(
        (-10.0..=0.0).contains(&balance),
        "balance {balance}: {summary}"
    );
    let usage = server.usage(&tiny).await;
    let sessions = usage["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1, "{usage}");
    assert_eq!(sessions[0]["session_id"], summary["session_id"]);
    assert_eq!(sessions[0]["error_code"], "insufficient_credits");
    assert_eq!(
        sessions[0]["audio_seconds"],
        summary["total_duration_seconds"]
    );

    // Synthesis too: 5 cents at $1 per 1 000 characters is 50 characters;
    // the session stops after the sentence that used them up, with its bill.
    let tts = create_key(
        data.path(),
        "tinytts",
        &["--credits", "0.05", "--tts-price-per-1k-characters", "1"],
    );
    let text = [SENTENCE; 6].join(" ");
    let (messages, (code, reason)) = synthesize(&server, &tts, &text).await;
    assert_eq!(
        (code, reason.as_str()),
        (1008, "INSUFFICIENT_CREDITS"),
        "{messages:#?}"
    );
    let summary = &messages
        .iter()
        .find(|m| m["type"] == "session_stopped")
        .unwrap_or_else(|| panic!("no billing summary: {messages:#?}"))["billing_summary"];
    let characters = summary["characters"].as_u64().unwrap();
    assert!(
        characters >= 50 && characters < text.chars().count() as u64,
        "{summary}"
    );
    let balance = summary["credit_balance"].as_f64().unwrap();
    // Never more negative than one sentence (under 0.1 $ here).
    assert!(
        (-0.1..=0.0).contains(&balance),
        "balance {balance}: {summary}"
    );
    assert_eq!(server.usage(&tts).await["totals"]["sessions"], 1);

    // Out of credit now: the next request is refused.
    let (status, id, body) = post(&server, &tiny, LISTEN, "audio/basic", sentence).await;
    assert_deepgram(status, &id, &body, 402, "ASR_PAYMENT_REQUIRED");
}

/// A tmpfs mounted for one test, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Self {
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mounting a tmpfs needs root (CAP_SYS_ADMIN): this test fills a real disk"
        );
        Self(dir.to_owned())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Writes a file until the disk is full.
fn fill(path: &Path) {
    use std::io::Write as _;
    let mut file = std::fs::File::create(path).unwrap();
    let block = vec![0u8; 64 * 1024];
    loop {
        match file.write(&block) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    let _ = file.sync_all();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_closes_billable_work_until_space_is_back() {
    let parent = tempfile::tempdir().unwrap();
    let disk = Tmpfs::mount(parent.path(), "4m");
    let data = disk.0.join("data");
    let server = ServerProcess::start(&data, &[]);
    let key = dev_key(&data);
    let sentence = speak_mulaw_8k(SENTENCE);
    let mut served = 0;

    let (status, _, body) = post(&server, &key, LISTEN, "audio/basic", sentence.clone()).await;
    assert_eq!(status, 200, "{body}");
    served += 1;

    // The disk fills up: the transcription is done, but its usage cannot be
    // written, so its result is withheld.
    let filler = disk.0.join("filler");
    fill(&filler);
    let (status, id, body) = post(&server, &key, LISTEN, "audio/basic", sentence.clone()).await;
    assert_deepgram(status, &id, &body, 503, "LEDGER_UNAVAILABLE");
    // New billable work is refused on every route until the ledger is
    // writable again.
    let (status, _, body) = post(
        &server,
        &key,
        "/v1/audio/speech",
        "application/json",
        speech_request(),
    )
    .await;
    assert_code(status, &body, 503, "ledger_unavailable");
    let (status, _, body) = post(
        &server,
        &key,
        "/v1/audio/transcriptions",
        "application/json",
        transcription_request(),
    )
    .await;
    assert_code(status, &body, 503, "ledger_unavailable");
    let (status, body) = listen_ws_refusal(&server, &key).await;
    assert_eq!(
        (status, &body["err_code"]),
        (503, &json!("LEDGER_UNAVAILABLE")),
        "{body}"
    );
    let stt =
        tokio_tungstenite::connect_async(format!("ws://{}/ws/stt?apiKey={key}", server.addr)).await;
    assert!(
        matches!(&stt, Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == 503),
        "{stt:?}"
    );

    // Space is freed: work is accepted again once a probe write succeeds
    // (at most one probe per 500 ms, so allow a few tries).
    std::fs::remove_file(&filler).unwrap();
    let mut accepted = None;
    for _ in 0..50 {
        let (status, id, body) = post(&server, &key, LISTEN, "audio/basic", sentence.clone()).await;
        if status != 503 {
            accepted = Some((status, body));
            break;
        }
        assert_deepgram(status, &id, &body, 503, "LEDGER_UNAVAILABLE");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, body) = accepted.expect("work is accepted again after space is freed");
    assert_eq!(status, 200, "{body}");
    served += 1;

    // Every response served has its row; the withheld one has none.
    let usage = server.usage(&key).await;
    let sessions = usage["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), served, "{usage}");
    assert!(sessions.iter().all(|s| s["outcome"] == "ok"), "{usage}");
    drop(server);
}
