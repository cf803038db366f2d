//! HTTP and WebSocket handlers, one module per API surface.

pub mod email;
pub mod health;
pub mod listen_rest;
pub mod listen_ws;
pub mod metrics;
pub(crate) mod rest;
pub mod speech;
pub mod telephony;
pub mod transcriptions;
pub mod usage;
pub mod voices;
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
        .merge(telephony::routes())
        .merge(listen_ws::routes())
        .merge(ws_tts::routes())
        .merge(voices::routes())
        .merge(crate::playground::routes())
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
        // Every error in its route's dialect (Deepgram's body on /v1/listen).
        .layer(axum::middleware::from_fn(crate::error::dialect_layer))
        .layer(axum::middleware::from_fn(close_after_refused_body))
        .with_state(state)
}

/// An error answered before the request body was read (401, 402, 413…)
/// leaves that body on the wire, so hyper closes the connection after the
/// response. Saying so in the response (`Connection: close`) keeps clients
/// from reusing the connection for their next request and failing it.
async fn close_after_refused_body(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::header::{CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING};
    let headers = request.headers();
    let has_body = headers.contains_key(TRANSFER_ENCODING)
        || headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0");
    let mut response = next.run(request).await;
    let status = response.status();
    if has_body && (status.is_client_error() || status.is_server_error()) {
        response
            .headers_mut()
            .insert(CONNECTION, axum::http::HeaderValue::from_static("close"));
    }
    response
}

async fn not_found(uri: axum::http::Uri) -> crate::ApiError {
    crate::ApiError::NotFound(format!("no route for {}", uri.path()))
}
