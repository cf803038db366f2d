//! The socket under a live session: an axum [`WebSocket`] on the server,
//! an in-memory pair in the core's tests.

use std::future::Future;

use axum::extract::ws::{Message, WebSocket};

/// A message-oriented, full-duplex connection.
pub trait Transport: Send {
    /// The next message; `None` once the peer is gone.
    fn recv(&mut self) -> impl Future<Output = Option<Result<Message, axum::Error>>> + Send;
    /// Sends one message; false when the peer is gone.
    fn send(&mut self, message: Message) -> impl Future<Output = bool> + Send;
    /// Sends a close frame and waits briefly for the peer's answer.
    fn close(&mut self, code: u16, reason: &str) -> impl Future<Output = ()> + Send;
}

impl Transport for WebSocket {
    async fn recv(&mut self) -> Option<Result<Message, axum::Error>> {
        WebSocket::recv(self).await
    }

    async fn send(&mut self, message: Message) -> bool {
        WebSocket::send(self, message).await.is_ok()
    }

    async fn close(&mut self, code: u16, reason: &str) {
        crate::session::socket::close_gracefully(self, code, reason).await;
    }
}
