//! `/ws/tts`: streaming text-to-speech over a WebSocket (see
//! `docs/protocol.md`, section `/ws/tts`).
//!
//! The caller is authenticated before the upgrade (a bad credential is a 401
//! JSON answer, never a WebSocket). After the upgrade every session is
//! metered into exactly one usage record, whichever way it ends: the meter is
//! committed on every exit path below, and its `Drop` is only the safety net.
//!
//! The socket is split: a writer task owns the sending half and drains a
//! small bounded queue; the session loop ([`session`]) owns the receiving
//! half. The loop never awaits a send, so `clear` and `close_context` are
//! handled while audio is going out, and a reader that stops reading for
//! `idle_timeout_ms` is disconnected instead of making the server buffer.
//!
//! # Layout
//! - [`session`]: the state machine and its `select!` loop.
//! - [`synth`]: the Piper pool job (synthesis and encoding off the runtime).
//! - [`text`]: incremental sentence detection.
//! - [`framer`]: 20 ms framing of headerless audio.

mod framer;
mod session;
pub(crate) mod synth;
pub(crate) mod text;

use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::sync::mpsc;
use tracing::Instrument as _;

use self::session::{End, Session};
use crate::auth::{Authenticated, Credential, Principal};
use crate::billing::{new_session_id, Meter, Service};
use crate::error::{ApiError, SessionClose};
use crate::metrics::Route;
use crate::server::AppState;
use crate::store::ledger::Outcome;
use crate::store::tenants::dollars_to_micros;
use crate::wire::sixtydb_tts::{ConnectionInfo, SessionServerMessage};

/// Messages the writer task may hold; the session keeps the rest.
const WRITER_QUEUE: usize = 4;
/// How long the end of a session waits for its last messages to go out and
/// for the client's close frame.
const CLOSE_LINGER: Duration = Duration::from_secs(2);

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/ws/tts", get(ws_tts))
}

/// The largest message the WebSocket layer reads: `max_frame_bytes`. A
/// larger frame is refused from its header, before its payload is buffered,
/// and the session closes 1009 (the connection cannot be read after that).
fn read_limit(max_frame_bytes: usize) -> usize {
    max_frame_bytes
}

async fn ws_tts(
    State(state): State<AppState>,
    caller: Result<Authenticated, ApiError>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let caller = match caller {
        Ok(caller) => caller,
        Err(error) => {
            if matches!(error, ApiError::Unauthorized(_)) {
                state.metrics.rejected_auth();
            }
            return error.into_response();
        }
    };
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    if let Err(refused) = state.ledger.ensure_writable().await {
        return refused.into_response();
    }
    let limit = read_limit(state.config.max_frame_bytes);
    let mut upgrade = upgrade
        .max_message_size(limit)
        .max_frame_size(limit)
        .read_buffer_size(crate::session::socket::READ_BUFFER_BYTES);
    if let Credential::Subprotocol { protocol, .. } = &caller.credential {
        upgrade = upgrade.protocols([protocol.clone()]);
    }
    let tasks = state.tasks.clone();
    upgrade.on_upgrade(move |socket| tasks.track_future(run(socket, state, caller.principal)))
}

/// Maps a read error: a message over the limit is "too big" (1009), a text
/// frame that is not UTF-8 is 1007, the rest means the connection is gone.
fn read_error(error: axum::Error) -> End {
    SessionClose::from_receive_error(error).map_or(End::Disconnected, End::Close)
}

async fn write_loop(
    mut sink: futures_util::stream::SplitSink<WebSocket, Message>,
    mut queue: mpsc::Receiver<Message>,
) {
    while let Some(message) = queue.recv().await {
        let closing = matches!(message, Message::Close(_));
        if sink.feed(message).await.is_err() {
            return;
        }
        if (closing || queue.is_empty()) && sink.flush().await.is_err() {
            return;
        }
        if closing {
            return;
        }
    }
    let _ = sink.flush().await;
}

async fn run(socket: WebSocket, state: AppState, principal: Principal) {
    let session_id = new_session_id("tts");
    let span = tracing::info_span!(
        "ws_tts",
        session_id = %session_id,
        tenant = %principal.tenant,
        key_prefix = principal.key_prefix.as_deref().unwrap_or("-"),
    );
    serve(socket, state, principal, session_id)
        .instrument(span)
        .await;
}

async fn serve(socket: WebSocket, state: AppState, principal: Principal, session_id: String) {
    let metrics = state.metrics.clone();
    let _active = metrics.session_started(Route::WsTts);
    let mut meter = Meter::start(
        &state.ledger,
        state.prices(),
        &principal,
        Service::Tts,
        Route::WsTts.path(),
        session_id,
    );
    tracing::info!("session accepted");
    let welcomed = welcome(&state, &principal).await;
    if let Ok(info) = &welcomed {
        meter.limit_credit(info.credit_balance.map(dollars_to_micros));
    }
    let (sink, reader) = socket.split();
    let mut reader = reader.map(|item| {
        if let Ok(Message::Text(text)) = &item {
            crate::fault::on_client_text(text);
        }
        item.map_err(read_error)
    });
    let (out, queue) = mpsc::channel(WRITER_QUEUE);
    let writer = tokio::spawn(write_loop(sink, queue));
    let mut session = Session::new(state.clone(), meter);

    let end = match welcomed {
        Ok(info) => {
            session.send(&SessionServerMessage::Connecting {
                connecting: true,
                message: "Authenticating...",
                timestamp: unix_ms(),
            });
            let broke = info.credit_balance.is_some_and(|balance| balance <= 0.0);
            session.send(&SessionServerMessage::ConnectionEstablished {
                connection_established: info,
            });
            if broke {
                End::Close(SessionClose::InsufficientCredits)
            } else {
                // A panic in the loop ends this session only: 1011, usage committed.
                crate::fault::contain(session.drive(&mut reader, &out))
                    .await
                    .unwrap_or(End::Close(SessionClose::Internal))
            }
        }
        Err(end) => end,
    };
    finish(session, end, &state, out, writer, &mut reader).await;
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The tenant's name and balance for `connection_established`.
async fn welcome(state: &AppState, principal: &Principal) -> Result<ConnectionInfo, End> {
    let store = state.store.clone();
    let name = principal.tenant.clone();
    let tenant = tokio::task::spawn_blocking(move || store.tenant(&name)).await;
    let tenant = match tenant {
        Ok(Ok(Some(tenant))) => tenant,
        other => {
            tracing::error!(?other, "cannot read the tenant");
            return Err(End::Close(SessionClose::Internal));
        }
    };
    Ok(ConnectionInfo {
        service: "tts",
        tenant: tenant.name.clone(),
        credit_balance: tenant.credit_balance(),
    })
}

fn close_message(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

/// Commits the meter, sends the last messages and the close frame, and
/// waits (briefly) for the client's close.
async fn finish<S>(
    mut session: Session,
    end: End,
    state: &AppState,
    out: mpsc::Sender<Message>,
    writer: tokio::task::JoinHandle<()>,
    reader: &mut S,
) where
    S: futures_util::Stream + Unpin,
{
    let (outcome, code) = match &end {
        End::Stop | End::ClientClosed => (Outcome::Ok, None),
        End::Disconnected => (Outcome::Cancelled, Some("client_disconnected")),
        End::SlowConsumer => (Outcome::ClientError, Some("slow_consumer")),
        End::Close(reason) => (reason.outcome(), Some(reason.code())),
    };
    let committed = match session.take_meter() {
        Some(meter) => meter.commit(outcome, code).await,
        None => Err(crate::store::StoreError::Task(
            "meter already committed".into(),
        )),
    };
    tracing::info!(?end, outcome = outcome.as_str(), "session ended");
    let mut last = Vec::new();
    match (&end, committed) {
        (End::Stop, Ok(committed)) => {
            session.drop_queued_audio();
            let billing_summary = committed.billing_summary();
            session.send(&SessionServerMessage::SessionStopped { billing_summary });
            last.push(close_message(1000, ""));
        }
        (End::Stop, Err(error)) => {
            tracing::error!(%error, "cannot record usage");
            session.drop_queued_audio();
            let reason = SessionClose::Internal;
            session.send_close_error(&reason, "cannot record usage".into());
            last.push(close_message(reason.close_code(), reason.reason()));
        }
        (
            End::Close(reason @ (SessionClose::InsufficientCredits | SessionClose::ShuttingDown)),
            Ok(committed),
        ) => {
            // Audio already synthesized was billed: it still goes out, then the bill.
            session.send_close_error(reason, close_detail(reason, state));
            let billing_summary = committed.billing_summary();
            session.send(&SessionServerMessage::SessionStopped { billing_summary });
            last.push(close_message(reason.close_code(), reason.reason()));
        }
        (End::Close(reason), result) => {
            if let Err(error) = result {
                tracing::error!(%error, "cannot record usage");
            }
            session.drop_queued_audio();
            session.send_close_error(reason, close_detail(reason, state));
            last.push(close_message(reason.close_code(), reason.reason()));
        }
        (End::SlowConsumer, result) => {
            if let Err(error) = result {
                tracing::error!(%error, "cannot record usage");
            }
            // The client reads nothing: no close frame can reach it.
            writer.abort();
            return;
        }
        (End::ClientClosed | End::Disconnected, result) => {
            if let Err(error) = result {
                tracing::error!(%error, "cannot record usage");
            }
        }
    }
    let stuck_writer = writer.abort_handle();
    let sends = async {
        for message in session.take_outbox().into_iter().chain(last) {
            if out.send(message).await.is_err() {
                break;
            }
        }
        drop(out);
        let _ = writer.await;
    };
    if tokio::time::timeout(CLOSE_LINGER, sends).await.is_err() {
        tracing::debug!("client did not take the last messages");
        // Its socket is full: drop the connection rather than wait on it.
        stuck_writer.abort();
        return;
    }
    // Read until the client's close (which also flushes our reply to it).
    let drain = async { while reader.next().await.is_some() {} };
    let _ = tokio::time::timeout(CLOSE_LINGER, drain).await;
    if end == End::Close(SessionClose::TooBig) {
        // An over-limit message may still sit unread in the socket; give
        // the client time to read the close frame before the reset.
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn close_detail(reason: &SessionClose, state: &AppState) -> String {
    let config = &state.config;
    match reason {
        SessionClose::InsufficientCredits => "the tenant has no credit left".into(),
        SessionClose::Busy => "all synthesis workers are busy; retry shortly".into(),
        SessionClose::IdleTimeout => format!(
            "no message for {} ms while nothing was being synthesized",
            config.idle_timeout_ms
        ),
        SessionClose::TooBig => format!(
            "message larger than max_frame_bytes ({} bytes)",
            config.max_frame_bytes
        ),
        SessionClose::ShuttingDown => "the server is shutting down".into(),
        SessionClose::LedgerUnavailable => "usage cannot be recorded; retry shortly".into(),
        SessionClose::InvalidUtf8 => "a text frame was not valid UTF-8".into(),
        SessionClose::BadAudio | SessionClose::Internal => "internal server error".into(),
    }
}
