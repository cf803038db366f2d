//! 60db-style `/ws/tts` messages, in the route's two dialects.
//!
//! * The **session dialect** is tagged by `"type"` like `/ws/stt`: `start`,
//!   `text`, `flush`, `clear`, `stop` from the client; `session_started`,
//!   `flushed`, `cleared`, `session_stopped` and `error` from the server, with
//!   audio in binary frames.
//! * The **context dialect** (60db's Inworld-backed protocol) keys each
//!   message by its name and has no `type`: `create_context`, `send_text`,
//!   `flush_context`, `close_context` from the client; `context_created`,
//!   `audio_chunk` (base64 audio), `flush_completed`, `context_closed` and
//!   `error` from the server.
//!
//! [`ClientMessage::parse`] tells the two apart and turns every malformed or
//! unknown message into a [`ParseError`] the route answers with a recoverable
//! `invalid_message` error. The shared `connection_established` and the
//! billing summary reuse [`ConnectionInfo`] and [`BillingSummary`].

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use super::sixtydb::{BillingSummary, ConnectionInfo};

/// `config` of a `start` message; every field optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct StartConfig {
    /// `linear16`, `mulaw`, `alaw`, `mp3` or `wav` (and aliases, see [`TtsEncoding::from_name`]).
    pub encoding: Option<String>,
    /// Output rate in Hz.
    pub sample_rate: Option<u32>,
    /// Speaking rate, 0.5–2.0.
    pub speed: Option<f32>,
}

/// A session-dialect client message.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SessionMessage {
    /// Starts the session.
    Start {
        /// Voice name; an unknown one falls back to the default voice.
        #[serde(default)]
        voice: Option<String>,
        /// Output settings.
        #[serde(default)]
        config: Option<StartConfig>,
    },
    /// Appends text; complete sentences are synthesized at once.
    Text {
        /// The text to append.
        text: String,
    },
    /// Synthesizes everything buffered, then answers `flushed`.
    Flush,
    /// Drops buffered text and queued audio (barge-in), then answers `cleared`.
    Clear,
    /// Ends the session: `session_stopped` with the billing summary, close 1000.
    Stop,
    /// Resets the idle timer; no answer.
    #[serde(alias = "KeepAlive", alias = "keep_alive")]
    Keepalive,
}

/// `audio_config` of `create_context`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct AudioConfig {
    /// `LINEAR16`, `MULAW`, `ALAW`, `MP3` (and aliases, see [`ContextEncoding::from_name`]).
    #[serde(default)]
    pub audio_encoding: Option<String>,
    /// 8000, 16000, 24000 or 48000.
    #[serde(default)]
    pub sample_rate_hertz: Option<u32>,
}

/// `create_context` body.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CreateContext {
    /// Client-chosen id, unique among the connection's open contexts.
    pub context_id: String,
    /// Voice; an unknown one falls back to the default voice.
    #[serde(default)]
    pub voice_id: Option<String>,
    /// Output settings.
    #[serde(default)]
    pub audio_config: Option<AudioConfig>,
    /// Speaking rate, 0.5–2.0 (a Vocalis extension; default 1.0).
    #[serde(default)]
    pub speed: Option<f32>,
}

/// `send_text` body.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SendText {
    /// The context.
    pub context_id: String,
    /// Text to append.
    pub text: String,
}

/// Body of `flush_context` and `close_context`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ContextRef {
    /// The context.
    pub context_id: String,
}

/// A context-dialect client message (keyed by name, no `type`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContextMessage {
    /// Opens a context.
    CreateContext(CreateContext),
    /// Appends text to a context.
    SendText(SendText),
    /// Synthesizes the context's buffered text, then `flush_completed`.
    FlushContext(ContextRef),
    /// Drops the context's pending text and audio, then `context_closed`.
    CloseContext(ContextRef),
}

/// Any client message on `/ws/tts`.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientMessage {
    /// A `"type"`-tagged message.
    Session(SessionMessage),
    /// A context-dialect message.
    Context(ContextMessage),
}

/// Why a text frame is not a valid client message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not JSON at all.
    #[error("message is not valid JSON: {0}")]
    NotJson(String),
    /// JSON, but not an object.
    #[error("message must be a JSON object")]
    NotAnObject,
    /// An object with an unknown `type`.
    #[error("unknown message type `{0}`")]
    UnknownType(String),
    /// An object that is neither `type`-tagged nor a known context message.
    #[error("unknown message: expected a `type` field or one of create_context, send_text, flush_context, close_context")]
    UnknownMessage,
    /// A known message with missing or mistyped fields.
    #[error("invalid `{kind}` message: {reason}")]
    BadFields {
        /// The message's type or key.
        kind: String,
        /// What serde said.
        reason: String,
    },
    /// The context id is empty or too long.
    #[error("context_id must be 1–{MAX_CONTEXT_ID_CHARS} characters")]
    BadContextId,
}

/// Longest accepted `context_id`, in characters.
pub const MAX_CONTEXT_ID_CHARS: usize = 128;

const CONTEXT_KEYS: [&str; 4] = [
    "create_context",
    "send_text",
    "flush_context",
    "close_context",
];
const SESSION_TYPES: [&str; 8] = [
    "start",
    "text",
    "flush",
    "clear",
    "stop",
    "keepalive",
    "KeepAlive",
    "keep_alive",
];

impl ClientMessage {
    /// Parses one text frame.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| ParseError::NotJson(e.to_string()))?;
        let value = super::sixtydb::unwrap_envelope(value);
        let object = value.as_object().ok_or(ParseError::NotAnObject)?;
        if let Some(kind) = object.get("type") {
            let kind = kind.as_str().unwrap_or_default().to_owned();
            if !SESSION_TYPES.contains(&kind.as_str()) {
                return Err(ParseError::UnknownType(kind));
            }
            return serde_json::from_value(value)
                .map(Self::Session)
                .map_err(|e| ParseError::BadFields {
                    kind,
                    reason: e.to_string(),
                });
        }
        let key = match object.keys().find(|k| CONTEXT_KEYS.contains(&k.as_str())) {
            Some(key) if object.len() == 1 => key.clone(),
            _ => return Err(ParseError::UnknownMessage),
        };
        let message: ContextMessage =
            serde_json::from_value(value).map_err(|e| ParseError::BadFields {
                kind: key,
                reason: e.to_string(),
            })?;
        let id = match &message {
            ContextMessage::CreateContext(c) => &c.context_id,
            ContextMessage::SendText(s) => &s.context_id,
            ContextMessage::FlushContext(r) | ContextMessage::CloseContext(r) => &r.context_id,
        };
        if id.is_empty() || id.chars().count() > MAX_CONTEXT_ID_CHARS {
            return Err(ParseError::BadContextId);
        }
        Ok(Self::Context(message))
    }
}

/// Output encodings of the session dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TtsEncoding {
    /// Headerless 16-bit little-endian PCM.
    Linear16,
    /// Headerless G.711 μ-law.
    Mulaw,
    /// Headerless G.711 A-law.
    Alaw,
    /// MP3 (CBR).
    Mp3,
    /// 16-bit PCM WAV with a streaming header.
    Wav,
}

impl TtsEncoding {
    /// Parses a name case-insensitively, with the usual aliases
    /// (`pcm`, `pcm16`, `linear`, `l16`; `ulaw`, `pcmu`; `pcma`).
    pub fn from_name(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "linear16" | "linear" | "pcm" | "pcm16" | "l16" | "pcm_s16le" => Some(Self::Linear16),
            "mulaw" | "ulaw" | "pcmu" => Some(Self::Mulaw),
            "alaw" | "pcma" => Some(Self::Alaw),
            "mp3" => Some(Self::Mp3),
            "wav" => Some(Self::Wav),
            _ => None,
        }
    }
}

/// Output encodings of the context dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ContextEncoding {
    /// Headerless 16-bit little-endian PCM.
    Linear16,
    /// Headerless G.711 μ-law (8000 Hz only).
    Mulaw,
    /// Headerless G.711 A-law (8000 Hz only).
    Alaw,
    /// MP3 (CBR).
    Mp3,
}

impl ContextEncoding {
    /// Parses a name case-insensitively (`LINEAR16`/`PCM`, `MULAW`/`ULAW`, `ALAW`, `MP3`).
    pub fn from_name(name: &str) -> Option<Self> {
        match name.trim().to_ascii_uppercase().as_str() {
            "LINEAR16" | "PCM" => Some(Self::Linear16),
            "MULAW" | "ULAW" => Some(Self::Mulaw),
            "ALAW" => Some(Self::Alaw),
            "MP3" => Some(Self::Mp3),
            _ => None,
        }
    }
}

/// The effective settings echoed in `session_started`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EffectiveTtsConfig {
    /// The voice that speaks (the server's one loaded voice).
    pub voice: String,
    /// The voice the client asked for, when it differs from `voice`.
    pub requested_voice: Option<String>,
    /// True when `requested_voice` is not loaded and `voice` was used instead.
    pub voice_fallback: bool,
    /// Output encoding.
    pub encoding: TtsEncoding,
    /// Output rate, Hz.
    pub sample_rate: u32,
    /// Speaking rate.
    pub speed: f32,
    /// Binary frames of `linear16`/`mulaw`/`alaw` hold whole multiples of
    /// this many ms of audio; null for `mp3` and `wav`.
    pub frame_ms: Option<u32>,
    /// The voice's native rate, Hz (audio is resampled from it).
    pub voice_sample_rate: u32,
}

/// A session-dialect server message (also `connection_established` and
/// `session_stopped` in the context dialect).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SessionServerMessage {
    /// Sent first (60db clients wait for it); authentication is already done.
    Connecting {
        /// Always true (60db's TTS shape).
        connecting: bool,
        /// Human text.
        message: &'static str,
        /// Unix ms.
        timestamp: u64,
    },
    /// Ready: send `start` or `create_context`.
    ConnectionEstablished {
        /// Service (`tts`), tenant and balance.
        connection_established: ConnectionInfo,
    },
    /// The session started with these effective settings.
    SessionStarted {
        /// The session id (also the usage ledger key).
        session_id: String,
        /// Effective settings.
        config: EffectiveTtsConfig,
    },
    /// Everything before the `flush` was synthesized and sent.
    Flushed {
        /// Characters synthesized since the previous `flushed` or `cleared`.
        characters: u64,
        /// Seconds of audio produced since the previous `flushed` or `cleared`.
        audio_seconds: f64,
    },
    /// Pending text and audio were dropped.
    Cleared,
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

/// The effective `audio_config` echoed in `context_created`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EffectiveAudioConfig {
    /// Output encoding.
    pub audio_encoding: ContextEncoding,
    /// Output rate, Hz.
    pub sample_rate_hertz: u32,
}

/// A context-dialect server message (keyed by name, no `type`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ContextServerMessage {
    /// The context is open.
    ContextCreated {
        /// The context.
        context_id: String,
        /// The voice that speaks (the server's one loaded voice).
        voice_id: String,
        /// Effective output settings.
        audio_config: EffectiveAudioConfig,
    },
    /// Audio for a context.
    AudioChunk {
        /// The context.
        context_id: String,
        /// The audio, base64 (standard alphabet, padded).
        #[serde(rename = "audioContent")]
        audio_content: String,
    },
    /// Everything before the `flush_context` was synthesized and sent.
    FlushCompleted {
        /// The context.
        context_id: String,
    },
    /// The context is closed; nothing more is sent for it.
    ContextClosed {
        /// The context.
        context_id: String,
    },
    /// Something went wrong; recoverable unless a close follows.
    Error {
        /// The context concerned, if any.
        context_id: Option<String>,
        /// Human message.
        message: String,
        /// Stable code (a Vocalis extension).
        code: &'static str,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeSet;

    const DOC: &str = include_str!("../../../../docs/protocol.md");

    /// The `/ws/tts` section of the protocol document.
    fn tts_section() -> &'static str {
        let start = DOC
            .find("## /ws/tts")
            .expect("docs/protocol.md has a /ws/tts section");
        let rest = &DOC[start + 1..];
        rest.find("\n## ").map_or(rest, |end| &rest[..end])
    }

    fn field_names(value: &Value, out: &mut BTreeSet<String>) {
        match value {
            Value::Object(map) => {
                for (key, inner) in map {
                    out.insert(key.clone());
                    field_names(inner, out);
                }
            }
            Value::Array(items) => items.iter().for_each(|v| field_names(v, out)),
            _ => {}
        }
    }

    fn every_server_message() -> Vec<Value> {
        let summary = BillingSummary {
            session_id: "s".into(),
            total_duration_seconds: 1.0,
            billed_seconds: 1.0,
            characters: Some(1),
            rate_per_minute: None,
            rate_per_1k_characters: Some(0.015),
            total_cost: 0.0,
            currency: "USD",
            credit_balance: Some(1.0),
        };
        let session = [
            SessionServerMessage::Connecting {
                connecting: true,
                message: "m",
                timestamp: 1,
            },
            SessionServerMessage::ConnectionEstablished {
                connection_established: ConnectionInfo {
                    service: "tts",
                    tenant: "t".into(),
                    credit_balance: Some(1.0),
                },
            },
            SessionServerMessage::SessionStarted {
                session_id: "s".into(),
                config: EffectiveTtsConfig {
                    voice: "v".into(),
                    requested_voice: Some("w".into()),
                    voice_fallback: true,
                    encoding: TtsEncoding::Mulaw,
                    sample_rate: 8000,
                    speed: 1.0,
                    frame_ms: Some(20),
                    voice_sample_rate: 22050,
                },
            },
            SessionServerMessage::Flushed {
                characters: 1,
                audio_seconds: 1.0,
            },
            SessionServerMessage::Cleared,
            SessionServerMessage::SessionStopped {
                billing_summary: summary,
            },
            SessionServerMessage::Error {
                code: "c",
                error: "e".into(),
            },
        ];
        let context = [
            ContextServerMessage::ContextCreated {
                context_id: "c".into(),
                voice_id: "v".into(),
                audio_config: EffectiveAudioConfig {
                    audio_encoding: ContextEncoding::Linear16,
                    sample_rate_hertz: 16000,
                },
            },
            ContextServerMessage::AudioChunk {
                context_id: "c".into(),
                audio_content: "AA==".into(),
            },
            ContextServerMessage::FlushCompleted {
                context_id: "c".into(),
            },
            ContextServerMessage::ContextClosed {
                context_id: "c".into(),
            },
            ContextServerMessage::Error {
                context_id: Some("c".into()),
                message: "m".into(),
                code: "c",
            },
        ];
        let mut all: Vec<Value> = session
            .iter()
            .map(|m| serde_json::to_value(m).unwrap())
            .collect();
        all.extend(context.iter().map(|m| serde_json::to_value(m).unwrap()));
        all
    }

    #[test]
    fn every_server_message_and_field_is_documented() {
        let doc = tts_section();
        let mut missing = Vec::new();
        for example in every_server_message() {
            if let Some(kind) = example["type"].as_str() {
                if !doc.contains(&format!("\"type\":\"{kind}\"")) {
                    missing.push(format!("message type `{kind}`"));
                }
            }
            let mut names = BTreeSet::new();
            field_names(&example, &mut names);
            for name in names {
                if !doc.contains(&format!("\"{name}\"")) {
                    missing.push(format!("field `{name}` in {example}"));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "docs/protocol.md (/ws/tts) lacks: {missing:?}"
        );
    }

    #[test]
    fn parses_both_dialects() {
        let start = ClientMessage::parse(
            r#"{"type":"start","voice":"en_US-joe-medium","config":{"encoding":"mulaw","sample_rate":8000,"speed":1.2}}"#,
        )
        .unwrap();
        let ClientMessage::Session(SessionMessage::Start { voice, config }) = start else {
            panic!("not a start: {start:?}")
        };
        assert_eq!(voice.as_deref(), Some("en_US-joe-medium"));
        let config = config.unwrap();
        assert_eq!(config.encoding.as_deref(), Some("mulaw"));
        assert_eq!((config.sample_rate, config.speed), (Some(8000), Some(1.2)));
        for (text, expected) in [
            (r#"{"type":"flush"}"#, SessionMessage::Flush),
            (r#"{"type":"clear"}"#, SessionMessage::Clear),
            (r#"{"type":"stop"}"#, SessionMessage::Stop),
            (r#"{"type":"KeepAlive"}"#, SessionMessage::Keepalive),
            (
                r#"{"type":"text","text":"Hi."}"#,
                SessionMessage::Text { text: "Hi.".into() },
            ),
        ] {
            assert_eq!(
                ClientMessage::parse(text).unwrap(),
                ClientMessage::Session(expected),
                "{text}"
            );
        }
        let create = ClientMessage::parse(
            r#"{"create_context":{"context_id":"c1","voice_id":"x","audio_config":{"audio_encoding":"LINEAR16","sample_rate_hertz":16000}}}"#,
        )
        .unwrap();
        let ClientMessage::Context(ContextMessage::CreateContext(create)) = create else {
            panic!("not create_context")
        };
        assert_eq!(create.context_id, "c1");
        assert_eq!(create.audio_config.unwrap().sample_rate_hertz, Some(16000));
        assert_eq!(
            ClientMessage::parse(r#"{"flush_context":{"context_id":"c1"}}"#).unwrap(),
            ClientMessage::Context(ContextMessage::FlushContext(ContextRef {
                context_id: "c1".into()
            }))
        );
    }

    #[test]
    fn the_seed_envelope_is_understood() {
        let flat = ClientMessage::parse(
            r#"{"type":"start","voice":"v","config":{"encoding":"mulaw","sample_rate":8000}}"#,
        )
        .unwrap();
        let wrapped = ClientMessage::parse(
            r#"{"type":"start","data":{"voice":"v","config":{"encoding":"mulaw","sample_rate":8000}}}"#,
        )
        .unwrap();
        assert_eq!(flat, wrapped);
    }

    #[test]
    fn malformed_messages_are_typed_errors() {
        type Check = fn(&ParseError) -> bool;
        let cases: &[(&str, Check)] = &[
            ("{not json", |e| matches!(e, ParseError::NotJson(_))),
            ("[1,2]", |e| matches!(e, ParseError::NotAnObject)),
            (
                r#"{"type":"dance"}"#,
                |e| matches!(e, ParseError::UnknownType(t) if t == "dance"),
            ),
            (
                r#"{"type":"text"}"#,
                |e| matches!(e, ParseError::BadFields { kind, .. } if kind == "text"),
            ),
            (r#"{"hello":1}"#, |e| {
                matches!(e, ParseError::UnknownMessage)
            }),
            (r#"{"send_text":{"context_id":"a"}}"#, |e| {
                matches!(e, ParseError::BadFields { .. })
            }),
            (r#"{"flush_context":{"context_id":""}}"#, |e| {
                matches!(e, ParseError::BadContextId)
            }),
            (r#"{"type":"start","config":{"sample_rate":"fast"}}"#, |e| {
                matches!(e, ParseError::BadFields { .. })
            }),
        ];
        for (text, check) in cases {
            let error = ClientMessage::parse(text).unwrap_err();
            assert!(check(&error), "{text}: {error:?}");
        }
    }

    #[test]
    fn encodings_parse_with_aliases() {
        assert_eq!(TtsEncoding::from_name("PCM"), Some(TtsEncoding::Linear16));
        assert_eq!(TtsEncoding::from_name("ulaw"), Some(TtsEncoding::Mulaw));
        assert_eq!(TtsEncoding::from_name("ogg"), None);
        assert_eq!(
            ContextEncoding::from_name("linear16"),
            Some(ContextEncoding::Linear16)
        );
        assert_eq!(ContextEncoding::from_name("OGG_OPUS"), None);
    }

    #[test]
    fn server_messages_have_the_documented_shape() {
        assert_eq!(
            serde_json::to_value(SessionServerMessage::Flushed {
                characters: 12,
                audio_seconds: 1.5
            })
            .unwrap(),
            json!({"type": "flushed", "characters": 12, "audio_seconds": 1.5})
        );
        assert_eq!(
            serde_json::to_value(SessionServerMessage::Cleared).unwrap(),
            json!({"type": "cleared"})
        );
        assert_eq!(
            serde_json::to_value(ContextServerMessage::AudioChunk {
                context_id: "c".into(),
                audio_content: "AAA=".into()
            })
            .unwrap(),
            json!({"audio_chunk": {"context_id": "c", "audioContent": "AAA="}})
        );
        assert_eq!(
            serde_json::to_value(ContextServerMessage::FlushCompleted {
                context_id: "c".into()
            })
            .unwrap(),
            json!({"flush_completed": {"context_id": "c"}})
        );
        assert_eq!(
            serde_json::to_value(ContextServerMessage::Error {
                context_id: None,
                message: "m".into(),
                code: "invalid_message"
            })
            .unwrap(),
            json!({"error": {"context_id": null, "message": "m", "code": "invalid_message"}})
        );
        let created = ContextServerMessage::ContextCreated {
            context_id: "c".into(),
            voice_id: "v".into(),
            audio_config: EffectiveAudioConfig {
                audio_encoding: ContextEncoding::Mulaw,
                sample_rate_hertz: 8000,
            },
        };
        assert_eq!(
            serde_json::to_value(created).unwrap(),
            json!({"context_created": {"context_id": "c", "voice_id": "v",
                "audio_config": {"audio_encoding": "MULAW", "sample_rate_hertz": 8000}}})
        );
    }
}
