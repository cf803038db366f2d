//! Errors raised by speech-to-text.

use std::path::PathBuf;

use crate::vad::VadError;

/// Everything that can go wrong loading a Whisper model or transcribing.
#[derive(Debug, thiserror::Error)]
pub enum SttError {
    /// The ggml model file is not on disk.
    #[error("Whisper model not found at {path}; run `vocalis models pull {name}`")]
    ModelMissing {
        /// Path that was looked up.
        path: PathBuf,
        /// Model name guessed from the path (its directory name).
        name: String,
    },
    /// whisper.cpp refused the model file.
    #[error("failed to load Whisper model {path}: {message}")]
    ModelLoad {
        /// Model path.
        path: PathBuf,
        /// whisper-rs diagnostic.
        message: String,
    },
    /// A per-worker decoding state could not be allocated.
    #[error("failed to create a Whisper state: {0}")]
    State(String),
    /// A [`crate::stt::TranscribeOptions`] field is out of range or unsupported
    /// by the model.
    #[error("invalid transcription option: {0}")]
    InvalidOption(String),
    /// The caller cancelled the job (or dropped the request).
    #[error("transcription cancelled")]
    Cancelled,
    /// whisper.cpp failed while decoding.
    #[error("whisper.cpp failed: {0}")]
    Whisper(String),
    /// The VAD gate failed.
    #[error(transparent)]
    Vad(#[from] VadError),
}
