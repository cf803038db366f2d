//! The pre-recorded `POST /v1/listen` answer (`metadata` and `results`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use vocalis_inference::stt::Transcript;

use super::{Alternative, ModelInfo};

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
