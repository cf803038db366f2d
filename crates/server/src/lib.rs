//! The Vocalis server: the only crate that knows the wire protocols.
//!
//! It turns HTTP and WebSocket requests into calls on the engine crates and
//! engine results back into wire messages. Engine types never cross the wire
//! directly; each protocol has its own wire types.
//!
//! # Layout
//! - [`auth`]: API keys, JWTs, and where credentials are found in a request.
//! - [`billing`]: metering sessions into exactly one usage record each.
//! - `conn`: the accept loop and its limits (header timeout, idle timeout,
//!   connection and WebSocket session caps).
//! - [`config`]: the typed, validated server configuration (TOML file, env, flags).
//! - [`email`]: outgoing email through an SMTP relay, rate-limited per tenant.
//! - [`engine`]: the Whisper and Piper worker pools and the VAD, loaded from the model store.
//! - [`error`]: the one mapping from errors to HTTP status codes and JSON bodies.
//! - [`fault`]: panics kept to their own session or request; the test-only fault-injection hook.
//! - [`metrics`]: Prometheus counters, gauges and histograms.
//! - [`playground`]: the web page at `/` (embedded assets, strict CSP).
//! - [`routes`]: the HTTP and WebSocket handlers, one module per API surface.
//! - [`session`]: protocol-independent live-session parts (audio input, streaming STT).
//! - [`server`]: binding, the router, and graceful shutdown.
//! - [`wire`]: the JSON message types of each protocol.
//! - [`store`]: durable tenants, API keys and the usage ledger (SQLite).

pub mod auth;
pub mod billing;
pub mod config;
mod conn;
pub mod email;
pub mod engine;
pub mod error;
pub mod fault;
pub mod metrics;
pub mod playground;
pub mod routes;
pub mod server;
pub mod session;
pub mod store;
pub mod wire;

pub use config::{ConfigError, ServerConfig};
pub use error::{ApiError, SessionClose};
pub use server::{RunningServer, Server};
