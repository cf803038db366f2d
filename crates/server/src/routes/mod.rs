//! HTTP and WebSocket handlers, one module per API surface.

pub mod health;
pub mod metrics;
pub mod usage;

use axum::Router;

use crate::server::AppState;

/// All routes Vocalis serves, with the fallback that answers unknown paths
/// with a JSON 404.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(health::routes())
        .merge(metrics::routes())
        .merge(usage::routes())
        .fallback(not_found)
        .with_state(state)
}

async fn not_found(uri: axum::http::Uri) -> crate::ApiError {
    crate::ApiError::NotFound(format!("no route for {}", uri.path()))
}
