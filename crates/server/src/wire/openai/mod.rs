//! OpenAI's audio API wire formats (`/v1/audio/transcriptions`,
//! `/v1/audio/speech`), plus the gateway's JSON variants of both requests.
//!
//! Transcription answers (`json`, `verbose_json`, `text`, `srt`, `vtt`) are
//! built from engine transcripts by [`TranscriptionJson::from_transcript`]
//! and [`VerboseTranscription::from_transcript`]; `verbose_json` names the
//! language in full (`english`) as OpenAI does.
//!
//! # Layout
//! - this module: the requests (transcription JSON body, speech body).
//! - [`transcription`]: transcription answers (`json`, `verbose_json`).
//! - [`diarized`]: the `diarized_json` answer (speaker turns).
//! - [`languages`]: Whisper's languages, by code and English name.
//! - [`stream`]: the server-sent events of `stream=true` (transcriptions)
//!   and `stream_format: "sse"` (speech).
//!
//! Everything is re-exported here, so `wire::openai::SpeechRequest` works.

use serde::Deserialize;

pub mod diarized;
pub mod languages;
pub mod stream;
pub mod transcription;

pub use diarized::*;
pub use languages::*;
pub use stream::*;
pub use transcription::*;

// ---------------------------------------------------------------------------
// Transcription requests
// ---------------------------------------------------------------------------

/// `response_format` of a transcription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseFormat {
    /// `{"text": …}`.
    Json,
    /// Plain text.
    Text,
    /// SubRip subtitles.
    Srt,
    /// WebVTT subtitles.
    Vtt,
    /// Text, language, duration, segments and (when asked) words.
    VerboseJson,
    /// Deepgram's pre-recorded JSON plus `text` (the gateway's default).
    Deepgram,
    /// Speaker turns (`gpt-4o-transcribe-diarize`'s `diarized_json`).
    DiarizedJson,
}

impl ResponseFormat {
    /// The accepted names, for error messages.
    pub const NAMES: &'static str = "json, text, srt, vtt, verbose_json, diarized_json, deepgram";

    /// Parses a `response_format` value.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name.trim().to_ascii_lowercase().as_str() {
            "json" => Self::Json,
            "text" => Self::Text,
            "srt" => Self::Srt,
            "vtt" => Self::Vtt,
            "verbose_json" => Self::VerboseJson,
            "deepgram" => Self::Deepgram,
            "diarized_json" => Self::DiarizedJson,
            _ => return None,
        })
    }
}

/// An entry of `timestamp_granularities[]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    /// Per-word timestamps (`words`).
    Word,
    /// Per-segment timestamps (`segments`).
    Segment,
}

impl Granularity {
    /// Parses `word` or `segment`.
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "word" => Some(Self::Word),
            "segment" => Some(Self::Segment),
            _ => None,
        }
    }
}

/// The gateway's JSON transcription request (base64 audio); OpenAI's
/// multipart fields are accepted here too.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct JsonTranscriptionRequest {
    /// Model name (default `basics-stt`).
    #[serde(default)]
    pub model: Option<String>,
    /// Base64 audio (standard or URL-safe alphabet, padding optional).
    #[serde(default)]
    pub audio: Option<String>,
    /// MIME type of `audio` (default `audio/wav`).
    #[serde(default)]
    pub mime_type: Option<String>,
    /// ISO 639-1 language.
    #[serde(default)]
    pub language: Option<String>,
    /// Prompt biasing the transcript.
    #[serde(default)]
    pub prompt: Option<String>,
    /// Sampling temperature, 0–1.
    #[serde(default)]
    pub temperature: Option<f32>,
    /// OpenAI `response_format`.
    #[serde(default)]
    pub response_format: Option<String>,
    /// OpenAI `timestamp_granularities`.
    #[serde(default, alias = "timestamp_granularities[]")]
    pub timestamp_granularities: Option<Vec<String>>,
    /// OpenAI `stream`: answer with server-sent events.
    #[serde(default)]
    pub stream: Option<bool>,
}

// ---------------------------------------------------------------------------
// Speech
// ---------------------------------------------------------------------------

/// `voice`: a name, or OpenAI's `{"id": …}` object.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum VoiceField {
    /// `"alloy"`, `"default"`, an installed voice name…
    Name(String),
    /// `{"id": "voice_1234"}`.
    Object {
        /// The voice id.
        id: String,
    },
}

impl VoiceField {
    /// The name or id.
    pub fn name(&self) -> &str {
        match self {
            Self::Name(name) | Self::Object { id: name } => name,
        }
    }
}

/// The body of `POST /v1/audio/speech`: the gateway's fields (`encoding`)
/// and OpenAI's (`response_format`, `speed`), plus `sample_rate`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct SpeechRequest {
    /// `basics-tts`, `tts-1`, `tts-1-hd`, `gpt-4o-mini-tts` or the voice's name.
    #[serde(default)]
    pub model: Option<String>,
    /// Text to speak.
    #[serde(default)]
    pub input: Option<String>,
    /// Voice.
    #[serde(default)]
    pub voice: Option<VoiceField>,
    /// Gateway: output encoding (`mp3`, `wav`, `mulaw`, `linear16`, …).
    #[serde(default)]
    pub encoding: Option<String>,
    /// OpenAI: output format (`mp3`, `wav`, `pcm`, …).
    #[serde(default)]
    pub response_format: Option<String>,
    /// OpenAI: speaking rate, 0.25–4.0.
    #[serde(default)]
    pub speed: Option<f32>,
    /// Extension: output sample rate in Hz.
    #[serde(default)]
    pub sample_rate: Option<u32>,
    /// OpenAI: `audio` (chunked bytes) or `sse` (not supported).
    #[serde(default)]
    pub stream_format: Option<String>,
    /// OpenAI: style instructions (ignored by Piper voices).
    #[serde(default)]
    pub instructions: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_granularities_and_languages_parse() {
        assert_eq!(
            ResponseFormat::parse("verbose_json"),
            Some(ResponseFormat::VerboseJson)
        );
        assert_eq!(ResponseFormat::parse("SRT"), Some(ResponseFormat::Srt));
        assert_eq!(
            ResponseFormat::parse("diarized_json"),
            Some(ResponseFormat::DiarizedJson)
        );
        assert_eq!(Granularity::parse("word"), Some(Granularity::Word));
        assert_eq!(language_code("en-US"), Some("en"));
        assert_eq!(language_code("German"), Some("de"));
        assert_eq!(language_code("klingon"), None);
        assert_eq!(language_name("yue"), Some("cantonese"));
    }

    #[test]
    fn speech_requests_accept_both_voice_shapes() {
        let r: SpeechRequest =
            serde_json::from_str(r#"{"input":"hi","voice":{"id":"voice_1"},"speed":1.5}"#).unwrap();
        assert_eq!(r.voice.unwrap().name(), "voice_1");
        let r: SpeechRequest =
            serde_json::from_str(r#"{"input":"hi","voice":"alloy","encoding":"mp3"}"#).unwrap();
        assert_eq!(r.voice.unwrap().name(), "alloy");
        assert_eq!(r.encoding.as_deref(), Some("mp3"));
    }
}
