//! OpenAI's server-sent events: `transcript.text.delta` /
//! `transcript.text.done` (`/v1/audio/transcriptions` with `stream=true`)
//! and `speech.audio.delta` / `speech.audio.done` (`/v1/audio/speech` with
//! `stream_format: "sse"`). Each event is one `data: {json}` line and a
//! blank line, as OpenAI sends them; a failure after the stream began is
//! one `event: error` whose data is the usual `{"error":{…}}` body (what
//! OpenAI's SDKs raise as an API error).

use axum::body::Bytes;
use serde::Serialize;

/// `Content-Type` of an event stream.
pub const EVENT_STREAM: &str = "text/event-stream";

/// A transcription stream event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum TranscriptionStreamEvent {
    /// More text (`"type":"transcript.text.delta"`). `logprobs` is absent:
    /// it is sent only with `include[]=logprobs`, which Whisper does not
    /// offer here.
    #[serde(rename = "transcript.text.delta")]
    Delta {
        /// The text added, with its leading space.
        delta: String,
    },
    /// The whole text (`"type":"transcript.text.done"`). `usage` is
    /// absent: OpenAI's event carries token usage only, and Whisper here is
    /// billed by duration (the usage record and `x-request-id` say how much).
    #[serde(rename = "transcript.text.done")]
    Done {
        /// The transcript.
        text: String,
    },
}

/// `usage` of `speech.audio.done`. Piper has no tokens: `input_tokens`
/// counts the characters spoken (the billed unit), `output_tokens` is 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SpeechUsage {
    /// Characters of input spoken.
    pub input_tokens: u64,
    /// Always 0.
    pub output_tokens: u64,
    /// `input_tokens + output_tokens`.
    pub total_tokens: u64,
}

impl SpeechUsage {
    /// Usage of `characters` spoken.
    pub fn for_characters(characters: u64) -> Self {
        Self {
            input_tokens: characters,
            output_tokens: 0,
            total_tokens: characters,
        }
    }
}

/// A speech stream event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum SpeechStreamEvent {
    /// Audio (`"type":"speech.audio.delta"`): the next bytes of the
    /// response format, base64 (standard alphabet, padded).
    #[serde(rename = "speech.audio.delta")]
    Delta {
        /// Base64 audio.
        audio: String,
    },
    /// The end (`"type":"speech.audio.done"`).
    #[serde(rename = "speech.audio.done")]
    Done {
        /// What was spoken.
        usage: SpeechUsage,
    },
}

impl SpeechStreamEvent {
    /// A delta carrying `audio`.
    pub fn delta(audio: &[u8]) -> Self {
        use base64::Engine as _;
        Self::Delta {
            audio: base64::engine::general_purpose::STANDARD.encode(audio),
        }
    }
}

/// One `data:` event.
pub fn sse_data<T: Serialize>(event: &T) -> Bytes {
    let json = serde_json::to_string(event).unwrap_or_else(|_| "{}".to_owned());
    Bytes::from(format!("data: {json}\n\n"))
}

/// One `event: error` with OpenAI's error body as its data.
pub fn sse_error(body: &serde_json::Value) -> Bytes {
    Bytes::from(format!("event: error\ndata: {body}\n\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_have_openai_shapes() {
        let delta = TranscriptionStreamEvent::Delta {
            delta: " Hello".into(),
        };
        assert_eq!(
            sse_data(&delta),
            "data: {\"type\":\"transcript.text.delta\",\"delta\":\" Hello\"}\n\n"
        );
        let done = TranscriptionStreamEvent::Done {
            text: "Hello".into(),
        };
        assert_eq!(
            serde_json::to_value(&done).unwrap(),
            serde_json::json!({"type": "transcript.text.done", "text": "Hello"})
        );
        assert_eq!(
            serde_json::to_value(SpeechStreamEvent::delta(b"hi")).unwrap(),
            serde_json::json!({"type": "speech.audio.delta", "audio": "aGk="})
        );
        let done = SpeechStreamEvent::Done {
            usage: SpeechUsage::for_characters(12),
        };
        assert_eq!(
            serde_json::to_value(&done).unwrap(),
            serde_json::json!({"type": "speech.audio.done",
                "usage": {"input_tokens": 12, "output_tokens": 0, "total_tokens": 12}})
        );
        let error = sse_error(&serde_json::json!({"error": {"message": "x"}}));
        assert!(error.starts_with(b"event: error\ndata: {"));
    }
}
