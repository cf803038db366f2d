//! `POST /v1/listen`: Deepgram's pre-recorded transcription. The body is the
//! audio itself (`Content-Type: audio/*`, or raw samples described by
//! `encoding` and `sample_rate`); query parameters are Deepgram's.
//!
//! What cannot be honoured is said, never faked: `{"url": …}` bodies are a
//! 400 (this server fetches nothing), `diarize=true` labels each word with
//! its speaker (a warning when the speaker model is not installed), and
//! unknown parameters are listed as warnings.
//! `utterances=true` adds `results.utterances[]`, split at pauses of
//! `utt_split` seconds (default 0.8).
//! `multichannel=true` transcribes each channel of WAV or raw audio on its
//! own; compressed files are mixed, with a warning.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use vocalis_audio::RawEncoding;

use super::rest::{content_type, media_type, read_body, with_request_id, RequestMeter};
use super::transcriptions::audio::{self, AudioFormat};
use super::transcriptions::{diarize, stt, utterances};
use crate::auth::Authenticated;
use crate::billing::Service;
use crate::error::ApiError;
use crate::metrics::Route;
use crate::server::AppState;
use crate::wire::deepgram::{
    new_request_id, rfc3339_now, sha256_hex, utterances as wire_utterances, ListenParams, Warning,
    DEFAULT_UTT_SPLIT_S,
};

/// Route of this endpoint in the ledger.
const LEDGER_ROUTE: &str = "/v1/listen";

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/listen", post(listen))
        .layer(DefaultBodyLimit::disable())
}

async fn listen(
    State(state): State<AppState>,
    caller: Authenticated,
    request: Request,
) -> Response {
    let id = new_request_id();
    let admitted = RequestMeter::admit(
        &state,
        &caller.principal,
        Service::Stt,
        LEDGER_ROUTE,
        id.clone(),
    );
    let mut meter = match admitted.await {
        Ok(meter) => meter,
        Err(refused) => return with_request_id(refused.into_listen_response(&id), &id),
    };
    let _active = state.metrics.session_started(Route::Transcriptions);
    let result = transcribe(&state, &mut meter, request).await;
    let response = match meter.finish(result).await {
        Ok(response) => response,
        Err(error) => error.into_listen_response(&id),
    };
    with_request_id(response, &id)
}

fn warning(parameter: &str, message: String) -> Warning {
    Warning {
        parameter: parameter.to_owned(),
        kind: "unsupported_feature".to_owned(),
        message,
    }
}

/// The raw format named by `encoding` + `sample_rate` (+ `channels`).
fn raw_format(params: &ListenParams, encoding: &str) -> Result<AudioFormat, ApiError> {
    // Deepgram's containerized encodings: the container says the rest.
    match encoding {
        "opus" | "ogg-opus" | "ogg_opus" | "webm-opus" => {
            return Ok(AudioFormat::Container(Some("ogg")))
        }
        "flac" => return Ok(AudioFormat::Container(Some("flac"))),
        _ => {}
    }
    let encoding = match encoding {
        "linear16" | "pcm" | "pcm_s16le" => RawEncoding::Linear16,
        "mulaw" | "ulaw" => RawEncoding::Mulaw,
        "alaw" => RawEncoding::Alaw,
        other => {
            return Err(ApiError::InvalidPayload(format!(
                "encoding `{other}` is not supported; raw audio may be linear16, mulaw or alaw, \
                 and containerized audio (WAV, MP3, FLAC, Ogg, WebM, MP4/M4A; encoding opus, \
                 ogg-opus or flac) needs no sample_rate"
            )))
        }
    };
    let rate = params.sample_rate.ok_or_else(|| {
        ApiError::InvalidPayload("`sample_rate` is required with `encoding`".into())
    })?;
    audio::raw(encoding, rate, params.channels.unwrap_or(1))
}

async fn transcribe(
    state: &AppState,
    meter: &mut RequestMeter,
    request: Request,
) -> Result<Response, ApiError> {
    let created = rfc3339_now();
    let (parts, body) = request.into_parts();
    let params = ListenParams::from_query(parts.uri.query())
        .map_err(|e| ApiError::InvalidPayload(e.to_string()))?;
    stt::check_model(state, params.model.as_deref(), true).await?;
    let language = stt::check_language(state, params.fixed_language())?;
    let bytes: Bytes = read_body(body, &parts.headers, state.config.max_body_bytes).await?;
    let kind = media_type(&parts.headers);
    if kind.as_deref() == Some("application/json") {
        let url = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v.get("url").and_then(|u| u.as_str()).map(str::to_owned));
        return Err(ApiError::InvalidPayload(match url {
            Some(url) => format!(
                "this server cannot fetch remote audio (`{url}`); send the audio bytes as the \
                 request body with Content-Type: audio/*"
            ),
            None => "send the audio bytes as the request body with Content-Type: audio/*, or \
                     JSON {\"url\": …} (which this server cannot fetch)"
                .into(),
        }));
    }
    let format = match &params.encoding {
        Some(encoding) => raw_format(&params, encoding)?,
        None => AudioFormat::from_mime(content_type(&parts.headers))?,
    };
    let sha256 = sha256_hex(&bytes);
    let decoded = audio::decode(
        &state.decode_slots,
        bytes,
        format,
        state.config.max_audio_seconds,
        params.multichannel,
    )
    .await?;

    let mut warnings = Vec::new();
    // Mono audio is diarized next to the Whisper jobs; multichannel audio
    // keeps one speaker per channel.
    let per_channel = decoded.tracks.len() > 1;
    let pending = match (&decoded.tracks[..], params.diarize) {
        ([mono], true) => {
            let options = diarize::options(
                params.diarize_speakers,
                params.min_speakers,
                params.max_speakers,
            );
            diarize::start(state, mono.clone(), options).await?
        }
        _ => None,
    };
    if params.diarize && !per_channel && pending.is_none() {
        warnings.push(diarize::unavailable_warning());
    }
    if params.multichannel && decoded.tracks.len() == 1 && decoded.source_channels > 1 {
        warnings.push(warning(
            "multichannel",
            format!(
                "the {} channels were mixed: separate channels are transcribed only for WAV \
                 and raw audio",
                decoded.source_channels
            ),
        ));
    }
    for name in &params.ignored {
        warnings.push(warning(
            name,
            format!("`{name}` is not supported by this server and was ignored"),
        ));
    }

    let split = params.utt_split.unwrap_or(DEFAULT_UTT_SPLIT_S);
    let pauses = if params.utterances {
        utterances::pauses(state, &decoded.tracks, split).await
    } else {
        Vec::new()
    };
    let options = stt::options(language, params.prompt(), 0.0, true);
    let transcripts = stt::transcribe_tracks(state, decoded.tracks, &options).await?;
    let billed = decoded.duration_s * transcripts.len() as f64;
    meter.add_audio_seconds(billed);
    state.metrics.add_stt_audio(billed);
    let mut body = stt::prerecorded(
        state,
        stt::Prerecorded {
            request_id: meter.id(),
            created,
            sha256,
            duration_s: decoded.duration_s,
            transcripts: &transcripts,
            punctuated: params.punctuated(),
            warnings,
            text: None,
        },
    );
    if let Some(pending) = pending {
        let diarization = pending.finish().await?;
        for channel in &mut body.results.channels {
            channel
                .alternatives
                .iter_mut()
                .for_each(|a| diarize::label(a, &diarization));
        }
    } else if params.diarize && per_channel {
        for (index, channel) in body.results.channels.iter_mut().enumerate() {
            channel
                .alternatives
                .iter_mut()
                .for_each(|a| diarize::label_channel(a, index));
        }
    }
    if params.utterances {
        let splits: Vec<Option<Vec<f64>>> = pauses
            .iter()
            .zip(&transcripts)
            .map(|(pauses, t)| pauses.as_ref().map(|p| utterances::splits(t, p)))
            .collect();
        let all = wire_utterances(&body.results.channels, split, &splits);
        body.results.utterances = Some(all);
    }
    Ok(Json(body).into_response())
}
