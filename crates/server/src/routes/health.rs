//! Health: `GET /healthz` (liveness: the process serves requests, whatever
//! the database does), `GET /readyz` (readiness: 200 while the models are
//! loaded, the database answers, usage can be written and the server is not
//! draining; 503
//! otherwise, so a load balancer sends no new work to this replica), and
//! `/ws/health`, which as a
//! plain GET answers the full health JSON (200, or 503 when degraded) and as
//! a WebSocket pushes it on connect, every `health_interval_ms`, and on
//! `{"type":"ping"}`; like every WebSocket route it also sends a Ping frame
//! every `ping_interval_ms`. No authentication by default (health reveals
//! no tenant data); with `metrics_auth = true`, `/ws/health` (both forms)
//! needs an API key or JWT, answered 401 before any upgrade. `/healthz`
//! always stays open for load balancers.

use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::metrics::Route;
use crate::server::AppState;

/// The body of `GET /healthz`.
#[derive(Debug, Serialize)]
pub struct HealthBody {
    /// Always `"ok"` while the process serves requests.
    pub status: &'static str,
    /// The server's version.
    pub version: &'static str,
    /// Seconds since the server started.
    pub uptime_seconds: f64,
}

/// The `/ws/health` message.
#[derive(Debug, Serialize)]
pub struct HealthReport {
    /// Always `health`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `ok`, or `degraded` when a worker queue is full or the database
    /// does not answer.
    pub status: &'static str,
    /// Seconds since start.
    pub uptime_s: f64,
    /// Server version.
    pub version: &'static str,
    /// Models loaded.
    pub models: ModelsReport,
    /// Open sessions.
    pub sessions: SessionsReport,
    /// Worker load, both pools together.
    pub workers: WorkersReport,
    /// The database holding tenants, keys and usage.
    pub database: DatabaseReport,
}

/// The database as this replica sees it.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct DatabaseReport {
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// Whether it answered a query just now.
    pub ok: bool,
    /// Whether usage writes succeed (billable work is refused while not).
    pub ledger_writable: bool,
}

/// The body of `GET /readyz`.
#[derive(Debug, Serialize)]
pub struct ReadyBody {
    /// `ready` or `not_ready`.
    pub status: &'static str,
    /// Models are loaded (always true once the server listens).
    pub models: bool,
    /// The server is draining for shutdown.
    pub draining: bool,
    /// The database.
    pub database: DatabaseReport,
}

/// Longest wait for the database's answer to a health query.
const DATABASE_PING_TIMEOUT: Duration = Duration::from_secs(3);

/// Models loaded, by kind.
#[derive(Debug, Serialize)]
pub struct ModelsReport {
    /// Whisper models.
    pub stt: Vec<String>,
    /// Voices.
    pub tts: Vec<String>,
    /// Whether the VAD is loaded.
    pub vad: bool,
}

/// Open sessions by service.
#[derive(Debug, Serialize)]
pub struct SessionsReport {
    /// STT sessions and requests.
    pub stt: u64,
    /// TTS sessions and requests.
    pub tts: u64,
}

/// Worker load.
#[derive(Debug, Serialize)]
pub struct WorkersReport {
    /// Workers running a job.
    pub busy: usize,
    /// Workers.
    pub total: usize,
    /// Jobs waiting.
    pub queued: usize,
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/ws/health", get(ws_health))
}

async fn healthz(State(state): State<AppState>) -> Json<HealthBody> {
    Json(HealthBody {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        uptime_seconds: state.started.elapsed().as_secs_f64(),
    })
}

/// Asks the database a trivial query (on a blocking thread, bounded by
/// [`DATABASE_PING_TIMEOUT`]).
pub async fn database(state: &AppState) -> DatabaseReport {
    let store = state.store.clone();
    let ping = tokio::task::spawn_blocking(move || store.ping());
    let ok = matches!(
        tokio::time::timeout(DATABASE_PING_TIMEOUT, ping).await,
        Ok(Ok(Ok(())))
    );
    DatabaseReport {
        backend: state.store.backend(),
        ok,
        ledger_writable: state.ledger.is_writable(),
    }
}

async fn readyz(State(state): State<AppState>) -> Response {
    // An unwritable ledger refuses billable work: not ready either. Its
    // probe write (rate-limited) runs here too, so a replica the load
    // balancer took out of rotation comes back once writes succeed.
    let writable = state.ledger.ensure_writable().await.is_ok();
    let database = database(&state).await;
    let draining = state.shutdown.is_cancelled();
    let ready = database.ok && writable && !draining;
    let body = ReadyBody {
        status: if ready { "ready" } else { "not_ready" },
        models: true,
        draining,
        database,
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// The current health of the server, with the database as `database` found it.
pub fn report(state: &AppState, database: DatabaseReport) -> HealthReport {
    let (stt, tts) = state.engines.stats();
    let full =
        |s: &vocalis_inference::pool::PoolStats| s.queue_depth > 0 && s.queued >= s.queue_depth;
    let metrics = &state.metrics;
    HealthReport {
        kind: "health",
        status: if full(&stt) || full(&tts) || !database.ok {
            "degraded"
        } else {
            "ok"
        },
        uptime_s: state.started.elapsed().as_secs_f64(),
        version: env!("CARGO_PKG_VERSION"),
        models: ModelsReport {
            stt: vec![state.engines.stt_model.clone()],
            tts: vec![state.engines.voice.clone()],
            vad: true,
        },
        sessions: SessionsReport {
            stt: metrics.active(Route::WsStt)
                + metrics.active(Route::Listen)
                + metrics.active(Route::Transcriptions),
            tts: metrics.active(Route::WsTts) + metrics.active(Route::Speech),
        },
        workers: WorkersReport {
            busy: stt.busy + tts.busy,
            total: stt.workers + tts.workers,
            queued: stt.queued + tts.queued,
        },
        database,
    }
}

async fn ws_health(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let mut selected = None;
    if state.config.metrics_auth {
        match crate::auth::extract::authenticate(&state, uri.query(), &headers).await {
            Err(refused) => return refused.into_response(),
            Ok(caller) => {
                if let crate::auth::Credential::Subprotocol { protocol, .. } = caller.credential {
                    selected = Some(protocol);
                }
            }
        }
    }
    match upgrade {
        Ok(mut upgrade) => {
            if let Some(protocol) = selected {
                upgrade = upgrade.protocols([protocol]);
            }
            upgrade
                .max_message_size(64 * 1024)
                .read_buffer_size(crate::session::socket::READ_BUFFER_BYTES)
                .on_upgrade(move |socket| push_health(socket, state))
        }
        Err(_) => {
            let report = report(&state, database(&state).await);
            let status = if report.status == "ok" {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            (status, Json(report)).into_response()
        }
    }
}

async fn push_health(mut socket: WebSocket, state: AppState) {
    // `interval` panics on zero; validation bounds it, this is the backstop.
    let period = Duration::from_millis(
        state
            .config
            .health_interval_ms
            .clamp(1, crate::config::MAX_DURATION_MS),
    );
    let mut ticker = tokio::time::interval(period);
    let mut ping = crate::session::socket::ping_timer(state.config.ping_interval_ms);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = ping.tick() => {
                if socket.send(crate::session::socket::ping()).await.is_err() {
                    return;
                }
                continue;
            }
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    let is_ping = serde_json::from_str::<serde_json::Value>(&text)
                        .is_ok_and(|v| v["type"] == "ping");
                    if !is_ping {
                        continue;
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => continue,
            },
        }
        let report = report(&state, database(&state).await);
        let Ok(text) = serde_json::to_string(&report) else {
            return;
        };
        if socket.send(Message::Text(text.into())).await.is_err() {
            return;
        }
    }
}
