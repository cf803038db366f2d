//! `POST /v1/audio/transcriptions`: OpenAI's multipart upload or the
//! gateway's JSON with base64 audio, transcribed by the served Whisper model.
//!
//! Without `response_format` the answer is Deepgram's pre-recorded JSON plus
//! a top-level `text` (what the gateway promises, and what OpenAI clients
//! read); with OpenAI's `response_format` (`json`, `text`, `srt`, `vtt`,
//! `verbose_json`, `diarized_json`) it is exactly OpenAI's format; the model
//! name `gpt-4o-transcribe-diarize` also gives SRT/VTT cues per speaker turn.
//!
//! # Layout
//! - [`audio`]: media types and decoding (per channel when asked).
//! - [`stt`]: model names, languages, running Whisper, Deepgram's answer.
//! - [`diarize`]: speaker labels (`diarize=true`, `diarized_json`).
//! - [`stream`]: `stream=true`, OpenAI's `transcript.text.*` events.
//! - [`utterances`]: where Deepgram's `utterances=true` splits (VAD pauses).

pub(crate) mod audio;
pub(crate) mod diarize;
mod stream;
pub(crate) mod stt;
pub(crate) mod utterances;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, FromRequest as _, Multipart, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;

use self::audio::AudioFormat;
use super::rest::{media_type, read_body, with_request_id, RequestMeter};
use crate::auth::Authenticated;
use crate::billing::Service;
use crate::error::ApiError;
use crate::metrics::Route;
use crate::server::AppState;
use crate::wire::deepgram::{new_request_id, rfc3339_now, sha256_hex};
use crate::wire::openai::{
    DiarizedTranscription, Granularity, JsonTranscriptionRequest, ResponseFormat,
    TranscriptionJson, VerboseTranscription,
};
use crate::wire::subtitles::{srt, vtt, Cue};

pub(crate) fn routes() -> Router<AppState> {
    // `read_body` enforces `max_body_bytes` itself, with our JSON 413.
    Router::new()
        .route("/v1/audio/transcriptions", post(transcriptions))
        .layer(DefaultBodyLimit::disable())
}

/// A transcription request, whichever way it arrived.
#[derive(Debug, Default)]
struct TranscriptionRequest {
    audio: Option<(Bytes, AudioFormat)>,
    model: Option<String>,
    language: Option<String>,
    prompt: Option<String>,
    temperature: Option<String>,
    response_format: Option<String>,
    granularities: Vec<String>,
    /// OpenAI's `stream` (`true`: server-sent events).
    stream: Option<String>,
}

async fn transcriptions(
    State(state): State<AppState>,
    caller: Authenticated,
    request: Request,
) -> Response {
    let id = new_request_id();
    let route = Route::Transcriptions.path();
    let admitted = RequestMeter::admit(&state, &caller.principal, Service::Stt, route, id.clone());
    let response = match admitted.await {
        Ok(meter) => {
            let _active = state.metrics.session_started(Route::Transcriptions);
            handle(&state, meter, request).await
        }
        Err(refused) => refused.into_response(),
    };
    with_request_id(response, &id)
}

async fn handle(state: &AppState, mut meter: RequestMeter, request: Request) -> Response {
    let result = transcribe(state, &mut meter, request).await;
    meter
        .finish(result)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn transcribe(
    state: &AppState,
    meter: &mut RequestMeter,
    request: Request,
) -> Result<Response, ApiError> {
    let created = rfc3339_now();
    let request = read_request(state, request).await?;
    stt::check_model(state, request.model.as_deref(), false).await?;
    let language = stt::check_language(state, request.language.as_deref())?;
    let temperature = match request.temperature.as_deref().map(str::trim) {
        None | Some("") => 0.0,
        Some(text) => text
            .parse::<f32>()
            .ok()
            .filter(|t| (0.0..=1.0).contains(t))
            .ok_or_else(|| {
                ApiError::Unprocessable(format!("`temperature` must be 0 to 1, got `{text}`"))
            })?,
    };
    let format = match request.response_format.as_deref().map(str::trim) {
        None | Some("") => ResponseFormat::Deepgram,
        Some(name) => ResponseFormat::parse(name).ok_or_else(|| {
            ApiError::InvalidPayload(format!(
                "unsupported response_format `{name}`; use one of {}",
                ResponseFormat::NAMES
            ))
        })?,
    };
    let stream = stream::wanted(request.stream.as_deref(), format)?;
    let mut granularities = Vec::new();
    for name in request.granularities.iter().flat_map(|g| g.split(',')) {
        let name = name.trim();
        if name.is_empty() {
            continue;
        }
        granularities.push(Granularity::parse(name).ok_or_else(|| {
            ApiError::InvalidPayload(format!(
                "unsupported timestamp granularity `{name}`; use word or segment"
            ))
        })?);
    }
    let want_words = granularities.contains(&Granularity::Word);
    let want_segments = granularities.is_empty() || granularities.contains(&Granularity::Segment);
    let (bytes, audio_format) = request.audio.ok_or_else(|| {
        ApiError::Unprocessable("no audio: send a `file` part (multipart) or `audio` (JSON)".into())
    })?;
    let sha256 = (format == ResponseFormat::Deepgram).then(|| sha256_hex(&bytes));
    let decoded = audio::decode(
        &state.decode_slots,
        bytes,
        audio_format,
        state.config.max_audio_seconds,
        false,
    )
    .await?;
    let diarize_model = request
        .model
        .as_deref()
        .is_some_and(|m| m.trim().eq_ignore_ascii_case(stt::DIARIZE_ALIAS));
    let speaker_turns = format == ResponseFormat::DiarizedJson
        || (diarize_model && matches!(format, ResponseFormat::Srt | ResponseFormat::Vtt));
    let pending = match &decoded.tracks[..] {
        [mono] if speaker_turns && !stream => {
            diarize::start(state, mono.clone(), diarize::options(None, None, None)).await?
        }
        _ => None,
    };
    if speaker_turns && !stream && pending.is_none() {
        return Err(ApiError::InvalidPayload(
            "speaker diarization needs the speaker model, which is not installed on this \
             server (`vocalis models pull resemblyzer`)"
                .into(),
        ));
    }
    let word_timestamps = match format {
        _ if stream => false,
        _ if speaker_turns => true,
        ResponseFormat::Deepgram => true,
        ResponseFormat::VerboseJson => want_words,
        _ => false,
    };
    let options = stt::options(language, request.prompt, temperature, word_timestamps);
    if stream {
        let track = decoded.tracks.into_iter().next().unwrap_or_default();
        return stream::start(state, meter, track, options, decoded.duration_s).await;
    }
    let transcripts = stt::transcribe_tracks(state, decoded.tracks, &options).await?;
    let transcript = transcripts
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::Internal("no transcript for the audio".into()))?;
    meter.add_audio_seconds(decoded.duration_s);
    state.metrics.add_stt_audio(decoded.duration_s);
    let text = transcript.text();
    if let Some(pending) = pending {
        let d = pending.finish().await?;
        let segments = diarize::turns(&transcript, &d);
        if format == ResponseFormat::DiarizedJson {
            return Ok(Json(DiarizedTranscription {
                task: "transcribe".into(),
                duration: decoded.duration_s,
                text,
                segments,
            })
            .into_response());
        }
        let vtt = format == ResponseFormat::Vtt;
        let texts: Vec<String> = segments.iter().map(|s| diarize::cue_text(s, vtt)).collect();
        let cues: Vec<Cue<'_>> = segments
            .iter()
            .zip(&texts)
            .map(|(s, text)| Cue {
                start: s.start,
                end: s.end,
                text,
            })
            .collect();
        return Ok(subtitles(format, &cues));
    }
    Ok(match format {
        ResponseFormat::Deepgram => {
            let body = stt::prerecorded(
                state,
                stt::Prerecorded {
                    request_id: meter.id(),
                    created,
                    sha256: sha256.unwrap_or_default(),
                    duration_s: decoded.duration_s,
                    transcripts: std::slice::from_ref(&transcript),
                    punctuated: true,
                    warnings: Vec::new(),
                    text: Some(text),
                },
            );
            Json(body).into_response()
        }
        ResponseFormat::Json => {
            Json(TranscriptionJson::from_transcript(&transcript)).into_response()
        }
        ResponseFormat::VerboseJson => Json(VerboseTranscription::from_transcript(
            &transcript,
            temperature,
            want_segments,
            want_words,
        ))
        .into_response(),
        ResponseFormat::Text => plain(format!("{text}\n"), "text/plain; charset=utf-8"),
        ResponseFormat::Srt | ResponseFormat::Vtt => {
            let cues: Vec<Cue<'_>> = transcript
                .segments
                .iter()
                .map(|s| Cue {
                    start: s.start,
                    end: s.end,
                    text: &s.text,
                })
                .collect();
            subtitles(format, &cues)
        }
        // Handled above (diarization is always started for it).
        ResponseFormat::DiarizedJson => {
            return Err(ApiError::Internal("diarization did not run".into()))
        }
    })
}

fn subtitles(format: ResponseFormat, cues: &[Cue<'_>]) -> Response {
    if format == ResponseFormat::Srt {
        plain(srt(cues), "text/plain; charset=utf-8")
    } else {
        plain(vtt(cues), "text/vtt; charset=utf-8")
    }
}

fn plain(body: String, content_type: &'static str) -> Response {
    ([(CONTENT_TYPE, content_type)], body).into_response()
}

/// Reads a multipart or JSON request under the body limit.
async fn read_request(
    state: &AppState,
    request: Request,
) -> Result<TranscriptionRequest, ApiError> {
    let (parts, body) = request.into_parts();
    let kind = media_type(&parts.headers);
    let bytes = read_body(body, &parts.headers, state.config.max_body_bytes).await?;
    match kind.as_deref() {
        Some("multipart/form-data") => {
            read_multipart(Request::from_parts(parts, Body::from(bytes))).await
        }
        Some(t) if t == "application/json" || t.ends_with("+json") => read_json(&bytes),
        None if bytes.first() == Some(&b'{') => read_json(&bytes),
        other => Err(ApiError::UnsupportedMediaType(format!(
            "unsupported request type `{}`; send multipart/form-data with a `file` part, \
             or application/json with base64 `audio`",
            other.unwrap_or("(none)")
        ))),
    }
}

async fn read_multipart(request: Request) -> Result<TranscriptionRequest, ApiError> {
    let bad = |e: axum::extract::multipart::MultipartError| {
        ApiError::InvalidPayload(format!("malformed multipart body: {}", e.body_text()))
    };
    let mut multipart = Multipart::from_request(request, &()).await.map_err(|e| {
        ApiError::InvalidPayload(format!("malformed multipart request: {}", e.body_text()))
    })?;
    let mut out = TranscriptionRequest::default();
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or("").to_owned();
        match name.as_str() {
            "file" => {
                let file_name = field.file_name().map(str::to_owned);
                let mime = field.content_type().map(str::to_owned);
                let bytes = field.bytes().await.map_err(bad)?;
                let mut format = AudioFormat::from_mime(mime.as_deref())?;
                if let AudioFormat::Container(hint @ None) = &mut format {
                    *hint = file_name
                        .as_deref()
                        .and_then(AudioFormat::hint_from_file_name);
                }
                out.audio = Some((bytes, format));
            }
            "model"
            | "language"
            | "prompt"
            | "temperature"
            | "response_format"
            | "timestamp_granularities[]"
            | "timestamp_granularities"
            | "stream" => {
                let value = field.text().await.map_err(bad)?;
                let slot = match name.as_str() {
                    "model" => &mut out.model,
                    "language" => &mut out.language,
                    "prompt" => &mut out.prompt,
                    "temperature" => &mut out.temperature,
                    "response_format" => &mut out.response_format,
                    "stream" => &mut out.stream,
                    _ => {
                        out.granularities.push(value);
                        continue;
                    }
                };
                *slot = Some(value);
            }
            // OpenAI fields with nothing to do here (`include[]`,
            // `chunking_strategy`…) are accepted and ignored.
            _ => {}
        }
    }
    Ok(out)
}

fn read_json(bytes: &[u8]) -> Result<TranscriptionRequest, ApiError> {
    let request: JsonTranscriptionRequest = serde_json::from_slice(bytes).map_err(|e| {
        if e.classify() == serde_json::error::Category::Data {
            ApiError::Unprocessable(format!("invalid field in the JSON body: {e}"))
        } else {
            ApiError::InvalidPayload(format!("the body is not valid JSON: {e}"))
        }
    })?;
    let audio = match request.audio.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(encoded) => {
            let (mime, data) = split_data_url(encoded);
            let mime = request.mime_type.as_deref().or(mime).unwrap_or("audio/wav");
            let format = AudioFormat::from_mime(Some(mime))?;
            Some((Bytes::from(decode_base64(data)?), format))
        }
    };
    Ok(TranscriptionRequest {
        audio,
        model: request.model,
        language: request.language,
        prompt: request.prompt,
        temperature: request.temperature.map(|t| t.to_string()),
        response_format: request.response_format,
        granularities: request.timestamp_granularities.unwrap_or_default(),
        stream: request.stream.map(|s| s.to_string()),
    })
}

/// `data:audio/wav;base64,AAAA` → (`audio/wav`, `AAAA`).
fn split_data_url(value: &str) -> (Option<&str>, &str) {
    if let Some(rest) = value.strip_prefix("data:") {
        if let Some((header, data)) = rest.split_once(',') {
            let mime = header.strip_suffix(";base64").unwrap_or(header);
            return ((!mime.is_empty()).then_some(mime), data);
        }
    }
    (None, value)
}

/// Base64 in the standard or URL-safe alphabet, padded or not, with
/// whitespace (line breaks) ignored.
fn decode_base64(data: &str) -> Result<Vec<u8>, ApiError> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let compact: String = data.chars().filter(|c| !c.is_whitespace()).collect();
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(&compact).ok())
        .ok_or_else(|| ApiError::InvalidPayload("`audio` is not valid base64".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_and_data_urls_decode() {
        assert_eq!(decode_base64("aGk=").unwrap(), b"hi");
        assert_eq!(decode_base64("aGk").unwrap(), b"hi");
        assert_eq!(decode_base64("aG\nk=").unwrap(), b"hi");
        assert!(decode_base64("***").is_err());
        assert_eq!(
            split_data_url("data:audio/mpeg;base64,aGk="),
            (Some("audio/mpeg"), "aGk=")
        );
        assert_eq!(split_data_url("aGk="), (None, "aGk="));
    }

    #[test]
    fn json_requests_default_to_wav_and_check_types() {
        let request = read_json(br#"{"model":"basics-stt","audio":"UklGRg=="}"#).unwrap();
        assert_eq!(request.model.as_deref(), Some("basics-stt"));
        assert_eq!(
            request.audio.unwrap().1,
            AudioFormat::Container(Some("wav"))
        );
        assert!(matches!(
            read_json(br#"{"audio":5}"#),
            Err(ApiError::Unprocessable(_))
        ));
        assert!(matches!(
            read_json(b"{nope"),
            Err(ApiError::InvalidPayload(_))
        ));
        let mulaw = read_json(br#"{"audio":"//8=","mime_type":"audio/mulaw;rate=8000"}"#).unwrap();
        assert!(matches!(
            mulaw.audio.unwrap().1,
            AudioFormat::Raw { rate: 8000, .. }
        ));
    }
}
