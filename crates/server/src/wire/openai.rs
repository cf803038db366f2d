//! OpenAI's audio API wire formats (`/v1/audio/transcriptions`,
//! `/v1/audio/speech`), plus the gateway's JSON variants of both requests.
//!
//! Transcription answers (`json`, `verbose_json`, `text`, `srt`, `vtt`) are
//! built from engine transcripts by [`TranscriptionJson::from_transcript`]
//! and [`VerboseTranscription::from_transcript`]; `verbose_json` names the
//! language in full (`english`) as OpenAI does.

use std::io::Write as _;

use serde::{Deserialize, Serialize};
use vocalis_inference::stt::Transcript;

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
}

impl ResponseFormat {
    /// The accepted names, for error messages.
    pub const NAMES: &'static str = "json, text, srt, vtt, verbose_json, deepgram";

    /// Parses a `response_format` value.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name.trim().to_ascii_lowercase().as_str() {
            "json" => Self::Json,
            "text" => Self::Text,
            "srt" => Self::Srt,
            "vtt" => Self::Vtt,
            "verbose_json" => Self::VerboseJson,
            "deepgram" => Self::Deepgram,
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
}

// ---------------------------------------------------------------------------
// Transcription responses
// ---------------------------------------------------------------------------

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

/// Whisper's languages: ISO 639-1 (or 639-3 for a few) code and English name.
pub const LANGUAGES: [(&str, &str); 100] = [
    ("en", "english"),
    ("zh", "chinese"),
    ("de", "german"),
    ("es", "spanish"),
    ("ru", "russian"),
    ("ko", "korean"),
    ("fr", "french"),
    ("ja", "japanese"),
    ("pt", "portuguese"),
    ("tr", "turkish"),
    ("pl", "polish"),
    ("ca", "catalan"),
    ("nl", "dutch"),
    ("ar", "arabic"),
    ("sv", "swedish"),
    ("it", "italian"),
    ("id", "indonesian"),
    ("hi", "hindi"),
    ("fi", "finnish"),
    ("vi", "vietnamese"),
    ("he", "hebrew"),
    ("uk", "ukrainian"),
    ("el", "greek"),
    ("ms", "malay"),
    ("cs", "czech"),
    ("ro", "romanian"),
    ("da", "danish"),
    ("hu", "hungarian"),
    ("ta", "tamil"),
    ("no", "norwegian"),
    ("th", "thai"),
    ("ur", "urdu"),
    ("hr", "croatian"),
    ("bg", "bulgarian"),
    ("lt", "lithuanian"),
    ("la", "latin"),
    ("mi", "maori"),
    ("ml", "malayalam"),
    ("cy", "welsh"),
    ("sk", "slovak"),
    ("te", "telugu"),
    ("fa", "persian"),
    ("lv", "latvian"),
    ("bn", "bengali"),
    ("sr", "serbian"),
    ("az", "azerbaijani"),
    ("sl", "slovenian"),
    ("kn", "kannada"),
    ("et", "estonian"),
    ("mk", "macedonian"),
    ("br", "breton"),
    ("eu", "basque"),
    ("is", "icelandic"),
    ("hy", "armenian"),
    ("ne", "nepali"),
    ("mn", "mongolian"),
    ("bs", "bosnian"),
    ("kk", "kazakh"),
    ("sq", "albanian"),
    ("sw", "swahili"),
    ("gl", "galician"),
    ("mr", "marathi"),
    ("pa", "punjabi"),
    ("si", "sinhala"),
    ("km", "khmer"),
    ("sn", "shona"),
    ("yo", "yoruba"),
    ("so", "somali"),
    ("af", "afrikaans"),
    ("oc", "occitan"),
    ("ka", "georgian"),
    ("be", "belarusian"),
    ("tg", "tajik"),
    ("sd", "sindhi"),
    ("gu", "gujarati"),
    ("am", "amharic"),
    ("yi", "yiddish"),
    ("lo", "lao"),
    ("uz", "uzbek"),
    ("fo", "faroese"),
    ("ht", "haitian creole"),
    ("ps", "pashto"),
    ("tk", "turkmen"),
    ("nn", "nynorsk"),
    ("mt", "maltese"),
    ("sa", "sanskrit"),
    ("lb", "luxembourgish"),
    ("my", "myanmar"),
    ("bo", "tibetan"),
    ("tl", "tagalog"),
    ("mg", "malagasy"),
    ("as", "assamese"),
    ("tt", "tatar"),
    ("haw", "hawaiian"),
    ("ln", "lingala"),
    ("ha", "hausa"),
    ("ba", "bashkir"),
    ("jw", "javanese"),
    ("su", "sundanese"),
    ("yue", "cantonese"),
];

/// The English name of a Whisper language code.
pub fn language_name(code: &str) -> Option<&'static str> {
    LANGUAGES
        .iter()
        .find(|(c, _)| c.eq_ignore_ascii_case(code))
        .map(|(_, name)| *name)
}

/// A request's `language` as a Whisper code: accepts codes (`en`, `en-US`)
/// and English names (`english`); `None` for an unknown language.
pub fn language_code(language: &str) -> Option<&'static str> {
    let language = language.trim();
    let primary = language.split(['-', '_']).next().unwrap_or(language);
    LANGUAGES
        .iter()
        .find(|(code, name)| {
            code.eq_ignore_ascii_case(primary) || name.eq_ignore_ascii_case(language)
        })
        .map(|(code, _)| *code)
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

    #[test]
    fn formats_granularities_and_languages_parse() {
        assert_eq!(
            ResponseFormat::parse("verbose_json"),
            Some(ResponseFormat::VerboseJson)
        );
        assert_eq!(ResponseFormat::parse("SRT"), Some(ResponseFormat::Srt));
        assert_eq!(ResponseFormat::parse("diarized_json"), None);
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
