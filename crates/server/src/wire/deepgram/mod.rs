//! Deepgram's `/v1/listen` wire formats: the query parameters (shared by the
//! pre-recorded `POST` and the live WebSocket), the pre-recorded response,
//! the live messages (`Results`, `SpeechStarted`, `UtteranceEnd`,
//! `Metadata`, and the client's `KeepAlive` / `Finalize` / `CloseStream`)
//! and Deepgram's error body.
//!
//! Each live server message serializes on its own with its `"type"` field
//! (a one-variant tag enum), so `serde_json::to_string(&results)` is already
//! what goes on the wire. Engine transcripts become [`Alternative`]s through
//! [`Alternative::from_transcript`]; nothing else here knows engine types.
//!
//! # Layout
//! - [`params`]: the query parameters ([`ListenParams`]).
//! - [`prerecorded`]: the `POST /v1/listen` answer.
//! - [`live`]: the live socket's messages, both directions.
//! - [`errors`]: Deepgram's error body (`err_code`, `err_msg`, `request_id`).
//! - [`ids`]: request ids, model UUIDs, hashes and RFC 3339 times.
//!
//! Everything is re-exported here, so `wire::deepgram::Results` works.

use serde::{Deserialize, Serialize};
use vocalis_inference::stt::Transcript;

pub mod errors;
pub mod ids;
pub mod live;
pub mod params;
pub mod prerecorded;

pub use errors::*;
pub use ids::*;
pub use live::*;
pub use params::*;
pub use prerecorded::*;

/// `model_info` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Model name, e.g. `tiny.en`.
    pub name: String,
    /// Model version.
    pub version: String,
    /// Architecture, e.g. `whisper`.
    pub arch: String,
}

/// One recognised word.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Word {
    /// Lower-case word without punctuation.
    pub word: String,
    /// Start, seconds of audio.
    pub start: f64,
    /// End, seconds of audio.
    pub end: f64,
    /// 0–1.
    pub confidence: f32,
    /// The word as written, with casing and punctuation (only with
    /// `punctuate` / `smart_format` on `/v1/listen`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub punctuated_word: Option<String>,
    /// Speaker index (only with `diarize=true`; numbered from 0 in order of
    /// first appearance, or the channel index with `multichannel=true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speaker: Option<u32>,
    /// How sure the speaker attribution is, 0–1 (with `speaker`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speaker_confidence: Option<f32>,
}

/// One transcript hypothesis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alternative {
    /// The transcript.
    pub transcript: String,
    /// 0–1.
    pub confidence: f32,
    /// Words in time order.
    pub words: Vec<Word>,
}

/// Lower-cases and strips punctuation around a word, keeping inner
/// apostrophes and hyphens ("Don't," → "don't").
pub fn plain_word(text: &str) -> String {
    text.trim_matches(|c: char| !c.is_alphanumeric())
        .to_lowercase()
}

impl Word {
    /// An engine word as a Deepgram word (`None` for punctuation only),
    /// with `speaker` (id, confidence) when diarizing.
    pub fn from_engine(
        w: &vocalis_inference::stt::Word,
        punctuated: bool,
        speaker: Option<(u32, Option<f32>)>,
    ) -> Option<Self> {
        let plain = plain_word(&w.text);
        (!plain.is_empty()).then(|| Word {
            word: plain,
            start: round_ms(w.start),
            end: round_ms(w.end),
            confidence: w.probability.clamp(0.0, 1.0),
            punctuated_word: punctuated.then(|| w.text.trim().to_owned()),
            speaker: speaker.map(|(id, _)| id),
            speaker_confidence: speaker.and_then(|(_, c)| c),
        })
    }
}

impl Alternative {
    /// Converts an engine transcript. `punctuated` chooses Deepgram's
    /// `punctuate=true` style (cased, punctuated transcript and
    /// `punctuated_word`) or the default plain lower-case style.
    pub fn from_transcript(transcript: &Transcript, punctuated: bool) -> Self {
        let words: Vec<Word> = transcript
            .words
            .iter()
            .filter_map(|w| Word::from_engine(w, punctuated, None))
            .collect();
        let transcript_text = if punctuated {
            transcript.text()
        } else if words.is_empty() {
            transcript
                .text()
                .split_whitespace()
                .map(plain_word)
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            words
                .iter()
                .map(|w| w.word.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        };
        Self {
            transcript: transcript_text,
            confidence: transcript.confidence().clamp(0.0, 1.0),
            words,
        }
    }
}

/// Seconds rounded to the millisecond (keeps float noise off the wire).
/// Seconds rounded to the millisecond, as Deepgram reports times.
pub(crate) fn round_ms(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}

#[cfg(test)]
pub(crate) mod test_support {
    //! A small engine transcript the submodules' tests share.
    use vocalis_inference::stt::{Segment, Transcript, Word as EngineWord};

    /// "Hello, world." with two timed words, English.
    pub fn transcript() -> Transcript {
        Transcript {
            segments: vec![Segment {
                start: 0.0,
                end: 1.2,
                text: "Hello, world.".into(),
                avg_logprob: -0.1,
                no_speech_prob: 0.01,
            }],
            words: vec![
                EngineWord {
                    start: 0.0,
                    end: 0.5,
                    text: "Hello,".into(),
                    probability: 0.9,
                },
                EngineWord {
                    start: 0.5,
                    end: 1.2,
                    text: "world.".into(),
                    probability: 0.8,
                },
            ],
            language: Some(("en".into(), 1.0)),
            duration_s: 1.5,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::transcript;
    use super::*;

    #[test]
    fn alternatives_follow_the_punctuate_flag() {
        let plain = Alternative::from_transcript(&transcript(), false);
        assert_eq!(plain.transcript, "hello world");
        assert_eq!(plain.words[0].word, "hello");
        assert_eq!(plain.words[0].punctuated_word, None);
        let punctuated = Alternative::from_transcript(&transcript(), true);
        assert_eq!(punctuated.transcript, "Hello, world.");
        assert_eq!(
            punctuated.words[1].punctuated_word.as_deref(),
            Some("world.")
        );
        assert!((punctuated.confidence - 0.85).abs() < 1e-6);
    }
}
