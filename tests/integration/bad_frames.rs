//! Bad input on the wire, against one real server per test: malformed
//! WebSocket frames on `/ws/stt`, `/ws/tts` and `WS /v1/listen` (empty,
//! invalid UTF-8, over `max_frame_bytes`, JSON that is no object, unknown
//! types, bad base64, odd linear16 byte counts, messages after `stop`), bad
//! JWTs, revoked keys and a 20 MB request header. Each is answered with a
//! stable code and the right status or close code, the server stays up, and
//! every session still writes its usage row.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::MaybeTlsStream;

use crate::support::{create_key, read_to_close, vocalis, ServerProcess, Socket};

/// The `max_frame_bytes` of the test server.
const MAX_FRAME: usize = 64 * 1024;
/// JSON texts that are no object; each is an `invalid_message`.
const NOT_OBJECTS: [&str; 4] = ["[]", "\"x\"", "42", "null"];

fn start_server(data: &std::path::Path, extra_config: &str) -> ServerProcess {
    let config = data.join("vocalis.toml");
    std::fs::write(
        &config,
        format!("max_frame_bytes = {MAX_FRAME}\n{extra_config}"),
    )
    .unwrap();
    ServerProcess::start(data, &["--config", config.to_str().unwrap()])
}

async fn connect(server: &ServerProcess, path: &str, key: &str) -> Socket {
    let mut request = format!("ws://{}{path}", server.addr)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("Authorization", format!("Token {key}").parse().unwrap());
    let (socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .unwrap_or_else(|e| panic!("upgrade {path}: {e}"));
    socket
}

async fn send_text(socket: &mut Socket, text: &str) {
    socket.send(Message::Text(text.into())).await.unwrap();
}

async fn send_binary(socket: &mut Socket, bytes: Vec<u8>) {
    socket.send(Message::Binary(bytes.into())).await.unwrap();
}

/// The next JSON message (binary audio and pings skipped); panics on close.
async fn next_json(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(60), socket.next())
            .await
            .expect("a message within 60 s")
            .expect("the connection is open")
            .expect("a valid frame");
        match message {
            Message::Text(text) => return serde_json::from_str(&text).expect("JSON"),
            Message::Close(frame) => panic!("closed unexpectedly: {frame:?}"),
            _ => {}
        }
    }
}

async fn expect_type(socket: &mut Socket, kind: &str) -> Value {
    let message = next_json(socket).await;
    assert_eq!(message["type"], kind, "{message}");
    message
}

/// Sends `frame` and expects an `error` message with `code`; the session goes on.
async fn expect_error(socket: &mut Socket, frame: Message, code: &str) {
    let label = format!("{frame:?}");
    socket.send(frame).await.unwrap();
    let error = expect_type(socket, "error").await;
    assert_eq!(error["code"], code, "{label} → {error}");
    assert!(!error["error"].as_str().unwrap().is_empty(), "{error}");
}

/// Writes a raw masked client frame (mask key zero, so the payload goes as
/// is) straight to the TCP stream, bypassing the client's own checks.
async fn write_raw_frame(socket: &mut Socket, opcode: u8, declared_len: u64, payload: &[u8]) {
    let mut frame = vec![0x80 | opcode, 0x80 | 127];
    frame.extend_from_slice(&declared_len.to_be_bytes());
    frame.extend_from_slice(&[0; 4]);
    frame.extend_from_slice(payload);
    let MaybeTlsStream::Plain(tcp) = socket.get_mut() else {
        panic!("plain TCP expected");
    };
    tcp.write_all(&frame).await.unwrap();
    tcp.flush().await.unwrap();
}

/// A text frame whose payload is not UTF-8.
async fn send_invalid_utf8(socket: &mut Socket) {
    let payload = [b'{', 0xC3, 0x28, 0xFF, b'}'];
    write_raw_frame(socket, 0x1, payload.len() as u64, &payload).await;
}

/// A binary frame header claiming 1 GiB, followed by a few bytes only: the
/// server must refuse it from the header, without waiting for (or
/// buffering) the payload.
async fn send_huge_frame_header(socket: &mut Socket) {
    write_raw_frame(socket, 0x2, 1 << 30, &[0; 64]).await;
}

/// Reads to the close; asserts its code and reason; the messages before it.
async fn expect_close(socket: &mut Socket, code: u16, reason: &str, case: &str) -> Vec<Value> {
    let (messages, close) = read_to_close(socket).await;
    assert_eq!(
        close,
        Some((code, reason.to_owned())),
        "{case}: {messages:#?}"
    );
    messages
}

/// The tenant's usage rows.
async fn usage_rows(server: &ServerProcess, key: &str) -> Vec<Value> {
    let usage = server.usage(key).await;
    usage["sessions"].as_array().cloned().unwrap_or_default()
}

/// The one row of a session that ended without an error.
fn clean_row(rows: &[Value]) -> &Value {
    rows.iter()
        .find(|r| r["error_code"].is_null())
        .unwrap_or_else(|| panic!("{rows:#?}"))
}

fn error_codes(rows: &[Value]) -> Vec<String> {
    let mut codes: Vec<String> = rows
        .iter()
        .map(|r| r["error_code"].as_str().unwrap_or("-").to_owned())
        .collect();
    codes.sort_unstable();
    codes
}

/// 50 ms of 16 kHz linear16 silence sent in two frames of odd length.
async fn send_50ms_in_odd_frames(socket: &mut Socket) {
    send_binary(socket, vec![0; 801]).await;
    send_binary(socket, vec![0; 799]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_bad_frames_get_stable_errors_and_close_codes() {
    let data = tempfile::tempdir().unwrap();
    let server = start_server(data.path(), "");
    let stt_key = create_key(data.path(), "stt", &[]);
    let tts_key = create_key(data.path(), "tts", &[]);
    let listen_key = create_key(data.path(), "listen", &[]);
    tokio::join!(
        ws_stt_cases(&server, &stt_key),
        ws_tts_cases(&server, &tts_key),
        listen_cases(&server, &listen_key),
    );
    // The server survived all of it.
    let health = reqwest::get(server.url("/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
}

async fn ws_stt_cases(server: &ServerProcess, key: &str) {
    // Recoverable frames: an `error` each, the connection stays open.
    let mut socket = connect(server, "/ws/stt", key).await;
    expect_type(&mut socket, "connecting").await;
    expect_type(&mut socket, "connection_established").await;
    // An empty binary frame is no audio: it does not start telephony mode.
    send_binary(&mut socket, Vec::new()).await;
    expect_error(&mut socket, Message::Text("".into()), "invalid_message").await;
    for text in NOT_OBJECTS {
        expect_error(&mut socket, Message::Text(text.into()), "invalid_message").await;
    }
    let unknown = Message::Text(r#"{"type":"sing"}"#.into());
    expect_error(&mut socket, unknown, "invalid_message").await;
    let bad_base64 = Message::Text(r#"{"type":"audio","audio":"%%%not base64"}"#.into());
    expect_error(&mut socket, bad_base64.clone(), "invalid_message").await;
    send_text(
        &mut socket,
        r#"{"type":"start","config":{"encoding":"linear16","sample_rate":16000}}"#,
    )
    .await;
    let started = expect_type(&mut socket, "session_started").await;
    assert_eq!(started["config"]["encoding"], "linear", "{started}");
    expect_type(&mut socket, "connected").await;
    let again = Message::Text(r#"{"type":"start"}"#.into());
    expect_error(&mut socket, again, "already_started").await;
    expect_error(&mut socket, bad_base64, "invalid_message").await;
    send_binary(&mut socket, Vec::new()).await;
    // 50 ms of audio in odd-length linear16 frames, then `stop`, then audio
    // after `stop` (ignored): a clean billing summary for 50 ms, close 1000.
    send_50ms_in_odd_frames(&mut socket).await;
    send_text(&mut socket, r#"{"type":"stop"}"#).await;
    send_binary(&mut socket, vec![0; 16_000]).await;
    let messages = expect_close(&mut socket, 1000, "", "ws_stt stop").await;
    assert!(
        !messages.iter().any(|m| m["type"] == "error"),
        "{messages:#?}"
    );
    let stopped = messages
        .iter()
        .find(|m| m["type"] == "session_stopped")
        .unwrap_or_else(|| panic!("billing summary: {messages:#?}"));
    let seconds = stopped["billing_summary"]["total_duration_seconds"]
        .as_f64()
        .unwrap();
    assert!((seconds - 0.05).abs() < 1e-6, "{stopped}");

    // Invalid UTF-8 in a text frame: 1007, still billed.
    let mut socket = connect(server, "/ws/stt", key).await;
    send_invalid_utf8(&mut socket).await;
    let messages = expect_close(&mut socket, 1007, "INVALID_UTF8", "ws_stt utf-8").await;
    assert!(
        messages.iter().any(|m| m["code"] == "invalid_message"),
        "{messages:#?}"
    );
    assert!(messages.iter().any(|m| m["type"] == "session_stopped"));

    // One byte over max_frame_bytes, sent whole: 1009.
    let mut socket = connect(server, "/ws/stt", key).await;
    send_binary(&mut socket, vec![0xFF; MAX_FRAME + 1]).await;
    let messages = expect_close(&mut socket, 1009, "MESSAGE_TOO_BIG", "ws_stt over").await;
    assert!(messages.iter().any(|m| m["code"] == "message_too_big"));

    // A header claiming 1 GiB: 1009 before the payload is sent.
    let mut socket = connect(server, "/ws/stt", key).await;
    send_huge_frame_header(&mut socket).await;
    expect_close(&mut socket, 1009, "MESSAGE_TOO_BIG", "ws_stt 1 GiB header").await;

    let rows = usage_rows(server, key).await;
    assert_eq!(
        error_codes(&rows),
        ["-", "invalid_message", "message_too_big", "message_too_big"],
        "{rows:#?}"
    );
    assert_eq!(clean_row(&rows)["outcome"], "ok", "{rows:#?}");
    let seconds = clean_row(&rows)["audio_seconds"].as_f64().unwrap();
    assert!((seconds - 0.05).abs() < 1e-6, "{rows:#?}");
}

async fn ws_tts_cases(server: &ServerProcess, key: &str) {
    let mut socket = connect(server, "/ws/tts", key).await;
    expect_type(&mut socket, "connecting").await;
    expect_type(&mut socket, "connection_established").await;
    // Binary (even empty) before `start`, empty text, JSON that is no
    // object, unknown types: an `error` each.
    let binary = Message::Binary(Vec::new().into());
    expect_error(&mut socket, binary, "invalid_message").await;
    expect_error(&mut socket, Message::Text("".into()), "invalid_message").await;
    for text in NOT_OBJECTS {
        expect_error(&mut socket, Message::Text(text.into()), "invalid_message").await;
    }
    let unknown = Message::Text(r#"{"type":"sing"}"#.into());
    expect_error(&mut socket, unknown, "invalid_message").await;
    send_text(&mut socket, r#"{"type":"start"}"#).await;
    expect_type(&mut socket, "session_started").await;
    let again = Message::Text(r#"{"type":"start"}"#.into());
    expect_error(&mut socket, again, "already_started").await;
    let binary = Message::Binary(vec![0; 3].into());
    expect_error(&mut socket, binary, "invalid_message").await;
    // Text after `stop` is not spoken nor billed.
    send_text(&mut socket, r#"{"type":"stop"}"#).await;
    send_text(&mut socket, r#"{"type":"text","text":"Too late."}"#).await;
    send_text(&mut socket, r#"{"type":"flush"}"#).await;
    let messages = expect_close(&mut socket, 1000, "", "ws_tts stop").await;
    let stopped = messages
        .iter()
        .find(|m| m["type"] == "session_stopped")
        .unwrap_or_else(|| panic!("billing summary: {messages:#?}"));
    assert_eq!(stopped["billing_summary"]["characters"], 0, "{stopped}");

    let mut socket = connect(server, "/ws/tts", key).await;
    send_invalid_utf8(&mut socket).await;
    let messages = expect_close(&mut socket, 1007, "INVALID_UTF8", "ws_tts utf-8").await;
    assert!(
        messages.iter().any(|m| m["code"] == "invalid_message"),
        "{messages:#?}"
    );

    let mut socket = connect(server, "/ws/tts", key).await;
    send_huge_frame_header(&mut socket).await;
    let messages = expect_close(&mut socket, 1009, "MESSAGE_TOO_BIG", "ws_tts header").await;
    assert!(messages.iter().any(|m| m["code"] == "message_too_big"));

    let rows = usage_rows(server, key).await;
    assert_eq!(
        error_codes(&rows),
        ["-", "invalid_message", "message_too_big"],
        "{rows:#?}"
    );
}

async fn listen_cases(server: &ServerProcess, key: &str) {
    const RAW: &str = "/v1/listen?encoding=linear16&sample_rate=16000";
    // Deepgram ignores text it does not understand; empty frames carry no
    // audio. 50 ms in odd frames, `CloseStream`, audio after it: Metadata
    // for 50 ms and close 1000.
    let mut socket = connect(server, RAW, key).await;
    send_binary(&mut socket, Vec::new()).await;
    for text in ["", "[]", "\"x\"", "42", "null", r#"{"type":"Sing"}"#] {
        send_text(&mut socket, text).await;
    }
    send_50ms_in_odd_frames(&mut socket).await;
    send_binary(&mut socket, Vec::new()).await;
    send_text(&mut socket, r#"{"type":"CloseStream"}"#).await;
    send_binary(&mut socket, vec![0; 16_000]).await;
    let messages = expect_close(&mut socket, 1000, "", "listen CloseStream").await;
    let metadata = messages.last().unwrap_or_else(|| panic!("no Metadata"));
    assert_eq!(metadata["type"], "Metadata", "{messages:#?}");
    let duration = metadata["duration"].as_f64().unwrap();
    assert!((duration - 0.05).abs() < 1e-6, "{metadata}");

    let mut socket = connect(server, RAW, key).await;
    send_invalid_utf8(&mut socket).await;
    expect_close(&mut socket, 1008, "DATA-0000", "listen utf-8").await;

    let mut socket = connect(server, RAW, key).await;
    send_binary(&mut socket, vec![0; MAX_FRAME + 1]).await;
    expect_close(&mut socket, 1008, "DATA-0000", "listen over").await;

    let mut socket = connect(server, RAW, key).await;
    send_huge_frame_header(&mut socket).await;
    expect_close(&mut socket, 1008, "DATA-0000", "listen 1 GiB header").await;

    let rows = usage_rows(server, key).await;
    assert_eq!(
        error_codes(&rows),
        ["-", "invalid_message", "message_too_big", "message_too_big"],
        "{rows:#?}"
    );
    let seconds = clean_row(&rows)["audio_seconds"].as_f64().unwrap();
    assert!((seconds - 0.05).abs() < 1e-6, "{rows:#?}");
}

const ISSUER: &str = "https://issuer.test";

/// An RS256-signed token for tenant `acme` with `patch` merged into valid claims.
fn rs256(key: &jsonwebtoken::EncodingKey, patch: Value) -> String {
    let mut claims =
        json!({"sub": "acme", "exp": unix_now() + 300, "aud": "vocalis", "iss": ISSUER});
    for (field, value) in patch.as_object().unwrap() {
        claims[field] = value.clone();
    }
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    jsonwebtoken::encode(&header, &claims, key).unwrap()
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn bad_jwts_revoked_keys_and_a_huge_header_are_refused() {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    let keys = crate::support::workspace_root().join("crates/server/tests/data");
    let public = std::fs::read_to_string(keys.join("jwt-rs256-public.pem")).unwrap();
    let private = std::fs::read_to_string(keys.join("jwt-rs256-private.pem")).unwrap();
    let data = tempfile::tempdir().unwrap();
    let revoked = create_key(data.path(), "acme", &[]);
    let jwt = format!(
        "[jwt]\npublic_key_pem = '''\n{public}'''\naudience = \"vocalis\"\nissuer = \"{ISSUER}\"\n"
    );
    let server = start_server(data.path(), &jwt);
    let client = reqwest::Client::new();
    let usage = server.url("/v1/usage");
    let rsa = EncodingKey::from_rsa_pem(private.as_bytes()).unwrap();
    let now = unix_now();

    // The control: a valid token is accepted.
    let good = rs256(&rsa, json!({}));
    let ok = client.get(&usage).bearer_auth(&good).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    let payload = good.split('.').nth(1).unwrap();
    let confused = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({"sub": "acme", "exp": now + 300, "aud": "vocalis", "iss": ISSUER}),
        &EncodingKey::from_secret(public.as_bytes()),
    )
    .unwrap();
    let cases = [
        // {"alg":"none","typ":"JWT"} over valid claims, no signature.
        (
            "alg none",
            format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}."),
        ),
        ("HS256 signed with the RSA public key", confused),
        ("expired", rs256(&rsa, json!({"exp": now - 3600}))),
        ("nbf in the future", rs256(&rsa, json!({"nbf": now + 3600}))),
        ("wrong aud", rs256(&rsa, json!({"aud": "someone-else"}))),
        (
            "wrong iss",
            rs256(&rsa, json!({"iss": "https://evil.test"})),
        ),
        ("16 KB", rs256(&rsa, json!({"pad": "x".repeat(16 * 1024)}))),
    ];
    for (case, token) in &cases {
        let by_header = client.get(&usage).bearer_auth(token).send().await.unwrap();
        let by_query = client
            .get(server.url(&format!("/ws/stt?token={token}")))
            .send()
            .await
            .unwrap();
        for response in [by_header, by_query] {
            assert_eq!(response.status(), 401, "{case}");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"]["code"], "unauthorized", "{case}: {body}");
        }
    }

    // A revoked key cannot open a WebSocket (REST: see auth.rs).
    let revoke = vocalis(data.path())
        .args(["keys", "revoke", &revoked[..16]])
        .output()
        .unwrap();
    assert!(revoke.status.success());
    for path in ["/ws/stt", "/ws/tts", "/v1/listen"] {
        let url = format!("ws://{}{path}?apiKey={revoked}", server.addr);
        match tokio_tungstenite::connect_async(url).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 401, "{path}");
            }
            other => panic!("{path}: expected a 401, got {other:?}"),
        }
    }

    huge_header_is_refused_without_reading_it_all(&server).await;
    let health = reqwest::get(server.url("/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
}

/// A 20 MB header: 431 (or 400) after a bounded read, not buffered whole.
async fn huge_header_is_refused_without_reading_it_all(server: &ServerProcess) {
    const HEADER_BYTES: usize = 20 * 1024 * 1024;
    let stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let written = Arc::new(AtomicUsize::new(0));
    let counter = written.clone();
    let sender = tokio::spawn(async move {
        let head = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: ";
        if writer.write_all(head).await.is_err() {
            return;
        }
        let chunk = vec![b'a'; 64 * 1024];
        while counter.load(Ordering::Relaxed) < HEADER_BYTES {
            if writer.write_all(&chunk).await.is_err() {
                return;
            }
            counter.fetch_add(chunk.len(), Ordering::Relaxed);
        }
        let _ = writer.write_all(b"\r\n\r\n").await;
    });
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    while !response.windows(4).any(|w| w == b"\r\n\r\n") {
        let read = tokio::time::timeout(Duration::from_secs(60), reader.read(&mut buf))
            .await
            .expect("an answer within 60 s");
        match read {
            Ok(0) | Err(_) => break,
            Ok(n) => response.extend_from_slice(&buf[..n]),
        }
    }
    let sent_before_answer = written.load(Ordering::Relaxed);
    sender.abort();
    let response = String::from_utf8_lossy(&response);
    assert!(
        response.starts_with("HTTP/1.1 431") || response.starts_with("HTTP/1.1 400"),
        "{response:?}"
    );
    assert!(
        sent_before_answer < HEADER_BYTES,
        "the server read the whole 20 MB header before answering"
    );
}
