//! FreeSWITCH `mod_audio_fork` messages: what the server sends back as text
//! frames (`{"type":"transcription","data":{…}}` and
//! `{"type":"error","data":{…}}`, which the module turns into
//! `mod_audio_fork::transcription` and `mod_audio_fork::error` events), and
//! the audio settings read from the URL or the initial metadata frame.

use serde::Serialize;
use serde_json::Value;

/// A frame to `mod_audio_fork`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum Outbound {
    /// A transcript (the module attaches `data` to its event).
    Transcription(Transcript),
    /// A problem.
    Error(ErrorData),
}

/// `data` of a `transcription`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transcript {
    /// The text.
    pub text: String,
    /// Final (never revised) or interim.
    pub is_final: bool,
    /// The utterance ended.
    pub speech_final: bool,
    /// 0–1.
    pub confidence: f64,
    /// Language code.
    pub language: String,
    /// 0 (caller) or 1 (callee, `stereo` mix).
    pub channel: usize,
    /// Seconds of that channel's audio.
    pub start: f64,
    /// Seconds of that channel's audio.
    pub end: f64,
    /// The same, as alternatives.
    pub alternatives: Vec<Alternative>,
}

/// One alternative.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alternative {
    /// The text.
    pub transcript: String,
    /// 0–1.
    pub confidence: f64,
}

/// `data` of an `error`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorData {
    /// Stable code.
    pub code: &'static str,
    /// Human message.
    pub message: String,
}

/// Audio settings: `mod_audio_fork` streams L16 at the `sampling-rate` it
/// was started with (`8k` or `16k`), mono for `mono`/`mixed`, two
/// interleaved channels for `stereo`; none of this is on the wire, so it
/// comes from the URL (`?sample_rate=16000&mix_type=stereo`) or from the
/// metadata frame (`sampleRate`, `sample_rate`, `samplingRate`, `rate`;
/// `mixType`, `mix_type`, `channels`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForkFormat {
    /// Hz.
    pub rate: u32,
    /// 1 or 2.
    pub channels: u16,
}

impl Default for ForkFormat {
    fn default() -> Self {
        Self {
            rate: 8_000,
            channels: 1,
        }
    }
}

/// A rate as the module names it: `8k`, `16k`, `8000`, `16000`.
pub fn rate(value: &str) -> Option<u32> {
    let value = value.trim().to_ascii_lowercase();
    match value.strip_suffix('k') {
        Some(khz) => khz.parse::<u32>().ok().map(|k| k * 1000),
        None => value.parse().ok(),
    }
}

/// Channels for a mix type (`mono`, `mixed`: 1; `stereo`: 2) or a count.
pub fn channels(value: &str) -> Option<u16> {
    match value.trim().to_ascii_lowercase().as_str() {
        "mono" | "mixed" | "1" => Some(1),
        "stereo" | "2" => Some(2),
        _ => None,
    }
}

impl ForkFormat {
    /// Applies one `key=value` setting; false when the key is not a setting.
    pub fn apply(&mut self, key: &str, value: &str) -> Result<bool, String> {
        match key {
            "sample_rate" | "sampleRate" | "samplingRate" | "sampling_rate" | "sampling-rate"
            | "rate" => {
                self.rate =
                    rate(value).ok_or_else(|| format!("sample rate `{value}` is not a number"))?;
                Ok(true)
            }
            "mix_type" | "mixType" | "mix-type" | "channels" => {
                self.channels = channels(value)
                    .ok_or_else(|| format!("mix type `{value}` is not mono, mixed or stereo"))?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Applies the settings found in a metadata JSON object (others ignored).
    pub fn apply_metadata(&mut self, metadata: &str) -> Result<(), String> {
        let Ok(Value::Object(map)) = serde_json::from_str::<Value>(metadata) else {
            return Ok(());
        };
        for (key, value) in &map {
            let value = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_owned);
            self.apply(key, &value)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_come_from_url_words_and_metadata() {
        let mut format = ForkFormat::default();
        assert!(format.apply("sampling-rate", "16k").unwrap());
        assert!(format.apply("mix_type", "stereo").unwrap());
        assert_eq!(
            format,
            ForkFormat {
                rate: 16_000,
                channels: 2
            }
        );
        format
            .apply_metadata(r#"{"callid":"x","sampleRate":8000,"mixType":"mono"}"#)
            .unwrap();
        assert_eq!(format, ForkFormat::default());
        assert!(format.apply_metadata(r#"{"rate":"fast"}"#).is_err());
        assert!(format.apply_metadata("not json").is_ok());
        let out = serde_json::to_value(Outbound::Error(ErrorData {
            code: "x",
            message: "m".into(),
        }))
        .unwrap();
        assert_eq!(out["type"], "error");
        assert_eq!(out["data"]["code"], "x");
    }
}
