//! `vocalis serve`: load the config (defaults, TOML file, env, flags) and run
//! the server until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use vocalis_server::{Server, ServerConfig};

/// Flags of `vocalis serve`; each also reads a `VOCALIS_*` variable.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// TOML config file; flags and env override its values.
    #[arg(long, env = "VOCALIS_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, env = "VOCALIS_LISTEN")]
    listen: Option<SocketAddr>,
    /// Model store root.
    #[arg(long, env = "VOCALIS_MODELS")]
    models_dir: Option<PathBuf>,
    /// Directory for tenants, keys and the usage ledger.
    #[arg(long, env = "VOCALIS_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Shared PostgreSQL database (`postgres://user:password@host/db`) for
    /// tenants, keys and usage, instead of SQLite in the data dir.
    #[arg(long, env = "VOCALIS_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Largest accepted HTTP request body, in bytes.
    #[arg(long, env = "VOCALIS_MAX_BODY_BYTES")]
    max_body_bytes: Option<usize>,
    /// Whisper model to serve (see `vocalis models list`).
    #[arg(long, env = "VOCALIS_STT_MODEL")]
    stt_model: Option<String>,
    /// Whisper weights: `q8_0` (default) or `f16`.
    #[arg(long, env = "VOCALIS_STT_WEIGHTS")]
    stt_weights: Option<String>,
    /// Default voice.
    #[arg(long, env = "VOCALIS_VOICE")]
    voice: Option<String>,
    /// Whisper worker threads.
    #[arg(long, env = "VOCALIS_STT_WORKERS")]
    stt_workers: Option<usize>,
    /// whisper.cpp threads per Whisper worker.
    #[arg(long, env = "VOCALIS_THREADS_PER_WORKER")]
    threads_per_worker: Option<usize>,
    /// Piper worker threads.
    #[arg(long, env = "VOCALIS_TTS_WORKERS")]
    tts_workers: Option<usize>,
    /// Jobs that may wait per pool before requests are refused as busy.
    #[arg(long, env = "VOCALIS_QUEUE_DEPTH")]
    queue_depth: Option<usize>,
    /// Widest beam search for a live final on an idle server (1: greedy).
    #[arg(long, env = "VOCALIS_LIVE_FINAL_BEAM")]
    live_final_beam: Option<usize>,
    /// Close WebSocket sessions idle for this long, in ms.
    #[arg(long, env = "VOCALIS_IDLE_TIMEOUT_MS")]
    idle_timeout_ms: Option<u64>,
    /// Close connections whose request headers take longer than this, in ms.
    #[arg(long, env = "VOCALIS_HEADER_READ_TIMEOUT_MS")]
    header_read_timeout_ms: Option<u64>,
    /// Close HTTP connections idle (nothing running, nothing moving) this long, in ms.
    #[arg(long, env = "VOCALIS_HTTP_IDLE_TIMEOUT_MS")]
    http_idle_timeout_ms: Option<u64>,
    /// Open TCP connections before new ones are answered 503.
    #[arg(long, env = "VOCALIS_MAX_CONNECTIONS")]
    max_connections: Option<usize>,
    /// Concurrent WebSocket sessions before new ones are answered 503.
    #[arg(long, env = "VOCALIS_MAX_SESSIONS")]
    max_sessions: Option<usize>,
    /// How long `/v1/audio/speech` waits for a client that stopped reading, in ms.
    #[arg(long, env = "VOCALIS_TTS_WRITE_TIMEOUT_MS")]
    tts_write_timeout_ms: Option<u64>,
    /// Require an API key or JWT for `/metrics` and `/ws/health`.
    #[arg(long, env = "VOCALIS_METRICS_AUTH")]
    metrics_auth: Option<bool>,
}

fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *slot = value;
    }
}

impl ServeArgs {
    /// Merges the file, env and flags over the defaults.
    pub fn into_config(self) -> anyhow::Result<ServerConfig> {
        let mut config = match &self.config {
            Some(path) => ServerConfig::from_toml_file(path)?,
            None => ServerConfig::default(),
        };
        set(&mut config.listen, self.listen);
        set(&mut config.models_dir, self.models_dir);
        set(&mut config.data_dir, self.data_dir);
        if self.database_url.is_some() {
            config.database_url = self.database_url;
        }
        set(&mut config.max_body_bytes, self.max_body_bytes);
        set(&mut config.stt_model, self.stt_model);
        set(&mut config.stt_weights, self.stt_weights);
        set(&mut config.voice, self.voice);
        set(&mut config.stt_workers, self.stt_workers);
        set(&mut config.threads_per_worker, self.threads_per_worker);
        set(&mut config.tts_workers, self.tts_workers);
        set(&mut config.queue_depth, self.queue_depth);
        set(&mut config.live_final_beam, self.live_final_beam);
        set(&mut config.idle_timeout_ms, self.idle_timeout_ms);
        set(
            &mut config.header_read_timeout_ms,
            self.header_read_timeout_ms,
        );
        set(&mut config.http_idle_timeout_ms, self.http_idle_timeout_ms);
        set(&mut config.max_connections, self.max_connections);
        set(&mut config.max_sessions, self.max_sessions);
        set(&mut config.tts_write_timeout_ms, self.tts_write_timeout_ms);
        set(&mut config.metrics_auth, self.metrics_auth);
        config.validate()?;
        Ok(config)
    }
}

/// Runs the server on a multi-threaded runtime until a shutdown signal.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let config = args.into_config()?;
    vocalis_server::fault::init();
    let grace = Duration::from_millis(config.shutdown_grace_ms);
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let phonemizer = super::engines::isolated_phonemizer()?;
        let server = Server::new(config, phonemizer)?.start().await?;
        let shutdown = server.shutdown_token();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutdown signal received");
            shutdown.cancel();
        });
        server.wait(grace).await.context("server failed")
    })
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
