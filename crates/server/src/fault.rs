//! Faults kept to the one session or request they happen in, and the
//! fault-injection hook the integration tests use to cause them.
//!
//! A panic inside a live session's loop is caught by [`contain`]; the route
//! then ends that session like any internal failure ([`SessionClose::Internal`]:
//! close 1011 `INTERNAL_ERROR`, usage committed), and every other session goes
//! on. HTTP handlers are wrapped by [`catch_panic_layer`], which answers a
//! panic with the `internal_error` 500 of [`ApiError::Internal`].
//!
//! # Fault injection (a test hook, off by default)
//! `VOCALIS_FAULT_INJECTION=panic-on-text:<marker>`, read once when the
//! server starts, makes a live session panic when the client sends a text
//! frame containing `<marker>`, and an HTTP request panic when its query
//! string contains it. Without the variable (the default) the hook does
//! nothing; no request can turn it on. The server logs a warning at start-up
//! when it is set.
//!
//! [`SessionClose::Internal`]: crate::SessionClose::Internal
//! [`ApiError::Internal`]: crate::ApiError::Internal

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::OnceLock;

use axum::response::{IntoResponse as _, Response};
use futures_util::FutureExt as _;

/// The environment variable that enables fault injection.
pub const ENV_FAULT_INJECTION: &str = "VOCALIS_FAULT_INJECTION";

/// The injected fault, decided once per process.
fn marker() -> Option<&'static str> {
    static MARKER: OnceLock<Option<String>> = OnceLock::new();
    MARKER
        .get_or_init(|| {
            let value = std::env::var(ENV_FAULT_INJECTION).ok()?;
            match value.strip_prefix("panic-on-text:") {
                Some(marker) if !marker.is_empty() => Some(marker.to_owned()),
                _ => {
                    tracing::warn!(value = %value, "ignoring {ENV_FAULT_INJECTION}: expected panic-on-text:<marker>");
                    None
                }
            }
        })
        .as_deref()
}

/// Reads the fault-injection setting (once) and warns when it is on; the
/// server calls it at start-up.
pub fn init() {
    if marker().is_some() {
        tracing::warn!("{ENV_FAULT_INJECTION} is set: fault injection is ON (a test hook; never set it in production)");
    }
}

/// The hook: panics when fault injection is on and `text` holds its marker.
pub fn on_client_text(text: &str) {
    if let Some(marker) = marker() {
        if text.contains(marker) {
            panic!("fault injection: client text contains the panic marker");
        }
    }
}

/// Runs a session's future, catching a panic inside it: `None` when it
/// panicked (logged here). What the future borrows survives, so the route
/// can still commit usage and close the socket.
pub async fn contain<F: Future>(future: F) -> Option<F::Output> {
    match AssertUnwindSafe(future).catch_unwind().await {
        Ok(output) => Some(output),
        Err(payload) => {
            tracing::error!(
                panic = panic_message(payload.as_ref()),
                "session panicked; closing it"
            );
            None
        }
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(message) = payload.downcast_ref::<&'static str>() {
        message
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message
    } else {
        "non-string panic payload"
    }
}

/// Answers a panicking HTTP handler with a 500 `internal_error` JSON body.
fn panic_response(payload: Box<dyn Any + Send + 'static>) -> Response {
    tracing::error!(
        panic = panic_message(payload.as_ref()),
        "request handler panicked"
    );
    crate::ApiError::Internal("request handler panicked".into()).into_response()
}

/// The layer that keeps a panicking HTTP handler to its own request.
pub fn catch_panic_layer(
) -> tower_http::catch_panic::CatchPanicLayer<fn(Box<dyn Any + Send + 'static>) -> Response> {
    tower_http::catch_panic::CatchPanicLayer::custom(panic_response as fn(_) -> Response)
}

/// Middleware for the injected HTTP fault: panics when the query string
/// holds the marker. Installed only when fault injection is on.
pub async fn http_fault(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    if let Some(query) = request.uri().query() {
        on_client_text(query);
    }
    next.run(request).await
}

/// Whether fault injection is on (read once).
pub fn enabled() -> bool {
    marker().is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_is_contained_and_borrowed_state_survives() {
        let mut state = vec![1];
        let caught = contain(async {
            state.push(2);
            if state.len() == 2 {
                panic!("boom");
            }
        })
        .await;
        assert!(caught.is_none());
        assert_eq!(state, [1, 2]);
        assert_eq!(contain(async { 7 }).await, Some(7));
    }

    #[test]
    fn the_hook_is_inert_without_the_variable() {
        // The test process never sets VOCALIS_FAULT_INJECTION.
        assert!(!enabled());
        on_client_text("anything at all");
    }
}
