//! Voice activity detection with Silero VAD (v5/v6 ONNX) through ONNX Runtime.
//!
//! * [`SileroModel`] is the loaded network: one ORT session shared by every
//!   stream (one ORT session per core, each run takes a free one).
//! * [`SileroState`] is the per-stream recurrent state (LSTM state plus the
//!   64-sample context the v5/v6 models expect in front of every window).
//! * [`Detector`] turns per-frame probabilities into speech/silence decisions
//!   with hysteresis (enter at `threshold`, leave below `neg_threshold`,
//!   `min_speech_ms` to confirm speech, `min_silence_ms` to end it).
//! * [`Vad`] runs all of this over whole audio ([`Vad::speech_regions`], read
//!   in parallel rows: see `rows`);
//!   [`VadStream`] does it incrementally for live audio ([`VadStream::push`]).
//!
//! Audio is mono 16 kHz `f32`. Silero works on fixed 512-sample windows, so
//! the frame is **32 ms** (not the 30 ms WebRTC-style frame): every decision
//! and timestamp here is on a 32 ms grid.

mod detector;
mod error;
mod rows;
mod silero;
mod stream;

pub use detector::{Detector, VadConfig, VadEvent, VadFrame};
pub use error::VadError;
pub use silero::{SileroModel, SileroState};
pub use stream::{SpeechRegion, Vad, VadStream};

/// Sample rate every VAD input must have.
pub const SAMPLE_RATE: u32 = 16_000;
/// Samples in one Silero window (32 ms at 16 kHz).
pub const FRAME_SAMPLES: usize = 512;
/// Duration of one frame in seconds.
pub const FRAME_SECONDS: f64 = FRAME_SAMPLES as f64 / SAMPLE_RATE as f64;
