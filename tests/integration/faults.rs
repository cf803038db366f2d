//! Faults the server survives: a client that vanishes without a close frame
//! (billed once, its worker freed), a panic inside one session (only that
//! session closes 1011; its usage is still written) or one HTTP handler (a
//! 500 JSON answer), and a missing or damaged model at start-up (the server
//! refuses to start and names `vocalis models pull`). SIGTERM and `kill -9`
//! are in [`crate::shutdown`].
//!
//! Panics are caused with the server's test hook
//! `VOCALIS_FAULT_INJECTION=panic-on-text:<marker>`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{dev_key, read_to_close, speak_mulaw_8k, vocalis, ServerProcess, Socket};

/// The marker that makes a session panic when fault injection is on.
const MARKER: &str = "fault-7f3a9c";

/// Short pings and idle timeout, so dead sessions end quickly.
fn short_timeouts(dir: &Path) -> PathBuf {
    let path = dir.join("faults.toml");
    std::fs::write(
        &path,
        "ping_interval_ms = 200\nidle_timeout_ms = 5000\nstt_workers = 1\ntts_workers = 1\n",
    )
    .unwrap();
    path
}

async fn send_text(socket: &mut Socket, value: Value) {
    socket
        .send(Message::Text(value.to_string().into()))
        .await
        .expect("send");
}

/// Reads JSON messages until one of type `kind`; every message before it.
async fn until_type(socket: &mut Socket, kind: &str) -> (Value, Vec<Value>) {
    let mut seen = Vec::new();
    loop {
        let next = tokio::time::timeout(Duration::from_secs(120), socket.next())
            .await
            .expect("a message within 120 s");
        match next {
            Some(Ok(Message::Text(text))) => {
                let value: Value = serde_json::from_str(&text).expect("JSON");
                if value["type"] == kind {
                    return (value, seen);
                }
                seen.push(value);
            }
            Some(Ok(Message::Binary(_) | Message::Ping(_) | Message::Pong(_))) => {}
            other => panic!("connection ended waiting for {kind}: {other:?}; saw {seen:?}"),
        }
    }
}

/// Drops the connection with a TCP reset: no close frame, no FIN.
fn vanish(socket: Socket) {
    if let tokio_tungstenite::MaybeTlsStream::Plain(tcp) = socket.get_ref() {
        tcp.set_zero_linger().expect("SO_LINGER 0");
    }
    drop(socket);
}

async fn open_stt(server: &ServerProcess, key: &str) -> (Socket, String) {
    let url = format!("ws://{}/ws/stt?apiKey={key}", server.addr);
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    send_text(
        &mut socket,
        json!({"type": "start", "config": {"encoding": "mulaw", "sample_rate": 8000}}),
    )
    .await;
    let (started, _) = until_type(&mut socket, "session_started").await;
    let id = started["session_id"].as_str().unwrap().to_owned();
    (socket, id)
}

async fn open_tts(server: &ServerProcess, key: &str) -> (Socket, String) {
    let url = format!("ws://{}/ws/tts?apiKey={key}", server.addr);
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    send_text(
        &mut socket,
        json!({"type": "start", "config": {"encoding": "linear16", "sample_rate": 16000}}),
    )
    .await;
    let (started, _) = until_type(&mut socket, "session_started").await;
    let id = started["session_id"].as_str().unwrap().to_owned();
    (socket, id)
}

/// Sends `frames` of μ-law silence (1 s each), then waits until the server
/// has read them all (its `test_response`).
async fn stt_audio(socket: &mut Socket, frames: usize) {
    for _ in 0..frames {
        socket
            .send(Message::Binary(vec![0xFF; 8_000].into()))
            .await
            .unwrap();
    }
    send_text(socket, json!({"type": "test"})).await;
    until_type(socket, "test_response").await;
}

/// The usage rows of `key`'s tenant, by session id.
async fn rows(server: &ServerProcess, key: &str, id: &str) -> Vec<Value> {
    let usage = server.usage(key).await;
    usage["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .filter(|row| row["session_id"] == id)
        .cloned()
        .collect()
}

/// Polls until `done` holds; panics with `what` after 60 s (a generous
/// bound: the server's own limits here are 5 s).
async fn eventually<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done().await {
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The session's one usage row once it is no longer `open`.
async fn final_row(server: &ServerProcess, key: &str, id: &str) -> Value {
    eventually(&format!("a closed usage row for {id}"), || async {
        let rows = rows(server, key, id).await;
        rows.len() == 1 && rows[0]["outcome"] != "open"
    })
    .await;
    // It stays exactly one.
    let again = rows(server, key, id).await;
    assert_eq!(again.len(), 1, "{again:?}");
    again[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vanished_stt_clients_are_billed_once_and_their_sessions_end() {
    let data = tempfile::tempdir().unwrap();
    let config = short_timeouts(data.path());
    let server = ServerProcess::start(data.path(), &["--config", config.to_str().unwrap()]);
    let key = dev_key(data.path());

    // One resets its connection mid-stream; the other goes silent with the
    // TCP connection still open (a peer whose FIN never arrives).
    let (mut reset, reset_id) = open_stt(&server, &key).await;
    stt_audio(&mut reset, 2).await;
    vanish(reset);
    let (mut silent, silent_id) = open_stt(&server, &key).await;
    stt_audio(&mut silent, 3).await;

    let row = final_row(&server, &key, &reset_id).await;
    assert_eq!(row["outcome"], "cancelled", "{row}");
    assert_eq!(row["audio_seconds"].as_f64(), Some(2.0), "{row}");
    let row = final_row(&server, &key, &silent_id).await;
    assert_eq!(row["error_code"], "idle_timeout", "{row}");
    assert_eq!(row["audio_seconds"].as_f64(), Some(3.0), "{row}");
    eventually(
        "no live /ws/stt session and an idle Whisper worker",
        || async {
            server
                .metric(&key, "vocalis_sessions_active{route=\"/ws/stt\"}")
                .await
                == 0.0
                && server.metric(&key, "vocalis_stt_workers_busy").await == 0.0
        },
    )
    .await;
    drop(silent);

    // The one Whisper worker serves the next caller.
    let (mut next, _) = open_stt(&server, &key).await;
    let (text, messages) =
        stream_and_stop(&mut next, &speak_mulaw_8k("Thank you for calling.")).await;
    assert!(text.contains("calling"), "{messages:#?}");
}

/// Sends `audio` in 20 ms frames, then `stop`; asserts the clean close 1000
/// and returns the finals' text (lower case) and every message.
async fn stream_and_stop(socket: &mut Socket, audio: &[u8]) -> (String, Vec<Value>) {
    for frame in audio.chunks(160) {
        socket
            .send(Message::Binary(frame.to_vec().into()))
            .await
            .unwrap();
    }
    send_text(socket, json!({"type": "stop"})).await;
    let (messages, close) = read_to_close(socket).await;
    assert_eq!(close.map(|c| c.0), Some(1000), "{messages:#?}");
    let text: String = messages
        .iter()
        .filter(|m| m["type"] == "transcription" && m["is_final"] == true)
        .map(|m| m["text"].as_str().unwrap().to_lowercase())
        .collect();
    (text, messages)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tts_client_vanishing_mid_stream_is_billed_once_and_frees_the_worker() {
    let data = tempfile::tempdir().unwrap();
    let config = short_timeouts(data.path());
    let server = ServerProcess::start(data.path(), &["--config", config.to_str().unwrap()]);
    let key = dev_key(data.path());

    let (mut socket, id) = open_tts(&server, &key).await;
    let long = "The quick brown fox jumps over the lazy dog near the river bank. ".repeat(12);
    send_text(&mut socket, json!({"type": "text", "text": long})).await;
    send_text(&mut socket, json!({"type": "flush"})).await;
    // The first audio is out: the worker is mid-synthesis.
    loop {
        let next = tokio::time::timeout(Duration::from_secs(120), socket.next())
            .await
            .expect("audio within 120 s");
        if let Some(Ok(Message::Binary(_))) = next {
            break;
        }
    }
    vanish(socket);

    let row = final_row(&server, &key, &id).await;
    assert_eq!(row["route"], "/ws/tts", "{row}");
    assert_eq!(row["outcome"], "cancelled", "{row}");
    assert!(row["characters"].as_i64().unwrap() > 0, "{row}");
    eventually(
        "no live /ws/tts session and an idle Piper worker",
        || async {
            server
                .metric(&key, "vocalis_sessions_active{route=\"/ws/tts\"}")
                .await
                == 0.0
                && server.metric(&key, "vocalis_tts_workers_busy").await == 0.0
        },
    )
    .await;

    // The one Piper worker serves the next caller.
    let (mut next, _) = open_tts(&server, &key).await;
    send_text(&mut next, json!({"type": "text", "text": "Hello there."})).await;
    send_text(&mut next, json!({"type": "flush"})).await;
    let (flushed, _) = until_type(&mut next, "flushed").await;
    assert!(
        flushed["audio_seconds"].as_f64().unwrap() > 0.3,
        "{flushed}"
    );
}

async fn open_listen(server: &ServerProcess, key: &str) -> Socket {
    let mut request = format!(
        "ws://{}/v1/listen?encoding=mulaw&sample_rate=8000",
        server.addr
    )
    .into_client_request()
    .unwrap();
    request
        .headers_mut()
        .insert("Authorization", format!("Token {key}").parse().unwrap());
    tokio_tungstenite::connect_async(request)
        .await
        .expect("upgrade")
        .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_closes_only_its_own_session_1011_and_is_billed() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start_with_env(
        data.path(),
        &[],
        &[(
            "VOCALIS_FAULT_INJECTION",
            &format!("panic-on-text:{MARKER}"),
        )],
    );
    let key = dev_key(data.path());
    let poison = json!({"type": "keepalive", "note": MARKER});

    // Healthy sessions that must outlive the panics.
    let (mut stt, stt_id) = open_stt(&server, &key).await;
    let speech = speak_mulaw_8k("Please hold while I transfer your call.");
    let (mut tts, tts_id) = open_tts(&server, &key).await;

    // /ws/stt: the panicking session still bills its audio.
    let (mut victim, victim_id) = open_stt(&server, &key).await;
    stt_audio(&mut victim, 1).await;
    send_text(&mut victim, poison.clone()).await;
    let (messages, close) = read_to_close(&mut victim).await;
    assert_eq!(
        close,
        Some((1011, "INTERNAL_ERROR".to_owned())),
        "{messages:#?}"
    );
    assert!(
        messages.iter().any(|m| m["code"] == "internal_error"),
        "{messages:#?}"
    );
    let row = final_row(&server, &key, &victim_id).await;
    assert_eq!(row["outcome"], "server_error", "{row}");
    assert_eq!(row["error_code"], "internal_error", "{row}");
    assert_eq!(row["audio_seconds"].as_f64(), Some(1.0), "{row}");

    // /ws/tts.
    let (mut victim, victim_id) = open_tts(&server, &key).await;
    send_text(&mut victim, poison.clone()).await;
    let (messages, close) = read_to_close(&mut victim).await;
    assert_eq!(
        close,
        Some((1011, "INTERNAL_ERROR".to_owned())),
        "{messages:#?}"
    );
    let row = final_row(&server, &key, &victim_id).await;
    assert_eq!(row["outcome"], "server_error", "{row}");

    // WS /v1/listen (Deepgram's reason for an internal error).
    let mut victim = open_listen(&server, &key).await;
    victim
        .send(Message::Binary(vec![0xFF; 8_000].into()))
        .await
        .unwrap();
    send_text(&mut victim, json!({"type": "KeepAlive", "note": MARKER})).await;
    let (messages, close) = read_to_close(&mut victim).await;
    assert_eq!(close, Some((1011, "NET-0000".to_owned())), "{messages:#?}");
    let usage = server.usage(&key).await;
    let listen: Vec<&Value> = usage["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|row| row["route"] == "/v1/listen")
        .collect();
    assert_eq!(listen.len(), 1, "{usage}");
    assert_eq!(listen[0]["outcome"], "server_error", "{usage}");

    // An HTTP handler's panic is a 500 with a stable code; the server goes on.
    let client = reqwest::Client::new();
    let response = client
        .get(server.url(&format!("/healthz?{MARKER}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "internal_error", "{body}");
    let response = client.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);

    // The healthy sessions were untouched.
    let (text, messages) = stream_and_stop(&mut stt, &speech).await;
    assert!(text.contains("transfer"), "{messages:#?}");
    send_text(&mut tts, json!({"type": "text", "text": "Still here."})).await;
    send_text(&mut tts, json!({"type": "flush"})).await;
    until_type(&mut tts, "flushed").await;
    send_text(&mut tts, json!({"type": "stop"})).await;
    until_type(&mut tts, "session_stopped").await;
    for id in [&stt_id, &tts_id] {
        assert_eq!(final_row(&server, &key, id).await["outcome"], "ok");
    }
}

/// A private model store: symlinks to every file of the real one, except
/// what `damage` changes.
fn model_store_copy(dir: &Path, damage: impl FnOnce(&Path)) -> PathBuf {
    let real = vocalis_models::ModelStore::from_env()
        .expect("model store")
        .root()
        .to_path_buf();
    let copy = dir.join("models");
    for model in std::fs::read_dir(&real).expect("the real model store") {
        let model = model.unwrap().path();
        if !model.is_dir() {
            continue;
        }
        let target = copy.join(model.file_name().unwrap());
        std::fs::create_dir_all(&target).unwrap();
        for file in std::fs::read_dir(&model).unwrap() {
            let file = file.unwrap().path();
            std::os::unix::fs::symlink(&file, target.join(file.file_name().unwrap())).unwrap();
        }
    }
    damage(&copy);
    copy
}

/// Replaces a symlinked file of the copy with a real copy of it.
fn unshare(path: &Path) {
    let real = std::fs::read(path).unwrap();
    std::fs::remove_file(path).unwrap();
    std::fs::write(path, real).unwrap();
}

/// Runs `vocalis serve` on the store `models`; it must exit non-zero
/// (within 120 s) and its stderr must name `fix`.
fn refuses_to_start(data: &Path, models: &Path, fix: &str) {
    let log = data.join("serve.log");
    let mut child = vocalis(&data.join("data"))
        .env("VOCALIS_MODELS", models)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "vocalis serve started on a broken model store:\n{}",
                std::fs::read_to_string(&log).unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert!(!status.success(), "{status:?}\n{stderr}");
    assert!(stderr.contains(fix), "no `{fix}` in:\n{stderr}");
}

#[test]
fn serve_refuses_a_missing_model_and_names_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let models = model_store_copy(dir.path(), |store| {
        std::fs::remove_dir_all(store.join("en_US-joe-medium")).unwrap();
    });
    refuses_to_start(dir.path(), &models, "vocalis models pull en_US-joe-medium");
}

#[test]
fn serve_refuses_a_truncated_model_and_names_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let models = model_store_copy(dir.path(), |store| {
        // The weights the server loads by default.
        let file = store.join("tiny.en").join("ggml-model-q8_0.bin");
        let head = std::fs::read(&file).unwrap()[..1 << 20].to_vec();
        std::fs::remove_file(&file).unwrap();
        std::fs::write(&file, head).unwrap();
    });
    refuses_to_start(dir.path(), &models, "vocalis models pull tiny.en");
}

#[test]
fn serve_refuses_a_corrupt_model_of_the_right_size_and_names_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let models = model_store_copy(dir.path(), |store| {
        // Same size, garbage content: only a hash or the engine notices.
        let file = store.join("silero-vad").join("silero_vad.onnx");
        unshare(&file);
        let mut bytes = std::fs::read(&file).unwrap();
        bytes[..4096].fill(0xA5);
        std::fs::write(&file, bytes).unwrap();
    });
    refuses_to_start(dir.path(), &models, "vocalis models pull silero-vad");
}
