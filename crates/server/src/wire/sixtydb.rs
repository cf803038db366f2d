//! 60db-style WebSocket messages for `/ws/stt` (and the shared envelope
//! messages). Client messages are tagged by `"type"`; an unknown type or a
//! malformed body is a recoverable `invalid_message` error.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Audio encodings a client may stream to `/ws/stt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SttEncoding {
    /// G.711 μ-law (telephony).
    #[serde(alias = "ulaw", alias = "pcmu")]
    Mulaw,
    /// G.711 A-law.
    #[serde(alias = "pcma")]
    Alaw,
    /// 16-bit signed little-endian PCM.
    #[serde(alias = "linear16", alias = "pcm", alias = "pcm_s16le")]
    Linear,
}

/// `config` of a `start` message; every field optional.
///
/// Fields neither 60db nor Vocalis define are kept in `unknown` so that the
/// `start` can be refused naming them, instead of silently dropped.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct StartConfig {
    /// Audio encoding (default μ-law).
    pub encoding: Option<String>,
    /// Sample rate in Hz (default 8000).
    pub sample_rate: Option<u32>,
    /// Silence that ends an utterance, ms (default 500, min 300).
    pub utterance_end_ms: Option<u32>,
    /// Send partial (`is_final:false`) transcripts.
    pub interim_results: Option<bool>,
    /// Keep transcribing after each utterance (the only mode; accepted for compatibility).
    pub continuous_mode: Option<bool>,
    /// Label each final (and its words) with a `speaker` (live diarization;
    /// needs the speaker model).
    pub diarize: Option<bool>,
    /// With `diarize`: exactly this many speakers (1–16; live, at most).
    pub diarize_speakers: Option<u32>,
    /// With `diarize`: at least this many speakers (1–16; not enforceable live).
    pub min_speakers: Option<u32>,
    /// With `diarize`: at most this many speakers (1–16, default 8).
    pub max_speakers: Option<u32>,
    /// Any other field, by name: refused at `start` (`unsupported_setting`).
    #[serde(flatten)]
    pub unknown: std::collections::BTreeMap<String, Value>,
}

/// A client → server message on `/ws/stt`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SttClientMessage {
    /// Start a session.
    Start {
        /// Up to 5 language codes; absent or null: detect.
        #[serde(default)]
        languages: Option<Vec<String>>,
        /// Audio settings.
        #[serde(default)]
        config: Option<StartConfig>,
        /// Free-form context, used as a prompt bias.
        #[serde(default)]
        context: Option<Value>,
    },
    /// Base64 audio in the session's encoding.
    Audio {
        /// The audio bytes, base64.
        audio: String,
    },
    /// Change languages mid-session.
    Config {
        /// New languages; null: detect.
        #[serde(default)]
        languages: Option<Vec<String>>,
        /// Accepted for compatibility.
        #[serde(default)]
        continuous_mode: Option<bool>,
    },
    /// Flush pending audio to finals without ending the session.
    Finalize,
    /// End the session: finals, usage, billing summary, close 1000.
    Stop,
    /// Latency check.
    Test,
    /// Resets the idle timer.
    #[serde(alias = "KeepAlive", alias = "keep_alive")]
    Keepalive,
}

impl SttClientMessage {
    /// Parses one text frame, flat (`{"type":"start","config":…}`) or in
    /// the seed's generic envelope (`{"type":"start","data":{"config":…}}`).
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        let value: Value = serde_json::from_str(text)?;
        serde_json::from_value(unwrap_envelope(value))
    }
}

/// Whether a text frame is a `start` (flat or enveloped), readable or not.
pub fn is_start(text: &str) -> bool {
    serde_json::from_str::<Value>(text)
        .map(unwrap_envelope)
        .is_ok_and(|value| value.get("type").and_then(Value::as_str) == Some("start"))
}

/// The field of an unreadable `start` that cannot be read (`languages`,
/// `config`, `config.sample_rate`, …), for the error message; serde's own
/// message does not name it.
pub fn unreadable_start_field(text: &str) -> Option<String> {
    let value = unwrap_envelope(serde_json::from_str::<Value>(text).ok()?);
    if value.get("languages").is_some_and(|languages| {
        serde_json::from_value::<Option<Vec<String>>>(languages.clone()).is_err()
    }) {
        return Some("languages".into());
    }
    let config = value.get("config")?;
    let Value::Object(fields) = config else {
        return (!config.is_null()).then(|| "config".into());
    };
    fields.iter().find_map(|(key, field)| {
        let alone = Value::Object([(key.clone(), field.clone())].into_iter().collect());
        serde_json::from_value::<StartConfig>(alone)
            .is_err()
            .then(|| format!("config.{key}"))
    })
}

/// `{"type": T, "data": {…}}` → `{"type": T, …}`: the 60db seed's "Message
/// Format". Only an object whose keys are exactly `type` and `data`, with
/// `data` an object, is unwrapped (`data`'s own `type` never wins);
/// anything else is returned as it is.
pub fn unwrap_envelope(value: Value) -> Value {
    let Value::Object(mut object) = value else {
        return value;
    };
    let is_envelope = object.len() == 2
        && object.contains_key("type")
        && matches!(object.get("data"), Some(Value::Object(_)));
    if !is_envelope {
        return Value::Object(object);
    }
    if let Some(Value::Object(data)) = object.remove("data") {
        for (key, field) in data {
            if key != "type" {
                object.insert(key, field);
            }
        }
    }
    Value::Object(object)
}

/// `connection_established` payload.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectionInfo {
    /// `stt` or `tts`.
    pub service: &'static str,
    /// The tenant the connection bills to.
    pub tenant: String,
    /// Remaining credit in USD; null when unlimited.
    pub credit_balance: Option<f64>,
}

/// A word of a transcript on the wire.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WireWord {
    /// The word as spoken, with punctuation.
    pub word: String,
    /// Start, seconds of stream audio.
    pub start: f64,
    /// End, seconds of stream audio.
    pub end: f64,
    /// 0–1.
    pub confidence: f64,
    /// Speaker id (0, 1, … stable within the session) with `diarize`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speaker: Option<u32>,
}

/// The effective session settings echoed in `session_started`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EffectiveSttConfig {
    /// `mulaw`, `alaw` or `linear`.
    pub encoding: SttEncoding,
    /// Hz.
    pub sample_rate: u32,
    /// ms.
    pub utterance_end_ms: u32,
    /// Whether partials are sent.
    pub interim_results: bool,
    /// Always true.
    pub continuous_mode: bool,
    /// Languages, or null for detection.
    pub languages: Option<Vec<String>>,
}

/// `billing_summary` of `session_stopped`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BillingSummary {
    /// The session.
    pub session_id: String,
    /// Audio received (STT) or produced (TTS), seconds.
    pub total_duration_seconds: f64,
    /// Seconds billed.
    pub billed_seconds: f64,
    /// Characters synthesized (TTS only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub characters: Option<u64>,
    /// USD per minute of audio (STT) — or per 1 000 characters for TTS in `rate_per_1k_characters`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_per_minute: Option<f64>,
    /// USD per 1 000 characters (TTS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_per_1k_characters: Option<f64>,
    /// USD.
    pub total_cost: f64,
    /// Always `USD`.
    pub currency: &'static str,
    /// Balance after this session; null when unlimited.
    pub credit_balance: Option<f64>,
}

/// A server → client message on `/ws/stt` (and the shared ones on `/ws/tts`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SttServerMessage {
    /// Sent first, while authentication completes.
    Connecting {
        /// Human text.
        message: &'static str,
        /// Unix ms.
        timestamp: u64,
    },
    /// Ready: send `start`.
    ConnectionEstablished {
        /// Service, tenant and balance.
        connection_established: ConnectionInfo,
    },
    /// The session started with these effective settings.
    SessionStarted {
        /// The session id (also the usage ledger key).
        session_id: String,
        /// Effective settings.
        config: EffectiveSttConfig,
    },
    /// Legacy ack some 60db clients wait for; sent right after `session_started`.
    Connected {
        /// The session id.
        session_id: String,
    },
    /// VAD heard voice.
    SpeechStarted {
        /// Seconds of stream audio.
        timestamp: f64,
    },
    /// A partial or final transcript.
    Transcription {
        /// The text.
        text: String,
        /// 0–1.
        confidence: f64,
        /// Language code.
        language: String,
        /// False for partials.
        is_final: bool,
        /// True on each utterance's final.
        speech_final: bool,
        /// Utterance number, from 0.
        sentence_id: u64,
        /// Start, seconds of stream audio.
        start: f64,
        /// End, seconds of stream audio.
        end: f64,
        /// Words with timings (finals; empty on partials).
        words: Vec<WireWord>,
        /// Speaker of a final with `diarize` (0, 1, … stable within the session).
        #[serde(skip_serializing_if = "Option::is_none")]
        speaker: Option<u32>,
    },
    /// Answer to `test`.
    TestResponse {
        /// Unix ms.
        server_time: u64,
    },
    /// Answer to `config`.
    ConfigUpdated {
        /// The languages now in effect.
        languages: Option<Vec<String>>,
    },
    /// The session ended and was billed.
    SessionStopped {
        /// What was billed.
        billing_summary: BillingSummary,
    },
    /// Something went wrong; recoverable unless a close follows.
    Error {
        /// Stable code.
        code: &'static str,
        /// Human message.
        error: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_the_documented_client_messages() {
        let start: SttClientMessage = serde_json::from_value(json!({
            "type": "start", "languages": ["en"],
            "config": {"encoding": "mulaw", "sample_rate": 8000, "continuous_mode": true}
        }))
        .unwrap();
        let SttClientMessage::Start {
            languages, config, ..
        } = start
        else {
            panic!("not a start")
        };
        assert_eq!(languages, Some(vec!["en".to_owned()]));
        assert_eq!(config.unwrap().sample_rate, Some(8000));
        for (text, expected) in [
            (r#"{"type":"stop"}"#, SttClientMessage::Stop),
            (r#"{"type":"finalize"}"#, SttClientMessage::Finalize),
            (r#"{"type":"test"}"#, SttClientMessage::Test),
            (r#"{"type":"KeepAlive"}"#, SttClientMessage::Keepalive),
            (
                r#"{"type":"start"}"#,
                SttClientMessage::Start {
                    languages: None,
                    config: None,
                    context: None,
                },
            ),
        ] {
            assert_eq!(
                serde_json::from_str::<SttClientMessage>(text).unwrap(),
                expected,
                "{text}"
            );
        }
        assert!(serde_json::from_str::<SttClientMessage>(r#"{"type":"dance"}"#).is_err());
    }

    #[test]
    fn the_seed_envelope_is_understood() {
        let flat = SttClientMessage::parse(
            r#"{"type":"start","languages":["en"],"config":{"encoding":"linear16","sample_rate":16000}}"#,
        )
        .unwrap();
        let wrapped = SttClientMessage::parse(
            r#"{"type":"start","data":{"languages":["en"],"config":{"encoding":"linear16","sample_rate":16000}}}"#,
        )
        .unwrap();
        assert_eq!(flat, wrapped);
        // `data`'s own `type` does not change the message; other shapes pass through.
        assert_eq!(
            SttClientMessage::parse(r#"{"type":"stop","data":{"type":"start"}}"#).unwrap(),
            SttClientMessage::Stop
        );
        assert_eq!(
            SttClientMessage::parse(r#"{"type":"stop","data":"message_data"}"#).unwrap(),
            SttClientMessage::Stop
        );
        assert_eq!(unwrap_envelope(Value::Null), Value::Null);
    }

    #[test]
    fn unknown_and_unreadable_start_fields_are_named() {
        let SttClientMessage::Start { config, .. } = SttClientMessage::parse(
            r#"{"type":"start","data":{"config":{"encoding":"mulaw","punctuate":true}}}"#,
        )
        .unwrap() else {
            panic!("not a start")
        };
        let config = config.unwrap();
        assert_eq!(config.encoding.as_deref(), Some("mulaw"));
        assert_eq!(config.unknown.keys().collect::<Vec<_>>(), ["punctuate"]);
        for (text, field) in [
            (
                r#"{"type":"start","config":{"sample_rate":"16000"}}"#,
                Some("config.sample_rate"),
            ),
            (
                r#"{"type":"start","data":{"config":{"diarize":"yes"}}}"#,
                Some("config.diarize"),
            ),
            (r#"{"type":"start","languages":"en"}"#, Some("languages")),
            (r#"{"type":"start","config":[]}"#, Some("config")),
            (r#"{"type":"start"}"#, None),
        ] {
            assert!(is_start(text), "{text}");
            assert_eq!(unreadable_start_field(text).as_deref(), field, "{text}");
        }
        assert!(!is_start(r#"{"type":"stop"}"#));
        assert!(!is_start("{not json"));
    }

    #[test]
    fn server_messages_have_the_documented_shape() {
        let established = SttServerMessage::ConnectionEstablished {
            connection_established: ConnectionInfo {
                service: "stt",
                tenant: "acme".into(),
                credit_balance: Some(9.97),
            },
        };
        assert_eq!(
            serde_json::to_value(&established).unwrap(),
            json!({"type": "connection_established",
                   "connection_established": {"service": "stt", "tenant": "acme", "credit_balance": 9.97}})
        );
        let error = SttServerMessage::Error {
            code: "not_started",
            error: "send start first".into(),
        };
        assert_eq!(
            serde_json::to_value(&error).unwrap(),
            json!({"type": "error", "code": "not_started", "error": "send start first"})
        );
    }
}
