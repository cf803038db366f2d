//! Live transcription: [`StreamingRecognizer`].
//!
//! # Design: sans-IO, decoding on the caller's side
//!
//! A recogniser holds only cheap per-session state — its Silero VAD stream,
//! the audio of the current utterance, the LocalAgreement state — and never
//! calls Whisper itself. The caller drives it in three steps:
//!
//! 1. [`push`](StreamingRecognizer::push) 16 kHz audio (any chunk size). This
//!    runs the VAD (one ~0.1 ms ONNX run per 32 ms frame) and returns
//!    [`StreamEvent::SpeechStarted`]; utterance ends and max-length cuts
//!    queue *final* decodes.
//! 2. [`next_request`](StreamingRecognizer::next_request) hands out the next
//!    [`DecodeRequest`] (audio + options): queued finals first, then a
//!    partial once `interim_interval_ms` of new speech has arrived. At most
//!    one request is in flight per recogniser; partials coalesce while one is
//!    running.
//! 3. The caller decodes it wherever Whisper runs — the server submits it to
//!    the STT [`crate::pool`] and awaits the answer, so no Whisper work ever
//!    runs on the async runtime — and hands the result to
//!    [`complete`](StreamingRecognizer::complete), which returns
//!    [`StreamEvent::Partial`]/[`StreamEvent::Final`].
//!
//! Synchronous callers (tests, CLI) use
//! [`run_pending`](StreamingRecognizer::run_pending) with anything that
//! implements [`crate::stt::Transcribe`] (e.g. an [`crate::stt::SttWorker`]).
//!
//! # Guarantees
//!
//! * Partials re-decode the whole current utterance (encoder window sized to
//!   it). Their committed prefix follows LocalAgreement-2 ([`agreement`]): a
//!   word agreed on by two consecutive hypotheses is committed and never
//!   changes; `text` = committed + tentative words.
//! * A final is a fresh decode of the complete utterance (the most accurate
//!   result; it may differ from the last partial) and is never revised.
//! * Utterance audio starts `onset_pad_ms` before the VAD's speech start and,
//!   at a silence endpoint, ends `end_pad_ms` after its speech end; with
//!   `carry_context`, each decode gets the previous final's text as prompt.
//!   Both close most of the gap to whole-file decoding (see BENCHMARKS.md,
//!   "Live versus whole-file WER").
//!   Finals come out in utterance order, one per utterance with text.
//! * The decodes that make finals use a beam search
//!   ([`StreamingConfig::final_beam_size`]); every final starts with a
//!   capital where a sentence starts and ends with a full stop where one
//!   ends (`sentence`), as whole-file decoding writes it.
//! * An utterance ends after `utterance_end_ms` of VAD silence (unless
//!   [`StreamingConfig::endpointing`] is off), on
//!   [`finalize`](StreamingRecognizer::finalize), at
//!   [`finish`](StreamingRecognizer::finish), or — beyond
//!   `max_utterance_s` — at the least speech-like 32 ms frame of its second
//!   half (best pause). Each [`StreamEvent::Final`] says which
//!   ([`FinalReason`]); only a silence endpoint is Deepgram's
//!   `speech_final`.
//! * Partials and finals carry their language and the end of their last
//!   word; [`StreamingRecognizer::last_word_end`] is the latest one, for
//!   Deepgram's `UtteranceEnd`.
//! * Timestamps are seconds of stream audio (first pushed sample = 0).

pub mod agreement;
mod error;
mod recognizer;
mod sentence;
mod types;

pub use agreement::LocalAgreement;
pub use error::StreamError;
pub use recognizer::StreamingRecognizer;
pub use types::{
    DecodeKind, DecodeRequest, FinalReason, PartialDecode, StreamEvent, StreamingConfig, Ticket,
    FINAL_BEAM_SIZE, PARTIAL_MIN_AUDIO_CTX, SPECULATIVE_LEAD_MS,
};
