//! Vocalis inference: synchronous model runtimes for speech.
//!
//! TTS side: [`runtime`] (ONNX Runtime bootstrap), [`normalize`] (English text
//! normalisation), [`phonemize`] (espeak-ng G2P) and [`tts`] (Piper voices).

pub mod diarize;
pub mod normalize;
pub mod phonemize;
pub mod pool;
pub mod runtime;
pub mod streaming;
pub mod stt;
pub mod tts;
pub mod vad;

pub use runtime::{ExecutionProvider, OptimizationLevel, RuntimeError, SessionOptions};
pub use tts::{
    AudioChunk, PiperVoice, SynthesisOptions, SynthesisResult, TtsError, VoiceConfig, VoiceFiles,
};
