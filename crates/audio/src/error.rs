//! Typed errors for every fallible operation in the crate.
//!
//! Each module has its own enum so callers can match precisely; the decode and
//! encode errors wrap [`ResampleError`] because both may resample.

use thiserror::Error;

/// Errors from PCM byte/sample conversions ([`crate::pcm`]).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PcmError {
    /// A 16-bit little-endian buffer had an odd number of bytes.
    #[error("s16le buffer has odd length {len}: the trailing byte is half a sample")]
    OddByteLength {
        /// Length of the offending buffer in bytes.
        len: usize,
    },
    /// An interleaved buffer was described as having zero channels.
    #[error("channel count must be at least 1")]
    ZeroChannels,
}

/// Errors from sample-rate conversion ([`mod@crate::resample`]).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ResampleError {
    /// A sample rate outside the supported range was requested.
    #[error("unsupported sample rate {rate} Hz (supported: {min}..={max} Hz)")]
    UnsupportedRate {
        /// The rejected rate in Hz.
        rate: u32,
        /// Smallest supported rate in Hz.
        min: u32,
        /// Largest supported rate in Hz.
        max: u32,
    },
    /// The underlying resampler reported an error (indicates a bug in this crate).
    #[error("resampler failed: {reason}")]
    Internal {
        /// Message from the resampling engine.
        reason: String,
    },
}

/// Errors from decoding uploaded or raw audio ([`crate::decode`]).
#[derive(Debug, Clone, PartialEq, Error)]
pub enum DecodeError {
    /// The input holds no audio: zero bytes, or a valid container with no frames.
    #[error("input contains no audio")]
    Empty,
    /// The input ends inside a header or other mandatory structure.
    #[error("input is truncated: it ends inside the {what}")]
    Truncated {
        /// Which structure was cut short (e.g. `"fmt chunk"`).
        what: &'static str,
    },
    /// A header declares more payload than the input contains (and the value
    /// is not one of the recognised "unknown length" placeholders).
    #[error("header declares {declared} bytes of {what} but only {available} are present")]
    LyingHeader {
        /// Which length field lied (e.g. `"WAV data chunk"`).
        what: &'static str,
        /// Length the header claims, in bytes.
        declared: u64,
        /// Bytes actually present.
        available: u64,
    },
    /// The stream declares zero channels.
    #[error("stream declares zero channels")]
    ZeroChannels,
    /// The stream declares a sample rate of zero.
    #[error("stream declares a sample rate of 0 Hz")]
    ZeroSampleRate,
    /// The container, codec or a feature of it is not supported.
    #[error("unsupported audio: {what}")]
    Unsupported {
        /// Description of the unsupported feature.
        what: String,
    },
    /// The input is recognised but its content is corrupt or inconsistent.
    #[error("malformed audio: {what}")]
    Malformed {
        /// Description of the problem.
        what: String,
    },
    /// The decoded audio would exceed [`crate::DecodeLimits::max_duration_s`].
    #[error("audio is longer than the {max_s} s limit (at least {duration_s:.3} s)")]
    TooLong {
        /// Duration known so far (a lower bound when decoding stopped early).
        duration_s: f64,
        /// The configured limit in seconds.
        max_s: f64,
    },
    /// Resampling the decoded audio to the target rate failed.
    #[error(transparent)]
    Resample(#[from] ResampleError),
}

/// Errors from encoding output audio ([`mod@crate::encode`]).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EncodeError {
    /// Resampling to the output rate failed (e.g. unsupported rate).
    #[error(transparent)]
    Resample(#[from] ResampleError),
    /// MP3 cannot be produced at this sample rate.
    #[error("MP3 does not support {rate} Hz (use 8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100 or 48000)")]
    UnsupportedMp3Rate {
        /// The rejected rate in Hz.
        rate: u32,
    },
    /// The LAME encoder reported an error.
    #[error("MP3 encoder failed: {reason}")]
    Mp3 {
        /// Message derived from LAME's error code.
        reason: String,
    },
    /// Opus cannot be produced at this sample rate.
    #[error("Opus does not support {rate} Hz (use 8000, 12000, 16000, 24000 or 48000)")]
    UnsupportedOpusRate {
        /// The rejected rate in Hz.
        rate: u32,
    },
    /// libopus or the Ogg writer reported an error.
    #[error("Opus encoder failed: {reason}")]
    Opus {
        /// What failed.
        reason: String,
    },
    /// The FLAC encoder reported an error.
    #[error("FLAC encoder failed: {reason}")]
    Flac {
        /// What failed.
        reason: String,
    },
    /// A whole-buffer WAV would exceed the 4 GiB RIFF size limit.
    #[error("WAV payload of {bytes} bytes exceeds the 4 GiB RIFF limit")]
    WavTooLarge {
        /// Size of the PCM payload in bytes.
        bytes: u64,
    },
}
