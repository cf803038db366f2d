//! Where the file and raw decoders put their audio: [`MonoSink`] counts each
//! chunk against the [`DecodeLimits`] *before* it is decoded or copied, then
//! resamples the mono chunk straight to the target rate.
//!
//! Nothing is kept at the source rate, so memory is bounded by the output
//! (target rate × accepted duration) plus one chunk, never by the source
//! rate or by how far a small compressed stream expands; and the decoding
//! work is bounded by [`DecodeLimits::max_source_samples`]. Because
//! [`StreamingResampler`] output does not depend on how its input is
//! chunked, the result is the same as resampling the whole source at once.

use crate::decode::{check_source_rate, DecodeLimits, DecodedAudio};
use crate::error::DecodeError;
use crate::resample::{expected_output_len, StreamingResampler};

/// Source frames converted per chunk by the decoders that know their whole
/// input up front (WAV and raw audio).
pub(crate) const CHUNK_FRAMES: usize = 8_192;

/// Limit-checked, resampling collector of one decoded stream.
pub(crate) struct MonoSink {
    target_rate: u32,
    limits: DecodeLimits,
    resampler: Option<StreamingResampler>,
    out: Vec<f32>,
    /// Source frames admitted so far.
    frames: u64,
    /// Source samples (frames × channels) admitted so far.
    samples: u64,
    /// Largest channel count seen.
    channels: u16,
}

impl MonoSink {
    /// An empty sink producing audio at `target_rate` Hz (already validated).
    pub(crate) fn new(target_rate: u32, limits: &DecodeLimits) -> Self {
        Self {
            target_rate,
            limits: *limits,
            resampler: None,
            out: Vec::new(),
            frames: 0,
            samples: 0,
            channels: 0,
        }
    }

    /// The rate this sink produces, Hz.
    pub(crate) fn target_rate(&self) -> u32 {
        self.target_rate
    }

    /// The limits this sink enforces.
    pub(crate) fn limits(&self) -> &DecodeLimits {
        &self.limits
    }

    /// The source rate, once set.
    pub(crate) fn source_rate(&self) -> Option<u32> {
        self.resampler.as_ref().map(StreamingResampler::input_rate)
    }

    /// Source frames admitted so far.
    pub(crate) fn frames(&self) -> u64 {
        self.frames
    }

    /// Sets the source rate on the first call; a different rate later is
    /// [`DecodeError::Unsupported`] (a rate change mid-stream).
    pub(crate) fn set_source_rate(&mut self, rate: u32) -> Result<(), DecodeError> {
        match self.source_rate() {
            Some(current) if current == rate => Ok(()),
            Some(current) => Err(DecodeError::Unsupported {
                what: format!("sample rate change mid-stream ({current} Hz -> {rate} Hz)"),
            }),
            None => {
                check_source_rate(rate)?;
                self.resampler = Some(StreamingResampler::new(rate, self.target_rate)?);
                Ok(())
            }
        }
    }

    /// Counts `frames` more source frames of `channels` channels against the
    /// limits; call it before decoding or copying them. The source rate must
    /// be set. Fails with [`DecodeError::TooLong`] (and counts nothing) when
    /// the total would exceed a limit.
    pub(crate) fn admit(&mut self, frames: usize, channels: usize) -> Result<(), DecodeError> {
        let rate = self.source_rate().unwrap_or(1);
        let new_frames = self.frames.saturating_add(frames as u64);
        let new_samples = self
            .samples
            .saturating_add((frames as u64).saturating_mul(channels.max(1) as u64));
        self.limits.check(new_frames, new_samples, rate)?;
        self.frames = new_frames;
        self.samples = new_samples;
        self.channels = self
            .channels
            .max(u16::try_from(channels).unwrap_or(u16::MAX));
        Ok(())
    }

    /// Reserves the output for `frames` more source frames that are already
    /// admitted (so the reservation is within the limits).
    pub(crate) fn reserve_for(&mut self, frames: usize) {
        let (Some(rate), Some(resampler)) = (self.source_rate(), self.resampler.as_ref()) else {
            return;
        };
        let len = expected_output_len(frames, rate, self.target_rate)
            .saturating_add(resampler.delay_samples());
        self.out.reserve(len);
    }

    /// Resamples admitted mono samples at the source rate into the output.
    pub(crate) fn push(&mut self, mono: &[f32]) -> Result<(), DecodeError> {
        if let Some(resampler) = self.resampler.as_mut() {
            resampler.push(mono, &mut self.out)?;
        }
        Ok(())
    }

    /// Drains the resampler. With no admitted audio the result is
    /// [`DecodeError::Empty`].
    pub(crate) fn finish(mut self) -> Result<DecodedAudio, DecodeError> {
        let Some(mut resampler) = self.resampler.take() else {
            return Err(DecodeError::Empty);
        };
        if self.frames == 0 {
            return Err(DecodeError::Empty);
        }
        let source_rate = resampler.input_rate();
        resampler.flush(&mut self.out)?;
        Ok(DecodedAudio {
            samples: self.out,
            sample_rate: self.target_rate,
            source_rate,
            source_channels: self.channels,
            duration_s: self.frames as f64 / f64::from(source_rate),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_pushes_match_one_shot_resampling() {
        let input: Vec<f32> = (0..10_000)
            .map(|i| ((i % 37) as f32 - 18.0) / 40.0)
            .collect();
        let mut sink = MonoSink::new(16_000, &DecodeLimits::default());
        sink.set_source_rate(44_100).unwrap();
        for chunk in input.chunks(777) {
            sink.admit(chunk.len(), 2).unwrap();
            sink.push(chunk).unwrap();
        }
        let audio = sink.finish().unwrap();
        let expected = crate::resample::resample(&input, 44_100, 16_000).unwrap();
        assert_eq!(audio.samples, expected);
        assert_eq!(audio.source_channels, 2);
        assert!((audio.duration_s - 10_000.0 / 44_100.0).abs() < 1e-12);
    }

    #[test]
    fn limits_are_checked_before_counting() {
        let limits = DecodeLimits {
            max_duration_s: 10.0,
            max_source_samples: 16_000,
        };
        let mut sink = MonoSink::new(8_000, &limits);
        sink.set_source_rate(8_000).unwrap();
        sink.admit(8_000, 2).unwrap();
        // 0.5 s more of stereo would be 24 000 samples: over the sample cap,
        // reported as the 1 s that 16 000 stereo samples last at 8 kHz.
        assert_eq!(
            sink.admit(4_000, 2),
            Err(DecodeError::TooLong {
                duration_s: 1.5,
                max_s: 1.0
            })
        );
        assert_eq!(sink.frames(), 8_000);
        assert!(matches!(
            sink.set_source_rate(16_000),
            Err(DecodeError::Unsupported { .. })
        ));
        let empty = MonoSink::new(8_000, &limits);
        assert_eq!(empty.finish(), Err(DecodeError::Empty));
    }
}
