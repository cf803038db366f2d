//! A private PostgreSQL 15 cluster for tests: `initdb` in a temporary
//! directory, `postgres` on a free loopback port, trust authentication, no
//! system service. The binaries are Debian's (`/usr/lib/postgresql/15/bin`,
//! package `postgresql`; override with `VOCALIS_TEST_PG_BIN`). PostgreSQL
//! refuses to run as root, so under uid 0 it runs as the `postgres` user (or
//! `nobody`) in a directory that user owns.
//!
//! The server runs under a small `sh` watchdog reading the test's stdin pipe:
//! when the test process exits, however it exits, the pipe closes and the
//! watchdog shuts PostgreSQL down (fast mode). [`Cluster::shared`] is one
//! cluster per test binary (each test takes its own database);
//! [`Cluster::start`] is a private one a test may stop and restart.

use std::io::Write as _;
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Runs `postgres` until stdin closes, then stops it and (if asked) removes
/// the cluster's directory.
const WATCHDOG: &str = r#""$@" & pid=$!
read -r _line || true
kill -INT "$pid" 2>/dev/null
wait "$pid"
if [ -n "$VOCALIS_PG_CLEANUP" ]; then rm -rf "$VOCALIS_PG_CLEANUP"; fi"#;

/// A running (or stopped) test cluster.
pub struct Cluster {
    root: PathBuf,
    port: u16,
    owner: Option<(u32, u32)>,
    cleanup_on_exit: bool,
    server: Option<(Child, ChildStdin)>,
}

fn bin(name: &str) -> PathBuf {
    let dir = std::env::var_os("VOCALIS_TEST_PG_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/postgresql/15/bin"));
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: install Debian's `postgresql` package (scripts/setup.sh)",
        path.display()
    );
    path
}

/// The (uid, gid) to run PostgreSQL as when this process is root.
fn unprivileged_owner() -> Option<(u32, u32)> {
    let euid = std::fs::metadata("/proc/self").map(|m| m.uid()).ok()?;
    if euid != 0 {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let find = |user: &str| {
        passwd.lines().find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.len() > 3 && fields[0] == user)
                .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
                .flatten()
        })
    };
    Some(
        find("postgres")
            .or_else(|| find("nobody"))
            .unwrap_or((65534, 65534)),
    )
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

impl Cluster {
    /// One cluster shared by every test of this binary (never restarted).
    pub fn shared() -> &'static Cluster {
        static SHARED: OnceLock<Cluster> = OnceLock::new();
        SHARED.get_or_init(|| Self::init(true))
    }

    /// A private cluster, stopped and removed on drop.
    pub fn start() -> Self {
        Self::init(false)
    }

    fn init(cleanup_on_exit: bool) -> Self {
        let root = tempfile::Builder::new()
            .prefix("vocalis-pg-")
            .tempdir()
            .expect("temp dir")
            .keep();
        let owner = unprivileged_owner();
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&root, Some(uid), Some(gid)).expect("chown the cluster dir");
        }
        let mut initdb = Command::new(bin("initdb"));
        initdb
            .args(["-D", "data", "-U", "postgres", "--auth=trust", "-E", "UTF8"])
            .args(["--no-sync", "--no-instructions"])
            .current_dir(&root)
            .env("LC_ALL", "C")
            .stdout(Stdio::null());
        if let Some((uid, gid)) = owner {
            initdb.uid(uid).gid(gid);
        }
        let output = initdb.output().expect("run initdb");
        assert!(
            output.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let mut cluster = Self {
            root,
            port: free_port(),
            owner,
            cleanup_on_exit,
            server: None,
        };
        cluster.launch();
        cluster
    }

    /// Starts `postgres` (again) on the cluster's port and waits until it
    /// accepts connections.
    pub fn launch(&mut self) {
        assert!(self.server.is_none(), "already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.root.join("postgres.log"))
            .expect("log file");
        let mut command = Command::new("sh");
        command
            .args(["-c", WATCHDOG, "sh"])
            .arg(bin("postgres"))
            .args(["-D", "data", "-p", &self.port.to_string()])
            .args(["-h", "127.0.0.1", "-k", "."])
            .args(["-c", "fsync=off", "-c", "max_connections=200"])
            .current_dir(&self.root)
            .env("LC_ALL", "C")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(log);
        if self.cleanup_on_exit {
            command.env("VOCALIS_PG_CLEANUP", &self.root);
        }
        if let Some((uid, gid)) = self.owner {
            command.uid(uid).gid(gid);
        }
        let mut child = command.spawn().expect("spawn postgres");
        let stdin = child.stdin.take().expect("piped stdin");
        self.server = Some((child, stdin));
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if postgres::Client::connect(&self.url("postgres"), postgres::NoTls).is_ok() {
                return;
            }
            if let Some((child, _)) = &mut self.server {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("postgres exited ({status}):\n{}", self.log());
                }
            }
            assert!(
                Instant::now() < deadline,
                "postgres did not start in 60 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the server (fast shutdown: sessions are terminated) and waits.
    pub fn stop(&mut self) {
        if let Some((mut child, mut stdin)) = self.server.take() {
            let _ = stdin.write_all(b"stop\n");
            drop(stdin);
            let _ = child.wait();
        }
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.root.join("postgres.log")).unwrap_or_default()
    }

    /// A URL for `database` on this cluster.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates a fresh, empty database; its URL.
    pub fn create_database(&self, prefix: &str) -> String {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "{prefix}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = postgres::Client::connect(&self.url("postgres"), postgres::NoTls)
            .expect("connect to the test cluster");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create database");
        self.url(&name)
    }

    /// The cluster's directory.
    #[allow(dead_code)]
    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}
