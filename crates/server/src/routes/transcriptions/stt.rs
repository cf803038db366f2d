//! The engine side of the REST transcription endpoints: which model names
//! are accepted, the language check, running Whisper on the worker pool
//! (one job per track, in parallel), and Deepgram's pre-recorded answer.

use std::collections::BTreeMap;

use vocalis_inference::stt::{SttError, TranscribeOptions, Transcript};
use vocalis_models::{Manifest, ModelKind, ModelStore};

use crate::error::ApiError;
use crate::server::AppState;
use crate::wire::deepgram::{
    model_uuid, whisper_model_info, PrerecordedChannel, PrerecordedMetadata, PrerecordedResponse,
    PrerecordedResults, Warning,
};
use crate::wire::openai::language_code;

/// Model names that always mean the served Whisper model.
pub(crate) const STT_ALIASES: [&str; 3] = ["basics-stt", "whisper-1", "whisper"];

/// Whether a Deepgram model name (`nova-3`, `nova-2-phonecall`,
/// `enhanced`, `general`) is asked for; these map to the served model.
fn is_deepgram_model(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.starts_with("nova") || name.starts_with("enhanced") || name == "general"
}

/// Checks a requested model name: absent, an alias or the served model's
/// name are fine; another Whisper model (installed or not) and unknown
/// names are 400s that say which model is served.
pub(crate) async fn check_model(
    state: &AppState,
    requested: Option<&str>,
    deepgram_names: bool,
) -> Result<(), ApiError> {
    let Some(name) = requested.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(());
    };
    let served = &state.engines.stt_model;
    if name.eq_ignore_ascii_case(served)
        || STT_ALIASES.iter().any(|a| a.eq_ignore_ascii_case(name))
        || (deepgram_names && is_deepgram_model(name))
    {
        return Ok(());
    }
    let accepted = format!("{}, {served}", STT_ALIASES[..2].join(", "));
    let is_whisper = Manifest::embedded()
        .get(name)
        .is_ok_and(|spec| spec.kind == ModelKind::Stt);
    if !is_whisper {
        return Err(ApiError::InvalidPayload(format!(
            "unknown model `{name}`; this server serves `{served}` (accepted names: {accepted})"
        )));
    }
    let store = ModelStore::new(&state.config.models_dir);
    let lookup = name.to_owned();
    let installed = tokio::task::spawn_blocking(move || store.resolve(&lookup).is_ok())
        .await
        .unwrap_or(false);
    let status = if installed {
        "is installed but not loaded"
    } else {
        "is not installed"
    };
    Err(ApiError::InvalidPayload(format!(
        "model `{name}` {status}; this server serves `{served}` (accepted names: {accepted})"
    )))
}

/// Turns a requested language into a Whisper code: `None` (detect) for
/// absent/`auto`/`multi`; 400 for unknown languages and for non-English
/// languages on an English-only model.
pub(crate) fn check_language(
    state: &AppState,
    language: Option<&str>,
) -> Result<Option<String>, ApiError> {
    let Some(language) = language.map(str::trim).filter(|l| !l.is_empty()) else {
        return Ok(None);
    };
    if matches!(language.to_ascii_lowercase().as_str(), "auto" | "multi") {
        return Ok(None);
    }
    let code = language_code(language).ok_or_else(|| {
        ApiError::InvalidPayload(format!(
            "unknown language `{language}`; use an ISO 639-1 code such as `en`"
        ))
    })?;
    if code != "en" && !state.engines.multilingual {
        return Err(ApiError::InvalidPayload(format!(
            "the served model `{}` is English-only; language `{language}` is not available",
            state.engines.stt_model
        )));
    }
    Ok(Some(code.to_owned()))
}

/// Runs Whisper on every track in parallel (one pool job each). A full
/// queue is a 503; dropping the returned future cancels every job.
pub(crate) async fn transcribe_tracks(
    state: &AppState,
    tracks: Vec<Vec<f32>>,
    options: &TranscribeOptions,
) -> Result<Vec<Transcript>, ApiError> {
    let mut handles = Vec::with_capacity(tracks.len());
    for track in tracks {
        let handle = state
            .engines
            .stt
            .try_transcribe(track, options.clone())
            .inspect_err(|_| state.metrics.rejected_busy())?;
        handles.push(handle);
    }
    let mut transcripts = Vec::with_capacity(handles.len());
    for handle in handles {
        let transcript = handle.await?.map_err(|error| match error {
            SttError::InvalidOption(message) => ApiError::InvalidPayload(message),
            other => ApiError::Internal(other.to_string()),
        })?;
        transcripts.push(transcript);
    }
    Ok(transcripts)
}

/// What a pre-recorded Deepgram answer is made of.
pub(crate) struct Prerecorded<'a> {
    /// Request id (UUID).
    pub request_id: &'a str,
    /// When the request arrived (RFC 3339).
    pub created: String,
    /// sha256 of the uploaded bytes.
    pub sha256: String,
    /// Audio duration, seconds.
    pub duration_s: f64,
    /// Transcripts, one per channel.
    pub transcripts: &'a [Transcript],
    /// Deepgram's `punctuate` style.
    pub punctuated: bool,
    /// Features not applied.
    pub warnings: Vec<Warning>,
    /// The gateway's top-level `text`.
    pub text: Option<String>,
}

/// Builds Deepgram's pre-recorded response.
pub(crate) fn prerecorded(state: &AppState, p: Prerecorded<'_>) -> PrerecordedResponse {
    let info = whisper_model_info(&state.engines.stt_model);
    let uuid = model_uuid(&info.name);
    PrerecordedResponse {
        metadata: PrerecordedMetadata {
            transaction_key: "deprecated".into(),
            request_id: p.request_id.to_owned(),
            sha256: p.sha256,
            created: p.created,
            duration: (p.duration_s * 1000.0).round() / 1000.0,
            channels: p.transcripts.len() as u32,
            models: vec![uuid.clone()],
            model_info: BTreeMap::from([(uuid, info)]),
            warnings: p.warnings,
        },
        results: PrerecordedResults {
            channels: p
                .transcripts
                .iter()
                .map(|t| PrerecordedChannel::from_transcript(t, p.punctuated))
                .collect(),
        },
        text: p.text,
    }
}

/// Transcription options for a request.
pub(crate) fn options(
    language: Option<String>,
    prompt: Option<String>,
    temperature: f32,
    word_timestamps: bool,
) -> TranscribeOptions {
    TranscribeOptions {
        language,
        initial_prompt: prompt.filter(|p| !p.trim().is_empty()),
        temperature,
        word_timestamps,
        ..TranscribeOptions::default()
    }
}
