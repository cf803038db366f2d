//! Errors raised by voice activity detection.

use std::path::PathBuf;

use crate::runtime::RuntimeError;

/// Everything that can go wrong loading or running the VAD.
#[derive(Debug, thiserror::Error)]
pub enum VadError {
    /// The model file is not on disk.
    #[error("Silero VAD model not found at {path}; run `vocalis models pull silero-vad`")]
    ModelMissing {
        /// Path that was looked up.
        path: PathBuf,
    },
    /// The ONNX file does not have the Silero v5/v6 inputs/outputs.
    #[error("not a Silero VAD v5/v6 model: {0}")]
    UnsupportedModel(String),
    /// A configuration value is out of range.
    #[error("invalid VAD config: {0}")]
    InvalidConfig(String),
    /// Loading ONNX Runtime or building the session failed.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// ONNX Runtime failed while running the model.
    #[error("VAD inference failed: {0}")]
    Inference(#[from] ort::Error),
}
