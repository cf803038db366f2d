//! Engine events to Deepgram live messages: `Results` (partials and finals;
//! `speech_final` only at a silence endpoint, `from_finalize` on the finals a
//! `Finalize` produced), `SpeechStarted`, `UtteranceEnd` (timed by
//! [`super::utterance_end`]), `Warning` for parameters that are not applied,
//! and the closing `Metadata`.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Serialize;
use vocalis_inference::streaming::{FinalReason, StreamEvent};

use crate::session::live::Speaker;

use super::input::ChannelAudio;
use crate::metrics::Metrics;
use crate::wire::deepgram::{
    model_uuid, plain_word, rfc3339_now, round_ms, whisper_model_info, Alternative, ListenParams,
    LiveChannel, Metadata, ModelInfo, Results, ResultsMetadata, SpeechStarted, Word,
};

/// Any message this route sends.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Outgoing {
    /// A transcript.
    Results(Box<Results>),
    /// Speech began.
    SpeechStarted(SpeechStarted),
    /// The session's summary.
    Metadata(Box<Metadata>),
}

/// `{"type":"Warning","code":"UNSUPPORTED_FEATURE","parameter":…,"description":…}`:
/// Deepgram's warning message shape (its other sockets' `Warning`: `type`,
/// `code`, `description`), naming the query parameter: one per parameter this
/// server does not apply. The closing `Metadata` carries them in `warnings`
/// and the 101 names them in `x-vocalis-unsupported-parameters`.
#[derive(Debug, Clone, Serialize)]
pub struct LiveWarning {
    #[serde(rename = "type")]
    kind: &'static str,
    code: &'static str,
    /// The query parameter concerned.
    pub parameter: String,
    /// Why it is not applied.
    pub description: String,
}

/// The `Warning`s for `params`: parameters this server does not know or
/// apply (as `POST /v1/listen` lists them in `metadata.warnings`), and
/// `diarize` when the speaker model is not installed (`diarizing` false).
/// The closing `Metadata` repeats
/// them in `warnings` (`{parameter, type, message}`, the pre-recorded shape).
pub fn warnings(params: &ListenParams, diarizing: bool) -> Vec<LiveWarning> {
    let warning = |parameter: &str, description: String| LiveWarning {
        kind: "Warning",
        code: "UNSUPPORTED_FEATURE",
        parameter: parameter.to_owned(),
        description,
    };
    let mut out: Vec<LiveWarning> = params
        .ignored
        .iter()
        .map(|name| {
            warning(
                name,
                format!("`{name}` is not supported by this server and was ignored"),
            )
        })
        .collect();
    if params.diarize && !diarizing {
        out.push(warning(
            "diarize",
            format!(
                "the speaker model is not installed ({}); live words carry no speaker",
                vocalis_models::pull_command(crate::engine::DIARIZE_MODEL, None)
            ),
        ));
    }
    out
}

/// The three booleans of a `Results`.
#[derive(Debug, Clone, Copy, Default)]
struct Flags {
    is_final: bool,
    speech_final: bool,
    from_finalize: bool,
}

/// Per-session conversion state.
#[derive(Debug)]
pub struct MessageWriter {
    request_id: String,
    created: String,
    model: ModelInfo,
    model_uuid: String,
    punctuated: bool,
    vad_events: bool,
    latest_audio: Option<(f64, Instant)>,
    warnings: Vec<crate::wire::deepgram::Warning>,
    /// The speaker of the next final (live diarization).
    speaker: Option<Speaker>,
    /// Live diarization is on: words carry a `speaker`.
    diarizing: bool,
    /// Each channel's latest final speaker id: the provisional speaker of
    /// its interim words (0, the first speaker, before any final).
    last_speaker: BTreeMap<usize, u32>,
}

impl MessageWriter {
    /// A writer for one session.
    pub fn new(params: &ListenParams, request_id: String, model: &str, diarizing: bool) -> Self {
        Self {
            request_id,
            created: rfc3339_now(),
            model: whisper_model_info(model),
            model_uuid: model_uuid(model),
            punctuated: params.punctuated(),
            vad_events: params.vad_events,
            latest_audio: None,
            speaker: None,
            diarizing,
            last_speaker: BTreeMap::new(),
            warnings: warnings(params, diarizing)
                .into_iter()
                .map(|w| crate::wire::deepgram::Warning {
                    parameter: w.parameter,
                    kind: "unsupported_feature".to_owned(),
                    message: w.description,
                })
                .collect(),
        }
    }

    /// Audio up to stream time `position` arrived now.
    pub fn audio_received(&mut self, position: f64) {
        self.latest_audio = Some((position, Instant::now()));
    }

    fn latency(&self, end: f64) -> Option<f64> {
        let (position, at) = self.latest_audio?;
        Some((at.elapsed().as_secs_f64() + (position - end).max(0.0)).max(0.0))
    }

    fn results(
        &self,
        channel: usize,
        total: usize,
        (start, end): (f64, f64),
        alternative: Alternative,
        flags: Flags,
    ) -> Outgoing {
        Outgoing::Results(Box::new(Results {
            kind: Default::default(),
            channel_index: vec![channel as u32, total as u32],
            duration: round_ms((end - start).max(0.0)),
            start: round_ms(start),
            is_final: flags.is_final,
            speech_final: flags.speech_final,
            channel: LiveChannel {
                alternatives: vec![alternative],
            },
            metadata: ResultsMetadata {
                request_id: self.request_id.clone(),
                model_info: self.model.clone(),
                model_uuid: self.model_uuid.clone(),
            },
            from_finalize: flags.from_finalize,
        }))
    }

    fn text(&self, text: &str) -> String {
        if self.punctuated {
            text.trim().to_owned()
        } else {
            text.split_whitespace()
                .map(plain_word)
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        }
    }

    /// The messages for one engine event on `channel` of `total`.
    pub fn messages(
        &mut self,
        channel: usize,
        total: usize,
        event: StreamEvent,
        metrics: &Metrics,
    ) -> Vec<Outgoing> {
        match event {
            StreamEvent::SpeechStarted { at } if self.vad_events => {
                vec![Outgoing::SpeechStarted(SpeechStarted {
                    kind: Default::default(),
                    channel: vec![channel as u32, total as u32],
                    timestamp: round_ms(at),
                })]
            }
            StreamEvent::SpeechStarted { .. } => Vec::new(),
            StreamEvent::Partial {
                text,
                words,
                confidence,
                start,
                end,
                ..
            } => {
                if let Some(latency) = self.latency(end) {
                    metrics.partial_latency.observe(latency);
                }
                // Interim words carry a provisional speaker (the channel's
                // latest; speakers are told per final utterance).
                let speaker = self.diarizing.then(|| {
                    let id = self.last_speaker.get(&channel).copied().unwrap_or(0);
                    (id, None)
                });
                let alternative = Alternative {
                    transcript: self.text(&text),
                    confidence: confidence.clamp(0.0, 1.0),
                    words: self.words(&words, speaker),
                };
                vec![self.results(channel, total, (start, end), alternative, Flags::default())]
            }
            StreamEvent::Final {
                text,
                words,
                start,
                end,
                confidence,
                reason,
                ..
            } => {
                if let Some(latency) = self.latency(end) {
                    metrics.final_latency.observe(latency);
                }
                let speaker = self
                    .speaker
                    .take()
                    .map(|s| (s.id as u32, Some(s.confidence)));
                if let Some((id, _)) = speaker {
                    self.last_speaker.insert(channel, id);
                }
                let words = self.words(&words, speaker);
                let alternative = Alternative {
                    transcript: self.text(&text),
                    confidence: confidence.clamp(0.0, 1.0),
                    words,
                };
                // Deepgram: `speech_final` only when the speaker paused
                // (a silence endpoint), never on a forced cut or a flush;
                // `from_finalize` on what a `Finalize` produced.
                let flags = Flags {
                    is_final: true,
                    speech_final: reason.is_speech_final(),
                    from_finalize: reason == FinalReason::Finalize,
                };
                vec![self.results(channel, total, (start, end), alternative, flags)]
            }
        }
    }

    /// Engine words as Deepgram words (punctuation-only words dropped),
    /// with `speaker` (id, confidence) when diarizing.
    fn words(
        &self,
        words: &[vocalis_inference::stt::Word],
        speaker: Option<(u32, Option<f32>)>,
    ) -> Vec<Word> {
        words
            .iter()
            .filter_map(|w| Word::from_engine(w, self.punctuated, speaker))
            .collect()
    }

    /// The speaker of the next final's words (live diarization).
    pub fn set_speaker(&mut self, speaker: Option<Speaker>) {
        self.speaker = speaker;
    }

    /// The closing `Metadata`.
    pub fn metadata(&self, audio: &ChannelAudio, channels: usize) -> Outgoing {
        let mut model_info = BTreeMap::new();
        model_info.insert(self.model_uuid.clone(), self.model.clone());
        Outgoing::Metadata(Box::new(Metadata {
            kind: Default::default(),
            transaction_key: "deprecated".into(),
            request_id: self.request_id.clone(),
            sha256: audio.sha256(),
            created: self.created.clone(),
            duration: round_ms(audio.seconds_received()),
            channels: channels as u32,
            models: vec![self.model_uuid.clone()],
            model_info,
            warnings: self.warnings.clone(),
        }))
    }
}
