//! WebSocket helpers shared by the live routes: clean closes, JSON frames,
//! and the keep-alive pings.
//!
//! Every WebSocket route sends a Ping frame every `ping_interval_ms`
//! (default 20 s), so proxies and NATs keep the connection open and a peer
//! that vanished without a FIN is noticed: writing the ping to a dead TCP
//! connection fails and the session ends as "client gone" (and is billed).
//! Pongs are not tracked: liveness is the transport's job, and a session
//! that receives no audio or keepalive still ends by `idle_timeout_ms`.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use tokio::time::{Interval, MissedTickBehavior};

/// The read buffer of every server WebSocket. tungstenite's default
/// (128 KiB, zero-filled on first read) would make each idle connection
/// cost 128 KiB of resident memory; larger frames still grow it as needed.
pub const READ_BUFFER_BYTES: usize = 8 * 1024;

/// Applies the server's frame limit and read buffer to an upgrade: a
/// message over `max_frame_bytes` is refused from its frame header, before
/// its payload is buffered, and answered with close 1009.
pub fn limit_upgrade(
    upgrade: axum::extract::ws::WebSocketUpgrade,
    config: &crate::config::ServerConfig,
) -> axum::extract::ws::WebSocketUpgrade {
    let limit = config.max_frame_bytes;
    upgrade
        .max_message_size(limit)
        .max_frame_size(limit)
        .read_buffer_size(READ_BUFFER_BYTES)
}

/// The ping timer of one connection: first tick one interval after it opens.
pub fn ping_timer(interval_ms: u64) -> Interval {
    let period = Duration::from_millis(interval_ms.clamp(1, crate::config::MAX_DURATION_MS));
    let mut timer = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    timer.set_missed_tick_behavior(MissedTickBehavior::Delay);
    timer
}

/// A keep-alive Ping frame (empty payload).
pub fn ping() -> Message {
    Message::Ping(Default::default())
}

/// Sends a close frame and waits (briefly) for the client's answer, so the
/// TCP connection is not torn down under unread data (which would reset it
/// and lose the close frame).
pub async fn close_gracefully(socket: &mut WebSocket, code: u16, reason: &str) {
    let frame = CloseFrame {
        code,
        reason: reason.to_owned().into(),
    };
    if socket.send(Message::Close(Some(frame))).await.is_err() {
        return;
    }
    let answered = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            match socket.recv().await {
                Some(Ok(Message::Close(_))) | None => return true,
                Some(Ok(_)) => {}
                Some(Err(_)) => return false,
            }
        }
    })
    .await;
    if matches!(answered, Ok(false)) {
        // The connection cannot be read (e.g. after a message over the
        // limit, whose payload still sits unread): closing now would reset
        // it under the close frame; give the client a moment to read it.
        tokio::time::sleep(UNREADABLE_LINGER).await;
    }
}

/// How long a connection that can no longer be read stays open after its
/// close frame was sent.
const UNREADABLE_LINGER: Duration = Duration::from_millis(250);

/// Sends a value as a JSON text frame; false when the client is gone.
pub async fn send_json<T: serde::Serialize>(socket: &mut WebSocket, value: &T) -> bool {
    match serde_json::to_string(value) {
        Ok(text) => socket.send(Message::Text(text.into())).await.is_ok(),
        Err(_) => false,
    }
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
