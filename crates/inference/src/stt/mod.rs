//! Speech-to-text with Whisper (whisper.cpp through whisper-rs).
//!
//! * [`SttModel`] — the ggml weights, loaded once and shared (`Arc`).
//! * [`SttWorker`] — one `WhisperState` per worker thread; runs the whole
//!   pipeline for one request: VAD gate (Silero; no speech → no Whisper run)
//!   → language (fixed, forced "en" on English-only models, or detected with
//!   its probability) → `whisper_full` (encoder window sized to short audio,
//!   see [`audio_ctx_for`]; temperature fallback; abortable through
//!   [`DecodeHooks`]) → [`Segment`]s and [`Word`]s (BPE tokens merged at
//!   leading spaces) → no-speech/hallucination filters.
//! * [`Transcribe`] — the "decode this audio" abstraction the streaming
//!   recogniser and the worker pool are written against.
//!
//! Audio is mono 16 kHz `f32`, any length (0 s – hours; whisper.cpp's own
//! 30 s seek loop handles long input).

mod audio_ctx;
pub mod chunks;
mod error;
mod hooks;
mod model;
mod options;
mod params;
mod prompt;
mod splice;
mod transcript;
pub mod wer;
mod words;
mod worker;

pub use audio_ctx::{audio_ctx_for, sized_ctx, AUTO_MARGIN, AUTO_MIN};
pub use error::SttError;
pub use hooks::DecodeHooks;
pub use model::{SttModel, SttModelConfig};
pub use options::{AudioCtx, TranscribeOptions, VadMode};
pub use prompt::{context_tail, CONTEXT_BYTES};
pub use transcript::{Segment, Transcript, Word};
pub use worker::{repeated_tail, SttWorker, Transcribe, MIN_SAMPLES};

/// Sample rate every STT input must have.
pub const SAMPLE_RATE: u32 = 16_000;
