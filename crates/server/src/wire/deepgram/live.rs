//! The live socket's messages: the server's `Results`, `SpeechStarted`,
//! `UtteranceEnd` and `Metadata`, and the client's `KeepAlive`,
//! `Finalize` and `CloseStream`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Alternative, ModelInfo, Warning};

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
    /// Request parameters that were not applied (as `metadata.warnings` of
    /// a pre-recorded response); absent when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
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

#[cfg(test)]
mod tests {
    use super::super::test_support::transcript;
    use super::super::{model_uuid, new_request_id, rfc3339, sha256_hex, whisper_model_info};
    use super::*;
    use serde_json::json;

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
            warnings: vec![],
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
}
