//! Decoding of uploaded audio (WAV, MP3, FLAC, Ogg Vorbis/Opus, WebM/Matroska,
//! MP4/M4A AAC) and of headerless raw audio into mono `f32` at a requested
//! sample rate. Live audio that arrives in pieces goes through
//! [`crate::StreamDecoder`] instead.
//!
//! Entry points: [`decode_file`] / [`decode_file_with_limits`] for files and
//! [`decode_raw`] / [`decode_raw_with_limits`] for raw μ-law, A-law or s16le.
//! Everything works on an in-memory byte slice; nothing touches the disk.
//!
//! Rules shared by all formats:
//!
//! * Multi-channel audio is averaged to mono; the result is resampled to the
//!   target rate with [`mod@crate::resample`] (delay-compensated).
//! * Non-finite decoded samples (possible in float WAV or corrupt streams)
//!   are replaced by `0.0`, so every returned sample is finite.
//! * A trailing partial frame (fewer bytes than one sample per channel) is
//!   dropped; input that holds bytes but not one whole frame is
//!   [`DecodeError::Truncated`], input with no audio bytes is
//!   [`DecodeError::Empty`].
//! * [`DecodeLimits`] bounds the decoded duration and the number of decoded
//!   source samples, so a tiny compressed file cannot expand to gigabytes or
//!   minutes of work: exceeding either is [`DecodeError::TooLong`], detected
//!   from headers when possible and otherwise before each packet is copied.
//! * Decoded audio is resampled to the target rate chunk by chunk as it is
//!   decoded (never held at the source rate), so memory is bounded by the
//!   output: about `max_duration_s × target rate × 4` bytes.
//! * Source rates outside [`crate::resample::MIN_RATE`]`..=`
//!   [`crate::resample::MAX_RATE`] are [`DecodeError::Unsupported`].
//!
//! WAV-specific rules (see [`crate::wav`]) cover lying and streaming headers.

use crate::error::DecodeError;
use crate::g711;
use crate::pcm::{downmix_to_mono_into, i16_to_f32};
use crate::resample::{self, MAX_RATE, MIN_RATE};
use crate::sink::{MonoSink, CHUNK_FRAMES};
use crate::{compressed, wav};

/// Bounds applied while decoding untrusted input.
///
/// Both bounds are checked before any audio is decoded or copied (from the
/// header when it states the length, otherwise packet by packet), and
/// exceeding either is [`DecodeError::TooLong`]. Decoded audio is resampled
/// chunk by chunk, so memory stays bounded by the *output*: about
/// `max_duration_s × target rate × 4` bytes, whatever the source rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecodeLimits {
    /// Longest accepted audio, in seconds of source audio. `NaN` rejects everything.
    pub max_duration_s: f64,
    /// Most source samples (frames × channels) decoded before giving up:
    /// bounds the decoding work of high-rate or many-channel sources (a tiny
    /// FLAC can declare an hour of 384 kHz audio). [`with_max_duration_s`]
    /// derives it as [`SOURCE_SAMPLES_PER_SECOND`] per second of
    /// `max_duration_s` — one hour of stereo 48 kHz for the default — so a
    /// 384 kHz mono source stops at a quarter of `max_duration_s`. When this
    /// bound is the one hit, [`DecodeError::TooLong`] reports the duration it
    /// amounts to at the source's rate and channel count.
    ///
    /// [`with_max_duration_s`]: Self::with_max_duration_s
    /// [`SOURCE_SAMPLES_PER_SECOND`]: Self::SOURCE_SAMPLES_PER_SECOND
    pub max_source_samples: u64,
}

impl DecodeLimits {
    /// Default maximum duration: one hour.
    pub const DEFAULT_MAX_DURATION_S: f64 = 3_600.0;

    /// Source samples allowed per second of `max_duration_s`: stereo at
    /// 48 kHz (or mono at 96 kHz).
    pub const SOURCE_SAMPLES_PER_SECOND: u64 = 96_000;

    /// Limits with the given maximum duration in seconds and
    /// [`max_source_samples`](Self::max_source_samples) derived from it.
    pub fn with_max_duration_s(max_duration_s: f64) -> Self {
        // Float-to-int `as` saturates (NaN and negatives give 0).
        let max_source_samples =
            (max_duration_s * Self::SOURCE_SAMPLES_PER_SECOND as f64).ceil() as u64;
        Self {
            max_duration_s,
            max_source_samples,
        }
    }

    /// Fails with [`DecodeError::TooLong`] if `frames` frames holding
    /// `samples` samples (all channels) at `rate` Hz exceed a limit.
    pub(crate) fn check(&self, frames: u64, samples: u64, rate: u32) -> Result<(), DecodeError> {
        let rate = f64::from(rate.max(1));
        let duration_s = frames as f64 / rate;
        if duration_s <= self.max_duration_s && samples <= self.max_source_samples {
            return Ok(());
        }
        // The sample cap as a duration for this source's channel count.
        let channels = if frames == 0 {
            1.0
        } else {
            (samples as f64 / frames as f64).max(1.0)
        };
        let sample_cap_s = self.max_source_samples as f64 / (rate * channels);
        Err(DecodeError::TooLong {
            duration_s,
            max_s: self.max_duration_s.min(sample_cap_s),
        })
    }
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self::with_max_duration_s(Self::DEFAULT_MAX_DURATION_S)
    }
}

/// Mono audio produced by the decoders.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedAudio {
    /// Mono samples at [`sample_rate`](Self::sample_rate), nominally in `[-1, 1]`, all finite.
    pub samples: Vec<f32>,
    /// Rate of `samples` in Hz (the requested target rate).
    pub sample_rate: u32,
    /// Sample rate of the source in Hz.
    pub source_rate: u32,
    /// Channel count of the source (before downmixing).
    pub source_channels: u16,
    /// Duration of the decoded source audio in seconds.
    pub duration_s: f64,
}

/// Encoding of headerless audio passed to [`decode_raw`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RawEncoding {
    /// G.711 μ-law, one byte per sample.
    Mulaw,
    /// G.711 A-law, one byte per sample.
    Alaw,
    /// Signed 16-bit little-endian linear PCM.
    Linear16,
}

impl RawEncoding {
    /// Bytes per sample of one channel.
    pub fn bytes_per_sample(self) -> usize {
        match self {
            Self::Mulaw | Self::Alaw => 1,
            Self::Linear16 => 2,
        }
    }
}

/// Checks a source sample rate before any decoding work is done.
pub(crate) fn check_source_rate(rate: u32) -> Result<(), DecodeError> {
    if rate == 0 {
        Err(DecodeError::ZeroSampleRate)
    } else if !(MIN_RATE..=MAX_RATE).contains(&rate) {
        Err(DecodeError::Unsupported {
            what: format!("sample rate {rate} Hz (supported: {MIN_RATE}..={MAX_RATE} Hz)"),
        })
    } else {
        Ok(())
    }
}

fn check_target_rate(rate: u32) -> Result<(), DecodeError> {
    // Constructing a resampler validates the rate without doing any work.
    resample::StreamingResampler::new(rate, rate)?;
    Ok(())
}

/// Decodes an audio file held in memory to mono `f32` at `target_rate` Hz,
/// with [`DecodeLimits::default`].
///
/// The container is detected from the content (RIFF/WAVE, MP3, FLAC, Ogg
/// Vorbis/Opus/FLAC, WebM/Matroska, MP4/M4A with AAC); `hint` (a MIME type such as `"audio/mpeg"` or an extension such
/// as `"flac"`) only helps the probe and never overrides the content.
/// Headerless audio (`audio/basic`, `audio/L16`, raw μ-law/A-law/s16le)
/// cannot be detected from content: use [`decode_raw`] for it.
pub fn decode_file(
    bytes: &[u8],
    hint: Option<&str>,
    target_rate: u32,
) -> Result<DecodedAudio, DecodeError> {
    decode_file_with_limits(bytes, hint, target_rate, &DecodeLimits::default())
}

/// [`decode_file`] with explicit [`DecodeLimits`].
pub fn decode_file_with_limits(
    bytes: &[u8],
    hint: Option<&str>,
    target_rate: u32,
    limits: &DecodeLimits,
) -> Result<DecodedAudio, DecodeError> {
    check_target_rate(target_rate)?;
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    let mut sink = MonoSink::new(target_rate, limits);
    if wav::looks_like_wav(bytes) {
        wav::decode(bytes, &mut sink)?;
    } else {
        compressed::decode(bytes, hint, &mut sink)?;
    }
    sink.finish()
}

/// Decodes headerless interleaved audio to mono `f32` at `target_rate` Hz,
/// with [`DecodeLimits::default`]. A trailing partial frame is dropped.
pub fn decode_raw(
    bytes: &[u8],
    encoding: RawEncoding,
    sample_rate: u32,
    channels: u16,
    target_rate: u32,
) -> Result<DecodedAudio, DecodeError> {
    decode_raw_with_limits(
        bytes,
        encoding,
        sample_rate,
        channels,
        target_rate,
        &DecodeLimits::default(),
    )
}

/// [`decode_raw`] with explicit [`DecodeLimits`].
pub fn decode_raw_with_limits(
    bytes: &[u8],
    encoding: RawEncoding,
    sample_rate: u32,
    channels: u16,
    target_rate: u32,
    limits: &DecodeLimits,
) -> Result<DecodedAudio, DecodeError> {
    if channels == 0 {
        return Err(DecodeError::ZeroChannels);
    }
    check_source_rate(sample_rate)?;
    check_target_rate(target_rate)?;
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    let frame_bytes = encoding.bytes_per_sample() * usize::from(channels);
    let frames = bytes.len() / frame_bytes;
    if frames == 0 {
        return Err(DecodeError::Truncated {
            what: "first audio frame",
        });
    }
    let mut sink = MonoSink::new(target_rate, limits);
    sink.set_source_rate(sample_rate)?;
    sink.admit(frames, usize::from(channels))?;
    sink.reserve_for(frames);
    decode_interleaved_into(
        &bytes[..frames * frame_bytes],
        encoding,
        channels,
        &mut sink,
    )?;
    sink.finish()
}

/// Converts whole frames of `encoding` to mono `f32`, [`CHUNK_FRAMES`] at a
/// time, and pushes them into `sink` (whose limits already admitted them).
/// `bytes.len()` must be a multiple of the frame size (extra bytes are
/// ignored).
pub(crate) fn decode_interleaved_into(
    bytes: &[u8],
    encoding: RawEncoding,
    channels: u16,
    sink: &mut MonoSink,
) -> Result<(), DecodeError> {
    let channels = usize::from(channels.max(1));
    let frame_bytes = encoding.bytes_per_sample() * channels;
    let mut interleaved = Vec::with_capacity(CHUNK_FRAMES * channels);
    let mut mono = Vec::with_capacity(CHUNK_FRAMES);
    for chunk in bytes.chunks(CHUNK_FRAMES * frame_bytes) {
        let chunk = &chunk[..chunk.len() - chunk.len() % frame_bytes];
        interleaved.clear();
        match encoding {
            RawEncoding::Mulaw => {
                interleaved.extend(chunk.iter().map(|&b| i16_to_f32(g711::mulaw_to_linear(b))))
            }
            RawEncoding::Alaw => {
                interleaved.extend(chunk.iter().map(|&b| i16_to_f32(g711::alaw_to_linear(b))))
            }
            RawEncoding::Linear16 => interleaved.extend(
                chunk
                    .chunks_exact(2)
                    .map(|c| i16_to_f32(i16::from_le_bytes([c[0], c[1]]))),
            ),
        }
        if channels == 1 {
            sink.push(&interleaved)?;
        } else {
            mono.clear();
            // `channels` is non-zero, so this cannot fail.
            let _ = downmix_to_mono_into(&interleaved, channels, &mut mono);
            sink.push(&mono)?;
        }
    }
    Ok(())
}

/// Appends the whole frames of `bytes` (interleaved `encoding`, `channels`
/// channels) to `out` as interleaved `f32`; returns the bytes used (a
/// trailing partial frame is left for the next call).
pub(crate) fn decode_interleaved_into_vec(
    bytes: &[u8],
    encoding: RawEncoding,
    channels: u16,
    out: &mut Vec<f32>,
) -> usize {
    let frame_bytes = encoding.bytes_per_sample() * usize::from(channels.max(1));
    let whole = bytes.len() / frame_bytes * frame_bytes;
    let bytes = &bytes[..whole];
    match encoding {
        RawEncoding::Mulaw => {
            out.extend(bytes.iter().map(|&b| i16_to_f32(g711::mulaw_to_linear(b))))
        }
        RawEncoding::Alaw => out.extend(bytes.iter().map(|&b| i16_to_f32(g711::alaw_to_linear(b)))),
        RawEncoding::Linear16 => out.extend(
            bytes
                .chunks_exact(2)
                .map(|c| i16_to_f32(i16::from_le_bytes([c[0], c[1]]))),
        ),
    }
    whole
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_mulaw_decodes_and_resamples() {
        let bytes = vec![0xFFu8; 8_000];
        let out = decode_raw(&bytes, RawEncoding::Mulaw, 8_000, 1, 16_000).unwrap();
        assert_eq!(out.samples.len(), 16_000);
        assert_eq!(out.sample_rate, 16_000);
        assert_eq!(out.source_rate, 8_000);
        assert_eq!(out.source_channels, 1);
        assert!((out.duration_s - 1.0).abs() < 1e-9);
        assert!(out.samples.iter().all(|&s| s == 0.0));
    }

    #[test]
    fn raw_alaw_and_linear16_stereo() {
        let a = decode_raw(&[0xD5, 0x55], RawEncoding::Alaw, 8_000, 2, 8_000).unwrap();
        assert_eq!(a.samples, vec![0.0]);
        // Two stereo frames plus a dangling byte, which is dropped.
        let bytes = [0x00, 0x40, 0x00, 0x00, 0x00, 0xC0, 0x00, 0xC0, 0x7F];
        let l = decode_raw(&bytes, RawEncoding::Linear16, 16_000, 2, 16_000).unwrap();
        assert_eq!(l.samples, vec![0.25, -0.5]);
        assert_eq!(l.source_channels, 2);
    }

    #[test]
    fn raw_errors_are_typed() {
        use RawEncoding::*;
        assert_eq!(
            decode_raw(&[1, 2], Mulaw, 8_000, 0, 8_000),
            Err(DecodeError::ZeroChannels)
        );
        assert_eq!(
            decode_raw(&[1, 2], Mulaw, 0, 1, 8_000),
            Err(DecodeError::ZeroSampleRate)
        );
        assert_eq!(
            decode_raw(&[], Linear16, 8_000, 1, 8_000),
            Err(DecodeError::Empty)
        );
        assert_eq!(
            decode_raw(&[7], Linear16, 8_000, 1, 8_000),
            Err(DecodeError::Truncated {
                what: "first audio frame"
            })
        );
        assert!(matches!(
            decode_raw(&[1, 2], Mulaw, 500, 1, 8_000),
            Err(DecodeError::Unsupported { .. })
        ));
        assert!(matches!(
            decode_raw(&[1, 2], Mulaw, 8_000, 1, 0),
            Err(DecodeError::Resample(_))
        ));
        let limits = DecodeLimits::with_max_duration_s(0.5);
        assert!(matches!(
            decode_raw_with_limits(&[0; 8_001], Mulaw, 8_000, 1, 8_000, &limits),
            Err(DecodeError::TooLong { max_s, .. }) if max_s == 0.5
        ));
        let nan = DecodeLimits::with_max_duration_s(f64::NAN);
        assert!(decode_raw_with_limits(&[0; 8], Mulaw, 8_000, 1, 8_000, &nan).is_err());
    }

    #[test]
    fn decode_file_rejects_empty_and_unknown() {
        assert_eq!(decode_file(&[], None, 16_000), Err(DecodeError::Empty));
        assert!(matches!(
            decode_file(
                b"this is not audio at all, just some text",
                Some("txt"),
                16_000
            ),
            Err(DecodeError::Unsupported { .. })
        ));
    }
}
