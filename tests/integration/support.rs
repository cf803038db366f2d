//! Spawning the real `vocalis` binary for tests and finding the port it bound.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The workspace root (two levels above this crate's manifest).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crate lives in <root>/crates/<name>")
        .to_path_buf()
}

/// A `vocalis` command with logs on stderr and a private data dir.
pub fn vocalis(data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vocalis"));
    command
        .env("VOCALIS_DATA_DIR", data_dir)
        .env("RUST_LOG", "info")
        .env_remove("VOCALIS_LISTEN")
        .env_remove("VOCALIS_CONFIG");
    command
}

/// A running `vocalis serve`, killed on drop.
pub struct ServerProcess {
    child: Child,
    lines: mpsc::Receiver<String>,
    /// The address it listens on.
    pub addr: SocketAddr,
    /// Log lines seen so far (until the listening line).
    pub log: Vec<String>,
}

impl ServerProcess {
    /// Starts `vocalis serve --listen 127.0.0.1:0 EXTRA…` and waits for its
    /// `listening` log line.
    pub fn start(data_dir: &Path, extra: &[&str]) -> Self {
        Self::start_with_env(data_dir, extra, &[])
    }

    /// [`ServerProcess::start`] with extra environment variables.
    pub fn start_with_env(data_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = vocalis(data_dir)
            .envs(env.iter().copied())
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn vocalis serve");
        let stderr = child.stderr.take().expect("piped stderr");
        let (lines_tx, lines_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut log = Vec::new();
        loop {
            let line = match lines_rx.recv_timeout(Duration::from_secs(120)) {
                Ok(line) => line,
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "vocalis serve did not report its address; log so far:\n{}",
                        log.join("\n")
                    );
                }
            };
            if let Some(addr) = parse_listening(&line) {
                log.push(line);
                return Self {
                    child,
                    lines: lines_rx,
                    addr,
                    log,
                };
            }
            log.push(line);
        }
    }

    /// The log lines written since the last call (or since start-up).
    #[allow(dead_code)]
    pub fn new_log_lines(&self) -> Vec<String> {
        self.lines.try_iter().collect()
    }

    /// Sends a signal (`TERM`, `KILL`) to the server process.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Waits for the process to exit; its exit status.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// `GET /v1/usage` as the tenant of `key`: its sessions and totals.
    pub async fn usage(&self, key: &str) -> serde_json::Value {
        reqwest::Client::new()
            .get(self.url("/v1/usage"))
            .bearer_auth(key)
            .send()
            .await
            .expect("GET /v1/usage")
            .json()
            .await
            .expect("usage JSON")
    }

    /// The server's process id (for `/proc/<pid>/status`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `http://ADDR` for this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A gauge or counter from `/metrics` (the full series name with
    /// labels), read with `key` (needed when `metrics_auth` is on).
    pub async fn metric(&self, key: &str, series: &str) -> f64 {
        let text = reqwest::Client::new()
            .get(self.url("/metrics"))
            .bearer_auth(key)
            .send()
            .await
            .expect("GET /metrics")
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {series} in /metrics:\n{text}"))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // A failing test shows what the server said.
            std::thread::sleep(Duration::from_millis(200));
            for line in self.lines.try_iter() {
                eprintln!("server: {line}");
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn parse_listening(line: &str) -> Option<SocketAddr> {
    let rest = line.split("listening").nth(1)?;
    let addr = rest.split("addr=").nth(1)?;
    addr.split_whitespace().next()?.parse().ok()
}

/// A new API key for `tenant` from `vocalis keys create --tenant TENANT EXTRA…`.
pub fn create_key(data_dir: &Path, tenant: &str, extra: &[&str]) -> String {
    let output = vocalis(data_dir)
        .args(["keys", "create", "--tenant", tenant])
        .args(extra)
        .output()
        .expect("run vocalis keys create");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// The developer key a first start wrote into `data_dir`.
pub fn dev_key(data_dir: &Path) -> String {
    std::fs::read_to_string(data_dir.join("dev-api-key"))
        .expect("the server writes dev-api-key on first start")
        .trim()
        .to_owned()
}

/// Speech for `text` from the real Piper voice via `vocalis speak`, as raw
/// 8 kHz μ-law (what telephony platforms send).
pub fn speak_mulaw_8k(text: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("speech.ul");
    let status = Command::new(env!("CARGO_BIN_EXE_vocalis"))
        .args([
            "speak",
            text,
            "-o",
            out.to_str().unwrap(),
            "--format",
            "mulaw",
            "--rate",
            "8000",
        ])
        .env("RUST_LOG", "warn")
        .status()
        .expect("run vocalis speak");
    assert!(status.success(), "vocalis speak failed");
    std::fs::read(out).unwrap()
}

/// Word error rate of `hypothesis` against `reference` (case and
/// punctuation ignored).
pub fn wer(reference: &str, hypothesis: &str) -> f64 {
    vocalis_inference::stt::wer::word_error_rate(reference, hypothesis)
}

/// A client WebSocket to the test server.
pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Reads JSON text frames until the server closes; the messages and the
/// close code and reason (`None` when the connection ended without a close
/// frame).
pub async fn read_to_close(socket: &mut Socket) -> (Vec<serde_json::Value>, Option<(u16, String)>) {
    use futures_util::StreamExt as _;
    use tokio_tungstenite::tungstenite::Message;
    let mut messages = Vec::new();
    loop {
        let next = tokio::time::timeout(Duration::from_secs(120), socket.next())
            .await
            .expect("the server closes within 120 s");
        match next {
            Some(Ok(Message::Text(text))) => {
                messages.push(serde_json::from_str(&text).expect("JSON"))
            }
            Some(Ok(Message::Close(frame))) => {
                return (
                    messages,
                    frame.map(|f| (u16::from(f.code), f.reason.to_string())),
                );
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return (messages, None),
        }
    }
}

/// [`read_to_close`] when only the close code matters.
pub async fn read_to_close_code(socket: &mut Socket) -> (Vec<serde_json::Value>, Option<u16>) {
    let (messages, close) = read_to_close(socket).await;
    (messages, close.map(|(code, _)| code))
}
