//! Deepgram's `/v1/listen` wire formats: the query parameters (shared by the
//! pre-recorded `POST` and the live WebSocket), the pre-recorded response,
//! and the live messages (`Results`, `SpeechStarted`, `UtteranceEnd`,
//! `Metadata`, and the client's `KeepAlive` / `Finalize` / `CloseStream`).
//!
//! Each live server message serializes on its own with its `"type"` field
//! (a one-variant tag enum), so `serde_json::to_string(&results)` is already
//! what goes on the wire. Engine transcripts become [`Alternative`]s through
//! [`Alternative::from_transcript`]; nothing else here knows engine types.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use vocalis_inference::stt::Transcript;

/// Declares a one-variant enum that (de)serializes as the message's `type`.
macro_rules! type_tag {
    ($(#[$doc:meta])* $name:ident = $value:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
        pub enum $name {
            /// The only value.
            #[default]
            #[serde(rename = $value)]
            Tag,
        }
    };
}

type_tag!(
    /// `"type":"Results"`.
    ResultsType = "Results"
);
type_tag!(
    /// `"type":"SpeechStarted"`.
    SpeechStartedType = "SpeechStarted"
);
type_tag!(
    /// `"type":"UtteranceEnd"`.
    UtteranceEndType = "UtteranceEnd"
);
type_tag!(
    /// `"type":"Metadata"`.
    MetadataType = "Metadata"
);

// ---------------------------------------------------------------------------
// Query parameters
// ---------------------------------------------------------------------------

/// A query parameter with a value Deepgram would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("query parameter `{name}={value}` is invalid: expected {expected}")]
pub struct ParamError {
    /// The parameter.
    pub name: String,
    /// The value given.
    pub value: String,
    /// What would have been accepted.
    pub expected: &'static str,
}

/// `endpointing=`: silence (ms) that ends an utterance, or `false`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpointing {
    /// Turned off (`endpointing=false`).
    Disabled,
    /// After this many ms of silence.
    Ms(u32),
}

/// Most audio channels any route accepts: the `channels` query parameter,
/// a live WAV header on `/v1/listen`, and per-channel transcription of
/// uploads (`multichannel=true`).
pub const MAX_CHANNELS: u16 = 8;

/// The query parameters of `/v1/listen` (pre-recorded and live), with
/// Deepgram's names and defaults. Unknown parameters are collected in
/// [`ignored`](Self::ignored), never refused (Deepgram adds features often).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListenParams {
    /// `model` (e.g. `nova-3`); `None` = the served model.
    pub model: Option<String>,
    /// `language` (BCP-47; `multi` or absent = detect on multilingual models).
    pub language: Option<String>,
    /// `detect_language`.
    pub detect_language: bool,
    /// `punctuate`.
    pub punctuate: bool,
    /// `smart_format` (implies punctuation).
    pub smart_format: bool,
    /// `diarize`.
    pub diarize: bool,
    /// `multichannel`.
    pub multichannel: bool,
    /// `channels` (raw audio), default 1.
    pub channels: Option<u16>,
    /// `encoding` of raw audio (`linear16`, `mulaw`, `alaw`, …).
    pub encoding: Option<String>,
    /// `sample_rate` of raw audio.
    pub sample_rate: Option<u32>,
    /// `keywords` (repeatable; the `:intensifier` suffix removed).
    pub keywords: Vec<String>,
    /// `keyterm` (repeatable).
    pub keyterm: Vec<String>,
    /// `interim_results` (live).
    pub interim_results: bool,
    /// `endpointing` (live); `None` = Deepgram's default of 10 ms.
    pub endpointing: Option<Endpointing>,
    /// `utterance_end_ms` (live; needs `interim_results`).
    pub utterance_end_ms: Option<u32>,
    /// `vad_events` (live).
    pub vad_events: bool,
    /// `utterances` (pre-recorded).
    pub utterances: bool,
    /// Names of parameters that were not understood and are ignored.
    pub ignored: Vec<String>,
}

fn parse_bool(name: &str, value: &str) -> Result<bool, ParamError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(ParamError {
            name: name.to_owned(),
            value: value.to_owned(),
            expected: "true or false",
        }),
    }
}

fn parse_num<T: std::str::FromStr>(
    name: &str,
    value: &str,
    expected: &'static str,
) -> Result<T, ParamError> {
    value.trim().parse().map_err(|_| ParamError {
        name: name.to_owned(),
        value: value.to_owned(),
        expected,
    })
}

/// `word:2.5` → `word` (Deepgram's keyword intensifier is not a prompt word).
fn strip_intensifier(keyword: &str) -> &str {
    match keyword.rsplit_once(':') {
        Some((word, boost)) if boost.trim().parse::<f32>().is_ok() => word,
        _ => keyword,
    }
}

/// Credential parameters, which are not Deepgram options.
const CREDENTIAL_PARAMS: [&str; 3] = ["apiKey", "api_key", "token"];

impl ListenParams {
    /// Parses a raw query string (`a=1&keywords=x&keywords=y`).
    pub fn from_query(query: Option<&str>) -> Result<Self, ParamError> {
        let mut params = Self::default();
        let Some(query) = query else {
            return Ok(params);
        };
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            let (name, value) = (name.as_ref(), value.trim());
            match name {
                "model" if !value.is_empty() => params.model = Some(value.to_owned()),
                "language" if !value.is_empty() => params.language = Some(value.to_owned()),
                "detect_language" => params.detect_language = parse_bool(name, value)?,
                "punctuate" => params.punctuate = parse_bool(name, value)?,
                "smart_format" => params.smart_format = parse_bool(name, value)?,
                "diarize" => params.diarize = parse_bool(name, value)?,
                "multichannel" => params.multichannel = parse_bool(name, value)?,
                "interim_results" => params.interim_results = parse_bool(name, value)?,
                "vad_events" => params.vad_events = parse_bool(name, value)?,
                "utterances" => params.utterances = parse_bool(name, value)?,
                "channels" => {
                    let channels: u16 = parse_num(name, value, "a channel count of 1 to 8")?;
                    if !(1..=MAX_CHANNELS).contains(&channels) {
                        return Err(ParamError {
                            name: name.into(),
                            value: value.into(),
                            expected: "a channel count of 1 to 8",
                        });
                    }
                    params.channels = Some(channels);
                }
                "encoding" if !value.is_empty() => {
                    params.encoding = Some(value.to_ascii_lowercase())
                }
                "sample_rate" => {
                    params.sample_rate = Some(parse_num(name, value, "a sample rate in Hz")?)
                }
                "keywords" | "keyword" if !value.is_empty() => {
                    params.keywords.push(strip_intensifier(value).to_owned())
                }
                "keyterm" | "keyterms" if !value.is_empty() => {
                    params.keyterm.push(value.to_owned())
                }
                "endpointing" => {
                    params.endpointing = Some(match value.to_ascii_lowercase().as_str() {
                        "false" => Endpointing::Disabled,
                        "true" => Endpointing::Ms(10),
                        _ => Endpointing::Ms(parse_num(name, value, "milliseconds or false")?),
                    })
                }
                "utterance_end_ms" => {
                    params.utterance_end_ms = Some(parse_num(name, value, "milliseconds")?)
                }
                _ if CREDENTIAL_PARAMS.contains(&name) => {}
                _ => {
                    if !params.ignored.iter().any(|n| n == name) {
                        params.ignored.push(name.to_owned());
                    }
                }
            }
        }
        Ok(params)
    }

    /// Keywords and key terms as one Whisper prompt (`None` when there are none).
    pub fn prompt(&self) -> Option<String> {
        let terms: Vec<&str> = self
            .keyterm
            .iter()
            .chain(&self.keywords)
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .collect();
        (!terms.is_empty()).then(|| terms.join(", "))
    }

    /// Whether transcripts carry punctuation and casing.
    pub fn punctuated(&self) -> bool {
        self.punctuate || self.smart_format
    }

    /// The language to force, if any (`multi` and absent mean detect).
    pub fn fixed_language(&self) -> Option<&str> {
        if self.detect_language {
            return None;
        }
        match self.language.as_deref() {
            None | Some("multi") | Some("auto") => None,
            // `en-US` → `en`: Whisper knows languages, not regions. A code
            // with no language part (`-x`) is kept whole, to be refused.
            Some(code) => match code.split(['-', '_']).next() {
                Some(base) if !base.is_empty() => Some(base),
                _ => Some(code),
            },
        }
    }
}

// ---------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------

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
    /// Speaker index (only with diarization, which this server never invents).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speaker: Option<u32>,
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

impl Alternative {
    /// Converts an engine transcript. `punctuated` chooses Deepgram's
    /// `punctuate=true` style (cased, punctuated transcript and
    /// `punctuated_word`) or the default plain lower-case style.
    pub fn from_transcript(transcript: &Transcript, punctuated: bool) -> Self {
        let words: Vec<Word> = transcript
            .words
            .iter()
            .filter_map(|w| {
                let plain = plain_word(&w.text);
                (!plain.is_empty()).then(|| Word {
                    word: plain,
                    start: round_ms(w.start),
                    end: round_ms(w.end),
                    confidence: w.probability.clamp(0.0, 1.0),
                    punctuated_word: punctuated.then(|| w.text.trim().to_owned()),
                    speaker: None,
                })
            })
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
fn round_ms(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}

// ---------------------------------------------------------------------------
// Pre-recorded response
// ---------------------------------------------------------------------------

/// The body of a pre-recorded `POST /v1/listen` answer. The gateway's
/// `/v1/audio/transcriptions` adds [`text`](Self::text) so OpenAI clients
/// reading `text` work too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrerecordedResponse {
    /// Request metadata.
    pub metadata: PrerecordedMetadata,
    /// Transcripts, one entry per channel.
    pub results: PrerecordedResults,
    /// Whole transcript (gateway extension; absent on `/v1/listen`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// `metadata` of a pre-recorded response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrerecordedMetadata {
    /// Always `"deprecated"`.
    pub transaction_key: String,
    /// Request id (UUID).
    pub request_id: String,
    /// Hex sha256 of the submitted audio bytes.
    pub sha256: String,
    /// When the request was received (RFC 3339, UTC).
    pub created: String,
    /// Audio duration, seconds.
    pub duration: f64,
    /// Channels transcribed.
    pub channels: u32,
    /// Model UUIDs used.
    pub models: Vec<String>,
    /// Details of each model, by UUID.
    pub model_info: BTreeMap<String, ModelInfo>,
    /// Requested features that could not be honoured.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
}

/// A request feature that was not applied, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Warning {
    /// The query parameter concerned.
    pub parameter: String,
    /// Kind, e.g. `unsupported_feature`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Human-readable explanation.
    pub message: String,
}

/// `results` of a pre-recorded response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrerecordedResults {
    /// One entry per channel (one unless `multichannel=true`).
    pub channels: Vec<PrerecordedChannel>,
}

/// One channel's transcripts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrerecordedChannel {
    /// Hypotheses, best first (always one here).
    pub alternatives: Vec<Alternative>,
    /// The language spoken (ISO 639-1), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detected_language: Option<String>,
    /// Confidence of `detected_language` (0–1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language_confidence: Option<f32>,
}

impl PrerecordedChannel {
    /// One channel from an engine transcript.
    pub fn from_transcript(transcript: &Transcript, punctuated: bool) -> Self {
        Self {
            alternatives: vec![Alternative::from_transcript(transcript, punctuated)],
            detected_language: transcript.language.as_ref().map(|(code, _)| code.clone()),
            language_confidence: transcript.language.as_ref().map(|(_, p)| p.clamp(0.0, 1.0)),
        }
    }
}

// ---------------------------------------------------------------------------
// Live messages (server → client)
// ---------------------------------------------------------------------------

/// `channel` of a live `Results`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveChannel {
    /// Hypotheses (one).
    pub alternatives: Vec<Alternative>,
}

/// The slim `metadata` carried by every live `Results`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultsMetadata {
    /// The session's request id.
    pub request_id: String,
    /// The model.
    pub model_info: ModelInfo,
    /// The model's UUID.
    pub model_uuid: String,
}

/// A live transcript (`"type":"Results"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Results {
    /// Always `Results`.
    #[serde(rename = "type")]
    pub kind: ResultsType,
    /// `[channel, total channels]`.
    pub channel_index: Vec<u32>,
    /// Seconds of audio this result covers.
    pub duration: f64,
    /// Start, seconds of audio since the stream began.
    pub start: f64,
    /// Whether this text will not change.
    pub is_final: bool,
    /// Whether an endpoint (silence) followed.
    pub speech_final: bool,
    /// The transcript.
    pub channel: LiveChannel,
    /// Session metadata.
    pub metadata: ResultsMetadata,
    /// Whether a `Finalize` produced this result.
    #[serde(default)]
    pub from_finalize: bool,
}

/// Voice activity began (`"type":"SpeechStarted"`, with `vad_events=true`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpeechStarted {
    /// Always `SpeechStarted`.
    #[serde(rename = "type")]
    pub kind: SpeechStartedType,
    /// `[channel, total channels]`.
    pub channel: Vec<u32>,
    /// Seconds of audio since the stream began.
    pub timestamp: f64,
}

/// An utterance ended (`"type":"UtteranceEnd"`, with `utterance_end_ms`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UtteranceEnd {
    /// Always `UtteranceEnd`.
    #[serde(rename = "type")]
    pub kind: UtteranceEndType,
    /// `[channel, total channels]`.
    pub channel: Vec<u32>,
    /// End of the last word, seconds of audio.
    pub last_word_end: f64,
}

/// The last message of a live session (`"type":"Metadata"`), sent after
/// `CloseStream` before the socket closes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    /// Always `Metadata`.
    #[serde(rename = "type")]
    pub kind: MetadataType,
    /// Always `"deprecated"`.
    pub transaction_key: String,
    /// The session's request id.
    pub request_id: String,
    /// Hex sha256 of the audio received.
    pub sha256: String,
    /// When the session started (RFC 3339, UTC).
    pub created: String,
    /// Seconds of audio received.
    pub duration: f64,
    /// Channels.
    pub channels: u32,
    /// Model UUIDs used.
    #[serde(default)]
    pub models: Vec<String>,
    /// Details of each model, by UUID.
    #[serde(default)]
    pub model_info: BTreeMap<String, ModelInfo>,
}

/// Any live server message (for clients and tests that read the stream).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LiveMessage {
    /// A transcript.
    Results(Results),
    /// Speech began.
    SpeechStarted(SpeechStarted),
    /// An utterance ended.
    UtteranceEnd(UtteranceEnd),
    /// The session's summary.
    Metadata(Metadata),
}

/// A client → server text frame on the live socket.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type")]
pub enum ClientMessage {
    /// Keeps an idle socket open.
    KeepAlive,
    /// Flush buffered audio into final results.
    Finalize {
        /// Only this channel (absent: all).
        #[serde(default)]
        channel: Option<u32>,
    },
    /// Flush, send `Metadata`, close.
    CloseStream,
}

// ---------------------------------------------------------------------------
// Ids, hashes and times
// ---------------------------------------------------------------------------

/// A new random request id in UUID v4 form.
pub fn new_request_id() -> String {
    let mut bytes = [0u8; 16];
    // getrandom only fails when the OS has no entropy source at all.
    getrandom::fill(&mut bytes).expect("the OS random number generator is available");
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    uuid_string(&bytes)
}

fn uuid_string(bytes: &[u8; 16]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// A stable UUID-shaped id for a model name (Deepgram keys `model_info` by UUID).
pub fn model_uuid(name: &str) -> String {
    let digest = Sha256::digest(format!("vocalis-model:{name}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x50;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    uuid_string(&bytes)
}

/// `model_info` for the served Whisper model.
pub fn whisper_model_info(name: &str) -> ModelInfo {
    ModelInfo {
        name: name.to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        arch: "whisper".to_owned(),
    }
}

/// Hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Now as RFC 3339 UTC with milliseconds (`2024-05-12T18:57:13.426Z`).
pub fn rfc3339_now() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(now.as_secs() as i64, now.subsec_millis())
}

/// Unix seconds (+ milliseconds) as RFC 3339 UTC.
pub fn rfc3339(unix_seconds: i64, millis: u32) -> String {
    let days = unix_seconds.div_euclid(86_400);
    let secs = unix_seconds.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Proleptic Gregorian date of days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use vocalis_inference::stt::{Segment, Word as EngineWord};

    fn transcript() -> Transcript {
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

    #[test]
    fn query_parameters_parse_like_deepgram() {
        let p = ListenParams::from_query(Some(
            "model=nova-2&punctuate=true&keywords=Vocalis:2&keywords=Piper&keyterm=whisper.cpp\
             &encoding=MULAW&sample_rate=8000&endpointing=false&apiKey=x&redact=pci",
        ))
        .unwrap();
        assert_eq!(p.model.as_deref(), Some("nova-2"));
        assert!(p.punctuated());
        assert_eq!(p.encoding.as_deref(), Some("mulaw"));
        assert_eq!(p.sample_rate, Some(8000));
        assert_eq!(p.endpointing, Some(Endpointing::Disabled));
        assert_eq!(p.prompt().as_deref(), Some("whisper.cpp, Vocalis, Piper"));
        assert_eq!(p.ignored, vec!["redact".to_owned()]);
        let err = ListenParams::from_query(Some("diarize=maybe")).unwrap_err();
        assert_eq!(err.name, "diarize");
        assert!(ListenParams::from_query(Some("channels=0")).is_err());
        let p = ListenParams::from_query(Some("language=en-US")).unwrap();
        assert_eq!(p.fixed_language(), Some("en"));
        assert_eq!(ListenParams::default().fixed_language(), None);
    }

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

    #[test]
    fn live_messages_carry_their_type() {
        let info = whisper_model_info("tiny.en");
        let results = Results {
            kind: ResultsType::Tag,
            channel_index: vec![0, 1],
            duration: 1.5,
            start: 0.0,
            is_final: true,
            speech_final: true,
            channel: LiveChannel {
                alternatives: vec![Alternative::from_transcript(&transcript(), true)],
            },
            metadata: ResultsMetadata {
                request_id: new_request_id(),
                model_uuid: model_uuid(&info.name),
                model_info: info,
            },
            from_finalize: false,
        };
        let value = serde_json::to_value(&results).unwrap();
        assert_eq!(value["type"], "Results");
        assert_eq!(
            value["channel"]["alternatives"][0]["transcript"],
            "Hello, world."
        );
        let back: LiveMessage = serde_json::from_value(value).unwrap();
        assert_eq!(back, LiveMessage::Results(results));
        let started = SpeechStarted {
            kind: SpeechStartedType::Tag,
            channel: vec![0, 1],
            timestamp: 1.25,
        };
        assert_eq!(
            serde_json::to_value(&started).unwrap(),
            json!({"type":"SpeechStarted","channel":[0,1],"timestamp":1.25})
        );
        let end = UtteranceEnd {
            kind: UtteranceEndType::Tag,
            channel: vec![0, 1],
            last_word_end: 2.395,
        };
        assert_eq!(serde_json::to_value(&end).unwrap()["type"], "UtteranceEnd");
        let metadata = Metadata {
            kind: MetadataType::Tag,
            transaction_key: "deprecated".into(),
            request_id: "r".into(),
            sha256: sha256_hex(b""),
            created: rfc3339(0, 0),
            duration: 0.0,
            channels: 1,
            models: vec![],
            model_info: BTreeMap::new(),
        };
        let value = serde_json::to_value(&metadata).unwrap();
        assert_eq!(value["type"], "Metadata");
        assert_eq!(
            value["sha256"],
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn client_messages_parse() {
        let parse = |s: &str| serde_json::from_str::<ClientMessage>(s).unwrap();
        assert_eq!(parse(r#"{"type":"KeepAlive"}"#), ClientMessage::KeepAlive);
        assert_eq!(
            parse(r#"{"type":"Finalize","channel":0}"#),
            ClientMessage::Finalize { channel: Some(0) }
        );
        assert_eq!(
            parse(r#"{"type":"CloseStream"}"#),
            ClientMessage::CloseStream
        );
        assert!(serde_json::from_str::<ClientMessage>(r#"{"type":"Nope"}"#).is_err());
    }

    #[test]
    fn ids_and_times_have_deepgram_shapes() {
        let id = new_request_id();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert_eq!(model_uuid("tiny.en"), model_uuid("tiny.en"));
        assert_ne!(model_uuid("tiny.en"), model_uuid("base"));
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_715_540_233, 426), "2024-05-12T18:57:13.426Z");
        assert_eq!(rfc3339(951_782_400, 5), "2000-02-29T00:00:00.005Z");
    }
}
