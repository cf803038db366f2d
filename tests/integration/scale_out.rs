//! Scale-out: two `vocalis serve` replicas on one PostgreSQL database (a
//! private cluster, see [`crate::pg_cluster`]). A key created with
//! `vocalis keys --database-url` works on both; live sessions run on both at
//! once; two sessions of one tenant on different replicas debit its credit
//! concurrently and every debit lands (balance = credit - the rows' costs,
//! to the micro-dollar); `/v1/usage` is identical from both; a revoked key is
//! refused by both. Then PostgreSQL is stopped during a live session: the
//! other replica stays live (`/healthz` 200) but not ready (`/readyz` 503)
//! and refuses billable work with 503; the session's checkpoint is retried
//! and, once PostgreSQL is back, the session goes on and ends normally with
//! all its audio billed once; both replicas reconnect by themselves.

use std::path::Path;
use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::pg_cluster::Cluster;
use crate::support::{create_key, speak_mulaw_8k, vocalis, ServerProcess, Socket};

const SENTENCE: &str = "The quarterly report shows strong growth in every region.";

/// 8 kHz μ-law: `seconds` of the sentence repeated with pauses.
fn speech(sentence: &[u8], seconds: f64) -> Vec<u8> {
    let mut audio = Vec::new();
    while (audio.len() as f64) < seconds * 8000.0 {
        audio.extend_from_slice(sentence);
        audio.extend(std::iter::repeat_n(0xFF, 8_000));
    }
    audio.truncate((seconds * 8000.0) as usize);
    audio
}

/// A live `/ws/stt` session driven step by step.
struct Live {
    socket: Socket,
    /// Messages read before `finish` (up to `session_started`).
    seen: Vec<Value>,
}

impl Live {
    async fn open(server: &ServerProcess, key: &str) -> Self {
        let url = format!("ws://{}/ws/stt?apiKey={key}", server.addr);
        let (mut socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("upgrade");
        let start = json!({"type": "start", "languages": ["en"],
                           "config": {"encoding": "mulaw", "sample_rate": 8000}});
        socket
            .send(Message::Text(start.to_string().into()))
            .await
            .unwrap();
        Self {
            socket,
            seen: Vec::new(),
        }
    }

    /// Reads until the server has started the session (kept for `finish`).
    async fn wait_started(&mut self) {
        loop {
            let next = tokio::time::timeout(Duration::from_secs(60), self.socket.next())
                .await
                .expect("the server answers `start` within 60 s");
            let Some(Ok(Message::Text(text))) = next else {
                panic!("no session_started: {:?} after {:#?}", next, self.seen);
            };
            let message: Value = serde_json::from_str(&text).unwrap();
            let started = message["type"] == "session_started";
            self.seen.push(message);
            if started {
                return;
            }
        }
    }

    /// Sends audio in 20 ms frames; false once the server ended the session.
    async fn send(&mut self, audio: &[u8]) -> bool {
        for frame in audio.chunks(160) {
            if self
                .socket
                .send(Message::Binary(frame.to_vec().into()))
                .await
                .is_err()
            {
                return false;
            }
        }
        true
    }

    /// Sends `stop` and reads until the close: messages, close code, reason.
    async fn finish(mut self) -> (Vec<Value>, u16, String) {
        let _ = self
            .socket
            .send(Message::Text(json!({"type": "stop"}).to_string().into()))
            .await;
        let mut messages = std::mem::take(&mut self.seen);
        loop {
            let next = tokio::time::timeout(Duration::from_secs(180), self.socket.next())
                .await
                .expect("the server answers within 180 s");
            match next {
                Some(Ok(Message::Text(text))) => {
                    messages.push(serde_json::from_str(&text).unwrap())
                }
                Some(Ok(Message::Close(frame))) => {
                    let (code, reason) = frame.map_or((0, String::new()), |f| {
                        (u16::from(f.code), f.reason.to_string())
                    });
                    return (messages, code, reason);
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return (messages, 0, String::new()),
            }
        }
    }
}

/// Streams `audio` in one session and finishes it.
async fn session(server: &ServerProcess, key: &str, audio: &[u8]) -> (Vec<Value>, u16, String) {
    let mut live = Live::open(server, key).await;
    live.send(audio).await;
    live.finish().await
}

fn summary(messages: &[Value]) -> &Value {
    &messages
        .iter()
        .find(|m| m["type"] == "session_stopped")
        .unwrap_or_else(|| panic!("no billing summary: {messages:#?}"))["billing_summary"]
}

async fn get(server: &ServerProcess, path: &str, key: Option<&str>) -> (u16, Value) {
    let mut request = reqwest::Client::new().get(server.url(path));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.expect("GET");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `vocalis keys ARGS… --database-url URL`: its stdout.
fn keys(data_dir: &Path, url: &str, args: &[&str]) -> String {
    let output = vocalis(data_dir)
        .arg("keys")
        .args(args)
        .args(["--database-url", url])
        .output()
        .expect("run vocalis keys");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Runs blocking code (the synchronous PostgreSQL client starts its own
/// runtime) off this test's async workers.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

/// A tenant's balance and usage rows (cost, outcome, audio) in the database.
fn ledger(url: &str, tenant: &str) -> (Option<i64>, Vec<(i64, String, f64)>) {
    blocking(|| ledger_now(url, tenant))
}

fn ledger_now(url: &str, tenant: &str) -> (Option<i64>, Vec<(i64, String, f64)>) {
    let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
    let balance = client
        .query_one(
            "SELECT credit_micros FROM tenants WHERE name = $1",
            &[&tenant],
        )
        .unwrap()
        .get(0);
    let rows = client
        .query(
            "SELECT cost_micros, outcome, audio_seconds FROM usage WHERE tenant = $1 ORDER BY id",
            &[&tenant],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    (balance, rows)
}

/// Waits (polling, at most `limit`) until `done` holds.
async fn eventually(limit: Duration, what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_share_one_postgres_and_survive_its_restart() {
    let mut cluster = blocking(Cluster::start);
    let url = blocking(|| cluster.create_database("scale"));
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // One replica takes the flag, the other the environment variable.
    let a = ServerProcess::start(dir_a.path(), &["--database-url", &url]);
    let b = ServerProcess::start_with_env(dir_b.path(), &[], &[("VOCALIS_DATABASE_URL", &url)]);
    for server in [&a, &b] {
        let (status, ready) = get(server, "/readyz", None).await;
        assert_eq!(status, 200, "{ready}");
        assert_eq!(ready["database"]["backend"], "postgres", "{ready}");
        let (status, health) = get(server, "/ws/health", None).await;
        assert_eq!(status, 200, "{health}");
        assert_eq!(health["database"]["ok"], true, "{health}");
    }

    // A key made with the CLI against the shared database works on both,
    // in live sessions running on both at once.
    let key = create_key(dir_a.path(), "acme", &["--database-url", &url]);
    assert!(keys(dir_b.path(), &url, &["list"]).contains("acme"));
    let sentence = speak_mulaw_8k(SENTENCE);
    let audio = speech(&sentence, 8.0);
    let ((on_a, code_a, _), (on_b, code_b, _)) =
        tokio::join!(session(&a, &key, &audio), session(&b, &key, &audio));
    for (messages, code) in [(&on_a, code_a), (&on_b, code_b)] {
        assert_eq!(code, 1000, "{messages:#?}");
        let finals: String = messages
            .iter()
            .filter(|m| m["type"] == "transcription" && m["is_final"] == true)
            .filter_map(|m| m["text"].as_str())
            .collect();
        assert!(finals.to_lowercase().contains("quarterly"), "{messages:#?}");
    }
    let usage_a = get(&a, "/v1/usage", Some(&key)).await;
    let usage_b = get(&b, "/v1/usage", Some(&key)).await;
    assert_eq!(usage_a.0, 200, "{}", usage_a.1);
    assert_eq!(usage_a, usage_b, "both replicas read one ledger");
    assert_eq!(usage_a.1["totals"]["sessions"], 2, "{}", usage_a.1);

    // One tenant, $12 at $1 per audio second, a session on each replica at
    // once: both stop where the credit ran out, and the balance is the
    // credit minus exactly what the two rows cost (no debit lost).
    let tight = create_key(
        dir_b.path(),
        "tight",
        &[
            "--credits",
            "12",
            "--stt-price-per-minute",
            "60",
            "--database-url",
            &url,
        ],
    );
    let long = speech(&sentence, 30.0);
    // Both sessions are admitted before either sends audio: otherwise one
    // replica may spend the credit before the other has started.
    let (mut live_a, mut live_b) = tokio::join!(Live::open(&a, &tight), Live::open(&b, &tight));
    tokio::join!(live_a.wait_started(), live_b.wait_started());
    let stream = |mut live: Live| {
        let long = &long;
        async move {
            live.send(long).await;
            live.finish().await
        }
    };
    let ((on_a, code_a, reason_a), (on_b, code_b, reason_b)) =
        tokio::join!(stream(live_a), stream(live_b));
    assert_eq!(
        (code_a, reason_a.as_str()),
        (1008, "INSUFFICIENT_CREDITS"),
        "{on_a:#?}"
    );
    assert_eq!(
        (code_b, reason_b.as_str()),
        (1008, "INSUFFICIENT_CREDITS"),
        "{on_b:#?}"
    );
    let (balance, rows) = ledger(&url, "tight");
    let balance = balance.expect("a limited tenant");
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(
        rows.iter().all(|(_, outcome, _)| outcome != "open"),
        "{rows:?}"
    );
    let spent: i64 = rows.iter().map(|(cost, _, _)| cost).sum();
    assert_eq!(
        balance,
        12_000_000 - spent,
        "a concurrent debit was lost: {rows:?}"
    );
    // Each session overshoots by at most one checkpoint (10 s at $1/s).
    assert!((-20_000_000..=0).contains(&balance), "balance {balance}");
    for (server, messages) in [(&a, &on_a), (&b, &on_b)] {
        let billed = summary(messages)["total_cost"].as_f64().unwrap();
        assert!(billed > 0.0, "{messages:#?}");
        let (status, body) = get(server, "/v1/usage", Some(&tight)).await;
        assert_eq!((status, &body["totals"]["sessions"]), (200, &json!(2)));
    }
    let refused = Live::open(&a, &tight).await.finish().await;
    assert_ne!(refused.1, 1000, "no credit left: {refused:?}");

    // Revoked through the CLI: refused by both replicas on the next request.
    let prefix = &key[..16];
    keys(dir_a.path(), &url, &["revoke", prefix]);
    for server in [&a, &b] {
        let (status, body) = get(server, "/v1/usage", Some(&key)).await;
        assert_eq!(status, 401, "{body}");
    }

    // PostgreSQL restarts during a live session on A.
    let steady = create_key(
        dir_a.path(),
        "steady",
        &["--credits", "100", "--database-url", &url],
    );
    let mut live = Live::open(&a, &steady).await;
    assert!(live.send(&speech(&sentence, 12.0)).await);
    eventually(
        Duration::from_secs(60),
        "the first checkpoint",
        async || ledger(&url, "steady").1.len() == 1,
    )
    .await;
    blocking(|| cluster.stop());
    // More audio: the next checkpoint (at 20 s) finds the database down.
    assert!(live.send(&speech(&sentence, 10.0)).await);
    let mut seen = Vec::new();
    eventually(
        Duration::from_secs(90),
        "a retried checkpoint",
        async || {
            seen.extend(a.new_log_lines());
            seen.iter()
                .any(|l| l.contains("usage write failed; retrying"))
        },
    )
    .await;
    // The other replica is alive but not ready, and serves nothing billable.
    assert_eq!(get(&b, "/healthz", None).await.0, 200);
    let (status, ready) = get(&b, "/readyz", None).await;
    assert_eq!(status, 503, "{ready}");
    assert_eq!(ready["database"]["ok"], false, "{ready}");
    let refused = reqwest::Client::new()
        .post(b.url("/v1/audio/speech"))
        .bearer_auth(&steady)
        .json(&json!({"input": "Hello there.", "encoding": "mulaw"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 503);
    assert!(refused.text().await.unwrap().contains("ledger_unavailable"));

    blocking(|| cluster.launch());
    assert!(
        live.send(&speech(&sentence, 5.0)).await,
        "the session went on"
    );
    let (messages, code, reason) = live.finish().await;
    assert_eq!((code, reason.as_str()), (1000, ""), "{messages:#?}");
    let billed_audio = summary(&messages)["total_duration_seconds"]
        .as_f64()
        .unwrap();
    assert!(
        (billed_audio - 27.0).abs() < 0.1,
        "billed {billed_audio} s of 27"
    );
    let (balance, rows) = ledger(&url, "steady");
    assert_eq!(rows.len(), 1, "{rows:?}");
    let (cost, outcome, audio_seconds) = &rows[0];
    assert_eq!((outcome.as_str(), *audio_seconds), ("ok", billed_audio));
    assert_eq!(balance, Some(100_000_000 - cost), "billed once, exactly");
    for server in [&a, &b] {
        eventually(
            Duration::from_secs(30),
            "readiness after the restart",
            async || get(server, "/readyz", None).await.0 == 200,
        )
        .await;
        let (status, body) = get(server, "/v1/usage", Some(&steady)).await;
        assert_eq!(
            (status, &body["totals"]["sessions"]),
            (200, &json!(1)),
            "{body}"
        );
    }
}
