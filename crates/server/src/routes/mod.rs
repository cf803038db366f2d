//! HTTP and WebSocket handlers, one module per API surface.

pub mod email;
pub mod health;
pub mod listen_rest;
pub mod listen_ws;
pub mod metrics;
pub(crate) mod rest;
pub mod speech;
pub mod transcriptions;
pub mod usage;
pub mod ws_stt;
pub mod ws_tts;

use axum::Router;

use crate::server::AppState;

/// All routes Vocalis serves, with the fallback that answers unknown paths
/// with a JSON 404 and a panic in any handler with a JSON 500.
pub fn router(state: AppState) -> Router {
    let router = Router::new()
        .merge(health::routes())
        .merge(metrics::routes())
        .merge(usage::routes())
        .merge(transcriptions::routes())
        .merge(listen_rest::routes())
        .merge(speech::routes())
        .merge(email::routes(&state.config))
        .merge(ws_stt::routes())
        .merge(listen_ws::routes())
        .merge(ws_tts::routes())
        .fallback(not_found);
    let router = if crate::fault::enabled() {
        router.layer(axum::middleware::from_fn(crate::fault::http_fault))
    } else {
        router
    };
    // A panicking handler answers its own request with a 500; the
    // connection and every other request go on.
    router
        .layer(crate::fault::catch_panic_layer())
        .with_state(state)
}

async fn not_found(uri: axum::http::Uri) -> crate::ApiError {
    crate::ApiError::NotFound(format!("no route for {}", uri.path()))
}
