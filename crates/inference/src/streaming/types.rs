//! The public vocabulary of the streaming recogniser: its settings
//! ([`StreamingConfig`]), the decode work it hands out ([`DecodeRequest`])
//! and the events it returns ([`StreamEvent`], [`FinalReason`]).

use super::StreamError;
use crate::stt::{TranscribeOptions, Word};
use crate::vad::VadConfig;

/// Settings of a [`super::StreamingRecognizer`].
#[derive(Debug, Clone, PartialEq)]
pub struct StreamingConfig {
    /// New utterance audio between two partial decodes (default 500 ms).
    pub interim_interval_ms: u32,
    /// Whether to produce partials at all.
    pub interim_results: bool,
    /// VAD silence that ends an utterance — the silence endpoint, Deepgram's
    /// `endpointing=<ms>` (default 500 ms, 300–10000). With `endpointing`
    /// off it only separates speech bursts (for
    /// [`StreamEvent::SpeechStarted`]) and never ends an utterance.
    pub utterance_end_ms: u32,
    /// Whether VAD silence ends utterances at all (default `true`). `false`
    /// is Deepgram's `endpointing=false`: finals come only from
    /// [`finalize`](super::StreamingRecognizer::finalize), the end of the
    /// stream, or the `max_utterance_s` cut — there is no other timeout.
    pub endpointing: bool,
    /// Longer utterances are cut at their best pause (default 25 s).
    pub max_utterance_s: f32,
    /// Audio kept before the VAD's speech start (which already has the VAD's
    /// `speech_pad_ms`), so soft onsets the VAD scores late are decoded
    /// (default 300 ms, at most 1000; never reaches into the previous
    /// utterance).
    pub onset_pad_ms: u32,
    /// Audio kept after the VAD's speech end at a silence endpoint, so soft
    /// word endings are decoded (default 300 ms, at most 1000; silence by
    /// construction, never past the audio received).
    pub end_pad_ms: u32,
    /// Decode each utterance with the previous final's text as context
    /// (appended to `options.initial_prompt`), as whole-file decoding
    /// conditions on the text before (default `true`; costs the prompt's
    /// tokens, a few dozen, in every decode).
    pub carry_context: bool,
    /// Beam width of the decodes that make finals (the final decode and the
    /// speculative partial that may become the final; default
    /// [`FINAL_BEAM_SIZE`]). Partials made while the caller talks stay
    /// greedy. An utterance decoded on its own misses the text around it
    /// that whole-file decoding hears; beam search recovers most of that for
    /// about 60 % more CPU per final, which the server spends only on an
    /// idle pool and caps at its `live_final_beam` (`SttPool::fit_to_load`).
    /// `options.beam_size` is used when larger; 1 is greedy.
    pub final_beam_size: usize,
    /// How partial decodes made while the caller is still talking are
    /// made cheaper than finals (see [`PartialDecode`]).
    pub partial: PartialDecode,
    /// VAD thresholds (its `min_silence_ms` is replaced by
    /// `utterance_end_ms`).
    pub vad: VadConfig,
    /// Options for every decode (`vad` is forced off: the audio is already
    /// speech).
    pub options: TranscribeOptions,
}

/// Default [`StreamingConfig::final_beam_size`]: 5, which brought live
/// finals within a point of whole-file WER (BENCHMARKS.md, "Session 7").
/// Beam results sometimes lose the sentence case and the closing full stop
/// ("please make sure they call me before they arrive"); every final is
/// tidied where a sentence starts or ends (`sentence::tidy_final`), which
/// `punctuate=true` clients rely on.
pub const FINAL_BEAM_SIZE: usize = 5;

impl Default for StreamingConfig {
    fn default() -> Self {
        Self {
            interim_interval_ms: 500,
            interim_results: true,
            utterance_end_ms: 500,
            endpointing: true,
            max_utterance_s: 25.0,
            onset_pad_ms: 300,
            end_pad_ms: 300,
            carry_context: true,
            final_beam_size: FINAL_BEAM_SIZE,
            partial: PartialDecode::default(),
            vad: VadConfig::default(),
            options: TranscribeOptions::default(),
        }
    }
}

/// How partials are decoded. A partial made while the caller is talking
/// can never become the final (the final must cover the end of speech), so
/// it uses these cheaper settings. Once the VAD has heard `speech_pad_ms +
/// end_pad_ms` of quiet (before the `utterance_end_ms` endpoint), one
/// *speculative* partial decodes the utterance with the final's settings
/// at a final's priority ([`DecodeRequest::urgent`]); when it is clean it
/// becomes the final at the endpoint, so the final decode runs while the
/// endpoint is still being waited for (see `AUDIO_CTX.md`, "Partials").
#[derive(Debug, Clone, PartialEq)]
pub struct PartialDecode {
    /// Smallest encoder window of a mid-speech partial, in 20 ms frames
    /// (default [`PARTIAL_MIN_AUDIO_CTX`]; finals use
    /// [`crate::stt::AUTO_MIN`] = 384). Only applies with
    /// [`crate::stt::AudioCtx::Auto`]; at most 1500.
    pub min_audio_ctx: u16,
    /// Whether mid-speech partials carry the previous final as context
    /// like finals do (default `false`: the prompt's few dozen tokens cost
    /// a large share of a short partial's decode).
    pub context: bool,
    /// How much sooner than `speech_pad_ms + end_pad_ms` of quiet the
    /// speculative partial starts (default [`SPECULATIVE_LEAD_MS`]; at most
    /// `end_pad_ms`): the end pad's audio not yet received is decoded as
    /// digital silence, which is what the VAD heard there anyway.
    pub speculative_lead_ms: u32,
}

/// Default [`PartialDecode::speculative_lead_ms`]: none. A lead of 150 ms
/// left the live WER unchanged and 300 ms improved it a little, but both
/// cost CPU (more pauses trigger a speculative decode), and on a lone call
/// through the server 150 ms did not lower the final latency in two runs
/// (BENCHMARKS.md, "Session 8").
pub const SPECULATIVE_LEAD_MS: u32 = 0;

/// Default encoder-window floor of mid-speech partials (frames; 256 =
/// 5.12 s).
pub const PARTIAL_MIN_AUDIO_CTX: u16 = 256;

impl Default for PartialDecode {
    fn default() -> Self {
        Self {
            min_audio_ctx: PARTIAL_MIN_AUDIO_CTX,
            context: false,
            speculative_lead_ms: SPECULATIVE_LEAD_MS,
        }
    }
}

impl StreamingConfig {
    pub(super) fn validate(&self) -> Result<(), StreamError> {
        let bad = |m: &str| Err(StreamError::InvalidConfig(m.into()));
        if self.utterance_end_ms < 300 || self.utterance_end_ms > 10_000 {
            return bad("utterance_end_ms must be within 300–10000");
        }
        if !(50..=10_000).contains(&self.interim_interval_ms) {
            return bad("interim_interval_ms must be within 50–10000");
        }
        if !(2.0..=29.0).contains(&self.max_utterance_s) {
            return bad("max_utterance_s must be within 2–29 s");
        }
        if !(32..=1500).contains(&self.partial.min_audio_ctx) {
            return bad("partial.min_audio_ctx must be within 32–1500");
        }
        if self.onset_pad_ms > 1000 || self.end_pad_ms > 1000 {
            return bad("onset_pad_ms and end_pad_ms must be at most 1000");
        }
        Ok(())
    }
}

/// Identifies one decode handed out by
/// [`super::StreamingRecognizer::next_request`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ticket(pub u64);

/// What a decode is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeKind {
    /// Interim hypothesis of the utterance in progress.
    Partial,
    /// The utterance's final text.
    Final,
}

/// Work for the caller: transcribe `audio` with `options`, then call
/// [`super::StreamingRecognizer::complete`] with `ticket` and the result.
#[derive(Debug, Clone)]
pub struct DecodeRequest {
    /// Pass back to `complete`.
    pub ticket: Ticket,
    /// Partial or final.
    pub kind: DecodeKind,
    /// Mono 16 kHz utterance audio.
    pub audio: Vec<f32>,
    /// Decode options.
    pub options: TranscribeOptions,
    /// Stream time of `audio[0]`, seconds.
    pub start: f64,
    /// Run it at a final's priority: a final, or the partial decoded once
    /// the caller has gone quiet, which stands in for the final when it
    /// covers the utterance (see [`PartialDecode`]).
    pub urgent: bool,
}

/// Why an utterance ended (carried by every [`StreamEvent::Final`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FinalReason {
    /// `utterance_end_ms` of VAD silence followed the speech (a silence
    /// endpoint: Deepgram's `speech_final: true`).
    Endpoint,
    /// The utterance reached `max_utterance_s` and was cut at its best
    /// pause; the speaker may still be talking.
    MaxLength,
    /// The caller asked for it ([`finalize`](super::StreamingRecognizer::finalize),
    /// e.g. Deepgram's `Finalize`).
    Finalize,
    /// The stream ended ([`finish`](super::StreamingRecognizer::finish),
    /// e.g. `CloseStream`).
    EndOfStream,
}

impl FinalReason {
    /// Whether the speaker stopped talking (only [`FinalReason::Endpoint`]):
    /// what Deepgram calls `speech_final`.
    pub fn is_speech_final(self) -> bool {
        self == Self::Endpoint
    }

    /// Whether a sentence ends with the utterance: every reason but
    /// [`FinalReason::MaxLength`], whose cut falls wherever the speaker
    /// happened to pause.
    pub fn ends_sentence(self) -> bool {
        self != Self::MaxLength
    }

    /// A stable lower-case name (`endpoint`, `max_length`, `finalize`,
    /// `end_of_stream`) for logs and wire formats.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Endpoint => "endpoint",
            Self::MaxLength => "max_length",
            Self::Finalize => "finalize",
            Self::EndOfStream => "end_of_stream",
        }
    }
}

/// Recogniser output.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// The VAD detected the start of speech (padded onset time). Sent when
    /// an utterance opens and, with `endpointing` off, for every new burst
    /// of speech inside the open utterance.
    SpeechStarted {
        /// Seconds of stream audio.
        at: f64,
    },
    /// Interim hypothesis of the current utterance.
    Partial {
        /// Committed words followed by tentative ones.
        text: String,
        /// The committed (never changing) prefix of `text`.
        committed: String,
        /// The words of `text` (committed, then tentative) with stream
        /// timestamps and their probabilities.
        words: Vec<Word>,
        /// Mean probability of `words`.
        confidence: f32,
        /// Utterance start, seconds.
        start: f64,
        /// End of the audio decoded, seconds.
        end: f64,
        /// Language of this hypothesis and its probability (detected on
        /// multilingual models when no language is set; the fixed language
        /// otherwise).
        language: Option<(String, f32)>,
        /// End of the last word of this hypothesis, stream seconds (never
        /// past the end of the VAD's last speech frame); `None` without
        /// words. See [`super::StreamingRecognizer::last_word_end`].
        last_word_end: Option<f64>,
    },
    /// Final text of an utterance; never revised.
    Final {
        /// Text.
        text: String,
        /// Words with stream timestamps.
        words: Vec<Word>,
        /// Utterance start, seconds.
        start: f64,
        /// Utterance end, seconds.
        end: f64,
        /// Mean word probability.
        confidence: f32,
        /// Language and its probability.
        language: Option<(String, f32)>,
        /// Why the utterance ended.
        reason: FinalReason,
        /// End of the last word, stream seconds (as in
        /// [`StreamEvent::Partial`]).
        last_word_end: Option<f64>,
    },
}
