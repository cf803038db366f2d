//! `WS /v1/listen`: Deepgram's live transcription protocol, so Deepgram SDKs
//! and telephony integrations work unchanged.
//!
//! Query parameters are Deepgram's (see [`ListenParams`]); audio arrives as
//! binary frames, raw (`encoding` + `sample_rate`) or as a WAV stream (its
//! header is read from the first bytes); other containers are refused with
//! close 1008 `DATA-0000`. With `multichannel=true` each channel gets its own
//! recognizer and `channel_index` `[i, n]`. Messages out: `Results`,
//! `SpeechStarted` (`vad_events`), `UtteranceEnd` (`utterance_end_ms`, which
//! like Deepgram needs `interim_results=true`: 400 otherwise), `Warning`s
//! for parameters not applied, and `Metadata` before a normal close.
//! `endpointing=<ms>` is the silence endpoint (300–10000 ms);
//! `endpointing=false` turns it off: finals come only from `Finalize`,
//! `CloseStream` and the long-utterance cut. Client text frames:
//! `KeepAlive`, `Finalize`, `CloseStream`. Close codes come from the
//! shared [`SessionClose`] mapping, with Deepgram's reasons. The session
//! runs on the dialect-free live core ([`crate::session::live`]); this module
//! only translates. A keyed session whose first frame is Twilio's
//! `connected` or `start` (a bridge forwarding Twilio's socket as it is) is
//! served as Twilio Media Streams ([`crate::routes::telephony::detect`]).
//!
//! # Layout
//! - [`input`]: the wire audio of a session, per channel.
//! - [`messages`]: engine events to Deepgram messages.
//! - [`utterance_end`]: `UtteranceEnd` by audio time.

mod input;
mod messages;
mod utterance_end;

use std::sync::{Arc, Mutex};

use axum::extract::ws::{WebSocket, WebSocketUpgrade};
use axum::extract::{RawQuery, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use tracing::Instrument as _;
use vocalis_inference::streaming::{StreamEvent, StreamingConfig};
use vocalis_inference::stt::TranscribeOptions;

use crate::auth::{Credential, Principal};
use crate::billing::{Committed, Meter, Service};
use crate::engine::Engines;
use crate::error::{ApiError, SessionClose};
use crate::metrics::{Metrics, Route};
use crate::routes::telephony::detect::{Detecting, Switch};
use crate::routes::telephony::MaybeAuthenticated;
use crate::server::AppState;
use crate::session::live::{json, Core, Dialect, End, Frame, Limits, Outbox, PoolStream};
use crate::session::pacing::Pacer;
use crate::wire::deepgram::{ClientMessage, Endpointing, ListenParams};

use super::transcriptions::stt::check_language;
use input::{ChannelAudio, InputError};
use messages::MessageWriter;
use utterance_end::UtteranceEnds;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/v1/listen", get(upgrade))
}

async fn upgrade(
    State(state): State<AppState>,
    MaybeAuthenticated(caller): MaybeAuthenticated,
    RawQuery(query): RawQuery,
    headers: axum::http::HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    // No credential at all: only Twilio, whose key arrives in its `start`
    // (Twilio signs its stream requests with `X-Twilio-Signature`). Any other
    // keyless client gets Deepgram's 401 before the upgrade, as Deepgram does.
    let Some(caller) = caller else {
        if !headers.contains_key("x-twilio-signature") {
            let request_id = crate::wire::deepgram::new_request_id();
            return ApiError::Unauthorized("no API key: pass `Authorization: Token <key>`".into())
                .into_listen_response(&request_id);
        }
        let upgrade = match crate::routes::telephony::prepare(&state, None, upgrade).await {
            Ok(upgrade) => upgrade,
            Err(refused) => return refused,
        };
        let tasks = state.tasks.clone();
        return upgrade.on_upgrade(move |socket| {
            let session = crate::routes::telephony::serve_twilio(
                socket,
                state,
                None,
                "/v1/listen",
                Vec::new(),
            );
            tasks.track_future(session)
        });
    };
    let request_id = crate::wire::deepgram::new_request_id();
    let params = match ListenParams::from_query(query.as_deref()) {
        Ok(params) => params,
        Err(error) => {
            return ApiError::InvalidPayload(error.to_string()).into_listen_response(&request_id)
        }
    };
    if let Err(error) = streaming_config(&state, &params).and_then(|_| input::raw_format(&params)) {
        return error.into_listen_response(&request_id);
    }
    let mut upgrade = crate::session::socket::limit_upgrade(upgrade, &state.config);
    if let Credential::Subprotocol { protocol, .. } = &caller.credential {
        upgrade = upgrade.protocols([protocol.clone()]);
    }
    let credit = match crate::billing::admit(&state.ledger, &caller.principal).await {
        Ok(admission) => admission.credit_micros,
        Err(refused) => return refused.into_listen_response(&request_id),
    };
    let principal = caller.principal;
    let span = tracing::info_span!("listen", request_id = %request_id, tenant = %principal.tenant,
        key = principal.key_prefix.as_deref().unwrap_or("jwt"));
    let tasks = state.tasks.clone();
    // Parameters that are not applied are said, not silently dropped: named
    // in this header of the 101 and in the closing `Metadata`'s `warnings`.
    // Not as messages of their own: Deepgram's listen socket has no such
    // message, and its SDKs hand an unknown one to the handler as `None`.
    let diarizing = params.diarize && state.engines.diarizer.is_some();
    let unsupported: Vec<String> = messages::warnings(&params, diarizing)
        .into_iter()
        .map(|w| w.parameter)
        .collect();
    let mut response = upgrade.on_upgrade(move |socket| {
        let session = run(socket, state, principal, params, request_id, credit);
        tasks.track_future(session.instrument(span))
    });
    if let Ok(value) = axum::http::HeaderValue::from_str(&unsupported.join(", ")) {
        if !unsupported.is_empty() {
            response.headers_mut().insert(UNSUPPORTED_HEADER, value);
        }
    }
    response
}

/// The session's audio input; a panic in an earlier push (contained by
/// `spawn_blocking`) leaves it usable for the closing summary.
fn lock_audio(audio: &Mutex<ChannelAudio>) -> std::sync::MutexGuard<'_, ChannelAudio> {
    audio
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The 101 response header naming the query parameters that are not applied.
pub const UNSUPPORTED_HEADER: &str = "x-vocalis-unsupported-parameters";

/// Recognizer settings for Deepgram's parameters; a 400 when they cannot be
/// honoured (an unknown `language`, or one the served model does not speak;
/// `utterance_end_ms` without `interim_results`, as Deepgram refuses it).
fn streaming_config(state: &AppState, params: &ListenParams) -> Result<StreamingConfig, ApiError> {
    if let Some(ms) = params.utterance_end_ms {
        if !params.interim_results {
            return Err(ApiError::InvalidPayload(
                "utterance_end_ms requires interim_results=true".to_owned(),
            ));
        }
        if !(1..=MAX_UTTERANCE_END_MS).contains(&ms) {
            return Err(ApiError::InvalidPayload(format!(
                "query parameter `utterance_end_ms={ms}` is invalid: expected 1 to \
                 {MAX_UTTERANCE_END_MS} milliseconds"
            )));
        }
    }
    let language = match check_language(state, params.fixed_language())? {
        Some(code) => Some(code),
        None if state.engines.multilingual => None,
        None => Some("en".to_owned()),
    };
    // Deepgram's endpointing is silence in ms (default 10); the VAD needs at
    // least 300 ms to tell a pause from a gap between words. `false` turns
    // the silence endpoint off (the VAD silence then only separates bursts
    // of speech for `SpeechStarted`).
    let (endpointing, utterance_end_ms) = match params.endpointing {
        None => (true, 300),
        Some(Endpointing::Ms(ms)) => (true, ms.clamp(300, 10_000)),
        Some(Endpointing::Disabled) => (false, 300),
    };
    Ok(StreamingConfig {
        interim_results: params.interim_results,
        utterance_end_ms,
        endpointing,
        options: TranscribeOptions {
            language,
            initial_prompt: params.prompt(),
            ..TranscribeOptions::default()
        },
        ..StreamingConfig::default()
    })
}

/// Largest `utterance_end_ms` (one minute of audio without words).
const MAX_UTTERANCE_END_MS: u32 = 60_000;

/// One `/v1/listen` session's Deepgram translation state.
struct Deepgram {
    engines: Arc<Engines>,
    metrics: Arc<Metrics>,
    pacer: Pacer,
    config: StreamingConfig,
    /// Container parsing and Opus decoding are CPU work: each push runs on a
    /// blocking thread (never on the runtime), holding this lock.
    audio: Arc<Mutex<ChannelAudio>>,
    writer: MessageWriter,
    utterance_ends: UtteranceEnds,
    channels: usize,
    /// `diarize=true` and the speaker model installed: finals' words carry speakers.
    diarize: bool,
    /// `diarize_speakers`, `min_speakers`, `max_speakers` (live: a cap).
    speakers: vocalis_inference::diarize::DiarizeOptions,
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
    // A bridge may forward Twilio's socket as it is, with its Deepgram key:
    // a first frame that is Twilio's `connected`/`start` switches the
    // session to the Twilio dialect (same core and usage record).
    let tts_meter: crate::routes::telephony::twilio::MeterFactory = {
        let (ledger, prices) = (state.ledger.clone(), state.prices());
        let id = format!("{request_id}_speech");
        Box::new(move || Meter::start(&ledger, prices, &principal, Service::Tts, "/v1/listen", id))
    };
    let switch = Switch::new(state.clone(), tts_meter);
    let diarize = params.diarize && state.engines.diarizer.is_some();
    let dialect = Deepgram {
        engines: state.engines.clone(),
        metrics: metrics.clone(),
        pacer: state.live_pacer(),
        config,
        audio: Arc::new(Mutex::new(ChannelAudio::new(&params))),
        writer: MessageWriter::new(&params, request_id, &state.engines.stt_model, diarize),
        utterance_ends: UtteranceEnds::new(params.utterance_end_ms),
        channels: 0,
        diarize,
        speakers: crate::routes::transcriptions::diarize::options(
            params.diarize_speakers,
            params.min_speakers,
            params.max_speakers,
        ),
    };
    let core = Core::new(meter, Limits::from_config(&state.config), metrics.clone());
    let mut dialect = Detecting::twilio_first(dialect, switch);
    core.run(&mut dialect, &mut socket, &state.shutdown).await;
}

impl Deepgram {
    /// At `CloseStream`: what the container decoder still held (FLAC's
    /// last frame) goes to the recognizers before the flush. A stream
    /// whose end is damaged closes as usual, without it.
    async fn finish_audio(&mut self, core: &mut Core<PoolStream>) -> Result<(), End> {
        let audio = Arc::clone(&self.audio);
        let finished = tokio::task::spawn_blocking(move || lock_audio(&audio).finish()).await;
        let Ok(Ok(per_channel)) = finished else {
            return Ok(());
        };
        for (index, bytes) in per_channel.into_iter().enumerate() {
            if index < core.channels() {
                core.push(index, &bytes).await?;
                self.writer.audio_received(core.position(index));
            }
        }
        Ok(())
    }
}

impl Dialect<PoolStream> for Deepgram {
    async fn on_frame(
        &mut self,
        core: &mut Core<PoolStream>,
        frame: Frame,
        out: &mut Outbox,
    ) -> Result<(), End> {
        // The gap since the last word, as of the audio received so far.
        let total = core.channels().max(1);
        let watched = if self.utterance_ends.enabled() {
            core.channels()
        } else {
            0
        };
        for index in 0..watched {
            let timing = core.word_timing(index);
            let position = core.position(index);
            if let Some(end) = self.utterance_ends.observe(index, total, position, timing) {
                out.push(json(&end));
            }
        }
        match frame {
            Frame::Binary(bytes) => {
                core.touch();
                let audio = Arc::clone(&self.audio);
                let pushed =
                    tokio::task::spawn_blocking(move || lock_audio(&audio).push(&bytes)).await;
                let per_channel = match pushed {
                    Ok(Ok(per_channel)) => per_channel,
                    Ok(Err(InputError::Undecodable(why))) => {
                        tracing::info!(%why, "undecodable audio");
                        return Err(End::Closed(SessionClose::BadAudio));
                    }
                    Err(error) => {
                        tracing::error!(%error, "live audio decoding failed");
                        return Err(End::Closed(SessionClose::Internal));
                    }
                };
                if !core.is_open() {
                    let format = lock_audio(&self.audio).format();
                    if let Some(format) = format {
                        let streams = format.streams(&self.engines.vad, &self.config)?;
                        self.channels = streams.len();
                        core.open(streams.into_iter().map(|stream| {
                            PoolStream::new(
                                stream.with_pacer(self.pacer.clone()),
                                self.engines.clone(),
                            )
                            .with_diarizer(
                                self.diarize
                                    .then(|| self.engines.diarizer.clone())
                                    .flatten(),
                                &self.speakers,
                            )
                        }));
                    }
                }
                for (index, bytes) in per_channel.into_iter().enumerate() {
                    if index >= core.channels() {
                        continue;
                    }
                    core.push(index, &bytes).await?;
                    self.writer.audio_received(core.position(index));
                }
            }
            Frame::Text(text) => match serde_json::from_str::<ClientMessage>(&text) {
                Ok(ClientMessage::KeepAlive) => core.touch(),
                Ok(ClientMessage::Finalize { channel }) => {
                    core.touch();
                    core.finalize(channel.map(|c| c as usize));
                }
                Ok(ClientMessage::CloseStream) => {
                    self.finish_audio(core).await?;
                    return Err(End::Stopped);
                }
                Err(error) => {
                    // Deepgram ignores what it does not understand; say so in the log only.
                    tracing::debug!(%error, "ignored text frame");
                }
            },
        }
        Ok(())
    }

    fn on_events(
        &mut self,
        channel: usize,
        channels: usize,
        events: Vec<StreamEvent>,
        out: &mut Outbox,
    ) {
        for event in events {
            let covered = match &event {
                StreamEvent::Partial {
                    end, last_word_end, ..
                } => Some((*end, *last_word_end, None)),
                StreamEvent::Final {
                    end,
                    last_word_end,
                    words,
                    ..
                } => {
                    let sent = words.iter().map(|w| w.end).reduce(f64::max);
                    Some((*end, *last_word_end, Some(sent)))
                }
                StreamEvent::SpeechStarted { .. } => None,
            };
            for message in self
                .writer
                .messages(channel, channels, event, &self.metrics)
            {
                out.push(json(&message));
            }
            if let Some((end, last_word_end, final_words)) = covered {
                let due = self.utterance_ends.transcript(
                    channel,
                    channels,
                    end,
                    last_word_end,
                    final_words,
                );
                if let Some(utterance_end) = due {
                    out.push(json(&utterance_end));
                }
            }
        }
    }

    fn on_speaker(&mut self, _channel: usize, speaker: Option<crate::session::live::Speaker>) {
        self.writer.set_speaker(speaker);
    }

    fn farewell(
        &mut self,
        end: &End,
        _: Option<&Committed>,
        out: &mut Outbox,
    ) -> Option<(u16, String)> {
        let metadata = self
            .writer
            .metadata(&lock_audio(&self.audio), self.channels.max(1));
        match end {
            End::Stopped => {
                out.push(json(&metadata));
                Some((1000, String::new()))
            }
            End::Closed(reason) => {
                if end.flushes() {
                    out.push(json(&metadata));
                }
                let (code, text) = reason.close_for(crate::error::Dialect::Deepgram);
                Some((code, text.to_owned()))
            }
            End::ClientGone => None,
        }
    }
}
