//! `/ws/stt`: the 60db-style live transcription WebSocket.
//!
//! One task per connection runs an explicit state machine — awaiting
//! `start`, streaming, finishing — driven by a single `select!` over the
//! socket, the decode in flight on the worker pool, the idle timer, a retry
//! timer for refused finals, and server shutdown. Every accepted connection
//! is metered and writes exactly one usage record on every way out. The
//! protocol is documented in `docs/protocol.md`.
//!
//! # Layout
//! - [`start`]: validating `start` into effective settings.
//! - [`events`]: engine events to wire messages.

mod events;
pub mod start;

use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::{IntoResponse as _, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine as _;
use tracing::Instrument as _;
use vocalis_inference::streaming::StreamEvent;

use crate::auth::{Authenticated, Credential, Principal};
use crate::billing::{Meter, Service};
use crate::error::SessionClose;
use crate::metrics::Route;
use crate::server::AppState;
use crate::session::socket::unix_ms;
use crate::session::stt_stream::{SttStream, SttStreamError, RETRY_INTERVAL};
use crate::store::ledger::Outcome;
use crate::store::tenants::dollars_to_micros;
use crate::wire::sixtydb::{ConnectionInfo, SttClientMessage, SttServerMessage};

use events::EventWriter;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/ws/stt", get(upgrade))
}

/// Accepts the upgrade once the caller is authenticated (a bad credential
/// has already been answered with 401 by the extractor).
async fn upgrade(
    State(state): State<AppState>,
    caller: Authenticated,
    upgrade: WebSocketUpgrade,
) -> Response {
    if let Err(refused) = state.ledger.ensure_writable().await {
        return refused.into_response();
    }
    // A message over `max_frame_bytes` is refused from its frame header,
    // before its payload is buffered, and answered with close 1009.
    let limit = state.config.max_frame_bytes;
    let mut upgrade = upgrade
        .max_message_size(limit)
        .max_frame_size(limit)
        .read_buffer_size(crate::session::socket::READ_BUFFER_BYTES);
    if let Credential::Subprotocol { protocol, .. } = &caller.credential {
        upgrade = upgrade.protocols([protocol.clone()]);
    }
    let tasks = state.tasks.clone();
    let session_id = crate::billing::new_session_id("stt");
    let principal = caller.principal;
    let span = tracing::info_span!("ws_stt", session_id = %session_id, tenant = %principal.tenant,
        key = principal.key_prefix.as_deref().unwrap_or("jwt"));
    upgrade.on_upgrade(move |socket| {
        tasks.track_future(run(socket, state, principal, session_id).instrument(span))
    })
}

/// How a session ended.
enum End {
    /// The client sent `stop`.
    Stopped,
    /// The client closed or vanished.
    ClientGone,
    /// The server closes it with this reason.
    Closed(SessionClose),
}

async fn send(socket: &mut WebSocket, message: &SttServerMessage) -> bool {
    crate::session::socket::send_json(socket, message).await
}

async fn send_error(socket: &mut WebSocket, code: &'static str, error: impl Into<String>) -> bool {
    send(
        socket,
        &SttServerMessage::Error {
            code,
            error: error.into(),
        },
    )
    .await
}

async fn close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    crate::session::socket::close_gracefully(socket, code, reason).await;
}

/// Whether audio may open a telephony session by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ImplicitStart {
    /// No `start` yet: binary audio opens a μ-law 8 kHz session (60db).
    Allowed,
    /// A `start` was refused: audio must not silently open a session with
    /// settings the client did not ask for; the client has been told once.
    Refused { told: bool },
}

struct Session {
    state: AppState,
    meter: Meter,
    stream: Option<SttStream>,
    events: EventWriter,
    idle_deadline: Instant,
    implicit_start: ImplicitStart,
}

async fn run(mut socket: WebSocket, state: AppState, principal: Principal, session_id: String) {
    let metrics = state.metrics.clone();
    let _active = metrics.session_started(Route::WsStt);
    tracing::info!("session accepted");
    let mut meter = Meter::start(
        &state.ledger,
        state.prices(),
        &principal,
        Service::Stt,
        "/ws/stt",
        session_id.clone(),
    );

    let balance = match lookup_balance(&state, &principal.tenant).await {
        Ok(balance) => balance,
        Err(error) => {
            tracing::error!(%error, "cannot read the tenant");
            close(&mut socket, 1011, SessionClose::Internal.reason()).await;
            let _ = meter
                .commit(Outcome::ServerError, Some("internal_error"))
                .await;
            return;
        }
    };
    let _ = send(
        &mut socket,
        &SttServerMessage::Connecting {
            message: "Authenticating...",
            timestamp: unix_ms(),
        },
    )
    .await;
    let established = SttServerMessage::ConnectionEstablished {
        connection_established: ConnectionInfo {
            service: "stt",
            tenant: principal.tenant.clone(),
            credit_balance: balance,
        },
    };
    if !send(&mut socket, &established).await {
        let _ = meter.commit(Outcome::Cancelled, None).await;
        return;
    }
    meter.limit_credit(balance.map(dollars_to_micros));
    if balance.is_some_and(|b| b <= 0.0) {
        let reason = SessionClose::InsufficientCredits;
        let _ = send_error(&mut socket, reason.code(), "the tenant has no credit left").await;
        close(&mut socket, reason.close_code(), reason.reason()).await;
        let _ = meter.commit(reason.outcome(), Some(reason.code())).await;
        return;
    }

    let mut session = Session {
        idle_deadline: crate::config::deadline_after_ms(state.config.idle_timeout_ms),
        events: EventWriter::new(state.engines.multilingual),
        state,
        meter,
        stream: None,
        implicit_start: ImplicitStart::Allowed,
    };
    // A panic in the loop ends this session only: 1011, usage committed.
    let end = crate::fault::contain(session.serve(&mut socket, &session_id))
        .await
        .unwrap_or(End::Closed(SessionClose::Internal));
    session.end(socket, end).await;
}

async fn lookup_balance(
    state: &AppState,
    tenant: &str,
) -> Result<Option<f64>, crate::store::StoreError> {
    let store = state.store.clone();
    let tenant = tenant.to_owned();
    let record = tokio::task::spawn_blocking(move || store.tenant(&tenant))
        .await
        .map_err(|e| crate::store::StoreError::Task(e.to_string()))??;
    Ok(record.and_then(|t| t.credit_balance()))
}

impl Session {
    fn touch(&mut self) {
        self.idle_deadline = crate::config::deadline_after_ms(self.state.config.idle_timeout_ms);
    }

    /// The main loop; returns how the session ended.
    async fn serve(&mut self, socket: &mut WebSocket, session_id: &str) -> End {
        let shutdown = self.state.shutdown.clone();
        let mut ping = crate::session::socket::ping_timer(self.state.config.ping_interval_ms);
        loop {
            if let Some(stream) = self.stream.as_mut() {
                if let Err(error) = stream.schedule(&self.state.engines.stt) {
                    return self.stream_failed(error);
                }
            }
            let waiting = self
                .stream
                .as_ref()
                .is_some_and(SttStream::is_waiting_for_worker);
            let idle = tokio::time::sleep_until(self.idle_deadline.into());
            let retry = tokio::time::sleep(if waiting {
                RETRY_INTERVAL
            } else {
                Duration::from_secs(3600)
            });
            let decoded = async {
                match self.stream.as_mut() {
                    Some(stream) => stream.decoded().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                incoming = socket.recv() => {
                    let message = match incoming {
                        Some(Ok(message)) => message,
                        Some(Err(error)) => return Self::receive_failed(error),
                        None => return End::ClientGone,
                    };
                    match self.on_message(socket, message, session_id).await {
                        Ok(None) => {}
                        Ok(Some(end)) => return end,
                        Err(end) => return end,
                    }
                }
                decoded = decoded => {
                    let Some(stream) = self.stream.as_mut() else { continue };
                    match stream.complete(decoded) {
                        Ok(events) => {
                            if !self.emit(socket, events).await {
                                return End::ClientGone;
                            }
                        }
                        Err(error) => return self.stream_failed(error),
                    }
                }
                () = idle => return End::Closed(SessionClose::IdleTimeout),
                () = retry => {}
                _ = ping.tick() => {
                    if socket.send(crate::session::socket::ping()).await.is_err() {
                        return End::ClientGone;
                    }
                }
                () = shutdown.cancelled() => return End::Closed(SessionClose::ShuttingDown),
            }
        }
    }

    fn receive_failed(error: axum::Error) -> End {
        // A message over the limit (1009) or a text frame that is not UTF-8
        // (1007) is answered with a close; anything else means the
        // connection is gone.
        tracing::debug!(%error, "receive failed");
        SessionClose::from_receive_error(error).map_or(End::ClientGone, End::Closed)
    }

    fn stream_failed(&self, error: SttStreamError) -> End {
        End::Closed(error.close_reason())
    }

    /// Handles one client message; `Ok(Some(end))` ends the session.
    async fn on_message(
        &mut self,
        socket: &mut WebSocket,
        message: Message,
        session_id: &str,
    ) -> Result<Option<End>, End> {
        let size = match &message {
            Message::Binary(bytes) => bytes.len(),
            Message::Text(text) => text.len(),
            _ => 0,
        };
        if size > self.state.config.max_frame_bytes {
            return Ok(Some(End::Closed(SessionClose::TooBig)));
        }
        match message {
            // An empty frame carries no audio: it neither starts telephony
            // mode nor reaches the recognizer.
            Message::Binary(bytes) if bytes.is_empty() => self.touch(),
            Message::Binary(bytes) => {
                self.touch();
                if self.stream.is_none() {
                    match self.implicit_start {
                        // 60db telephony mode: binary audio before `start` is μ-law 8 kHz.
                        ImplicitStart::Allowed => {
                            self.start(socket, None, None, None, session_id).await?;
                        }
                        // After a refused `start`, audio is dropped (and not
                        // billed) until a `start` is accepted.
                        ImplicitStart::Refused { told: false } => {
                            self.implicit_start = ImplicitStart::Refused { told: true };
                            let message = "audio ignored: the last `start` was refused; \
                                           send a valid `start` first";
                            if !send_error(socket, "start_required", message).await {
                                return Err(End::ClientGone);
                            }
                            return Ok(None);
                        }
                        ImplicitStart::Refused { told: true } => return Ok(None),
                    }
                }
                self.push_audio(socket, &bytes).await?;
            }
            Message::Text(text) => {
                crate::fault::on_client_text(&text);
                let parsed = match SttClientMessage::parse(&text) {
                    Ok(parsed) => parsed,
                    Err(error) => {
                        let sent = send_error(
                            socket,
                            "invalid_message",
                            format!("cannot parse message: {error}"),
                        )
                        .await;
                        return if sent { Ok(None) } else { Err(End::ClientGone) };
                    }
                };
                return self.on_command(socket, parsed, session_id).await;
            }
            Message::Close(_) => return Ok(Some(End::ClientGone)),
            Message::Ping(_) | Message::Pong(_) => {}
        }
        Ok(None)
    }

    async fn on_command(
        &mut self,
        socket: &mut WebSocket,
        command: SttClientMessage,
        session_id: &str,
    ) -> Result<Option<End>, End> {
        let ok = match command {
            SttClientMessage::Start {
                languages,
                config,
                context,
            } => {
                self.touch();
                if self.stream.is_some() {
                    send_error(socket, "already_started", "the session has already started").await
                } else {
                    let prompt = start::context_prompt(context.as_ref());
                    self.start(socket, languages, config, prompt, session_id)
                        .await?;
                    true
                }
            }
            SttClientMessage::Audio { audio } => {
                self.touch();
                match base64::engine::general_purpose::STANDARD.decode(audio.trim()) {
                    Err(error) => {
                        send_error(
                            socket,
                            "invalid_message",
                            format!("`audio` is not base64: {error}"),
                        )
                        .await
                    }
                    Ok(bytes) if self.stream.is_some() => {
                        self.push_audio(socket, &bytes).await?;
                        true
                    }
                    Ok(_) => send_error(socket, "not_started", "send `start` before audio").await,
                }
            }
            SttClientMessage::Config { languages, .. } => match self.stream.as_mut() {
                None => send_error(socket, "not_started", "send `start` before `config`").await,
                Some(stream) => match start::decode_language(
                    languages.as_deref(),
                    self.state.engines.multilingual,
                ) {
                    Ok(language) => {
                        stream.set_language(language);
                        send(socket, &SttServerMessage::ConfigUpdated { languages }).await
                    }
                    Err(error) => send_error(socket, error.code, error.message).await,
                },
            },
            SttClientMessage::Finalize => match self.stream.as_mut() {
                None => send_error(socket, "not_started", "send `start` before `finalize`").await,
                Some(stream) => {
                    stream.finalize();
                    true
                }
            },
            SttClientMessage::Stop => return Ok(Some(End::Stopped)),
            SttClientMessage::Test => {
                send(
                    socket,
                    &SttServerMessage::TestResponse {
                        server_time: unix_ms(),
                    },
                )
                .await
            }
            SttClientMessage::Keepalive => {
                self.touch();
                true
            }
        };
        if ok {
            Ok(None)
        } else {
            Err(End::ClientGone)
        }
    }

    async fn start(
        &mut self,
        socket: &mut WebSocket,
        languages: Option<Vec<String>>,
        config: Option<crate::wire::sixtydb::StartConfig>,
        prompt: Option<String>,
        session_id: &str,
    ) -> Result<(), End> {
        let accepted = match start::accept(
            languages,
            config.as_ref(),
            prompt,
            self.state.engines.multilingual,
        ) {
            Ok(accepted) => accepted,
            Err(error) => {
                self.implicit_start = ImplicitStart::Refused { told: false };
                return if send_error(socket, error.code, error.message).await {
                    Ok(())
                } else {
                    Err(End::ClientGone)
                };
            }
        };
        let stream =
            match SttStream::new(accepted.input, &self.state.engines.vad, accepted.streaming) {
                Ok(stream) => stream.with_pacer(self.state.live_pacer()),
                Err(error) => return Err(self.stream_failed(error)),
            };
        self.events.set_interim(accepted.effective.interim_results);
        self.stream = Some(stream);
        let started = SttServerMessage::SessionStarted {
            session_id: session_id.to_owned(),
            config: accepted.effective,
        };
        if send(socket, &started).await
            && send(
                socket,
                &SttServerMessage::Connected {
                    session_id: session_id.to_owned(),
                },
            )
            .await
        {
            Ok(())
        } else {
            Err(End::ClientGone)
        }
    }

    async fn push_audio(&mut self, socket: &mut WebSocket, bytes: &[u8]) -> Result<(), End> {
        let Some(stream) = self.stream.as_mut() else {
            return Ok(());
        };
        let events = match stream.push(bytes, &self.state.engines.stt).await {
            Ok(events) => events,
            Err(error) => return Err(self.stream_failed(error)),
        };
        self.events.audio_received(stream.position());
        self.meter.set_audio_seconds(stream.seconds_received());
        // Time spent pacing or running queued finals is not client idleness.
        self.touch();
        let checkpoint = self.meter.checkpoint().await;
        if !self.emit(socket, events).await {
            return Err(End::ClientGone);
        }
        checkpoint.map_err(End::Closed)
    }

    async fn emit(&mut self, socket: &mut WebSocket, events: Vec<StreamEvent>) -> bool {
        for event in events {
            let Some(message) = self.events.message(event, &self.state.metrics) else {
                continue;
            };
            if !send(socket, &message).await {
                return false;
            }
        }
        true
    }

    /// Finishes the stream (finals for pending audio unless the client is
    /// gone), commits usage, sends the billing summary and closes.
    async fn end(mut self, mut socket: WebSocket, end: End) {
        let client_present = !matches!(end, End::ClientGone);
        let finalize = matches!(
            end,
            End::Stopped
                | End::Closed(
                    SessionClose::ShuttingDown
                        | SessionClose::IdleTimeout
                        | SessionClose::InsufficientCredits
                )
        );
        if let Some(mut stream) = self.stream.take() {
            if finalize {
                let events = stream.finish_and_drain(&self.state.engines.stt).await;
                let _ = self.emit(&mut socket, events).await;
            }
            let received = stream.seconds_received();
            self.meter.set_audio_seconds(received);
            self.state.metrics.add_stt_audio(received);
        }
        let (outcome, code) = match &end {
            End::Stopped => (Outcome::Ok, None),
            End::ClientGone => (Outcome::Cancelled, None),
            End::Closed(reason) => (reason.outcome(), Some(reason.code())),
        };
        let committed = self.meter.commit(outcome, code).await;
        if !client_present {
            if let Err(error) = committed {
                tracing::error!(%error, "cannot record usage");
            }
            return;
        }
        if let End::Closed(reason) = &end {
            if !matches!(reason, SessionClose::ShuttingDown) {
                let _ = send_error(&mut socket, reason.code(), reason.to_string()).await;
            }
        }
        match committed {
            Ok(committed) => {
                let summary = committed.billing_summary();
                let _ = send(
                    &mut socket,
                    &SttServerMessage::SessionStopped {
                        billing_summary: summary,
                    },
                )
                .await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot record usage");
                let _ =
                    send_error(&mut socket, "internal_error", "usage could not be recorded").await;
            }
        }
        tracing::info!(outcome = outcome.as_str(), "session ended");
        match end {
            End::Stopped => close(&mut socket, 1000, "").await,
            End::Closed(reason) => close(&mut socket, reason.close_code(), reason.reason()).await,
            End::ClientGone => {}
        }
    }
}
