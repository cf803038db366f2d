//! `WS /v1/listen`: Deepgram's live transcription protocol, so Deepgram SDKs
//! and telephony integrations work unchanged.
//!
//! Query parameters are Deepgram's (see [`ListenParams`]); audio arrives as
//! binary frames, raw (`encoding` + `sample_rate`) or as a WAV stream (its
//! header is read from the first bytes); other containers are refused with
//! close 1008 `DATA-0000`. With `multichannel=true` each channel gets its own
//! recognizer and `channel_index` `[i, n]`. Messages out: `Results`,
//! `SpeechStarted` (`vad_events`), `UtteranceEnd` (`interim_results` +
//! `utterance_end_ms`), and `Metadata` before a normal close. Client text
//! frames: `KeepAlive`, `Finalize`, `CloseStream`. Close codes come from the
//! shared [`SessionClose`] mapping, with Deepgram's reasons.
//!
//! # Layout
//! - [`input`]: the wire audio of a session, per channel.
//! - [`messages`]: engine events to Deepgram messages.

mod input;
mod messages;

use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::future::select_all;
use tracing::Instrument as _;
use vocalis_inference::streaming::{StreamEvent, StreamingConfig};
use vocalis_inference::stt::TranscribeOptions;

use crate::auth::{Authenticated, Credential, Principal};
use crate::billing::{Meter, Service};
use crate::error::{ApiError, SessionClose};
use crate::metrics::Route;
use crate::server::AppState;
use crate::session::socket::{close_gracefully, send_json};
use crate::session::stt_stream::{SttStream, SttStreamError, RETRY_INTERVAL};
use crate::store::ledger::Outcome;
use crate::wire::deepgram::{ClientMessage, Endpointing, ListenParams};

use super::transcriptions::stt::check_language;
use input::{ChannelAudio, InputError};
use messages::MessageWriter;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/v1/listen", get(upgrade))
}

async fn upgrade(
    State(state): State<AppState>,
    caller: Authenticated,
    RawQuery(query): RawQuery,
    upgrade: WebSocketUpgrade,
) -> Response {
    let params = match ListenParams::from_query(query.as_deref()) {
        Ok(params) => params,
        Err(error) => return ApiError::InvalidPayload(error.to_string()).into_response(),
    };
    if let Err(error) = streaming_config(&state, &params).and_then(|_| input::raw_format(&params)) {
        return error.into_response();
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
    let request_id = crate::wire::deepgram::new_request_id();
    let credit = match crate::billing::admit(&state.ledger, &caller.principal).await {
        Ok(admission) => admission.credit_micros,
        Err(refused) => return refused.into_listen_response(&request_id),
    };
    let principal = caller.principal;
    let span = tracing::info_span!("listen", request_id = %request_id, tenant = %principal.tenant,
        key = principal.key_prefix.as_deref().unwrap_or("jwt"));
    let tasks = state.tasks.clone();
    upgrade.on_upgrade(move |socket| {
        let session = run(socket, state, principal, params, request_id, credit);
        tasks.track_future(session.instrument(span))
    })
}

/// Recognizer settings for Deepgram's parameters; a 400 when they cannot be
/// honoured (an unknown `language`, or one the served model does not speak).
fn streaming_config(state: &AppState, params: &ListenParams) -> Result<StreamingConfig, ApiError> {
    let language = match check_language(state, params.fixed_language())? {
        Some(code) => Some(code),
        None if state.engines.multilingual => None,
        None => Some("en".to_owned()),
    };
    // Deepgram's endpointing is silence in ms (default 10); the VAD needs at
    // least 300 ms to tell a pause from a gap between words.
    let utterance_end_ms = match params.endpointing {
        None => 300,
        Some(Endpointing::Ms(ms)) => ms.clamp(300, 10_000),
        Some(Endpointing::Disabled) => 10_000,
    };
    Ok(StreamingConfig {
        interim_results: params.interim_results,
        utterance_end_ms,
        options: TranscribeOptions {
            language,
            initial_prompt: params.prompt(),
            ..TranscribeOptions::default()
        },
        ..StreamingConfig::default()
    })
}

enum End {
    CloseStream,
    ClientGone,
    Closed(SessionClose),
}

struct Session {
    state: AppState,
    meter: Meter,
    config: StreamingConfig,
    audio: ChannelAudio,
    streams: Vec<SttStream>,
    writer: MessageWriter,
    idle_deadline: Instant,
}

async fn run(
    mut socket: WebSocket,
    state: AppState,
    principal: Principal,
    params: ListenParams,
    request_id: String,
    credit_micros: Option<i64>,
) {
    let metrics = state.metrics.clone();
    let _active = metrics.session_started(Route::Listen);
    let mut meter = Meter::start(
        &state.ledger,
        state.prices(),
        &principal,
        Service::Stt,
        "/v1/listen",
        request_id.clone(),
    );
    meter.limit_credit(credit_micros);
    let config = match streaming_config(&state, &params) {
        Ok(config) => config,
        Err(_) => return,
    };
    let audio = ChannelAudio::new(&params);
    let writer = MessageWriter::new(&params, request_id, &state.engines.stt_model);
    let mut session = Session {
        idle_deadline: crate::config::deadline_after_ms(state.config.idle_timeout_ms),
        state,
        meter,
        config,
        audio,
        streams: Vec::new(),
        writer,
    };
    // A panic in the loop ends this session only: 1011, usage committed.
    let end = crate::fault::contain(session.serve(&mut socket))
        .await
        .unwrap_or(End::Closed(SessionClose::Internal));
    session.end(socket, end).await;
}

impl Session {
    fn touch(&mut self) {
        self.idle_deadline = crate::config::deadline_after_ms(self.state.config.idle_timeout_ms);
    }

    async fn serve(&mut self, socket: &mut WebSocket) -> End {
        let shutdown = self.state.shutdown.clone();
        let mut ping = crate::session::socket::ping_timer(self.state.config.ping_interval_ms);
        loop {
            for stream in &mut self.streams {
                if let Err(error) = stream.schedule(&self.state.engines.stt) {
                    return failed(error);
                }
            }
            let waiting = self.streams.iter().any(SttStream::is_waiting_for_worker);
            let idle = tokio::time::sleep_until(self.idle_deadline.into());
            let retry = tokio::time::sleep(if waiting {
                RETRY_INTERVAL
            } else {
                Duration::from_secs(3600)
            });
            let decoded = async {
                if self.streams.is_empty() {
                    return std::future::pending().await;
                }
                let futures = self.streams.iter_mut().map(|s| Box::pin(s.decoded()));
                let (decoded, index, _) = select_all(futures).await;
                (index, decoded)
            };
            tokio::select! {
                incoming = socket.recv() => {
                    let message = match incoming {
                        Some(Ok(message)) => message,
                        Some(Err(error)) => {
                            tracing::debug!(%error, "receive failed");
                            return SessionClose::from_receive_error(error)
                                .map_or(End::ClientGone, End::Closed);
                        }
                        None => return End::ClientGone,
                    };
                    if let Some(end) = self.on_message(socket, message).await {
                        return end;
                    }
                }
                (index, decoded) = decoded => {
                    let events = match self.streams[index].complete(decoded) {
                        Ok(events) => events,
                        Err(error) => return failed(error),
                    };
                    if !self.emit(socket, index, events).await {
                        return End::ClientGone;
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

    async fn on_message(&mut self, socket: &mut WebSocket, message: Message) -> Option<End> {
        if let Message::Text(text) = &message {
            crate::fault::on_client_text(text);
        }
        match message {
            Message::Binary(bytes) => {
                if bytes.len() > self.state.config.max_frame_bytes {
                    return Some(End::Closed(SessionClose::TooBig));
                }
                self.touch();
                let per_channel = match self.audio.push(&bytes) {
                    Ok(per_channel) => per_channel,
                    Err(InputError::Undecodable(why)) => {
                        tracing::info!(%why, "undecodable audio");
                        return Some(End::Closed(SessionClose::BadAudio));
                    }
                };
                if self.streams.is_empty() {
                    if let Some(format) = self.audio.format() {
                        match format.streams(&self.state.engines.vad, &self.config) {
                            Ok(streams) => {
                                let pacer = self.state.live_pacer();
                                self.streams = streams
                                    .into_iter()
                                    .map(|stream| stream.with_pacer(pacer.clone()))
                                    .collect();
                            }
                            Err(error) => return Some(failed(error)),
                        }
                    }
                }
                for (index, bytes) in per_channel.into_iter().enumerate() {
                    let Some(stream) = self.streams.get_mut(index) else {
                        continue;
                    };
                    let events = match stream.push(&bytes, &self.state.engines.stt).await {
                        Ok(events) => events,
                        Err(error) => return Some(failed(error)),
                    };
                    let position = stream.position();
                    self.writer.audio_received(position);
                    if !self.emit(socket, index, events).await {
                        return Some(End::ClientGone);
                    }
                }
                // Time spent pacing or running queued finals is not idleness.
                self.touch();
                self.meter.set_audio_seconds(self.billed_seconds());
                if let Err(reason) = self.meter.checkpoint().await {
                    return Some(End::Closed(reason));
                }
            }
            Message::Text(text) => match serde_json::from_str::<ClientMessage>(&text) {
                Ok(ClientMessage::KeepAlive) => self.touch(),
                Ok(ClientMessage::Finalize { channel }) => {
                    self.touch();
                    for (index, stream) in self.streams.iter_mut().enumerate() {
                        if channel.is_none_or(|c| c as usize == index) {
                            stream.finalize();
                            self.writer.finalize_requested(index);
                        }
                    }
                }
                Ok(ClientMessage::CloseStream) => return Some(End::CloseStream),
                Err(error) => {
                    // Deepgram ignores what it does not understand; say so in the log only.
                    tracing::debug!(%error, "ignored text frame");
                }
            },
            Message::Close(_) => return Some(End::ClientGone),
            Message::Ping(_) | Message::Pong(_) => {}
        }
        None
    }

    async fn emit(
        &mut self,
        socket: &mut WebSocket,
        channel: usize,
        events: Vec<StreamEvent>,
    ) -> bool {
        let total = self.streams.len().max(1);
        for event in events {
            for message in self
                .writer
                .messages(channel, total, event, &self.state.metrics)
            {
                if !send_json(socket, &message).await {
                    return false;
                }
            }
        }
        true
    }

    /// Audio billed so far: every channel is transcribed, so each counts.
    fn billed_seconds(&self) -> f64 {
        self.audio.seconds_received() * self.streams.len().max(1) as f64
    }

    async fn end(mut self, mut socket: WebSocket, end: End) {
        let client_present = !matches!(end, End::ClientGone);
        let finalize = matches!(
            end,
            End::CloseStream
                | End::Closed(
                    SessionClose::ShuttingDown
                        | SessionClose::IdleTimeout
                        | SessionClose::InsufficientCredits
                )
        );
        if finalize {
            for index in 0..self.streams.len() {
                let events = self.streams[index]
                    .finish_and_drain(&self.state.engines.stt)
                    .await;
                if client_present {
                    let _ = self.emit(&mut socket, index, events).await;
                }
            }
        }
        let seconds = self.audio.seconds_received();
        let billed = self.billed_seconds();
        self.meter.set_audio_seconds(billed);
        self.state.metrics.add_stt_audio(seconds);
        let (outcome, code) = match &end {
            End::CloseStream => (Outcome::Ok, None),
            End::ClientGone => (Outcome::Cancelled, None),
            End::Closed(reason) => (reason.outcome(), Some(reason.code())),
        };
        if let Err(error) = self.meter.commit(outcome, code).await {
            tracing::error!(%error, "cannot record usage");
        }
        tracing::info!(outcome = outcome.as_str(), seconds, "session ended");
        if !client_present {
            return;
        }
        let metadata = self.writer.metadata(&self.audio, self.streams.len().max(1));
        match end {
            End::CloseStream => {
                let _ = send_json(&mut socket, &metadata).await;
                close_gracefully(&mut socket, 1000, "").await;
            }
            End::Closed(reason) => {
                if matches!(
                    reason,
                    SessionClose::ShuttingDown
                        | SessionClose::IdleTimeout
                        | SessionClose::InsufficientCredits
                ) {
                    let _ = send_json(&mut socket, &metadata).await;
                }
                close_gracefully(&mut socket, reason.close_code(), reason.deepgram_reason()).await;
            }
            End::ClientGone => {}
        }
    }
}

fn failed(error: SttStreamError) -> End {
    End::Closed(error.close_reason())
}
