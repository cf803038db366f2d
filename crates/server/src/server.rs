//! Binding the listener, building the router, and graceful shutdown.
//!
//! [`Server::bind`] validates the config and binds (port 0 picks a free
//! port, which is how tests start real servers). [`RunningServer`] owns a
//! cancellation token: cancelling it stops accepting connections and waits
//! up to `shutdown_grace_ms` for open sessions. Connections are served by
//! `crate::conn`, which enforces the connection limits.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::{Authenticator, JwtVerifier};
use crate::config::{ConfigError, ServerConfig};
use crate::engine::{EngineError, Engines};
use crate::metrics::Metrics;
use crate::store::{SharedStorage, Storage, StoreError};

/// State shared by every handler.
#[derive(Clone)]
pub struct AppState {
    /// When the server started.
    pub started: Instant,
    /// The validated configuration.
    pub config: Arc<ServerConfig>,
    /// Tenants, keys and the usage ledger (SQLite or PostgreSQL, behind the trait).
    pub store: SharedStorage,
    /// Usage writes with retries and the ledger's health (billing's view).
    pub ledger: crate::billing::Ledger,
    /// Checks credentials.
    pub auth: Authenticator,
    /// The loaded engines.
    pub engines: Arc<Engines>,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Cancelled when the server starts shutting down; sessions finalize.
    pub shutdown: CancellationToken,
    /// Every WebSocket session task, so shutdown can wait for them.
    pub tasks: TaskTracker,
    /// One permit per concurrent file decode (`max_concurrent_decodes`).
    pub decode_slots: Arc<tokio::sync::Semaphore>,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A model could not be loaded.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The database could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The first-start developer key could not be written.
    #[error("cannot write the developer API key to {path}: {source}")]
    DevKey {
        /// The key file.
        path: std::path::PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The configured address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
}

/// A configured server, not yet bound.
pub struct Server {
    config: ServerConfig,
    engines: Arc<Engines>,
}

/// A server accepting connections in a background task.
pub struct RunningServer {
    addr: SocketAddr,
    shutdown: CancellationToken,
    task: JoinHandle<std::io::Result<()>>,
}

impl Server {
    /// Validates `config` and loads the engines it names, with espeak-ng
    /// running where `phonemizer` says (use
    /// [`PhonemizerConfig::Isolated`](vocalis_inference::phonemize::PhonemizerConfig::Isolated):
    /// client text can crash espeak-ng); nothing is bound yet.
    pub fn new(
        config: ServerConfig,
        phonemizer: vocalis_inference::phonemize::PhonemizerConfig,
    ) -> Result<Self, StartError> {
        config.validate()?;
        let engines = Engines::load(&config.models_dir, &config.engine_settings(), &phonemizer)?;
        Ok(Self::with_engines(config, Arc::new(engines)))
    }

    /// A server over engines loaded elsewhere (tests share one set).
    pub fn with_engines(config: ServerConfig, engines: Arc<Engines>) -> Self {
        Self { config, engines }
    }

    /// Binds the listener and starts serving in a background task.
    pub async fn start(self) -> Result<RunningServer, StartError> {
        let addr = self.config.listen;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| StartError::Bind { addr, source })?;
        self.config.validate()?;
        // Opening connects and migrates (PostgreSQL: over the network), and
        // the store's calls block: off the async workers.
        let database_url = self.config.database_url.clone();
        let data_dir = self.config.data_dir.clone();
        let store: SharedStorage = tokio::task::spawn_blocking(move || {
            let store: SharedStorage = crate::store::open(database_url.as_deref(), &data_dir)?;
            bootstrap_dev_key(store.as_ref(), &data_dir, addr)?;
            Ok::<_, StartError>(store)
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))??;
        tracing::info!(backend = store.backend(), "storage ready");
        let jwt = JwtVerifier::from_config(&self.config.jwt).map_err(|e| ConfigError::Invalid {
            field: "jwt",
            reason: e.to_string(),
        })?;
        let tasks = TaskTracker::new();
        let decode_slots = Arc::new(tokio::sync::Semaphore::new(
            self.config.max_concurrent_decodes,
        ));
        let state = AppState {
            started: Instant::now(),
            ledger: crate::billing::Ledger::new(store.clone(), tasks.clone()),
            config: Arc::new(self.config),
            auth: Authenticator::new(store.clone(), jwt),
            store,
            engines: self.engines,
            metrics: Arc::new(Metrics::default()),
            shutdown: CancellationToken::new(),
            tasks,
            decode_slots,
        };
        let shutdown = state.shutdown.clone();
        let tasks = state.tasks.clone();
        let limits = crate::conn::Limits::from_config(&state.config);
        let app = crate::routes::router(state);
        let signal = shutdown.clone();
        let task = tokio::spawn(async move {
            // Returns once shut down and drained: every connection and
            // every upgraded session (in the tracker) has finished.
            crate::conn::serve(listener, app, limits, signal, tasks).await;
            Ok(())
        });
        tracing::info!(%addr, "listening");
        Ok(RunningServer {
            addr,
            shutdown,
            task,
        })
    }
}

impl AppState {
    /// The pacing every live STT stream gets (`live_max_speed`,
    /// `live_burst_seconds`).
    pub fn live_pacer(&self) -> crate::session::pacing::Pacer {
        crate::session::pacing::Pacer::new(
            self.config.live_max_speed,
            self.config.live_burst_seconds,
        )
    }

    /// The configured prices (a tenant's own prices replace them: see
    /// [`crate::billing::Prices::with_override`]).
    pub fn prices(&self) -> crate::billing::Prices {
        crate::billing::Prices {
            stt_per_minute: self.config.stt_price_per_minute,
            tts_per_1k_characters: self.config.tts_price_per_1k_characters,
        }
    }
}

impl RunningServer {
    /// The bound address (with the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// A token whose cancellation starts graceful shutdown.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Runs until the shutdown token is cancelled and the server has drained,
    /// or until `grace` has passed after cancellation.
    pub async fn wait(self, grace: Duration) -> std::io::Result<()> {
        let shutdown = self.shutdown.clone();
        let mut task = self.task;
        tokio::select! {
            result = &mut task => return result.unwrap_or_else(|e| Err(std::io::Error::other(e))),
            () = shutdown.cancelled() => {}
        }
        match tokio::time::timeout(grace, &mut task).await {
            Ok(result) => result.unwrap_or_else(|e| Err(std::io::Error::other(e))),
            Err(_) => {
                tracing::warn!(
                    grace_ms = grace.as_millis() as u64,
                    "shutdown grace period over; dropping open connections"
                );
                task.abort();
                Ok(())
            }
        }
    }
}

/// On first start (no API keys at all), creates tenant `default` with a key
/// written to `<data dir>/dev-api-key` (mode 0600), so `make run` is usable at
/// once. Logs the path, never the key. Only on a loopback address: a server
/// reachable from the network gets no unlimited key it did not ask for.
fn bootstrap_dev_key(
    store: &dyn Storage,
    data_dir: &std::path::Path,
    addr: SocketAddr,
) -> Result<(), StartError> {
    if !store.list_keys()?.is_empty() {
        return Ok(());
    }
    if !addr.ip().is_loopback() {
        tracing::warn!(
            %addr,
            "no API keys exist and no developer key is created on a non-loopback address; \
             create one with `vocalis keys create --tenant <name>`"
        );
        return Ok(());
    }
    store.ensure_tenant("default", None)?;
    let key = store.create_key("default")?;
    let path = data_dir.join("dev-api-key");
    write_private(&path, &format!("{}\n", key.secret)).map_err(|source| StartError::DevKey {
        path: path.clone(),
        source,
    })?;
    tracing::info!(path = %path.display(), prefix = %key.prefix, "created tenant `default` with a developer API key");
    Ok(())
}

fn write_private(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}
