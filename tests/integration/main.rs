//! The one integration test binary: starts the real `vocalis` binary on
//! `127.0.0.1:0` and talks to it over real sockets, plus whole-tree checks.
//!
//! # Layout
//! - [`support`]: spawning the binary and finding its port.
//! - [`tidy`]: checks over the source tree (every module has a `//!` doc).
//! - [`auth`]: 401s for missing, wrong and revoked credentials.
//! - [`health`]: `/ws/health` and `/metrics`.
//! - [`keys`]: `vocalis keys` and the first-start developer key.
//! - [`serve`]: the server skeleton: `/healthz`, config precedence, 404s.

mod auth;
mod health;
mod keys;
mod serve;
mod support;
mod tidy;
