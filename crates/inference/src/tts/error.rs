//! Errors raised by the Piper TTS pipeline.

use std::path::PathBuf;

use crate::phonemize::PhonemizeError;
use crate::runtime::RuntimeError;

/// Everything that can go wrong loading a voice or synthesising speech.
#[derive(Debug, thiserror::Error)]
pub enum TtsError {
    /// A voice file (model or config) is not on disk.
    #[error("voice file not found at {path}; run `vocalis models pull <voice>`")]
    VoiceMissing {
        /// Missing path.
        path: PathBuf,
    },
    /// The config file could not be read.
    #[error("cannot read voice config {path}: {source}")]
    ConfigIo {
        /// Config path.
        path: PathBuf,
        /// Underlying I/O error.
        source: std::io::Error,
    },
    /// The config file is not a usable Piper voice config.
    #[error("invalid voice config: {0}")]
    InvalidConfig(String),
    /// A [`crate::tts::SynthesisOptions`] field is out of range.
    #[error("invalid synthesis option: {0}")]
    InvalidOption(String),
    /// The requested speaker does not exist in this voice.
    #[error("speaker id {id} out of range: voice has {num_speakers} speaker(s)")]
    UnknownSpeaker {
        /// Requested id.
        id: u32,
        /// Speakers in the voice.
        num_speakers: u32,
    },
    /// Loading ONNX Runtime or the model failed.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// espeak-ng failed.
    #[error(transparent)]
    Phonemize(#[from] PhonemizeError),
    /// ONNX Runtime failed while running the model.
    #[error("inference failed: {0}")]
    Inference(#[from] ort::Error),
    /// The model produced something other than an audio tensor.
    #[error("unexpected model output: {0}")]
    BadOutput(String),
}
