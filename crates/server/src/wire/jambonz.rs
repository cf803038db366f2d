//! jambonz custom speech vendor messages: the STT WebSocket (`start`,
//! binary L16, `stop` in; `transcription` and `error` out) and the body of
//! the custom TTS HTTP API.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A control frame from jambonz.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Inbound {
    /// Recognition starts; binary audio follows.
    Start(Start),
    /// The audio is over: send the last transcripts and close.
    Stop,
}

/// `{"type":"start",…}`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Start {
    /// BCP-47, e.g. `en-US`.
    #[serde(default)]
    pub language: Option<String>,
    /// `raw`.
    #[serde(default)]
    pub format: Option<String>,
    /// `LINEAR16`.
    #[serde(default)]
    pub encoding: Option<String>,
    /// 8000 or 16000 as a rule.
    #[serde(default)]
    pub sample_rate_hz: Option<u32>,
    /// Whether interim transcripts are wanted.
    #[serde(default)]
    pub interim_results: Option<bool>,
    /// Vendor options (unused).
    #[serde(default)]
    pub options: Option<Value>,
}

/// One alternative of a transcript.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alternative {
    /// The text.
    pub transcript: String,
    /// 0–1.
    pub confidence: f64,
}

/// A frame to jambonz.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Outbound {
    /// A transcript.
    Transcription {
        /// Final (never revised) or interim.
        is_final: bool,
        /// The hypotheses, best first (one).
        alternatives: Vec<Alternative>,
        /// 1 (mono).
        channel: u32,
        /// The language as jambonz named it.
        language: String,
    },
    /// A problem; the socket stays open unless a close follows.
    Error {
        /// Human message.
        error: String,
    },
}

/// The custom TTS API's POST body.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TtsRequest {
    /// BCP-47.
    #[serde(default)]
    pub language: Option<String>,
    /// Voice name (served by the one loaded voice).
    #[serde(default)]
    pub voice: Option<String>,
    /// `text` or `ssml`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// What to say.
    pub text: String,
    /// Output rate (Vocalis extension; also `?sample_rate=`), default 8000.
    #[serde(default, alias = "sampleRateHz", alias = "sample_rate")]
    pub sample_rate: Option<u32>,
}

/// Whether a text frame is a jambonz `start` (it names `sampleRateHz`,
/// `interimResults` or jambonz's `format`).
pub fn looks_like(text: &str) -> bool {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => {
            map.get("type").and_then(Value::as_str) == Some("start")
                && ["sampleRateHz", "interimResults", "format"]
                    .iter()
                    .any(|k| map.contains_key(*k))
        }
        _ => false,
    }
}

/// Strips SSML tags (the engine speaks plain text).
pub fn strip_ssml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '<' => depth += 1,
            '>' if depth > 0 => {
                depth -= 1;
                out.push(' ');
            }
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jambonz_documented_frames_parse_and_render() {
        let start = r#"{"type":"start","language":"en-US","format":"raw","encoding":"LINEAR16","sampleRateHz":8000,"interimResults":true,"options":{}}"#;
        assert!(looks_like(start));
        let Inbound::Start(start) = serde_json::from_str(start).unwrap() else {
            panic!("not a start");
        };
        assert_eq!(start.sample_rate_hz, Some(8000));
        assert_eq!(start.interim_results, Some(true));
        assert_eq!(
            serde_json::from_str::<Inbound>(r#"{"type":"stop"}"#).unwrap(),
            Inbound::Stop
        );
        assert!(!looks_like(
            r#"{"type":"start","config":{"encoding":"mulaw"}}"#
        ));
        let out = serde_json::to_value(Outbound::Transcription {
            is_final: true,
            alternatives: vec![Alternative {
                transcript: "hi".into(),
                confidence: 0.9,
            }],
            channel: 1,
            language: "en-US".into(),
        })
        .unwrap();
        assert_eq!(out["type"], "transcription");
        assert_eq!(out["alternatives"][0]["transcript"], "hi");
        assert_eq!(
            strip_ssml("<speak>Hello <break time=\"1s\"/>there</speak>"),
            "Hello there"
        );
    }
}
