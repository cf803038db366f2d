//! Twilio Media Streams frames (`<Stream>` WebSocket messages), both ways.
//!
//! In: `connected`, `start` (with `mediaFormat`, `tracks`,
//! `customParameters`), `media` (base64 μ-law, `track`, `chunk`,
//! `timestamp`), `mark`, `dtmf`, `stop`; and, from a bridge in front of
//! Twilio, `clear` and Vocalis' `speak`. Out: Twilio's own `media`, `mark` and
//! `clear` (bidirectional streams), and Vocalis' transcripts, tagged with
//! both `event` and `type` so Twilio-minded and 60db-minded code read them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A frame from Twilio (or from a bridge forwarding Twilio's socket).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "event", rename_all = "camelCase")]
pub enum Inbound {
    /// The first frame: the protocol in use.
    Connected {
        /// `Call`.
        #[serde(default)]
        protocol: Option<String>,
        /// e.g. `1.0.0`.
        #[serde(default)]
        version: Option<String>,
    },
    /// Stream metadata, sent once before any media.
    Start {
        /// The stream id (also inside `start`).
        #[serde(default, rename = "streamSid")]
        stream_sid: Option<String>,
        /// The metadata.
        start: StartInfo,
    },
    /// One chunk of audio.
    Media {
        /// The audio.
        media: MediaIn,
    },
    /// A mark we sent has been played (or cleared).
    Mark {
        /// The mark.
        #[serde(default)]
        mark: Option<MarkBody>,
    },
    /// A key press.
    Dtmf {
        /// The digit.
        #[serde(default)]
        dtmf: Option<Value>,
    },
    /// The stream ended.
    Stop,
    /// Barge-in: drop the audio queued for the caller.
    Clear,
    /// Vocalis extension: speak `text` to the caller, then send `mark`.
    Speak {
        /// What to say.
        text: String,
        /// The mark name sent after the audio (default `speak-<n>`).
        #[serde(default)]
        mark: Option<String>,
    },
}

/// `start.start`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartInfo {
    /// The stream id.
    #[serde(default)]
    pub stream_sid: Option<String>,
    /// The account.
    #[serde(default)]
    pub account_sid: Option<String>,
    /// The call.
    #[serde(default)]
    pub call_sid: Option<String>,
    /// `inbound`, `outbound`, or both.
    #[serde(default)]
    pub tracks: Vec<String>,
    /// `<Parameter>`s of the `<Stream>`: where the API key travels.
    #[serde(default)]
    pub custom_parameters: BTreeMap<String, Value>,
    /// The audio format (always μ-law 8 kHz mono on Twilio).
    #[serde(default)]
    pub media_format: Option<MediaFormat>,
}

/// `start.start.mediaFormat`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaFormat {
    /// `audio/x-mulaw`.
    #[serde(default)]
    pub encoding: Option<String>,
    /// 8000.
    #[serde(default)]
    pub sample_rate: Option<u32>,
    /// 1.
    #[serde(default)]
    pub channels: Option<u16>,
}

/// `media.media`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MediaIn {
    /// `inbound` or `outbound` (absent: inbound).
    #[serde(default)]
    pub track: Option<String>,
    /// Chunk number.
    #[serde(default)]
    pub chunk: Option<Value>,
    /// Milliseconds since the stream started.
    #[serde(default)]
    pub timestamp: Option<Value>,
    /// Base64 μ-law.
    pub payload: String,
}

/// A mark's body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarkBody {
    /// The name.
    pub name: String,
}

/// Audio for the caller, as Twilio takes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MediaOut {
    /// Base64 μ-law 8 kHz.
    pub payload: String,
}

/// A frame to Twilio or to the bridge.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Outbound {
    /// Audio to play to the caller.
    Media {
        /// The stream.
        #[serde(rename = "streamSid")]
        stream_sid: String,
        /// The audio.
        media: MediaOut,
    },
    /// Sent after audio: Twilio echoes it once that audio has played.
    Mark {
        /// The stream.
        #[serde(rename = "streamSid")]
        stream_sid: String,
        /// The mark.
        mark: MarkBody,
    },
    /// Tells Twilio to drop the audio it buffered (barge-in).
    Clear {
        /// The stream.
        #[serde(rename = "streamSid")]
        stream_sid: String,
    },
    /// Speech began on a track.
    SpeechStarted {
        /// Always `speech_started`.
        #[serde(rename = "type")]
        kind: &'static str,
        /// The stream.
        #[serde(rename = "streamSid")]
        stream_sid: String,
        /// `inbound` or `outbound`.
        track: String,
        /// 0 for the first track, 1 for the second.
        channel: usize,
        /// Seconds of that track's audio.
        timestamp: f64,
    },
    /// A transcript of one track.
    Transcription {
        /// Always `transcription`.
        #[serde(rename = "type")]
        kind: &'static str,
        /// The stream.
        #[serde(rename = "streamSid")]
        stream_sid: String,
        /// `inbound` (caller) or `outbound` (agent).
        track: String,
        /// 0 for the first track, 1 for the second.
        channel: usize,
        /// The text.
        text: String,
        /// Final (never revised) or interim.
        is_final: bool,
        /// The utterance ended.
        speech_final: bool,
        /// Mean word probability (0 on interims).
        confidence: f64,
        /// Language code.
        language: String,
        /// Seconds of that track's audio.
        start: f64,
        /// Seconds of that track's audio.
        end: f64,
    },
    /// A recoverable problem, or the reason of the close that follows.
    Error {
        /// Always `error`.
        #[serde(rename = "type")]
        kind: &'static str,
        /// Stable code.
        code: &'static str,
        /// Human message.
        error: String,
    },
    /// The session is over: usage recorded.
    SessionStopped {
        /// Always `session_stopped`.
        #[serde(rename = "type")]
        kind: &'static str,
        /// The stream.
        #[serde(rename = "streamSid")]
        stream_sid: String,
        /// The bill.
        billing_summary: crate::wire::sixtydb::BillingSummary,
    },
}

impl Outbound {
    /// An `error` frame.
    pub fn error(code: &'static str, error: impl Into<String>) -> Self {
        Self::Error {
            kind: "error",
            code,
            error: error.into(),
        }
    }
}

/// Whether a text frame is Twilio's (it has an `event` field).
pub fn looks_like(text: &str) -> bool {
    matches!(
        serde_json::from_str::<Value>(text),
        Ok(Value::Object(map)) if map.get("event").is_some_and(Value::is_string)
    )
}

/// The API key in `customParameters`: `apiKey`, `api_key`, `key`, `token`
/// or `authorization` (`Bearer ` or `Token ` prefixes are removed).
pub fn api_key(parameters: &BTreeMap<String, Value>) -> Option<String> {
    [
        "apiKey",
        "api_key",
        "apikey",
        "key",
        "token",
        "authorization",
        "Authorization",
    ]
    .iter()
    .find_map(|name| parameters.get(*name).and_then(Value::as_str))
    .map(|value| {
        let value = value.trim();
        value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("Token "))
            .unwrap_or(value)
            .trim()
            .to_owned()
    })
    .filter(|key| !key.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twilio_documented_frames_parse() {
        let start = r#"{"event":"start","sequenceNumber":"1","streamSid":"MZ1","start":{"streamSid":"MZ1","accountSid":"AC1","callSid":"CA1","tracks":["inbound","outbound"],"customParameters":{"apiKey":"sk_live_x"},"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}"#;
        let Inbound::Start { start, .. } = serde_json::from_str(start).unwrap() else {
            panic!("not a start");
        };
        assert_eq!(start.tracks, ["inbound", "outbound"]);
        assert_eq!(
            api_key(&start.custom_parameters).as_deref(),
            Some("sk_live_x")
        );
        assert_eq!(start.media_format.unwrap().sample_rate, Some(8000));
        let media = r#"{"event":"media","sequenceNumber":"3","streamSid":"MZ1","media":{"track":"outbound","chunk":"1","timestamp":"5","payload":"/w=="}}"#;
        let Inbound::Media { media } = serde_json::from_str(media).unwrap() else {
            panic!("not media");
        };
        assert_eq!(media.track.as_deref(), Some("outbound"));
        for frame in [
            r#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#,
            r#"{"event":"mark","sequenceNumber":"4","streamSid":"MZ1","mark":{"name":"m1"}}"#,
            r#"{"event":"dtmf","streamSid":"MZ1","sequenceNumber":"5","dtmf":{"track":"inbound_track","digit":"1"}}"#,
            r#"{"event":"stop","sequenceNumber":"6","streamSid":"MZ1","stop":{"accountSid":"AC1","callSid":"CA1"}}"#,
            r#"{"event":"clear","streamSid":"MZ1"}"#,
        ] {
            serde_json::from_str::<Inbound>(frame).unwrap();
            assert!(looks_like(frame));
        }
        assert!(!looks_like(r#"{"type":"start"}"#));
        let mut params = BTreeMap::new();
        params.insert("authorization".into(), Value::from("Bearer sk_live_y"));
        assert_eq!(api_key(&params).as_deref(), Some("sk_live_y"));
    }
}
