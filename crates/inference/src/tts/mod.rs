//! Piper (VITS) text-to-speech.
//!
//! [`PiperVoice`] loads a Piper `.onnx` voice and its `.onnx.json` config and
//! turns text into mono `f32` audio at the voice's sample rate:
//! normalise ([`crate::normalize`]) → split into sentences ([`split`]) →
//! espeak-ng phonemes ([`crate::phonemize`]) → phoneme ids ([`ids`]) → VITS.
//! [`PiperVoice::synthesize_stream`] is a lazy iterator producing one
//! [`AudioChunk`] per sentence, so long texts never hold all audio at once.
//! [`phrase`] finds a short first phrase that a caller may speak on its own
//! for earlier first audio; [`SynthesisOptions::gain`] continues the rest of
//! the sentence at the phrase's loudness.

mod audio;
mod config;
mod error;
pub mod ids;
pub mod phrase;
pub mod split;
mod voice;

pub use config::{VoiceConfig, VoiceFiles};
pub use error::TtsError;
pub use voice::{AudioChunk, PiperVoice, SynthesisOptions, SynthesisResult, SynthesisStream};
