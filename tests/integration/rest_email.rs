//! `POST /v1/email/send` against a real SMTP server on 127.0.0.1: a tiny
//! sink in this file speaks just enough SMTP (220, EHLO, MAIL, RCPT, DATA,
//! QUIT) and records what it received, or refuses with 550. Also: field
//! validation, BYOK refusal, the per-tenant rate limit, 503 without a
//! relay, and one usage row per request.

use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpListener;

use crate::rest_transcriptions::usage_ids;
use crate::support::{create_key, ServerProcess};

/// One message as the sink received it.
#[derive(Debug, Clone, Default)]
struct Received {
    mail_from: String,
    rcpt_to: Vec<String>,
    data: String,
}

/// An SMTP server on 127.0.0.1 that accepts everything, or refuses every
/// recipient with 550.
struct SmtpSink {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
}

impl SmtpSink {
    async fn start(refuse: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let store = Arc::clone(&received);
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(session(socket, refuse, Arc::clone(&store)));
            }
        });
        Self { port, received }
    }

    fn messages(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

async fn session(
    socket: tokio::net::TcpStream,
    refuse: bool,
    store: Arc<Mutex<Vec<Received>>>,
) -> std::io::Result<()> {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 sink.test ESMTP\r\n").await?;
    let mut message = Received::default();
    while let Some(line) = lines.next_line().await? {
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            b"250-sink.test\r\n250 8BITMIME\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            message.mail_from = line[10..].trim().to_owned();
            b"250 OK\r\n"
        } else if upper.starts_with("RCPT TO:") {
            if refuse {
                b"550 5.1.1 mailbox unavailable\r\n"
            } else {
                message.rcpt_to.push(line[8..].trim().to_owned());
                b"250 OK\r\n"
            }
        } else if upper == "DATA" {
            write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
            while let Some(data_line) = lines.next_line().await? {
                if data_line == "." {
                    break;
                }
                message.data.push_str(&data_line);
                message.data.push('\n');
            }
            store.lock().unwrap().push(std::mem::take(&mut message));
            b"250 OK queued\r\n"
        } else if upper == "QUIT" {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else if upper == "RSET" || upper == "NOOP" {
            b"250 OK\r\n"
        } else {
            b"502 command not implemented\r\n"
        };
        write.write_all(reply).await?;
    }
    Ok(())
}

/// A server whose `[email]` relay is the sink on `port` (or none).
fn start_server(data: &std::path::Path, port: Option<u16>, per_minute: u32) -> ServerProcess {
    let mut config = String::new();
    if let Some(port) = port {
        config = format!(
            "[email]\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {port}\nsecurity = \"none\"\n\
             from = \"Basics <noreply@basics.test>\"\nrate_limit_per_minute = {per_minute}\n\
             timeout_ms = 5000\n"
        );
    }
    let path = data.join("vocalis.toml");
    std::fs::write(&path, config).unwrap();
    ServerProcess::start(data, &["--config", path.to_str().unwrap()])
}

/// A key for tenant `acme`, whose company is "Acme Inc".
fn acme_key(data: &std::path::Path) -> String {
    create_key(data, "acme", &["--company", "Acme Inc"])
}

async fn send(server: &ServerProcess, key: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(server.url("/v1/email/send"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn welcome() -> Value {
    json!({"to": "user@example.com", "subject": "Welcome to Basics", "content": "Thanks for signing up!"})
}

#[tokio::test]
async fn sends_through_the_relay_validates_and_rate_limits() {
    let sink = SmtpSink::start(false).await;
    let data = tempfile::tempdir().unwrap();
    let server = start_server(data.path(), Some(sink.port), 3);
    let key = acme_key(data.path());

    let (status, body) = send(&server, &key, welcome()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ok"], true);
    let id = body["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("email_"), "{id}");
    let messages = sink.messages();
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert_eq!(message.mail_from, "<noreply@basics.test>");
    assert_eq!(message.rcpt_to, vec!["<user@example.com>".to_owned()]);
    assert!(
        message
            .data
            .contains("Subject: Welcome to Basics | Acme Inc\n"),
        "{}",
        message.data
    );
    assert!(
        message.data.contains("To: user@example.com"),
        "{}",
        message.data
    );
    assert!(
        message.data.contains("From: Basics <noreply@basics.test>"),
        "{}",
        message.data
    );
    assert!(
        message.data.contains("Content-Type: text/plain"),
        "{}",
        message.data
    );
    assert!(
        message
            .data
            .contains(&format!("Message-ID: <{id}@basics.test>")),
        "{}",
        message.data
    );
    assert!(
        message.data.contains("\nThanks for signing up!\n"),
        "{}",
        message.data
    );

    // Validation (422) and malformed requests (400): nothing reaches the relay.
    let invalid = [
        json!({"to": "not-an-address", "subject": "s", "content": "c"}),
        json!({"to": "a@example.com", "subject": "Hi\r\nBcc: victim@example.com", "content": "c"}),
        json!({"to": "a@example.com", "subject": "s"}),
        json!({"to": "a@example.com", "subject": "", "content": "c"}),
        json!({"to": "a@example.com", "subject": "s".repeat(251), "content": "c"}),
        json!({"to": "a@example.com", "subject": "s", "content": 7}),
    ];
    for body in invalid {
        let (status, answer) = send(&server, &key, body.clone()).await;
        assert_eq!(status, 422, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid_payload");
    }
    let mut byok = welcome();
    byok["resend_api_key"] = json!("re_123");
    let (status, answer) = send(&server, &key, byok).await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer["error"]["message"]
        .as_str()
        .unwrap()
        .contains("BYOK"));
    let mut html = welcome();
    html["html"] = json!("<b>hi</b>");
    let (status, _) = send(&server, &key, html).await;
    assert_eq!(status, 400);
    assert_eq!(sink.messages().len(), 1);

    // Three sends per minute: two more pass, the fourth is 429.
    for _ in 0..2 {
        assert_eq!(send(&server, &key, welcome()).await.0, 200);
    }
    let response = reqwest::Client::new()
        .post(server.url("/v1/email/send"))
        .bearer_auth(&key)
        .json(&welcome())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert!(response.headers().get("retry-after").is_some());
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["error"]["code"], "rate_limited");
    assert_eq!(sink.messages().len(), 3);

    // Every request is in the ledger once, as `email`, and costs nothing.
    let rows = usage_ids(&server, &key).await;
    assert_eq!(rows.len(), 1 + 6 + 2 + 2 + 1, "{rows:?}");
    assert!(rows
        .iter()
        .all(|r| r["service"] == "email" && r["cost"] == 0.0));
    assert_eq!(rows.iter().filter(|r| r["outcome"] == "ok").count(), 3);
    assert!(rows.iter().any(|r| r["session_id"] == id.as_str()));
}

#[tokio::test]
async fn refusing_or_unreachable_relays_are_502() {
    let sink = SmtpSink::start(true).await;
    let data = tempfile::tempdir().unwrap();
    let server = start_server(data.path(), Some(sink.port), 60);
    let key = acme_key(data.path());
    let (status, body) = send(&server, &key, welcome()).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "email_send_failed");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("550"),
        "{body}"
    );
    assert!(sink.messages().is_empty());

    // A port nobody listens on.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let data = tempfile::tempdir().unwrap();
    let server = start_server(data.path(), Some(port), 60);
    let key = acme_key(data.path());
    let (status, body) = send(&server, &key, welcome()).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "email_send_failed");
    let rows = usage_ids(&server, &key).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["outcome"], "server_error");
    assert_eq!(rows[0]["error_code"], "email_send_failed");
}

#[tokio::test]
async fn without_a_relay_email_is_503() {
    let data = tempfile::tempdir().unwrap();
    let server = start_server(data.path(), None, 60);
    let key = acme_key(data.path());
    let (status, body) = send(&server, &key, welcome()).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "service_unavailable");
    let unauthenticated = reqwest::Client::new()
        .post(server.url("/v1/email/send"))
        .json(&welcome())
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
    assert_eq!(usage_ids(&server, &key).await.len(), 1);
}
