//! Errors raised by the streaming recogniser.

use crate::stt::SttError;
use crate::vad::VadError;

/// Everything that can go wrong while streaming.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The VAD failed on pushed audio.
    #[error(transparent)]
    Vad(#[from] VadError),
    /// Decoding a final failed (partial failures are only logged).
    #[error(transparent)]
    Stt(#[from] SttError),
    /// A configuration value is out of range.
    #[error("invalid streaming config: {0}")]
    InvalidConfig(String),
    /// [`super::StreamingRecognizer::complete`] got a ticket that is not in
    /// flight.
    #[error("unknown or stale decode ticket {0}")]
    UnknownTicket(u64),
    /// Audio was pushed after [`super::StreamingRecognizer::finish`].
    #[error("stream already finished")]
    Finished,
}
