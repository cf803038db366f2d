//! The engine side of the REST transcription endpoints: which model names
//! are accepted, the language check, running Whisper on the worker pool
//! (one job per track, in parallel), and Deepgram's pre-recorded answer.

use std::collections::BTreeMap;

use futures_util::{future, stream, StreamExt, TryStreamExt};
use vocalis_inference::pool::{JobHandle, PoolError};
use vocalis_inference::stt::chunks::{merge_chunks, plan_balanced, MAX_CHUNK_S, PARALLEL_MIN_S};
use vocalis_inference::stt::{SttError, TranscribeOptions, Transcript};
use vocalis_inference::vad::SpeechRegion;
use vocalis_models::{Manifest, ModelKind, ModelStore};

use crate::error::ApiError;
use crate::server::AppState;
use crate::wire::deepgram::{
    model_uuid, whisper_model_info, PrerecordedChannel, PrerecordedMetadata, PrerecordedResponse,
    PrerecordedResults, Warning,
};
use crate::wire::openai::language_code;

/// Model names that always mean the served Whisper model: the gateway's,
/// and the names OpenAI clients send today.
pub(crate) const STT_ALIASES: [&str; 6] = [
    "basics-stt",
    "whisper-1",
    "whisper",
    "gpt-4o-transcribe",
    "gpt-4o-mini-transcribe",
    DIARIZE_ALIAS,
];

/// OpenAI's diarizing model name: the served Whisper model plus speaker turns.
pub(crate) const DIARIZE_ALIAS: &str = "gpt-4o-transcribe-diarize";

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

/// Runs Whisper on every track in parallel. A track of at least
/// [`PARALLEL_MIN_S`] is cut at its pauses into about equal pieces, as many
/// as the idle workers (or a multiple of them, each piece at most
/// [`MAX_CHUNK_S`]; one pool job each, merged back in order), so a long
/// file uses every worker; when no other decode is running or waiting, the
/// jobs also share every core between them. Each track keeps at most as
/// many pieces queued or running as there are workers, the next one going
/// in as one finishes, so a file of any length fits the pool's queue. A
/// full queue is a 503; dropping the returned future cancels every job.
pub(crate) async fn transcribe_tracks(
    state: &AppState,
    tracks: Vec<Vec<f32>>,
    options: &TranscribeOptions,
) -> Result<Vec<Transcript>, ApiError> {
    let mut planned = Vec::with_capacity(tracks.len());
    for track in tracks {
        planned.push(plan_track(state, track).await?);
    }
    let jobs: usize = planned.iter().map(|(_, plan)| plan.len()).sum();
    let mut options = options.clone();
    share_cores(state, &mut options, jobs);
    let in_flight = state.engines.stt.stats().workers.max(1);
    let options = &options;
    let per_track = planned.iter().map(|(track, plan)| async move {
        let mut parts: Vec<(f64, Transcript)> = stream::iter(plan.iter().copied())
            .map(|(start, end)| {
                let handle = submit(state, piece(track, start, end), options.clone());
                async move { Ok::<_, ApiError>((start, decoded(handle?.await)?)) }
            })
            .buffered(in_flight)
            .try_collect()
            .await?;
        let duration = track.len() as f64 / f64::from(vocalis_inference::stt::SAMPLE_RATE);
        Ok::<_, ApiError>(if parts.len() == 1 {
            parts.remove(0).1
        } else {
            merge_chunks(parts, duration)
        })
    });
    future::try_join_all(per_track).await
}

/// A pending decode of one piece.
pub(crate) type PieceJob = JobHandle<Result<Transcript, SttError>>;

/// Queues one decode on the pool (a full queue is a 503).
pub(crate) fn submit(
    state: &AppState,
    audio: Vec<f32>,
    options: TranscribeOptions,
) -> Result<PieceJob, ApiError> {
    state
        .engines
        .stt
        .try_transcribe(audio, options)
        .inspect_err(|_| state.metrics.rejected_busy())
        .map_err(ApiError::from)
}

/// A finished decode as the API's result.
pub(crate) fn decoded(
    result: Result<Result<Transcript, SttError>, PoolError>,
) -> Result<Transcript, ApiError> {
    result?.map_err(|error| match error {
        SttError::InvalidOption(message) => ApiError::InvalidPayload(message),
        other => ApiError::Internal(other.to_string()),
    })
}

/// When no other decode is running or waiting, `jobs` decodes share every
/// core (unless the request set its own thread count).
pub(crate) fn share_cores(state: &AppState, options: &mut TranscribeOptions, jobs: usize) {
    if let (0, Some(cores)) = (options.threads, state.engines.stt.idle_cores()) {
        options.threads = (cores / jobs.max(1)).clamp(1, 64);
    }
}

/// Workers with nothing to do now (at least one).
pub(crate) fn idle_workers(state: &AppState) -> usize {
    let stats = state.engines.stt.stats();
    stats
        .workers
        .saturating_sub(stats.busy + stats.queued)
        .max(1)
}

/// The samples of `start..end` seconds of `track`.
pub(crate) fn piece(track: &[f32], start: f64, end: f64) -> Vec<f32> {
    let from = seconds_to_index(start, track.len());
    let to = seconds_to_index(end, track.len()).max(from);
    track[from..to].to_vec()
}

/// The VAD's speech regions of `track`, found off the runtime, on every
/// core when no decode is running or waiting (`None` when the VAD fails: the
/// caller then decodes the track in one piece).
pub(crate) async fn speech_regions(
    state: &AppState,
    track: Vec<f32>,
) -> Result<(Vec<f32>, Option<Vec<SpeechRegion>>), ApiError> {
    let vad = state.engines.vad.clone();
    let threads = state.engines.stt.idle_cores().unwrap_or(1);
    let found = tokio::task::spawn_blocking(move || {
        let regions = vad.speech_regions_on(&track, threads);
        (track, regions)
    })
    .await
    .map_err(|error| ApiError::Internal(format!("VAD task failed: {error}")))?;
    Ok(match found {
        (track, Ok(regions)) => (track, Some(regions)),
        (track, Err(error)) => {
            tracing::warn!(%error, "VAD failed; decoding the file in one piece");
            (track, None)
        }
    })
}

/// The pieces a track is decoded in: one, unless it is long and there are
/// several workers to share it; then about equal pieces cut at pauses, as
/// many as the idle workers or a multiple of them.
async fn plan_track(
    state: &AppState,
    track: Vec<f32>,
) -> Result<(Vec<f32>, Vec<(f64, f64)>), ApiError> {
    let rate = f64::from(vocalis_inference::stt::SAMPLE_RATE);
    let duration = track.len() as f64 / rate;
    if duration < PARALLEL_MIN_S || state.engines.stt.stats().workers < 2 {
        return Ok((track, vec![(0.0, duration)]));
    }
    let (track, regions) = speech_regions(state, track).await?;
    let Some(regions) = regions else {
        return Ok((track, vec![(0.0, duration)]));
    };
    let idle = idle_workers(state);
    let rounds = (duration / (idle as f64 * MAX_CHUNK_S)).ceil().max(1.0) as usize;
    let plan = plan_balanced(&regions, duration, idle * rounds, MAX_CHUNK_S);
    Ok((track, plan))
}

fn seconds_to_index(seconds: f64, len: usize) -> usize {
    let index = (seconds * f64::from(vocalis_inference::stt::SAMPLE_RATE)).round();
    if index.is_finite() && index > 0.0 {
        (index as usize).min(len)
    } else {
        0
    }
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
            utterances: None,
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
