//! Secure defaults: no developer key on a public address, a private data
//! dir and database, no key echoed in a WebSocket handshake, and
//! `metrics_auth` protecting `/metrics` and `/ws/health`.

use std::io::{BufRead as _, BufReader};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::support::{dev_key, vocalis, ServerProcess};

#[test]
fn no_developer_key_is_created_on_a_non_loopback_address() {
    let data = tempfile::tempdir().unwrap();
    let mut child = vocalis(data.path())
        .args(["serve", "--listen", "0.0.0.0:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut log = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(120)) {
        let done = line.contains("listening");
        log.push(line);
        if done {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let log = log.join("\n");
    assert!(log.contains("listening"), "{log}");
    assert!(!data.path().join("dev-api-key").exists(), "{log}");
    assert!(log.contains("vocalis keys create"), "{log}");
}

#[cfg(unix)]
#[tokio::test]
async fn the_data_dir_and_database_are_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("state");
    let server = ServerProcess::start(&data, &[]);
    // A request writes the database (and its WAL).
    let _ = server.usage(&dev_key(&data)).await;
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    for name in [
        "vocalis.sqlite3",
        "vocalis.sqlite3-wal",
        "vocalis.sqlite3-shm",
    ] {
        let path = data.join(name);
        if path.exists() {
            assert_eq!(mode(&path), 0o600, "{name}");
        }
    }
    assert_eq!(mode(&data.join("vocalis.sqlite3")), 0o600);
}

/// A raw WebSocket handshake offering `protocols`; the response head.
async fn handshake(server: &ServerProcess, path: &str, protocols: &str) -> String {
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Protocol: {protocols}\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut byte))
            .await
            .expect("a response head within 10 s")
            .unwrap();
        assert!(n > 0, "closed before the response head");
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

#[tokio::test]
async fn a_key_sent_as_a_subprotocol_is_not_echoed() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let key = dev_key(data.path());
    for (path, offered, selected) in [
        ("/ws/stt", format!("bearer.{key}"), None),
        ("/ws/stt", format!("vocalis, bearer.{key}"), Some("vocalis")),
        ("/ws/tts", format!("bearer, bearer.{key}"), Some("bearer")),
        ("/v1/listen", format!("token, {key}"), Some("token")),
    ] {
        let head = handshake(&server, path, &offered).await;
        assert!(head.starts_with("HTTP/1.1 101"), "{offered}: {head}");
        assert!(!head.contains(&key), "{offered}: the key is echoed: {head}");
        let answered = head.lines().find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("sec-websocket-protocol:")
                .map(|v| v.trim().to_owned())
        });
        assert_eq!(answered.as_deref(), selected, "{offered}: {head}");
    }
}

#[tokio::test]
async fn metrics_auth_protects_metrics_and_ws_health_but_not_healthz() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &["--metrics-auth", "true"]);
    let key = dev_key(data.path());
    let client = reqwest::Client::new();
    let get = |path: &str, key: Option<&str>| {
        let mut request = client.get(server.url(path));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        request.send()
    };
    assert_eq!(get("/metrics", None).await.unwrap().status(), 401);
    assert_eq!(get("/ws/health", None).await.unwrap().status(), 401);
    assert_eq!(
        get("/metrics", Some("sk_live_nope"))
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(get("/metrics", Some(&key)).await.unwrap().status(), 200);
    assert_eq!(get("/ws/health", Some(&key)).await.unwrap().status(), 200);
    assert_eq!(get("/healthz", None).await.unwrap().status(), 200);
    let url = format!("ws://{}/ws/health", server.addr);
    assert!(tokio_tungstenite::connect_async(url.clone()).await.is_err());
    let (_socket, response) = tokio_tungstenite::connect_async(format!("{url}?apiKey={key}"))
        .await
        .expect("an authenticated /ws/health upgrade");
    assert_eq!(response.status(), 101);
    // Without the setting both stay open (the default).
    let open = ServerProcess::start(data.path(), &[]);
    let status = reqwest::get(open.url("/metrics")).await.unwrap().status();
    assert_eq!(status, 200);
}
