//! Engine events ([`StreamEvent`]) to 60db `speech_started` and
//! `transcription` messages, with sentence ids and latency metrics.

use std::time::Instant;

use vocalis_inference::streaming::StreamEvent;

use crate::metrics::Metrics;
use crate::session::live::Speaker;
use crate::wire::sixtydb::{SttServerMessage, WireWord};

/// Numbers utterances and converts events for one session.
#[derive(Debug)]
pub struct EventWriter {
    interim: bool,
    multilingual: bool,
    finals_sent: u64,
    /// Stream position and wall time of the latest audio received.
    latest_audio: Option<(f64, Instant)>,
    /// The speaker of the next final (live diarization).
    speaker: Option<Speaker>,
}

impl EventWriter {
    /// A writer for a session on a (non-)multilingual model.
    pub fn new(multilingual: bool) -> Self {
        Self {
            interim: true,
            multilingual,
            finals_sent: 0,
            latest_audio: None,
            speaker: None,
        }
    }

    /// The speaker of the next final and its words (live diarization).
    pub fn set_speaker(&mut self, speaker: Option<Speaker>) {
        self.speaker = speaker;
    }

    /// Whether partials are sent.
    pub fn set_interim(&mut self, interim: bool) {
        self.interim = interim;
    }

    /// Notes that audio up to `position` seconds has arrived now.
    pub fn audio_received(&mut self, position: f64) {
        self.latest_audio = Some((position, Instant::now()));
    }

    /// Seconds since the audio at stream time `end` arrived (assuming the
    /// client streams in real time between the latest chunk and `end`).
    fn latency(&self, end: f64) -> Option<f64> {
        let (position, at) = self.latest_audio?;
        Some((at.elapsed().as_secs_f64() + (position - end).max(0.0)).max(0.0))
    }

    /// The wire message for an event, if it is sent at all.
    pub fn message(&mut self, event: StreamEvent, metrics: &Metrics) -> Option<SttServerMessage> {
        match event {
            StreamEvent::SpeechStarted { at } => Some(SttServerMessage::SpeechStarted {
                timestamp: round_ms(at),
            }),
            StreamEvent::Partial {
                text,
                start,
                end,
                language,
                ..
            } => {
                if !self.interim {
                    return None;
                }
                if let Some(latency) = self.latency(end) {
                    metrics.partial_latency.observe(latency);
                }
                Some(SttServerMessage::Transcription {
                    text,
                    confidence: 0.0,
                    // The detected language on multilingual models, as finals.
                    language: match language {
                        Some((code, _)) if self.multilingual => code,
                        _ => "en".into(),
                    },
                    is_final: false,
                    speech_final: false,
                    sentence_id: self.finals_sent,
                    start: round_ms(start),
                    end: round_ms(end),
                    words: Vec::new(),
                    speaker: None,
                })
            }
            StreamEvent::Final {
                text,
                words,
                start,
                end,
                confidence,
                language,
                ..
            } => {
                if let Some(latency) = self.latency(end) {
                    metrics.final_latency.observe(latency);
                }
                let speaker = self.speaker.take().map(|s| s.id as u32);
                let sentence_id = self.finals_sent;
                self.finals_sent += 1;
                let language = match language {
                    Some((code, _)) if self.multilingual => code,
                    _ => "en".into(),
                };
                Some(SttServerMessage::Transcription {
                    text,
                    confidence: f64::from(confidence),
                    language,
                    is_final: true,
                    speech_final: true,
                    sentence_id,
                    start: round_ms(start),
                    end: round_ms(end),
                    words: words
                        .into_iter()
                        .map(|w| WireWord {
                            word: w.text.trim().to_owned(),
                            start: round_ms(w.start),
                            end: round_ms(w.end),
                            confidence: f64::from(w.probability),
                            speaker,
                        })
                        .collect(),
                    speaker,
                })
            }
        }
    }
}

fn round_ms(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partial(language: Option<(&str, f32)>) -> StreamEvent {
        StreamEvent::Partial {
            text: "hallo".into(),
            committed: String::new(),
            words: Vec::new(),
            confidence: 0.9,
            start: 0.0,
            end: 1.0,
            language: language.map(|(code, p)| (code.to_owned(), p)),
            last_word_end: Some(0.8),
        }
    }

    fn language_of(message: Option<SttServerMessage>) -> String {
        match message {
            Some(SttServerMessage::Transcription { language, .. }) => language,
            other => panic!("not a transcription: {other:?}"),
        }
    }

    #[test]
    fn partials_carry_the_detected_language_on_multilingual_models() {
        let metrics = Metrics::default();
        let mut multilingual = EventWriter::new(true);
        let german = multilingual.message(partial(Some(("de", 0.9))), &metrics);
        assert_eq!(language_of(german), "de");
        let mut english_only = EventWriter::new(false);
        let english = english_only.message(partial(Some(("de", 0.9))), &metrics);
        assert_eq!(language_of(english), "en");
        assert_eq!(
            language_of(multilingual.message(partial(None), &metrics)),
            "en"
        );
    }
}
