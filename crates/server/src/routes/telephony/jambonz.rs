//! jambonz custom speech vendor: the STT WebSocket (`/v1/jambonz/stt`) and
//! the custom TTS HTTP API (`POST /v1/jambonz/tts`).
//!
//! STT: jambonz sends `Authorization: Bearer <apiKey>`, a `start`
//! (`language`, `format: raw`, `encoding: LINEAR16`, `sampleRateHz`,
//! `interimResults`), binary L16 frames, then `stop`; we answer
//! `transcription` frames (`is_final`, `alternatives[{transcript,
//! confidence}]`, `channel`, `language`) and close after `stop` (the vendor
//! closes the socket). Audio before an accepted `start` is never guessed
//! at: it is dropped with one `error`.
//!
//! TTS: jambonz POSTs `{language, voice, type, text}`; we answer 200 with
//! the whole utterance as `audio/l16;rate=<rate>` (16-bit little-endian
//! mono), rate from `sampleRate` in the body or `?sample_rate=`, default
//! 8000. SSML tags are stripped.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{RawQuery, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use vocalis_audio::{AudioEncoder, OutputFormat};
use vocalis_inference::streaming::{StreamEvent, StreamingConfig};
use vocalis_inference::stt::TranscribeOptions;
use vocalis_inference::SynthesisOptions;

use crate::auth::Authenticated;
use crate::billing::{Committed, Meter, Service};
use crate::engine::Engines;
use crate::error::{ApiError, SessionClose};
use crate::metrics::Metrics;
use crate::routes::ws_stt::events::EventWriter;
use crate::server::AppState;
use crate::session::audio_input::{AudioInput, InputEncoding};
use crate::session::live::{json, Core, Dialect, End, Frame, Outbox, PoolStream};
use crate::session::pacing::Pacer;
use crate::session::stt_stream::SttStream;
use crate::store::ledger::Outcome;
use crate::wire::jambonz::{Alternative, Inbound, Outbound, TtsRequest};
use crate::wire::sixtydb::SttServerMessage;

/// The longest text one TTS request may carry, characters.
pub const MAX_TTS_CHARS: usize = 5_000;

fn error(message: impl Into<String>) -> axum::extract::ws::Message {
    json(&Outbound::Error {
        error: message.into(),
    })
}

pub(super) async fn upgrade(
    State(state): State<AppState>,
    caller: Authenticated,
    upgrade: WebSocketUpgrade,
) -> Response {
    super::serve_keyed(
        state,
        caller,
        upgrade,
        "/v1/jambonz/stt",
        |_, message| error(message),
        move |state| {
            Jambonz::new(
                state.engines.clone(),
                state.metrics.clone(),
                state.live_pacer(),
            )
        },
    )
    .await
}

/// One jambonz recognition's translation state.
pub struct Jambonz {
    engines: Arc<Engines>,
    metrics: Arc<Metrics>,
    pacer: Pacer,
    writer: EventWriter,
    language: String,
    told_not_started: bool,
}

impl Jambonz {
    /// A recognition waiting for its `start`.
    pub fn new(engines: Arc<Engines>, metrics: Arc<Metrics>, pacer: Pacer) -> Self {
        Self {
            writer: EventWriter::new(engines.multilingual),
            engines,
            metrics,
            pacer,
            language: "en-US".into(),
            told_not_started: false,
        }
    }

    fn start(
        &mut self,
        core: &mut Core<PoolStream>,
        start: crate::wire::jambonz::Start,
        out: &mut Outbox,
    ) -> Result<(), End> {
        if core.is_open() {
            out.push(error("recognition already started"));
            return Ok(());
        }
        if let Some(format) = start.format.as_deref() {
            if !format.eq_ignore_ascii_case("raw") {
                out.push(error(format!(
                    "format `{format}` is not supported; use raw"
                )));
                return Ok(());
            }
        }
        let encoding = match start
            .encoding
            .as_deref()
            .map(str::to_ascii_uppercase)
            .as_deref()
        {
            None | Some("LINEAR16" | "L16" | "PCM") => InputEncoding::Linear16,
            Some("MULAW" | "ULAW" | "PCMU") => InputEncoding::Mulaw,
            Some("ALAW" | "PCMA") => InputEncoding::Alaw,
            Some(other) => {
                out.push(error(format!(
                    "encoding `{other}` is not supported; use LINEAR16"
                )));
                return Ok(());
            }
        };
        let rate = start.sample_rate_hz.unwrap_or(8_000);
        let input = match AudioInput::new(encoding, rate, 1) {
            Ok(input) => input,
            Err(e) => {
                out.push(error(e.to_string()));
                return Ok(());
            }
        };
        let named = start.language.clone().unwrap_or_else(|| "en-US".into());
        let code = named
            .split(['-', '_'])
            .next()
            .unwrap_or("en")
            .to_ascii_lowercase();
        let language = if code.is_empty() {
            (!self.engines.multilingual).then(|| "en".to_owned())
        } else if !self.engines.multilingual && code != "en" {
            out.push(error(format!(
                "language `{named}` is not supported: the served model speaks English only"
            )));
            return Ok(());
        } else {
            Some(code)
        };
        let interim = start.interim_results.unwrap_or(false);
        let config = StreamingConfig {
            interim_results: interim,
            options: TranscribeOptions {
                language,
                ..TranscribeOptions::default()
            },
            ..StreamingConfig::default()
        };
        let stream =
            SttStream::new(input, &self.engines.vad, config)?.with_pacer(self.pacer.clone());
        core.open([PoolStream::new(stream, self.engines.clone())]);
        self.writer.set_interim(interim);
        self.language = named;
        Ok(())
    }
}

impl Dialect<PoolStream> for Jambonz {
    async fn on_frame(
        &mut self,
        core: &mut Core<PoolStream>,
        frame: Frame,
        out: &mut Outbox,
    ) -> Result<(), End> {
        match frame {
            Frame::Binary(bytes) => {
                core.touch();
                if !core.is_open() {
                    if !self.told_not_started {
                        self.told_not_started = true;
                        out.push(error("audio before an accepted `start` is ignored"));
                    }
                    return Ok(());
                }
                core.push(0, &bytes).await?;
                self.writer.audio_received(core.position(0));
            }
            Frame::Text(text) => match serde_json::from_str::<Inbound>(&text) {
                Ok(Inbound::Start(start)) => {
                    core.touch();
                    self.start(core, start, out)?;
                }
                Ok(Inbound::Stop) => return Err(End::Stopped),
                Err(e) => out.push(error(format!("cannot parse message: {e}"))),
            },
        }
        Ok(())
    }

    fn on_events(&mut self, _: usize, _: usize, events: Vec<StreamEvent>, out: &mut Outbox) {
        for event in events {
            if let Some(SttServerMessage::Transcription {
                text,
                confidence,
                is_final,
                ..
            }) = self.writer.message(event, &self.metrics)
            {
                if text.trim().is_empty() {
                    continue;
                }
                out.push(json(&Outbound::Transcription {
                    is_final,
                    alternatives: vec![Alternative {
                        transcript: text.trim().to_owned(),
                        confidence,
                    }],
                    channel: 1,
                    language: self.language.clone(),
                }));
            }
        }
    }

    fn farewell(
        &mut self,
        end: &End,
        _: Option<&Committed>,
        out: &mut Outbox,
    ) -> Option<(u16, String)> {
        match end {
            End::Stopped => Some((1000, String::new())),
            End::Closed(reason) => {
                if !matches!(reason, SessionClose::ShuttingDown) {
                    out.push(error(reason.to_string()));
                }
                Some((reason.close_code(), reason.reason().to_owned()))
            }
            End::ClientGone => None,
        }
    }
}

/// `POST /v1/jambonz/tts`: the whole utterance as raw L16.
pub(super) async fn tts(
    State(state): State<AppState>,
    caller: Authenticated,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    match synthesize(&state, &caller, query.as_deref(), &body).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn synthesize(
    state: &AppState,
    caller: &Authenticated,
    query: Option<&str>,
    body: &[u8],
) -> Result<Response, ApiError> {
    let request: TtsRequest = serde_json::from_slice(body)
        .map_err(|e| ApiError::InvalidPayload(format!("invalid JSON body: {e}")))?;
    let rate = match request.sample_rate {
        Some(rate) => rate,
        None => form_urlencoded::parse(query.unwrap_or("").as_bytes())
            .find(|(k, _)| k == "sample_rate" || k == "sampleRate")
            .map(|(_, v)| {
                v.parse::<u32>().map_err(|_| {
                    ApiError::InvalidPayload(format!("sample_rate `{v}` is not a number"))
                })
            })
            .transpose()?
            .unwrap_or(8_000),
    };
    if ![8_000, 16_000, 24_000, 32_000, 48_000].contains(&rate) {
        return Err(ApiError::Unprocessable(format!(
            "sample rate {rate} is not supported; use 8000, 16000, 24000, 32000 or 48000"
        )));
    }
    let text = if request.kind.as_deref() == Some("ssml") {
        crate::wire::jambonz::strip_ssml(&request.text)
    } else {
        request.text.trim().to_owned()
    };
    if text.is_empty() {
        return Err(ApiError::Unprocessable("`text` is empty".into()));
    }
    let characters = text.chars().count();
    if characters > MAX_TTS_CHARS {
        return Err(ApiError::PayloadTooLarge(format!(
            "`text` has {characters} characters; at most {MAX_TTS_CHARS}"
        )));
    }
    let admission = crate::billing::admit(&state.ledger, &caller.principal).await?;
    let mut meter = Meter::start(
        &state.ledger,
        state.prices(),
        &caller.principal,
        Service::Tts,
        "/v1/jambonz/tts",
        crate::billing::new_session_id("tts"),
    );
    meter.limit_credit(admission.credit_micros);
    let job = state.engines.tts.try_submit(move |voice, ctx| {
        let mut encoder = AudioEncoder::new(OutputFormat::Pcm16, voice.sample_rate(), rate)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let mut bytes = Vec::new();
        let mut seconds = 0.0;
        let stream = voice
            .synthesize_stream(&text, &SynthesisOptions::default())
            .map_err(ApiError::from)?;
        for chunk in stream {
            if ctx.is_cancelled() {
                return Err(ApiError::Internal("cancelled".into()));
            }
            let chunk = chunk.map_err(ApiError::from)?;
            seconds += chunk.samples.len() as f64 / f64::from(voice.sample_rate().max(1));
            encoder
                .push_into(&chunk.samples, &mut bytes)
                .map_err(|e| ApiError::Internal(e.to_string()))?;
        }
        bytes.extend(
            encoder
                .finish()
                .map_err(|e| ApiError::Internal(e.to_string()))?,
        );
        Ok((bytes, seconds))
    });
    let result = match job {
        Ok(handle) => handle.await.map_err(ApiError::from).and_then(|r| r),
        Err(error) => Err(ApiError::from(error)),
    };
    match result {
        Ok((bytes, seconds)) => {
            meter.add_characters(characters as u64);
            meter.add_audio_seconds(seconds);
            meter
                .commit(Outcome::Ok, None)
                .await
                .map_err(|e| ApiError::Internal(format!("usage could not be recorded: {e}")))?;
            Ok((
                [(CONTENT_TYPE, format!("audio/l16;rate={rate}"))],
                Bytes::from(bytes),
            )
                .into_response())
        }
        Err(error) => {
            let _ = meter.commit(Outcome::ServerError, Some(error.code())).await;
            Err(error)
        }
    }
}
