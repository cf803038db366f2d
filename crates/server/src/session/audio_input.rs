//! Wire audio to mono 16 kHz f32: G.711 or s16le bytes at any rate from
//! 8 to 48 kHz, possibly interleaved, in frames of any size (a partial
//! sample frame is carried into the next one). Decoding is
//! `vocalis-audio`'s [`StreamDecoder`], the same one that reads WAV, Ogg
//! Opus and WebM Opus streams; this module only mixes down and resamples.

use vocalis_audio::{DecodeError, RawEncoding, ResampleError, StreamDecoder, StreamingResampler};

/// The rate the recognizer runs at.
pub const ENGINE_RATE: u32 = 16_000;

/// Sample rates the 60db dialect documents (`/ws/stt` checks them itself).
pub const SUPPORTED_RATES: [u32; 6] = [8_000, 16_000, 22_050, 24_000, 44_100, 48_000];

/// Lowest and highest raw sample rate a client may stream, Hz.
pub const RATE_RANGE: std::ops::RangeInclusive<u32> = 8_000..=48_000;

/// Encodings a client may stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputEncoding {
    /// G.711 μ-law, one byte per sample.
    Mulaw,
    /// G.711 A-law, one byte per sample.
    Alaw,
    /// Signed 16-bit little-endian PCM.
    Linear16,
}

impl InputEncoding {
    fn raw(self) -> RawEncoding {
        match self {
            Self::Mulaw => RawEncoding::Mulaw,
            Self::Alaw => RawEncoding::Alaw,
            Self::Linear16 => RawEncoding::Linear16,
        }
    }
}

/// Why audio could not be accepted.
#[derive(Debug, thiserror::Error)]
pub enum AudioInputError {
    /// The sample rate is outside [`RATE_RANGE`].
    #[error("unsupported sample rate {0} Hz; use 8000 to 48000 Hz")]
    UnsupportedRate(u32),
    /// Channel count out of range.
    #[error("unsupported channel count {0}; use 1 or 2")]
    UnsupportedChannels(u16),
    /// The resampler failed.
    #[error(transparent)]
    Resample(#[from] ResampleError),
    /// The audio could not be decoded.
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

/// Converts one session's wire audio to engine audio.
#[derive(Debug)]
pub struct AudioInput {
    encoding: InputEncoding,
    rate: u32,
    channels: u16,
    decoder: StreamDecoder,
    resampler: StreamingResampler,
    decoded: Vec<f32>,
    mono: Vec<f32>,
    out: Vec<f32>,
    frames_in: u64,
}

impl AudioInput {
    /// A converter for `encoding` at `rate` Hz with `channels` interleaved channels.
    pub fn new(encoding: InputEncoding, rate: u32, channels: u16) -> Result<Self, AudioInputError> {
        if !RATE_RANGE.contains(&rate) {
            return Err(AudioInputError::UnsupportedRate(rate));
        }
        if !(1..=2).contains(&channels) {
            return Err(AudioInputError::UnsupportedChannels(channels));
        }
        Ok(Self {
            encoding,
            rate,
            channels,
            decoder: StreamDecoder::raw(encoding.raw(), rate, channels)?,
            resampler: StreamingResampler::new(rate, ENGINE_RATE)?,
            decoded: Vec::new(),
            mono: Vec::new(),
            out: Vec::new(),
            frames_in: 0,
        })
    }

    /// The encoding.
    pub fn encoding(&self) -> InputEncoding {
        self.encoding
    }

    /// The client's sample rate.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Wire bytes per second of audio (for pacing).
    pub fn bytes_per_second(&self) -> f64 {
        let bytes_per_sample = self.encoding.raw().bytes_per_sample() as f64;
        bytes_per_sample * f64::from(self.channels) * f64::from(self.rate)
    }

    /// Seconds of audio received so far (whole sample frames).
    pub fn seconds_received(&self) -> f64 {
        self.frames_in as f64 / f64::from(self.rate)
    }

    /// Converts one frame of wire bytes; returns the 16 kHz audio it yields
    /// (possibly empty while the resampler fills its first block).
    pub fn push(&mut self, bytes: &[u8]) -> Result<&[f32], AudioInputError> {
        self.decoded.clear();
        self.decoder.push(bytes, &mut self.decoded)?;
        let samples: &[f32] = if self.channels == 1 {
            &self.decoded
        } else {
            self.mono.clear();
            let channels = usize::from(self.channels);
            self.mono.extend(
                self.decoded
                    .chunks_exact(channels)
                    .map(|frame| frame.iter().sum::<f32>() / channels as f32),
            );
            &self.mono
        };
        self.frames_in += samples.len() as u64;
        self.out.clear();
        self.resampler.push(samples, &mut self.out)?;
        Ok(&self.out)
    }

    /// Drains the resampler's delay line at the end of the stream.
    pub fn flush(&mut self) -> Result<&[f32], AudioInputError> {
        self.out.clear();
        self.resampler.flush(&mut self.out)?;
        Ok(&self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mulaw_8k_doubles_to_16k_and_counts_seconds() {
        let mut input = AudioInput::new(InputEncoding::Mulaw, 8_000, 1).unwrap();
        let mut total = 0;
        for _ in 0..50 {
            total += input.push(&[0xFF; 160]).unwrap().len();
        }
        total += input.flush().unwrap().len();
        assert_eq!(total, 16_000);
        assert!((input.seconds_received() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn odd_linear16_bytes_carry_over() {
        let mut input = AudioInput::new(InputEncoding::Linear16, 16_000, 1).unwrap();
        let a = input.push(&[0, 0, 0]).unwrap().len();
        let b = input.push(&[0]).unwrap().len();
        assert_eq!(a + b, 2);
        assert!((input.seconds_received() - 2.0 / 16_000.0).abs() < 1e-12);
    }

    #[test]
    fn stereo_is_downmixed() {
        let mut input = AudioInput::new(InputEncoding::Linear16, 16_000, 2).unwrap();
        let frame = [0x00, 0x40, 0x00, 0x00]; // left 0.5, right 0
        let out = input.push(&frame.repeat(4)).unwrap().to_vec();
        assert_eq!(out.len(), 4);
        assert!(out.iter().all(|&s| (s - 0.25).abs() < 1e-3), "{out:?}");
    }

    #[test]
    fn unsupported_rates_and_channels_are_typed_errors() {
        assert!(matches!(
            AudioInput::new(InputEncoding::Mulaw, 7_999, 1),
            Err(AudioInputError::UnsupportedRate(7_999))
        ));
        assert!(AudioInput::new(InputEncoding::Mulaw, 11_025, 1).is_ok());
        assert!(matches!(
            AudioInput::new(InputEncoding::Linear16, 48_001, 1),
            Err(AudioInputError::UnsupportedRate(48_001))
        ));
        assert!(matches!(
            AudioInput::new(InputEncoding::Mulaw, 8_000, 0),
            Err(AudioInputError::UnsupportedChannels(0))
        ));
    }
}
