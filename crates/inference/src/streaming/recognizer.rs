//! The streaming recogniser state machine (see the module docs of
//! [`crate::streaming`]).

use std::collections::VecDeque;

use super::agreement::{join_words, LocalAgreement};
use super::sentence;
use super::types::{DecodeKind, DecodeRequest, FinalReason, StreamEvent, StreamingConfig, Ticket};
use super::StreamError;
use crate::stt::{SttError, Transcribe, TranscribeOptions, Transcript, VadMode, Word};
use crate::vad::{Vad, VadConfig, VadEvent, VadFrame, VadStream, FRAME_SAMPLES};

mod decode;

const RATE: f64 = 16_000.0;
/// Audio kept before the current position while nobody speaks, so a speech
/// start (reported ~min_speech_ms + pad late) still has its onset.
const PRE_ROLL_S: f64 = 1.5;
/// No partial for less utterance audio than this.
const MIN_PARTIAL_S: f64 = 0.5;

#[derive(Debug)]
struct Utterance {
    id: u64,
    /// Absolute sample index of the start.
    start: u64,
    /// Utterance length (samples) covered by the last partial request.
    partial_len: u64,
    agreement: LocalAgreement,
    last_partial: String,
    partials_sent: bool,
    /// Whether the VAD was in speech in some frame since the last partial
    /// request (no partial re-decodes pure silence).
    speech_since_partial: bool,
    /// (absolute sample of frame start, probability) for best-pause cuts.
    frames: Vec<(u64, f32)>,
    /// The last partial that decoded cleanly (no temperature fallback would
    /// have run) and the absolute sample its audio ended at: when it covers
    /// the whole utterance, it is the final and no final decode runs.
    covered: Option<(u64, Transcript)>,
    /// Start (absolute sample) of the quiet spell a speculative partial
    /// was requested for (one per spell).
    speculated: Option<u64>,
}

#[derive(Debug)]
struct InFlight {
    ticket: Ticket,
    kind: DecodeKind,
    utterance: u64,
    start: u64,
    end: u64,
    partials_sent: bool,
    reason: FinalReason,
    /// A partial decoded with the final's settings (it may stand in for
    /// the final; see [`super::PartialDecode`]).
    promotable: bool,
}

#[derive(Debug)]
struct QueuedFinal {
    request: DecodeRequest,
    utterance: u64,
    end: u64,
    partials_sent: bool,
    reason: FinalReason,
}

/// Turns a live 16 kHz stream into speech events, partials and finals.
/// Cheap to create (one per session); see [`crate::streaming`].
#[derive(Debug)]
pub struct StreamingRecognizer {
    config: StreamingConfig,
    vad: VadStream,
    /// Audio from absolute sample `buffer_start` to the current position.
    buffer: Vec<f32>,
    buffer_start: u64,
    /// End of the last utterance (absolute samples); the next starts after.
    floor: u64,
    utterance: Option<Utterance>,
    finals: VecDeque<QueuedFinal>,
    in_flight: Option<InFlight>,
    /// The final of an ended utterance whose speculative partial, covering
    /// it, is still in flight: that partial's result becomes the final, or
    /// this goes to the front of `finals` when it fails or is not clean.
    promoting: Option<QueuedFinal>,
    next_id: u64,
    finished: bool,
    /// Text of the last final (decoding context for the next utterance).
    context: String,
    /// End (absolute samples, padded) of the last frame the VAD scored as
    /// speech: word ends are clamped to it.
    last_speech: Option<u64>,
    /// Latest word end reported in any event, seconds.
    last_word_end: Option<f64>,
}

fn secs(samples: u64) -> f64 {
    samples as f64 / RATE
}

fn ms_samples(ms: u32) -> u64 {
    u64::from(ms) * 16
}

fn samples(secs: f64) -> u64 {
    (secs.max(0.0) * RATE).round() as u64
}

impl StreamingRecognizer {
    /// A recogniser using `vad`'s model (its config is replaced by
    /// `config.vad` with `min_silence_ms = utterance_end_ms`).
    pub fn new(vad: &Vad, config: StreamingConfig) -> Result<Self, StreamError> {
        config.validate()?;
        let vad_config = VadConfig {
            min_silence_ms: config.utterance_end_ms,
            ..config.vad.clone()
        };
        let vad = Vad::new(vad.model().clone(), vad_config)?.stream();
        Ok(Self {
            config,
            vad,
            buffer: Vec::new(),
            buffer_start: 0,
            floor: 0,
            utterance: None,
            finals: VecDeque::new(),
            in_flight: None,
            promoting: None,
            next_id: 0,
            finished: false,
            last_speech: None,
            last_word_end: None,
            context: String::new(),
        })
    }

    /// The settings in use.
    pub fn config(&self) -> &StreamingConfig {
        &self.config
    }

    /// Seconds of audio pushed so far.
    pub fn position(&self) -> f64 {
        secs(self.end_sample())
    }

    /// Whether an utterance is in progress.
    pub fn in_utterance(&self) -> bool {
        self.utterance.is_some()
    }

    /// Whether a decode is waiting to be handed out or is in flight.
    pub fn has_pending_work(&self) -> bool {
        self.in_flight.is_some() || !self.finals.is_empty() || self.promoting.is_some()
    }

    /// Finals waiting for a decode (not counting the one in flight).
    pub fn queued_finals(&self) -> usize {
        self.finals.len()
    }

    /// End of the latest word in any partial or final returned so far,
    /// stream seconds (never decreases; `None` before the first word).
    /// With [`position`](Self::position) it gives Deepgram's
    /// `UtteranceEnd`: send one when `position() - last_word_end()` reaches
    /// `utterance_end_ms` and no new word has arrived since the last one.
    pub fn last_word_end(&self) -> Option<f64> {
        self.last_word_end
    }

    /// End of the latest 32 ms frame the VAD scored as speech (plus its
    /// `speech_pad_ms`), stream seconds; `None` before any speech.
    pub fn last_speech_end(&self) -> Option<f64> {
        self.last_speech.map(secs)
    }

    /// The end of the last word of `words` (stream seconds), clamped to the
    /// VAD's last speech, and folded into [`last_word_end`](Self::last_word_end).
    fn note_last_word(&mut self, words: &[Word]) -> Option<f64> {
        let end = words.iter().map(|w| w.end).reduce(f64::max)?;
        let end = self.last_speech.map_or(end, |s| end.min(secs(s)));
        self.last_word_end = Some(self.last_word_end.map_or(end, |l| l.max(end)));
        Some(end)
    }

    fn end_sample(&self) -> u64 {
        self.buffer_start + self.buffer.len() as u64
    }

    /// Feeds audio (mono 16 kHz, any chunk size).
    pub fn push(&mut self, audio: &[f32]) -> Result<Vec<StreamEvent>, StreamError> {
        if self.finished {
            return Err(StreamError::Finished);
        }
        self.buffer.extend_from_slice(audio);
        let mut frames = Vec::new();
        self.vad.push_frames(audio, &mut frames)?;
        let mut events = Vec::new();
        self.apply(&frames, FinalReason::Endpoint, &mut events);
        self.trim();
        Ok(events)
    }

    /// Applies analysed frames; a VAD speech end among them ends the
    /// utterance with `end_reason`.
    fn apply(&mut self, frames: &[VadFrame], end_reason: FinalReason, out: &mut Vec<StreamEvent>) {
        let pad = u64::from(self.config.vad.speech_pad_ms) * 16;
        for frame in frames {
            if let Some(event) = frame.event {
                self.on_vad_event(event, end_reason, out);
            }
            let start = samples(frame.start);
            if frame.probability >= self.config.vad.threshold {
                self.last_speech = Some(start + FRAME_SAMPLES as u64 + pad);
            }
            if let Some(u) = self.utterance.as_mut() {
                u.frames.push((start, frame.probability));
                u.speech_since_partial |= frame.speech;
            }
            // Time is this frame's end, not the end of the pushed audio: a
            // long push (minutes in one message) is cut where it should be.
            let now = (samples(frame.start) + FRAME_SAMPLES as u64).min(self.end_sample());
            self.cut_if_too_long(now);
        }
    }

    fn on_vad_event(
        &mut self,
        event: VadEvent,
        end_reason: FinalReason,
        out: &mut Vec<StreamEvent>,
    ) {
        match event {
            VadEvent::SpeechStart { at } => match &self.utterance {
                None => {
                    let onset = samples(at).max(self.floor).max(self.buffer_start);
                    let pad = ms_samples(self.config.onset_pad_ms);
                    let start = onset
                        .saturating_sub(pad)
                        .max(self.floor)
                        .max(self.buffer_start);
                    self.open_utterance(start);
                    out.push(StreamEvent::SpeechStarted { at: secs(onset) });
                }
                // Endpointing off: new speech inside the open utterance.
                Some(u) => out.push(StreamEvent::SpeechStarted {
                    at: secs(samples(at).max(u.start)),
                }),
            },
            VadEvent::SpeechEnd { .. }
                if !self.config.endpointing && end_reason == FinalReason::Endpoint => {}
            VadEvent::SpeechEnd { at } => {
                let speech_end = samples(at).min(self.end_sample());
                let end = (speech_end + ms_samples(self.config.end_pad_ms)).min(self.end_sample());
                match self.final_from_partial(speech_end, end, end_reason) {
                    Some(event) => out.push(event),
                    None if self.await_speculative(speech_end, end, end_reason) => {}
                    None => self.close_utterance(end, end_reason),
                }
            }
        }
    }

    fn open_utterance(&mut self, start: u64) {
        self.next_id += 1;
        self.utterance = Some(Utterance {
            id: self.next_id,
            start,
            partial_len: 0,
            agreement: LocalAgreement::default(),
            last_partial: String::new(),
            partials_sent: false,
            speech_since_partial: true,
            frames: Vec::new(),
            covered: None,
            speculated: None,
        });
    }

    /// Ends the open utterance at `end` with its last partial as the final,
    /// when that partial decoded all of the utterance's audio cleanly and no
    /// earlier final is still owed (finals stay in order). Saves a decode.
    /// `speech_end` is the VAD's (padded) end of speech, which the partial
    /// must have decoded; `end` is where the utterance ends (with
    /// `end_pad_ms`).
    fn final_from_partial(
        &mut self,
        speech_end: u64,
        end: u64,
        reason: FinalReason,
    ) -> Option<StreamEvent> {
        let final_pending = self
            .in_flight
            .as_ref()
            .is_some_and(|f| f.kind == DecodeKind::Final);
        if final_pending || !self.finals.is_empty() {
            return None;
        }
        let u = self.utterance.as_ref()?;
        let (covered_to, _) = u.covered.as_ref()?;
        if *covered_to < speech_end.max(u.start) {
            return None;
        }
        let u = self.utterance.take()?;
        let (_, mut transcript) = u.covered?;
        self.floor = end;
        let start_s = secs(u.start);
        transcript.shift(start_s);
        Some(self.final_event(transcript, start_s, secs(end.max(u.start)), reason))
    }

    /// The [`StreamEvent::Final`] of an utterance decoded as `transcript`
    /// (in stream time), in sentence case and closed with a full stop where
    /// a sentence starts or ends ([`sentence::tidy_final`]); its text
    /// becomes the next utterance's context.
    fn final_event(
        &mut self,
        mut transcript: Transcript,
        start: f64,
        end: f64,
        reason: FinalReason,
    ) -> StreamEvent {
        let starts = sentence::starts_sentence(&self.context);
        sentence::tidy_final(&mut transcript, starts, reason.ends_sentence());
        let last_word_end = self.note_last_word(&transcript.words);
        let text = transcript.text();
        self.set_context(&text);
        StreamEvent::Final {
            confidence: transcript.confidence(),
            text,
            words: transcript.words,
            start,
            end,
            language: transcript.language,
            reason,
            last_word_end,
        }
    }

    /// Ends the open utterance at `end` (absolute samples) and queues its
    /// final decode.
    fn close_utterance(&mut self, end: u64, reason: FinalReason) {
        if let Some(q) = self.take_final(end, reason) {
            self.finals.push_back(q);
        }
    }

    /// Ends the open utterance at `end` (absolute samples): its final
    /// decode, not yet queued.
    fn take_final(&mut self, end: u64, reason: FinalReason) -> Option<QueuedFinal> {
        let u = self.utterance.take()?;
        let end = end.max(u.start).min(self.end_sample());
        self.floor = end;
        let audio = self.slice(u.start, end).to_vec();
        Some(QueuedFinal {
            request: DecodeRequest {
                ticket: Ticket(0),
                kind: DecodeKind::Final,
                audio,
                options: self.final_options(),
                start: secs(u.start),
                urgent: true,
            },
            utterance: u.id,
            end,
            partials_sent: u.partials_sent,
            reason,
        })
    }

    /// Cuts an over-long utterance at the least speech-like frame of its
    /// second half and continues with a new one from there.
    fn cut_if_too_long(&mut self, now: u64) {
        let max = samples(f64::from(self.config.max_utterance_s));
        let Some(u) = self.utterance.as_ref() else {
            return;
        };
        if now.saturating_sub(u.start) < max {
            return;
        }
        let half = u.start + max / 2;
        let cut = u
            .frames
            .iter()
            .filter(|(s, _)| *s >= half && *s + FRAME_SAMPLES as u64 <= now)
            .min_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
            .map_or(now, |(s, _)| s + FRAME_SAMPLES as u64 / 2)
            .min(u.start + max);
        let rest: Vec<(u64, f32)> = u
            .frames
            .iter()
            .copied()
            .filter(|(s, _)| *s >= cut)
            .collect();
        self.close_utterance(cut, FinalReason::MaxLength);
        self.open_utterance(cut);
        if let Some(u) = self.utterance.as_mut() {
            u.frames = rest;
        }
    }

    fn slice(&self, from: u64, to: u64) -> &[f32] {
        let a = (from.saturating_sub(self.buffer_start) as usize).min(self.buffer.len());
        let b = (to.saturating_sub(self.buffer_start) as usize).clamp(a, self.buffer.len());
        &self.buffer[a..b]
    }

    /// Drops audio nobody can need any more.
    fn trim(&mut self) {
        let keep_from = match &self.utterance {
            Some(u) => u.start,
            None => self.end_sample().saturating_sub(samples(PRE_ROLL_S)),
        };
        let keep_from = keep_from.max(self.buffer_start);
        let drop = (keep_from - self.buffer_start) as usize;
        // Amortise: only shift when a good chunk can go.
        if drop >= 16_000 || (drop > 0 && drop * 2 >= self.buffer.len()) {
            self.buffer.drain(..drop);
            self.buffer_start = keep_from;
        }
    }

    fn decode_options(&self) -> TranscribeOptions {
        TranscribeOptions {
            vad: VadMode::Off,
            ..self.config.options.clone()
        }
    }

    /// Options of the decodes that make finals: [`Self::decode_options`]
    /// with the final's beam ([`StreamingConfig::final_beam_size`]).
    fn final_options(&self) -> TranscribeOptions {
        let mut options = self.decode_options();
        options.beam_size = options.beam_size.max(self.config.final_beam_size).max(1);
        options
    }

    /// Changes the decode language from the next decode on (`None`: detect
    /// on multilingual models).
    pub fn set_language(&mut self, language: Option<String>) {
        self.config.options.language = language;
    }

    /// Ends the current utterance now (e.g. the client asked to finalise);
    /// its final ([`FinalReason::Finalize`]) is produced by the following
    /// decodes.
    pub fn finalize(&mut self) {
        self.finalize_as(FinalReason::Finalize);
    }

    fn finalize_as(&mut self, reason: FinalReason) {
        let end = self.end_sample();
        self.close_utterance(end, reason);
        self.vad.reset_to_silence();
    }

    /// Ends the stream: flushes the VAD and finalises the open utterance.
    /// Further pushes fail; pending decodes still complete.
    pub fn finish(&mut self) -> Result<Vec<StreamEvent>, StreamError> {
        if self.finished {
            return Ok(Vec::new());
        }
        let mut events = Vec::new();
        for event in self.vad.finish()? {
            self.on_vad_event(event, FinalReason::EndOfStream, &mut events);
        }
        self.finalize_as(FinalReason::EndOfStream);
        self.finished = true;
        Ok(events)
    }
}
