//! Transcription answers: `json` ([`TranscriptionJson`]) and `verbose_json`
//! ([`VerboseTranscription`]), built from engine transcripts.

use std::io::Write as _;

use serde::{Deserialize, Serialize};
use vocalis_inference::stt::Transcript;

use super::language_name;

/// `usage` of a transcription billed by duration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DurationUsage {
    /// Always `duration`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Seconds of audio, rounded up.
    pub seconds: u64,
}

impl DurationUsage {
    /// Usage for `seconds` of audio.
    pub fn for_seconds(seconds: f64) -> Self {
        Self {
            kind: "duration".into(),
            seconds: seconds.max(0.0).ceil() as u64,
        }
    }
}

/// `response_format=json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TranscriptionJson {
    /// The transcript.
    pub text: String,
    /// Billed duration.
    pub usage: DurationUsage,
}

impl TranscriptionJson {
    /// From an engine transcript.
    pub fn from_transcript(transcript: &Transcript) -> Self {
        Self {
            text: transcript.text(),
            usage: DurationUsage::for_seconds(transcript.duration_s),
        }
    }
}

/// A segment of `verbose_json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerboseSegment {
    /// 0-based index.
    pub id: u32,
    /// Offset of the 30 s window the segment was decoded in, in 10 ms frames.
    pub seek: u64,
    /// Start, seconds.
    pub start: f64,
    /// End, seconds.
    pub end: f64,
    /// Text, with Whisper's leading space.
    pub text: String,
    /// Token ids (not exposed by this server: always empty).
    pub tokens: Vec<u32>,
    /// Temperature requested for the decode.
    pub temperature: f32,
    /// Mean log-probability of the tokens.
    pub avg_logprob: f32,
    /// zlib compression ratio of the text (high = repetitive).
    pub compression_ratio: f32,
    /// Probability that the window holds no speech.
    pub no_speech_prob: f32,
}

/// A word of `verbose_json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerboseWord {
    /// The word as spoken (punctuation attached).
    pub word: String,
    /// Start, seconds.
    pub start: f64,
    /// End, seconds.
    pub end: f64,
}

/// `response_format=verbose_json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerboseTranscription {
    /// Always `transcribe`.
    pub task: String,
    /// The language's English name in lower case (`english`).
    pub language: String,
    /// Audio duration, seconds.
    pub duration: f64,
    /// The transcript.
    pub text: String,
    /// Segments (unless only word granularity was asked for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segments: Option<Vec<VerboseSegment>>,
    /// Words (only with `timestamp_granularities[]=word`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub words: Option<Vec<VerboseWord>>,
    /// Billed duration.
    pub usage: DurationUsage,
}

fn round_ms(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}

/// Whisper's compression ratio: UTF-8 bytes over zlib-compressed bytes.
pub fn compression_ratio(text: &str) -> f32 {
    if text.is_empty() {
        return 0.0;
    }
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    let compressed = encoder
        .write_all(text.as_bytes())
        .and_then(|()| encoder.finish());
    match compressed {
        Ok(bytes) if !bytes.is_empty() => text.len() as f32 / bytes.len() as f32,
        _ => 0.0,
    }
}

impl VerboseTranscription {
    /// From an engine transcript; `segments` / `words` choose what is listed.
    pub fn from_transcript(
        transcript: &Transcript,
        temperature: f32,
        segments: bool,
        words: bool,
    ) -> Self {
        let language = transcript
            .language
            .as_ref()
            .map(|(code, _)| language_name(code).unwrap_or(code).to_owned())
            .unwrap_or_else(|| "english".to_owned());
        Self {
            task: "transcribe".into(),
            language,
            duration: round_ms(transcript.duration_s),
            text: transcript.text(),
            segments: segments.then(|| {
                transcript
                    .segments
                    .iter()
                    .enumerate()
                    .map(|(id, s)| VerboseSegment {
                        id: id as u32,
                        seek: ((s.start / 30.0).floor() * 3000.0).max(0.0) as u64,
                        start: round_ms(s.start),
                        end: round_ms(s.end),
                        text: format!(" {}", s.text.trim()),
                        tokens: Vec::new(),
                        temperature,
                        avg_logprob: s.avg_logprob,
                        compression_ratio: compression_ratio(s.text.trim()),
                        no_speech_prob: s.no_speech_prob,
                    })
                    .collect()
            }),
            words: words.then(|| {
                transcript
                    .words
                    .iter()
                    .map(|w| VerboseWord {
                        word: w.text.trim().to_owned(),
                        start: round_ms(w.start),
                        end: round_ms(w.end),
                    })
                    .collect()
            }),
            usage: DurationUsage::for_seconds(transcript.duration_s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vocalis_inference::stt::{Segment, Word};

    fn transcript() -> Transcript {
        Transcript {
            segments: vec![
                Segment {
                    start: 0.0,
                    end: 1.0,
                    text: "Hello there.".into(),
                    avg_logprob: -0.2,
                    no_speech_prob: 0.01,
                },
                Segment {
                    start: 31.0,
                    end: 32.5,
                    text: "Goodbye.".into(),
                    avg_logprob: -0.3,
                    no_speech_prob: 0.02,
                },
            ],
            words: vec![Word {
                start: 0.0,
                end: 0.4,
                text: "Hello".into(),
                probability: 0.9,
            }],
            language: Some(("en".into(), 1.0)),
            duration_s: 32.61,
        }
    }

    #[test]
    fn verbose_json_has_openai_fields() {
        let verbose = VerboseTranscription::from_transcript(&transcript(), 0.0, true, true);
        let value = serde_json::to_value(&verbose).unwrap();
        assert_eq!(value["task"], "transcribe");
        assert_eq!(value["language"], "english");
        assert_eq!(value["text"], "Hello there. Goodbye.");
        assert_eq!(value["segments"][1]["id"], 1);
        assert_eq!(value["segments"][1]["seek"], 3000);
        assert_eq!(value["segments"][0]["text"], " Hello there.");
        assert!(value["segments"][0]["compression_ratio"].as_f64().unwrap() > 0.0);
        assert_eq!(value["words"][0]["word"], "Hello");
        assert_eq!(value["usage"]["seconds"], 33);
        let segments_only = VerboseTranscription::from_transcript(&transcript(), 0.0, true, false);
        assert!(serde_json::to_value(&segments_only)
            .unwrap()
            .get("words")
            .is_none());
    }
}
