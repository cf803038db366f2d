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
    /// The address it listens on.
    pub addr: SocketAddr,
    /// Log lines seen so far (until the listening line).
    pub log: Vec<String>,
}

impl ServerProcess {
    /// Starts `vocalis serve --listen 127.0.0.1:0 EXTRA…` and waits for its
    /// `listening` log line.
    pub fn start(data_dir: &Path, extra: &[&str]) -> Self {
        let mut child = vocalis(data_dir)
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
                return Self { child, addr, log };
            }
            log.push(line);
        }
    }

    /// `http://ADDR` for this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn parse_listening(line: &str) -> Option<SocketAddr> {
    let rest = line.split("listening").nth(1)?;
    let addr = rest.split("addr=").nth(1)?;
    addr.split_whitespace().next()?.parse().ok()
}
