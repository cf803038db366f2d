//! Connection limits: the header read timeout closes half-sent requests,
//! `max_sessions` and `max_connections` answer `503 server_busy` beyond
//! them while admitted clients keep working, a `/v1/audio/speech` client
//! that stops reading frees the TTS worker, and idle WebSockets stay small.

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{dev_key, ServerProcess, Socket};

/// Everything the server sends until it closes the connection (`None` if
/// it has not closed within 10 s: a functional bound, not a speed check).
async fn read_until_closed(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut received = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .ok()?;
    Some(received)
}

async fn health_socket(server: &ServerProcess) -> Socket {
    let url = format!("ws://{}/ws/health", server.addr);
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    next_health(&mut socket).await;
    socket
}

/// The next health message on a `/ws/health` socket.
async fn next_health(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(30), socket.next())
            .await
            .expect("a health message within 30 s")
            .expect("open socket")
            .unwrap();
        if let Message::Text(text) = message {
            let value: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(value["type"], "health", "{value}");
            return value;
        }
    }
}

/// The refusal of a WebSocket upgrade: its status and JSON body.
async fn refused_upgrade(url: String) -> (u16, Value) {
    match tokio_tungstenite::connect_async(url).await {
        Ok(_) => panic!("the upgrade was accepted"),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let body = response.body().clone().unwrap_or_default();
            let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
            (response.status().as_u16(), body)
        }
        Err(other) => panic!("unexpected error: {other}"),
    }
}

#[tokio::test]
async fn a_half_sent_request_is_closed_after_the_header_timeout() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &["--header-read-timeout-ms", "500"]);
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let received = read_until_closed(&mut stream)
        .await
        .expect("the server closes a half-sent request");
    let text = String::from_utf8_lossy(&received);
    assert!(!text.contains("200 OK"), "{text}");
    // A complete request on a fresh connection is still served.
    let status = reqwest::get(server.url("/healthz")).await.unwrap().status();
    assert_eq!(status, 200);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_http_idle_timeout() {
    let data = tempfile::tempdir().unwrap();
    // The header timeout is long, so only the idle timeout can close it.
    let server = ServerProcess::start(
        data.path(),
        &[
            "--header-read-timeout-ms",
            "600000",
            "--http-idle-timeout-ms",
            "1000",
        ],
    );
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let received = read_until_closed(&mut stream)
        .await
        .expect("the server closes the idle keep-alive connection");
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
}

#[tokio::test]
async fn a_websocket_session_beyond_max_sessions_gets_503_server_busy() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &["--max-sessions", "2"]);
    let key = dev_key(data.path());
    let mut first = health_socket(&server).await;
    let mut second = health_socket(&server).await;
    for url in [
        format!("ws://{}/ws/health", server.addr),
        format!("ws://{}/ws/stt?apiKey={key}", server.addr),
        format!("ws://{}/ws/tts?apiKey={key}", server.addr),
        format!("ws://{}/v1/listen?token={key}", server.addr),
    ] {
        let (status, body) = refused_upgrade(url.clone()).await;
        assert_eq!(status, 503, "{body}");
        if url.contains("/v1/listen") {
            // Deepgram's route answers in Deepgram's error shape.
            assert_eq!(body["err_code"], "SERVER_BUSY", "{body}");
        } else {
            assert_eq!(body["error"]["code"], "server_busy", "{body}");
        }
    }
    // The admitted sessions keep working.
    for socket in [&mut first, &mut second] {
        socket
            .send(Message::Text(r#"{"type":"ping"}"#.into()))
            .await
            .unwrap();
        next_health(socket).await;
    }
    // Plain HTTP is not a session.
    let status = reqwest::get(server.url("/healthz")).await.unwrap().status();
    assert_eq!(status, 200);
    // A closed session frees its place.
    first.close(None).await.unwrap();
    while first.next().await.is_some() {}
    drop(first);
    let url = format!("ws://{}/ws/health", server.addr);
    let mut admitted = None;
    for _ in 0..100 {
        if let Ok((socket, _)) = tokio_tungstenite::connect_async(url.clone()).await {
            admitted = Some(socket);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    next_health(admitted.as_mut().expect("a place frees up")).await;
}

#[tokio::test]
async fn a_connection_beyond_max_connections_gets_503_server_busy() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &["--max-connections", "2"]);
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        // A served request proves the connection holds its place.
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 1024];
        let n = stream.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        held.push(stream);
    }
    let mut extra = TcpStream::connect(server.addr).await.unwrap();
    extra
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut extra)
        .await
        .expect("the refused connection is closed");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("\"server_busy\""), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 1"),
        "{answer}"
    );
    // Closing a connection frees its place.
    drop(held.pop());
    let mut served = false;
    for _ in 0..100 {
        if let Ok(response) = reqwest::get(server.url("/healthz")).await {
            if response.status() == 200 {
                served = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served, "a place frees up");
}

#[tokio::test]
async fn a_speech_client_that_stops_reading_frees_the_worker_and_is_billed_once() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &["--tts-write-timeout-ms", "500"]);
    let key = dev_key(data.path());
    let sentence = "This sentence is spoken again and again to a client that never reads. ";
    let body = serde_json::json!({
        "input": sentence.repeat(40),
        "response_format": "pcm",
    })
    .to_string();
    // A small receive window, so the server's buffers fill quickly.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stalled = socket.connect(server.addr).await.unwrap();
    let request = format!(
        "POST /v1/audio/speech HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stalled.write_all(request.as_bytes()).await.unwrap();
    // The only worker (tts_workers = 1) is free again: a short request is
    // served while the stalled client still holds its connection.
    let served = tokio::time::timeout(
        Duration::from_secs(120),
        reqwest::Client::new()
            .post(server.url("/v1/audio/speech"))
            .bearer_auth(&key)
            .json(&serde_json::json!({"input": "Hello.", "response_format": "wav"}))
            .send(),
    )
    .await
    .expect("the worker is freed from the stalled client")
    .unwrap();
    assert_eq!(served.status(), 200);
    assert!(!served.bytes().await.unwrap().is_empty());
    // Exactly one row for the stalled request, marked cancelled.
    let mut usage = Value::Null;
    for _ in 0..100 {
        usage = server.usage(&key).await;
        if usage["sessions"].as_array().map_or(0, Vec::len) >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let sessions = usage["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2, "{usage}");
    let cancelled: Vec<&Value> = sessions
        .iter()
        .filter(|s| s["outcome"] == "cancelled")
        .collect();
    assert_eq!(cancelled.len(), 1, "{usage}");
    drop(stalled);
}

/// Resident memory of a process, KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .expect("VmRSS in /proc/<pid>/status")
}

#[tokio::test]
async fn a_thousand_idle_websockets_cost_at_most_64_kib_each() {
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("vocalis.toml");
    std::fs::write(
        &config,
        "max_sessions = 2000\nhealth_interval_ms = 3600000\nping_interval_ms = 3600000\n",
    )
    .unwrap();
    let server = ServerProcess::start(data.path(), &["--config", config.to_str().unwrap()]);
    // Warm up the allocator and the runtime with a few sessions.
    for _ in 0..20 {
        let mut socket = health_socket(&server).await;
        socket.close(None).await.unwrap();
    }
    let before = rss_kib(server.pid());
    let mut sockets = Vec::with_capacity(1000);
    for _ in 0..1000 {
        // Each socket has had its first health message: its session runs.
        sockets.push(health_socket(&server).await);
    }
    let after = rss_kib(server.pid());
    let per_connection = after.saturating_sub(before) as f64 / 1000.0;
    eprintln!("RSS {before} KiB -> {after} KiB: {per_connection:.1} KiB per idle WebSocket");
    assert!(
        per_connection <= 64.0,
        "{per_connection:.1} KiB per idle WebSocket"
    );
    drop(sockets);
}
