//! Linear PCM helpers: s16le bytes ↔ `f32`, `f32` → `i16` with clipping, and
//! interleaved multi-channel → mono downmixing.
//!
//! Conventions used throughout the crate: `i16` ↔ `f32` scaling is `x / 32768`
//! and `round(x * 32768)` clamped to `[-32768, 32767]`, so every `i16` survives
//! a round trip exactly. Non-finite floats (`NaN`, `±inf`) convert to `0`.

use crate::error::PcmError;

/// Converts one `i16` sample to `f32` in `[-1, 1)`.
#[inline]
pub fn i16_to_f32(sample: i16) -> f32 {
    f32::from(sample) / 32_768.0
}

/// Converts one `f32` sample to `i16`, clipping to the `i16` range; `NaN` → `0`.
#[inline]
pub fn f32_to_i16(sample: f32) -> i16 {
    if sample.is_nan() {
        return 0;
    }
    // `as` saturates (and maps ±inf to the bounds); clamping first keeps the
    // intent explicit and the rounding symmetric.
    (sample * 32_768.0).round().clamp(-32_768.0, 32_767.0) as i16
}

/// Replaces `NaN` and `±inf` with `0.0`; finite values pass through unchanged.
#[inline]
pub fn sanitize(sample: f32) -> f32 {
    if sample.is_finite() {
        sample
    } else {
        0.0
    }
}

/// Converts a slice of `f32` samples to `i16` with [`f32_to_i16`].
pub fn f32_slice_to_i16(samples: &[f32]) -> Vec<i16> {
    samples.iter().map(|&s| f32_to_i16(s)).collect()
}

/// Converts a slice of `i16` samples to `f32` with [`i16_to_f32`].
pub fn i16_slice_to_f32(samples: &[i16]) -> Vec<f32> {
    samples.iter().map(|&s| i16_to_f32(s)).collect()
}

/// Decodes signed 16-bit little-endian bytes to `f32` samples.
///
/// Returns [`PcmError::OddByteLength`] if `bytes` has an odd length. Streaming
/// callers that may receive half a sample should use [`s16le_to_f32_into`].
pub fn s16le_to_f32(bytes: &[u8]) -> Result<Vec<f32>, PcmError> {
    if !bytes.len().is_multiple_of(2) {
        return Err(PcmError::OddByteLength { len: bytes.len() });
    }
    let mut out = Vec::with_capacity(bytes.len() / 2);
    s16le_to_f32_into(bytes, &mut out);
    Ok(out)
}

/// Appends the whole samples in `bytes` to `out` and returns the number of
/// bytes consumed (always even). A trailing odd byte is *not* consumed, so a
/// streaming caller can keep it and prepend it to the next chunk.
pub fn s16le_to_f32_into(bytes: &[u8], out: &mut Vec<f32>) -> usize {
    let chunks = bytes.chunks_exact(2);
    let consumed = bytes.len() - chunks.remainder().len();
    out.extend(chunks.map(|c| i16_to_f32(i16::from_le_bytes([c[0], c[1]]))));
    consumed
}

/// Encodes `f32` samples as signed 16-bit little-endian bytes (clipping, `NaN` → 0).
pub fn f32_to_s16le(samples: &[f32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(samples.len() * 2);
    f32_to_s16le_into(samples, &mut out);
    out
}

/// Appends `samples` to `out` as signed 16-bit little-endian bytes.
pub fn f32_to_s16le_into(samples: &[f32], out: &mut Vec<u8>) {
    out.reserve(samples.len() * 2);
    for &s in samples {
        out.extend_from_slice(&f32_to_i16(s).to_le_bytes());
    }
}

/// Averages interleaved `channels`-channel audio down to mono.
///
/// A trailing partial frame (fewer than `channels` samples) is dropped.
/// Returns [`PcmError::ZeroChannels`] if `channels == 0`.
pub fn downmix_to_mono(interleaved: &[f32], channels: usize) -> Result<Vec<f32>, PcmError> {
    let mut out = Vec::with_capacity(interleaved.len() / channels.max(1));
    downmix_to_mono_into(interleaved, channels, &mut out)?;
    Ok(out)
}

/// Like [`downmix_to_mono`] but appends to `out`; returns the number of frames appended.
pub fn downmix_to_mono_into(
    interleaved: &[f32],
    channels: usize,
    out: &mut Vec<f32>,
) -> Result<usize, PcmError> {
    if channels == 0 {
        return Err(PcmError::ZeroChannels);
    }
    let before = out.len();
    if channels == 1 {
        out.extend_from_slice(interleaved);
    } else {
        let scale = 1.0 / channels as f32;
        out.extend(
            interleaved
                .chunks_exact(channels)
                .map(|frame| frame.iter().sum::<f32>() * scale),
        );
    }
    Ok(out.len() - before)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i16_round_trips_exactly() {
        for x in i16::MIN..=i16::MAX {
            assert_eq!(f32_to_i16(i16_to_f32(x)), x);
        }
    }

    #[test]
    fn f32_to_i16_clips_and_handles_nan() {
        assert_eq!(f32_to_i16(f32::NAN), 0);
        assert_eq!(f32_to_i16(-f32::NAN), 0);
        assert_eq!(f32_to_i16(f32::INFINITY), i16::MAX);
        assert_eq!(f32_to_i16(f32::NEG_INFINITY), i16::MIN);
        assert_eq!(f32_to_i16(1.0), i16::MAX);
        assert_eq!(f32_to_i16(-1.0), i16::MIN);
        assert_eq!(f32_to_i16(7.5), i16::MAX);
        assert_eq!(f32_to_i16(-7.5), i16::MIN);
        assert_eq!(f32_to_i16(0.5), 16384);
        assert_eq!(f32_to_i16(f32::MIN_POSITIVE), 0);
    }

    #[test]
    fn s16le_conversions() {
        let bytes = [0x00, 0x80, 0xFF, 0x7F, 0x00, 0x00, 0x01, 0x00];
        let f = s16le_to_f32(&bytes).unwrap();
        assert_eq!(f, vec![-1.0, 32767.0 / 32768.0, 0.0, 1.0 / 32768.0]);
        assert_eq!(f32_to_s16le(&f), bytes);
    }

    #[test]
    fn odd_length_is_typed_error_and_into_variant_keeps_tail() {
        assert_eq!(
            s16le_to_f32(&[1, 2, 3]),
            Err(PcmError::OddByteLength { len: 3 })
        );
        let mut out = Vec::new();
        assert_eq!(s16le_to_f32_into(&[1, 2, 3], &mut out), 2);
        assert_eq!(out.len(), 1);
        assert_eq!(s16le_to_f32_into(&[9], &mut out), 0);
        assert_eq!(s16le_to_f32_into(&[], &mut out), 0);
        assert_eq!(s16le_to_f32(&[]), Ok(vec![]));
    }

    #[test]
    fn downmix() {
        let stereo = [1.0, 0.0, 0.5, 0.5, -1.0, 1.0, 0.25];
        assert_eq!(downmix_to_mono(&stereo, 2).unwrap(), vec![0.5, 0.5, 0.0]);
        assert_eq!(downmix_to_mono(&stereo, 1).unwrap(), stereo.to_vec());
        assert_eq!(downmix_to_mono(&stereo, 0), Err(PcmError::ZeroChannels));
        assert_eq!(downmix_to_mono(&stereo, 8).unwrap(), Vec::<f32>::new());
        let three = [0.3, 0.3, 0.3, 0.9, 0.0, 0.0];
        let m = downmix_to_mono(&three, 3).unwrap();
        assert!((m[0] - 0.3).abs() < 1e-6 && (m[1] - 0.3).abs() < 1e-6);
    }

    #[test]
    fn sanitize_non_finite() {
        assert_eq!(sanitize(f32::NAN), 0.0);
        assert_eq!(sanitize(f32::INFINITY), 0.0);
        assert_eq!(sanitize(0.25), 0.25);
        assert_eq!(f32_slice_to_i16(&[0.5, f32::NAN]), vec![16384, 0]);
        assert_eq!(i16_slice_to_f32(&[16384]), vec![0.5]);
    }
}
