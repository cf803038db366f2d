//! Speaker diarization for the REST transcription routes (`diarize=true` on
//! `POST /v1/listen`, `response_format=diarized_json` on
//! `/v1/audio/transcriptions`): the VAD and the speaker encoder run on a
//! blocking thread holding one of the decode slots (so concurrent requests
//! are bounded like decoding), next to the Whisper jobs; the wire words then
//! take their speakers by time overlap.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use vocalis_inference::diarize::{assign_words, Diarization, DiarizeOptions, Diarizer};
use vocalis_inference::vad::Vad;

use crate::error::ApiError;
use crate::server::AppState;
use vocalis_inference::stt::Transcript;

use crate::wire::deepgram::{Alternative, Warning};
use crate::wire::openai::{turns as speaker_turns, DiarizedSegment, SpeakerWord};

/// How long a request waits for a free slot before answering 503.
const SLOT_WAIT: Duration = Duration::from_secs(10);

/// Why diarization is off for a request that asked for it, as a warning.
pub(crate) fn unavailable_warning() -> Warning {
    Warning {
        parameter: "diarize".to_owned(),
        kind: "unsupported_feature".to_owned(),
        message: "diarization needs the speaker model, which is not installed (`vocalis models \
                  pull resemblyzer`); no speaker labels were added"
            .to_owned(),
    }
}

/// A diarization in flight: started before transcription, awaited after.
pub(crate) struct Pending(tokio::task::JoinHandle<Result<Diarization, ApiError>>);

/// Starts diarizing `track` (16 kHz mono) off the runtime; `None` when the
/// server has no speaker model.
pub(crate) async fn start(
    state: &AppState,
    track: Vec<f32>,
    options: DiarizeOptions,
) -> Result<Option<Pending>, ApiError> {
    let Some(diarizer) = state.engines.diarizer.clone() else {
        return Ok(None);
    };
    let vad = state.engines.vad.clone();
    let slot = acquire(&state.decode_slots).await?;
    Ok(Some(Pending(tokio::task::spawn_blocking(move || {
        let _slot = slot;
        run(&diarizer, &vad, &track, &options)
    }))))
}

impl Pending {
    /// The finished diarization.
    pub(crate) async fn finish(self) -> Result<Diarization, ApiError> {
        self.0
            .await
            .map_err(|e| ApiError::Internal(format!("diarization task failed: {e}")))?
    }
}

async fn acquire(slots: &Arc<Semaphore>) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
    match tokio::time::timeout(SLOT_WAIT, slots.clone().acquire_owned()).await {
        Ok(Ok(slot)) => Ok(slot),
        Ok(Err(closed)) => Err(ApiError::Internal(format!("decode slots: {closed}"))),
        Err(_) => Err(ApiError::Busy(
            "every audio worker is busy; retry in a few seconds".into(),
        )),
    }
}

fn run(
    diarizer: &Diarizer,
    vad: &Vad,
    track: &[f32],
    options: &DiarizeOptions,
) -> Result<Diarization, ApiError> {
    let regions = vad
        .speech_regions(track)
        .map_err(|e| ApiError::Internal(format!("VAD: {e}")))?;
    diarizer
        .diarize(track, &regions, options)
        .map_err(|e| ApiError::Internal(e.to_string()))
}

/// Labels every word of `alternative` with its speaker and confidence.
pub(crate) fn label(alternative: &mut Alternative, d: &Diarization) {
    let times: Vec<(f64, f64)> = alternative.words.iter().map(|w| (w.start, w.end)).collect();
    let speakers = assign_words(d, &times);
    for (word, s) in alternative.words.iter_mut().zip(&speakers) {
        word.speaker = u32::try_from(s.speaker).ok();
        word.speaker_confidence = Some((s.confidence * 1000.0).round() / 1000.0);
    }
    // No speech found at all: everything is the one speaker 0.
    if speakers.is_empty() {
        for word in &mut alternative.words {
            word.speaker = Some(0);
            word.speaker_confidence = Some(0.0);
        }
    }
}

/// Multichannel audio: every word of channel `index` is that channel's speaker.
pub(crate) fn label_channel(alternative: &mut Alternative, index: usize) {
    for word in &mut alternative.words {
        word.speaker = u32::try_from(index).ok();
        word.speaker_confidence = Some(1.0);
    }
}

/// Speaker-count hints: `exact` fixes the count, else `min`/`max` bound it.
pub(crate) fn options(exact: Option<u32>, min: Option<u32>, max: Option<u32>) -> DiarizeOptions {
    let mut o = DiarizeOptions::default();
    let clamp = |n: u32| (n as usize).clamp(1, 16);
    if let Some(n) = exact {
        o.min_speakers = clamp(n);
        o.max_speakers = clamp(n);
        return o;
    }
    if let Some(n) = min {
        o.min_speakers = clamp(n);
    }
    if let Some(n) = max {
        o.max_speakers = clamp(n);
    }
    o.max_speakers = o.max_speakers.max(o.min_speakers);
    o
}

/// Pause that ends a speaker turn of `diarized_json` (Deepgram's `utt_split`).
const TURN_SPLIT_S: f64 = 0.8;

/// OpenAI's speaker turns of a transcript (its words labelled by `d`).
pub(crate) fn turns(transcript: &Transcript, d: &Diarization) -> Vec<DiarizedSegment> {
    let times: Vec<(f64, f64)> = transcript.words.iter().map(|w| (w.start, w.end)).collect();
    let speakers = assign_words(d, &times);
    let words: Vec<SpeakerWord<'_>> = transcript
        .words
        .iter()
        .enumerate()
        .map(|(i, w)| SpeakerWord {
            start: (w.start * 1000.0).round() / 1000.0,
            end: (w.end * 1000.0).round() / 1000.0,
            text: &w.text,
            speaker: speakers.get(i).map_or(0, |s| s.speaker),
        })
        .collect();
    speaker_turns(&words, TURN_SPLIT_S)
}

/// A subtitle cue's text with its speaker: WebVTT's voice tag
/// (`<v Speaker A>…`) or SRT's `[Speaker A] …`.
pub(crate) fn cue_text(segment: &DiarizedSegment, vtt: bool) -> String {
    if vtt {
        format!("<v Speaker {}>{}", segment.speaker, segment.text)
    } else {
        format!("[Speaker {}] {}", segment.speaker, segment.text)
    }
}
