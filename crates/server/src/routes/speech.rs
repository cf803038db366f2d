//! `POST /v1/audio/speech`: text to audio with the served Piper voice,
//! streamed with chunked transfer as each sentence is synthesized.
//!
//! The body takes the gateway's fields (`model`, `input`, `voice`,
//! `encoding`) and OpenAI's (`response_format`, `speed`), plus
//! `sample_rate`. The Piper worker sends encoded audio over a bounded
//! channel (back-pressure from a slow client reaches the worker) and stops
//! between sentences when the client goes away, or when it stops reading for
//! `tts_write_timeout_ms` (a stalled client must not pin a Piper worker).
//! An abandoned transfer ends without its final chunk, so the client sees a
//! broken response, never a short file. The usage record is written when
//! the worker finishes, whatever happened to the connection.

use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use tokio::sync::mpsc;
use vocalis_audio::{AudioEncoder, OutputFormat};
use vocalis_inference::{SynthesisOptions, TtsError};

use super::rest::{read_body, with_request_id, RequestMeter};
use crate::auth::Authenticated;
use crate::billing::Service;
use crate::error::ApiError;
use crate::metrics::Route;
use crate::server::AppState;
use crate::store::ledger::Outcome;
use crate::wire::deepgram::new_request_id;
use crate::wire::openai::SpeechRequest;

mod request;
mod sse;

use request::{check_model, check_voice, output_format};

/// Encoded audio chunks in flight between the worker and the connection.
const CHANNEL_CHUNKS: usize = 4;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/audio/speech", post(speech))
        .layer(DefaultBodyLimit::disable())
}

/// A validated request.
#[derive(Debug, Clone, PartialEq)]
struct Plan {
    text: String,
    characters: u64,
    format: OutputFormat,
    rate: u32,
    speed: f32,
    /// `stream_format: "sse"`: OpenAI's `speech.audio.delta` events.
    sse: bool,
}

/// What the worker sends to the connection.
#[derive(Debug)]
enum Chunk {
    Audio(Bytes),
    Failed(ApiError),
    /// The whole input was spoken; without it the transfer is broken off.
    Done,
}

/// How a synthesis ended.
#[derive(Debug)]
enum End {
    Done,
    ClientGone,
    /// The client stopped reading for longer than `tts_write_timeout_ms`.
    ClientStalled,
    Failed(ApiError),
}

/// The worker's report.
#[derive(Debug)]
struct Summary {
    end: End,
    seconds: f64,
    spoken_chars: u64,
}

async fn speech(
    State(state): State<AppState>,
    caller: Authenticated,
    request: Request,
) -> Response {
    let id = new_request_id();
    let route = Route::Speech.path();
    let admitted = RequestMeter::admit(&state, &caller.principal, Service::Tts, route, id.clone());
    let meter = match admitted.await {
        Ok(meter) => meter,
        Err(refused) => return with_request_id(refused.into_response(), &id),
    };
    let response = match prepare(&state, request).await {
        Ok(plan) => synthesize(&state, meter, plan).await,
        Err(error) => {
            meter.failed(&error).await;
            error.into_response()
        }
    };
    with_request_id(response, &id)
}

/// Reads and checks the request.
async fn prepare(state: &AppState, request: Request) -> Result<Plan, ApiError> {
    let (parts, body) = request.into_parts();
    let bytes = read_body(body, &parts.headers, state.config.max_body_bytes).await?;
    let request: SpeechRequest = serde_json::from_slice(&bytes).map_err(|e| {
        if e.classify() == serde_json::error::Category::Data {
            ApiError::Unprocessable(format!("invalid field in the JSON body: {e}"))
        } else {
            ApiError::InvalidPayload(format!("the body is not valid JSON: {e}"))
        }
    })?;
    check_model(state, request.model.as_deref())?;
    check_voice(state, request.voice.as_ref().map(|v| v.name()))?;
    let sse = match request.stream_format.as_deref().map(str::trim) {
        None | Some("") => false,
        Some(f) if f.eq_ignore_ascii_case("audio") => false,
        Some(f) if f.eq_ignore_ascii_case("sse") => true,
        Some(other) => {
            return Err(ApiError::InvalidPayload(format!(
                "stream_format `{other}` is not supported; use `audio` (chunked bytes) or `sse`"
            )))
        }
    };
    let (format, default_rate) = output_format(
        request.encoding.as_deref(),
        request.response_format.as_deref(),
        state.engines.voice_rate,
    )?;
    let rate = request.sample_rate.unwrap_or(default_rate);
    if !format.supports_rate(rate) {
        return Err(ApiError::Unprocessable(format!(
            "sample_rate {rate} is not available for {format} (8000 to 48000 Hz; mp3: 8000, \
             11025, 12000, 16000, 22050, 24000, 32000, 44100 or 48000; opus: 8000, 12000, \
             16000, 24000 or 48000)"
        )));
    }
    let speed = match request.speed {
        None => 1.0,
        Some(speed) if (0.25..=4.0).contains(&speed) => speed,
        Some(speed) => {
            return Err(ApiError::Unprocessable(format!(
                "`speed` must be 0.25 to 4.0, got {speed}"
            )))
        }
    };
    let text = request.input.unwrap_or_default();
    if text.trim().is_empty() {
        return Err(ApiError::Unprocessable(
            "`input` is required and must not be empty".into(),
        ));
    }
    let characters = text.chars().count();
    if characters > state.config.max_speech_chars {
        return Err(ApiError::PayloadTooLarge(format!(
            "`input` has {characters} characters; the limit is {}",
            state.config.max_speech_chars
        )));
    }
    Ok(Plan {
        text,
        characters: characters as u64,
        format,
        rate,
        speed,
        sse,
    })
}

/// Submits the job, waits for the first audio, then streams the rest.
async fn synthesize(state: &AppState, meter: RequestMeter, plan: Plan) -> Response {
    let started = Instant::now();
    let (tx, mut rx) = mpsc::channel::<Chunk>(CHANNEL_CHUNKS);
    let sink = Sink {
        tx,
        runtime: tokio::runtime::Handle::current(),
        timeout: Duration::from_millis(state.config.tts_write_timeout_ms),
    };
    let job = {
        let plan = plan.clone();
        state
            .engines
            .tts
            .try_submit(move |voice, ctx| run(voice, &|| ctx.is_cancelled(), &plan, &sink))
    };
    let handle = match job {
        Ok(handle) => handle,
        Err(error) => {
            state.metrics.rejected_busy();
            let error = ApiError::from(error);
            meter.failed(&error).await;
            return error.into_response();
        }
    };
    // The record is written when the worker is done, even if this request
    // is dropped (the client went away) before then; shutdown waits for it.
    let metrics = state.metrics.clone();
    let characters = plan.characters;
    state.tasks.spawn(async move {
        let _active = metrics.session_started(Route::Speech);
        let summary = handle.await.unwrap_or_else(|e| Summary {
            end: End::Failed(ApiError::from(e)),
            seconds: 0.0,
            spoken_chars: 0,
        });
        finish(meter, &metrics, summary, characters).await;
    });
    let first = match rx.recv().await {
        Some(Chunk::Audio(bytes)) => bytes,
        Some(Chunk::Failed(error)) => return error.into_response(),
        Some(Chunk::Done) | None => {
            return ApiError::Internal("synthesis ended without audio".into()).into_response()
        }
    };
    state
        .metrics
        .tts_first_audio
        .observe(started.elapsed().as_secs_f64());
    let stream = futures_util::stream::unfold((Some(first), rx), |(first, mut rx)| async move {
        if let Some(bytes) = first {
            return Some((Ok(bytes), (None, rx)));
        }
        let Some(chunk) = rx.recv().await else {
            // The worker gave up on this client (stalled) without `Done`.
            let broken = std::io::Error::other("synthesis abandoned");
            return Some((Err(broken), (None, rx)));
        };
        match chunk {
            Chunk::Done => None,
            Chunk::Audio(bytes) => Some((Ok(bytes), (None, rx))),
            // Ends the chunked body with an error, so the client sees a
            // broken transfer rather than a short file.
            Chunk::Failed(error) => Some((Err(std::io::Error::other(error)), (None, rx))),
        }
    });
    if plan.sse {
        return sse::response(stream, plan.characters);
    }
    let mut response = Body::from_stream(stream).into_response();
    if let Ok(value) = HeaderValue::from_str(&plan.format.mime_type(plan.rate)) {
        response.headers_mut().insert(CONTENT_TYPE, value);
    }
    response
}

/// Writes the usage record of a finished synthesis.
async fn finish(
    meter: RequestMeter,
    metrics: &crate::metrics::Metrics,
    summary: Summary,
    characters: u64,
) {
    let mut meter = meter;
    meter.add_audio_seconds(summary.seconds);
    match summary.end {
        End::Done => {
            meter.add_characters(characters);
            metrics.add_tts(summary.seconds, characters);
            meter.ok().await;
        }
        End::ClientGone => {
            let spoken = summary.spoken_chars.min(characters);
            meter.add_characters(spoken);
            metrics.add_tts(summary.seconds, spoken);
            meter
                .commit(Outcome::Cancelled, Some("client_closed"))
                .await;
        }
        End::ClientStalled => {
            let spoken = summary.spoken_chars.min(characters);
            meter.add_characters(spoken);
            metrics.add_tts(summary.seconds, spoken);
            meter
                .commit(Outcome::Cancelled, Some("client_stalled"))
                .await;
        }
        End::Failed(error) => {
            meter.add_characters(summary.spoken_chars.min(characters));
            meter.failed(&error).await;
        }
    }
}

fn tts_error(error: TtsError) -> ApiError {
    ApiError::from(error)
}

/// The worker's end of the channel: sends wait at most `timeout` for room.
struct Sink {
    tx: mpsc::Sender<Chunk>,
    runtime: tokio::runtime::Handle,
    timeout: Duration,
}

impl Sink {
    /// Sends one chunk from the worker thread (never an async one). `Err`
    /// says how the client ended the transfer: gone, or stalled past the
    /// write timeout.
    fn send(&self, chunk: Chunk) -> Result<(), End> {
        // The timer is made inside the runtime (this is a worker thread).
        let sent = self
            .runtime
            .block_on(async { tokio::time::timeout(self.timeout, self.tx.send(chunk)).await });
        match sent {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(End::ClientGone),
            Err(_) => Err(End::ClientStalled),
        }
    }
}

/// The worker side: synthesize sentence by sentence, encode, send.
fn run(
    voice: &mut vocalis_inference::PiperVoice,
    cancelled: &dyn Fn() -> bool,
    plan: &Plan,
    tx: &Sink,
) -> Summary {
    let voice_rate = voice.sample_rate();
    let mut summary = Summary {
        end: End::Done,
        seconds: 0.0,
        spoken_chars: 0,
    };
    let fail = |mut summary: Summary, error: ApiError| -> Summary {
        // The connection shows the error if no audio has left yet, or
        // breaks the transfer otherwise.
        let _ = tx.send(Chunk::Failed(error.clone()));
        summary.end = End::Failed(error);
        summary
    };
    let mut encoder = match AudioEncoder::new(plan.format, voice_rate, plan.rate) {
        Ok(encoder) => encoder,
        Err(e) => return fail(summary, ApiError::Unprocessable(e.to_string())),
    };
    let options = SynthesisOptions {
        speed: plan.speed,
        ..SynthesisOptions::default()
    };
    let stream = match voice.synthesize_stream(&plan.text, &options) {
        Ok(stream) => stream,
        Err(e) => return fail(summary, tts_error(e)),
    };
    let mut samples_out = 0usize;
    for chunk in stream {
        if cancelled() {
            summary.end = End::ClientGone;
            return summary;
        }
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(e) => return fail(summary, tts_error(e)),
        };
        samples_out += chunk.samples.len();
        summary.seconds += chunk.samples.len() as f64 / f64::from(voice_rate);
        summary.spoken_chars += chunk.text.chars().count() as u64;
        let bytes = match encoder.push(&chunk.samples) {
            Ok(bytes) => bytes,
            Err(e) => return fail(summary, ApiError::Internal(e.to_string())),
        };
        if !bytes.is_empty() {
            if let Err(end) = tx.send(Chunk::Audio(Bytes::from(bytes))) {
                summary.end = end;
                return summary;
            }
        }
    }
    if samples_out == 0 {
        return fail(
            summary,
            ApiError::Unprocessable("`input` contains nothing that can be spoken".into()),
        );
    }
    match encoder.finish() {
        Ok(tail) => {
            let sent = if tail.is_empty() {
                Ok(())
            } else {
                tx.send(Chunk::Audio(Bytes::from(tail)))
            };
            if let Err(end) = sent.and_then(|()| tx.send(Chunk::Done)) {
                summary.end = end;
            }
            summary
        }
        Err(e) => fail(summary, ApiError::Internal(e.to_string())),
    }
}
