//! Accepting TCP connections, with the limits that keep a slow or hostile
//! client from holding the server's sockets.
//!
//! - `header_read_timeout_ms`: a request's headers must arrive within this
//!   time of the connection opening or of the previous response (hyper's
//!   HTTP/1 header timeout), so half-sent requests and idle keep-alive
//!   connections waiting for their next request are closed.
//! - `http_idle_timeout_ms`: an HTTP connection with no handler running and
//!   no byte moving either way for this long is shut down (a client that
//!   stopped reading a response, for instance); one more idle period later it
//!   is dropped.
//! - `max_connections`: open TCP connections, WebSockets included. One more
//!   is answered `503` with `{"error":{"code":"server_busy",…}}`,
//!   `Retry-After: 1` and `Connection: close`, then closed: a load balancer
//!   sees an ordinary 503 and retries elsewhere.
//! - `max_sessions`: WebSocket sessions on any route. One more upgrade
//!   request is answered `503 server_busy` before the upgrade.
//!
//! On shutdown the loop stops serving new connections: until open
//! connections and sessions have drained it answers each new one
//! `503 shutting_down`, then the listener closes.

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderValue, Request, Response, StatusCode};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt as _;

use crate::config::ServerConfig;
use crate::error::ApiError;

/// Refusals (503 then close) being written at once; beyond this a refused
/// connection is closed without an answer.
const MAX_REFUSALS: usize = 64;

/// How long a refusal may take to write and to read what the client sent.
const REFUSAL_LINGER: Duration = Duration::from_secs(1);

/// The connection limits, from the configuration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    header_read_timeout: Duration,
    idle_timeout: Duration,
    max_connections: usize,
    max_sessions: usize,
}

impl Limits {
    /// The limits of a validated configuration.
    pub(crate) fn from_config(config: &ServerConfig) -> Self {
        Self {
            header_read_timeout: Duration::from_millis(config.header_read_timeout_ms),
            idle_timeout: Duration::from_millis(config.http_idle_timeout_ms),
            max_connections: config.max_connections,
            max_sessions: config.max_sessions,
        }
    }
}

/// What the loop hands every connection.
struct Shared {
    app: Router,
    limits: Limits,
    sessions: Arc<Semaphore>,
    shutdown: CancellationToken,
}

/// Serves `listener` until `shutdown` is cancelled, then answers new
/// connections `503 shutting_down` until every connection in `conns` and
/// every session in `sessions` has finished.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: CancellationToken,
    sessions: TaskTracker,
) {
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let refusals = Arc::new(Semaphore::new(MAX_REFUSALS));
    let conns = TaskTracker::new();
    let shared = Arc::new(Shared {
        app,
        limits,
        sessions: Arc::new(Semaphore::new(limits.max_sessions)),
        shutdown: shutdown.clone(),
    });
    loop {
        let stream = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = accept(&listener) => accepted,
        };
        match connections.clone().try_acquire_owned() {
            Ok(permit) => {
                conns.spawn(connection(stream, permit, shared.clone()));
            }
            Err(_) => refuse(
                stream,
                &refusals,
                ApiError::ServerBusy(format!(
                    "the server is at its limit of {} connections; retry shortly",
                    limits.max_connections
                )),
            ),
        }
    }
    let drained = async {
        conns.close();
        conns.wait().await;
        sessions.close();
        sessions.wait().await;
    };
    tokio::pin!(drained);
    loop {
        tokio::select! {
            () = &mut drained => return,
            stream = accept(&listener) => refuse(
                stream,
                &refusals,
                ApiError::ShuttingDown("the server is shutting down".into()),
            ),
        }
    }
}

/// The next connection; accept errors (out of file descriptors) are
/// logged and retried after a short pause rather than ending the server.
async fn accept(listener: &TcpListener) -> TcpStream {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => return stream,
            Err(error) => {
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Answers `error` (a 503) on a raw connection and closes it, in the
/// background; when too many refusals are in flight it just closes.
fn refuse(mut stream: TcpStream, refusals: &Arc<Semaphore>, error: ApiError) {
    let Ok(permit) = refusals.clone().try_acquire_owned() else {
        return;
    };
    tokio::spawn(async move {
        let _permit = permit;
        // The route is not known yet: the common (OpenAI) body.
        let body = error.body(crate::error::Dialect::OpenAi, "").to_string();
        let status = error.status();
        let head = format!(
            "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             retry-after: 1\r\nconnection: close\r\n\r\n",
            status.as_u16(),
            status.canonical_reason().unwrap_or(""),
            body.len()
        );
        // Read the request head first: an answer that arrives before the
        // client has sent its request makes HTTP clients fail with an
        // "unexpected message" instead of seeing the 503.
        let _ = tokio::time::timeout(REFUSAL_LINGER, read_request_head(&mut stream)).await;
        let _ = tokio::time::timeout(REFUSAL_LINGER, async {
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(body.as_bytes()).await?;
            stream.shutdown().await?;
            // Read what the client sent, so closing does not reset the
            // connection before it has read the answer.
            let mut sink = [0u8; 4096];
            let mut total = 0usize;
            while total < 64 * 1024 {
                let n = stream.read(&mut sink).await?;
                if n == 0 {
                    break;
                }
                total += n;
            }
            io::Result::Ok(())
        })
        .await;
    });
}

/// Reads until the end of an HTTP request head (a blank line), the client
/// closes, or 16 KiB have been read.
async fn read_request_head(stream: &mut TcpStream) -> io::Result<()> {
    let mut buf = [0u8; 4096];
    let mut seen: Vec<u8> = Vec::with_capacity(1024);
    while seen.len() < 16 * 1024 {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        seen.extend_from_slice(&buf[..n]);
        if seen.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    Ok(())
}

/// One connection's activity, shared by its socket, its requests and its
/// watchdog. The permits live here, so a WebSocket counts against
/// `max_connections` and `max_sessions` until its socket is dropped.
struct Activity {
    epoch: Instant,
    /// Milliseconds after `epoch` of the last byte read or written.
    last_ms: AtomicU64,
    /// Requests whose handler is running.
    in_flight: AtomicUsize,
    _connection: OwnedSemaphorePermit,
    session: Mutex<Option<OwnedSemaphorePermit>>,
}

impl Activity {
    fn new(connection: OwnedSemaphorePermit) -> Self {
        Self {
            epoch: Instant::now(),
            last_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            _connection: connection,
            session: Mutex::new(None),
        }
    }

    fn touch(&self) {
        let ms = self.epoch.elapsed().as_millis().min(u128::from(u64::MAX)) as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// When the connection becomes idle if nothing happens before then.
    fn idle_at(&self, idle: Duration) -> Instant {
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.epoch
            .checked_add(last.saturating_add(idle))
            .unwrap_or_else(|| Instant::now() + idle)
    }

    fn is_idle(&self, idle: Duration) -> bool {
        self.in_flight.load(Ordering::Relaxed) == 0 && Instant::now() >= self.idle_at(idle)
    }

    fn set_session(&self, permit: Option<OwnedSemaphorePermit>) {
        *self.session.lock().unwrap_or_else(|p| p.into_inner()) = permit;
    }
}

/// A running handler; the connection is not idle while one exists.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn new(activity: &Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::Relaxed);
        activity.touch();
        Self(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

/// The TCP stream, noting every byte that moves.
struct Tracked {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

fn is_websocket_upgrade<B>(request: &Request<B>) -> bool {
    request
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// Routes one request, holding a session permit for a WebSocket upgrade.
async fn handle(
    request: Request<Incoming>,
    shared: Arc<Shared>,
    activity: Arc<Activity>,
) -> Result<Response<Body>, Infallible> {
    let _running = InFlight::new(&activity);
    let upgrade = is_websocket_upgrade(&request);
    if upgrade {
        let Ok(permit) = shared.sessions.clone().try_acquire_owned() else {
            let mut response = ApiError::ServerBusy(format!(
                "the server is at its limit of {} WebSocket sessions; retry shortly",
                shared.limits.max_sessions
            ))
            .render(crate::error::Dialect::for_path(request.uri().path()), None);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return Ok(response);
        };
        activity.set_session(Some(permit));
    }
    let response = shared.app.clone().oneshot(request).await?;
    if upgrade && response.status() != StatusCode::SWITCHING_PROTOCOLS {
        activity.set_session(None);
    }
    Ok(response)
}

/// Serves one connection until it closes, upgrades, idles out, or the
/// server shuts down.
async fn connection(stream: TcpStream, permit: OwnedSemaphorePermit, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(Activity::new(permit));
    let io = TokioIo::new(Tracked {
        inner: stream,
        activity: activity.clone(),
    });
    let service = {
        let shared = shared.clone();
        let activity = activity.clone();
        hyper::service::service_fn(move |request| handle(request, shared.clone(), activity.clone()))
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(shared.limits.header_read_timeout)
        .keep_alive(true);
    let conn = builder.serve_connection(io, service).with_upgrades();
    tokio::pin!(conn);
    let idle = shared.limits.idle_timeout;
    let mut closing = false;
    let mut idled = false;
    loop {
        tokio::select! {
            served = conn.as_mut() => {
                if let Err(error) = served {
                    tracing::debug!(%error, "connection ended with an error");
                }
                return;
            }
            () = shared.shutdown.cancelled(), if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
            () = tokio::time::sleep_until(activity.idle_at(idle)) => {
                if activity.in_flight.load(Ordering::Relaxed) > 0 {
                    // A running handler counts as activity (and the next
                    // check is one idle period away, not a busy loop).
                    activity.touch();
                    continue;
                }
                if !activity.is_idle(idle) {
                    continue;
                }
                if idled {
                    tracing::debug!("idle connection did not close; dropping it");
                    return;
                }
                idled = true;
                closing = true;
                activity.touch();
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn idle_only_with_no_handler_running_and_no_bytes_moving() {
        let permits = Arc::new(Semaphore::new(1));
        let activity = Arc::new(Activity::new(permits.clone().try_acquire_owned().unwrap()));
        let idle = Duration::from_secs(1);
        assert!(!activity.is_idle(idle));
        tokio::time::advance(idle).await;
        assert!(activity.is_idle(idle));
        let running = InFlight::new(&activity);
        tokio::time::advance(idle * 5).await;
        assert!(!activity.is_idle(idle), "a running handler is activity");
        drop(running);
        assert!(!activity.is_idle(idle));
        tokio::time::advance(idle).await;
        assert!(activity.is_idle(idle));
        activity.touch();
        assert!(!activity.is_idle(idle), "a byte moved");
        // The connection's permit is held until its activity is dropped.
        assert_eq!(permits.available_permits(), 0);
        drop(activity);
        assert_eq!(permits.available_permits(), 1);
    }
}
