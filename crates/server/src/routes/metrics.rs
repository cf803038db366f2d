//! `GET /metrics`: Prometheus text exposition, including worker pool load.
//! Open by default; with `metrics_auth = true` it needs an API key or JWT
//! like every other route (401 without one).

use axum::extract::State;
use axum::http::header;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::server::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

async fn metrics(State(state): State<AppState>, uri: Uri, headers: HeaderMap) -> Response {
    if state.config.metrics_auth {
        if let Err(refused) =
            crate::auth::extract::authenticate(&state, uri.query(), &headers).await
        {
            return refused.into_response();
        }
    }
    let (stt, tts) = state.engines.stats();
    let (beam, greedy) = state.engines.stt.beam_decodes();
    let gauges = [
        (
            "vocalis_stt_workers_busy",
            "Whisper workers running a job.",
            stt.busy as f64,
        ),
        (
            "vocalis_stt_queue_depth",
            "Whisper jobs waiting.",
            stt.queued as f64,
        ),
        (
            "vocalis_stt_workers",
            "Whisper workers.",
            stt.workers as f64,
        ),
        (
            "vocalis_tts_workers_busy",
            "Piper workers running a job.",
            tts.busy as f64,
        ),
        (
            "vocalis_tts_queue_depth",
            "Piper jobs waiting.",
            tts.queued as f64,
        ),
        ("vocalis_tts_workers", "Piper workers.", tts.workers as f64),
        (
            "vocalis_stt_partials_shed_total",
            "Live partial decodes evicted from a full queue by finals.",
            stt.shed as f64,
        ),
        (
            "vocalis_stt_live_beam_decodes_total",
            "Live decodes that make finals, run with a beam search (the pool was idle).",
            beam as f64,
        ),
        (
            "vocalis_stt_live_beam_declined_total",
            "Live decodes that make finals, run greedily because the pool was busy.",
            greedy as f64,
        ),
        (
            "vocalis_stt_final_queue_wait_seconds_sum",
            "Seconds finals and file decodes waited for a Whisper worker.",
            stt.high_wait.0,
        ),
        (
            "vocalis_stt_final_queue_wait_seconds_count",
            "Finals and file decodes that started on a Whisper worker.",
            stt.high_wait.1 as f64,
        ),
        (
            "vocalis_stt_partial_queue_wait_seconds_sum",
            "Seconds live partials waited for a Whisper worker.",
            stt.low_wait.0,
        ),
        (
            "vocalis_stt_partial_queue_wait_seconds_count",
            "Live partials that started on a Whisper worker.",
            stt.low_wait.1 as f64,
        ),
    ];
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(&gauges),
    )
        .into_response()
}
