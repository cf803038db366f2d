//! The pre-recorded `POST /v1/listen` answer (`metadata` and `results`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use vocalis_inference::stt::Transcript;

use super::{Alternative, ModelInfo, Word};

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
    /// Utterances of every channel in time order (only with `utterances=true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utterances: Option<Vec<Utterance>>,
}

/// Deepgram's default `utt_split`: a pause of this many seconds between
/// words starts a new utterance.
pub const DEFAULT_UTT_SPLIT_S: f64 = 0.8;

/// One utterance (`results.utterances[]`): words of one channel (and one
/// speaker, with diarization) without a pause of `utt_split` or more.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Utterance {
    /// Start of the first word, seconds.
    pub start: f64,
    /// End of the last word, seconds.
    pub end: f64,
    /// Mean confidence of the words (0–1).
    pub confidence: f32,
    /// Channel index.
    pub channel: u32,
    /// The words joined (punctuated words with `punctuate`/`smart_format`).
    pub transcript: String,
    /// The words.
    pub words: Vec<Word>,
    /// Speaker index (only with diarization).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speaker: Option<u32>,
    /// Utterance id (UUID).
    pub id: String,
}

impl Utterance {
    fn from_words(channel: u32, words: Vec<Word>) -> Self {
        let transcript = words
            .iter()
            .map(|w| w.punctuated_word.as_deref().unwrap_or(&w.word))
            .collect::<Vec<_>>()
            .join(" ");
        let confidence = if words.is_empty() {
            0.0
        } else {
            words.iter().map(|w| w.confidence).sum::<f32>() / words.len() as f32
        };
        Self {
            start: words.first().map_or(0.0, |w| w.start),
            end: words.last().map_or(0.0, |w| w.end),
            confidence,
            channel,
            transcript,
            speaker: words.first().and_then(|w| w.speaker),
            words,
            id: super::new_request_id(),
        }
    }
}

/// The utterances of `channels` (each channel's best alternative): a new
/// one where the speaker changes and, per channel, at the given split
/// times (`splits[channel]`: the start of each utterance's first word but
/// the first) or, without them, at a pause of `split_s` seconds or more
/// between words; all channels' in order of start time.
pub fn utterances(
    channels: &[PrerecordedChannel],
    split_s: f64,
    splits: &[Option<Vec<f64>>],
) -> Vec<Utterance> {
    let mut out = Vec::new();
    for (index, channel) in channels.iter().enumerate() {
        let Some(best) = channel.alternatives.first() else {
            continue;
        };
        let splits = splits.get(index).and_then(Option::as_ref);
        let mut current: Vec<Word> = Vec::new();
        for word in &best.words {
            if let Some(last) = current.last() {
                let pause = match splits {
                    Some(at) => at.iter().any(|&t| last.start < t && word.start >= t),
                    None => word.start - last.end >= split_s,
                };
                if pause || word.speaker != last.speaker {
                    out.push(Utterance::from_words(
                        index as u32,
                        std::mem::take(&mut current),
                    ));
                }
            }
            current.push(word.clone());
        }
        if !current.is_empty() {
            out.push(Utterance::from_words(index as u32, current));
        }
    }
    out.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.channel.cmp(&b.channel)));
    out
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

#[cfg(test)]
mod tests {
    use super::super::test_support::transcript;
    use super::*;

    #[test]
    fn utterances_split_at_pauses_and_keep_channels() {
        let mut long = transcript();
        // A 1 s pause before the second word.
        long.words[1].start = 1.5;
        long.words[1].end = 2.0;
        let channels = vec![
            PrerecordedChannel::from_transcript(&transcript(), true),
            PrerecordedChannel::from_transcript(&long, false),
        ];
        let all = utterances(&channels, DEFAULT_UTT_SPLIT_S, &[]);
        assert_eq!(all.len(), 3, "{all:?}");
        let first = &all[0];
        assert_eq!((first.channel, first.start), (0, 0.0));
        assert_eq!(first.transcript, "Hello, world.");
        assert_eq!(first.words.len(), 2);
        assert!((first.confidence - 0.85).abs() < 1e-6);
        assert_eq!(all[1].channel, 1);
        assert_eq!(all[1].transcript, "hello");
        assert_eq!((all[2].start, all[2].transcript.as_str()), (1.5, "world"));
        assert_ne!(all[0].id, all[1].id);
        // A longer utt_split keeps the pause inside one utterance.
        assert_eq!(utterances(&channels, 2.0, &[]).len(), 2);
        // Split times (from the VAD) win over word gaps.
        let at_world = [Some(vec![0.5]), Some(vec![])];
        let split = utterances(&channels, DEFAULT_UTT_SPLIT_S, &at_world);
        assert_eq!(split.len(), 3, "{split:?}");
        assert_eq!(split[2].transcript, "world.");
        let value = serde_json::to_value(first).unwrap();
        for key in [
            "start",
            "end",
            "confidence",
            "channel",
            "transcript",
            "words",
            "id",
        ] {
            assert!(value.get(key).is_some(), "{key} in {value}");
        }
        assert!(value.get("speaker").is_none());
    }
}
