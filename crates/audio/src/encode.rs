//! Encoding mono `f32` audio for output: WAV, raw linear16, μ-law, A-law, MP3,
//! whole-buffer ([`encode`]) or streaming ([`AudioEncoder`]).
//!
//! All formats are mono. Input is resampled from `in_rate` to `out_rate`
//! first (see [`mod@crate::resample`]); samples are clipped to `[-1, 1]` and `NaN`
//! becomes silence when quantised to 16 bits.
//!
//! * [`OutputFormat::Wav`]: 16-bit PCM WAV. [`encode`] writes exact RIFF and
//!   `data` sizes. [`AudioEncoder`] cannot seek back, so its header uses the
//!   "unknown length" placeholder `0xFFFFFFFF` for both sizes (accepted by
//!   this crate's decoder, ffmpeg, sox and most players).
//! * [`OutputFormat::Pcm16`]: headerless signed 16-bit little-endian.
//! * [`OutputFormat::Mulaw`] / [`OutputFormat::Alaw`]: headerless G.711 bytes
//!   from [`crate::g711::linear_to_mulaw`] / [`crate::g711::linear_to_alaw`].
//! * [`OutputFormat::Mp3`]: CBR MP3 via LAME (see [`crate::mp3`]).
//! * [`OutputFormat::Opus`]: Ogg Opus, 20 ms packets (see [`crate::ogg_opus`]).
//! * [`OutputFormat::Flac`]: 16-bit FLAC, produced whole by `finish` (see `flac`).

use std::fmt;
use std::str::FromStr;

use crate::error::EncodeError;
use crate::flac::FlacBuffer;
use crate::g711;
use crate::mp3::{Mp3Stream, MP3_RATES};
use crate::ogg_opus::OggOpusStream;
use crate::pcm::{f32_to_i16, f32_to_s16le_into};
use crate::resample::StreamingResampler;

/// Output container/codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutputFormat {
    /// 16-bit PCM mono WAV.
    Wav,
    /// Headerless signed 16-bit little-endian PCM ("linear16").
    Pcm16,
    /// Headerless G.711 μ-law.
    Mulaw,
    /// Headerless G.711 A-law.
    Alaw,
    /// MPEG-1/2/2.5 Layer III.
    Mp3,
    /// Opus in Ogg (RFC 7845), at 8, 12, 16, 24 or 48 kHz.
    Opus,
    /// FLAC, 16-bit.
    Flac,
}

impl OutputFormat {
    /// All formats, for iteration.
    pub const ALL: [OutputFormat; 7] = [
        Self::Wav,
        Self::Pcm16,
        Self::Mulaw,
        Self::Alaw,
        Self::Mp3,
        Self::Opus,
        Self::Flac,
    ];

    /// MIME type for audio in this format at `rate` Hz.
    ///
    /// `audio/basic` and `audio/x-alaw-basic` denote 8 kHz mono; at other
    /// rates the RTP names `audio/PCMU;rate=N` / `audio/PCMA;rate=N` are used.
    /// `audio/L16;rate=N` is returned for [`Pcm16`](Self::Pcm16) even though
    /// RFC 2586 defines L16 as big-endian: this crate's linear16 is
    /// little-endian, as in most speech APIs.
    pub fn mime_type(self, rate: u32) -> String {
        match self {
            Self::Wav => "audio/wav".into(),
            Self::Pcm16 => format!("audio/L16;rate={rate}"),
            Self::Mulaw if rate == 8_000 => "audio/basic".into(),
            Self::Mulaw => format!("audio/PCMU;rate={rate}"),
            Self::Alaw if rate == 8_000 => "audio/x-alaw-basic".into(),
            Self::Alaw => format!("audio/PCMA;rate={rate}"),
            Self::Mp3 => "audio/mpeg".into(),
            Self::Opus => "audio/ogg; codecs=opus".into(),
            Self::Flac => "audio/flac".into(),
        }
    }

    /// Conventional file extension (without the dot).
    pub fn extension(self) -> &'static str {
        match self {
            Self::Wav => "wav",
            Self::Pcm16 => "pcm",
            Self::Mulaw => "ulaw",
            Self::Alaw => "alaw",
            Self::Mp3 => "mp3",
            Self::Opus => "opus",
            Self::Flac => "flac",
        }
    }

    /// Canonical lower-case name, accepted by [`FromStr`].
    pub fn name(self) -> &'static str {
        match self {
            Self::Wav => "wav",
            Self::Pcm16 => "pcm16",
            Self::Mulaw => "mulaw",
            Self::Alaw => "alaw",
            Self::Mp3 => "mp3",
            Self::Opus => "opus",
            Self::Flac => "flac",
        }
    }

    /// Whether output at `rate` Hz is possible (MP3 only allows its nine
    /// rates, Opus its five).
    pub fn supports_rate(self, rate: u32) -> bool {
        let resamplable = (crate::resample::MIN_RATE..=crate::resample::MAX_RATE).contains(&rate);
        match self {
            Self::Mp3 => MP3_RATES.contains(&rate),
            Self::Opus => crate::opus::OPUS_RATES.contains(&rate),
            _ => resamplable,
        }
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Error returned when parsing an unknown [`OutputFormat`] name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown output format {name:?} (expected wav, pcm16, mulaw, alaw, mp3, opus or flac)")]
pub struct UnknownFormat {
    /// The rejected name.
    pub name: String,
}

impl FromStr for OutputFormat {
    type Err = UnknownFormat;

    /// Parses case-insensitively; aliases: `linear16`/`l16`/`pcm`/`s16le`,
    /// `ulaw`/`pcmu`/`g711u`, `pcma`/`g711a`, `wave`, `mpeg`, `ogg_opus`/`ogg-opus`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "wav" | "wave" => Ok(Self::Wav),
            "pcm16" | "linear16" | "l16" | "pcm" | "s16le" => Ok(Self::Pcm16),
            "mulaw" | "ulaw" | "pcmu" | "g711u" => Ok(Self::Mulaw),
            "alaw" | "pcma" | "g711a" => Ok(Self::Alaw),
            "mp3" | "mpeg" => Ok(Self::Mp3),
            "opus" | "ogg_opus" | "ogg-opus" => Ok(Self::Opus),
            "flac" => Ok(Self::Flac),
            _ => Err(UnknownFormat { name: s.into() }),
        }
    }
}

/// Builds a 44-byte header for 16-bit mono PCM WAV. `data_len = None` writes
/// the streaming placeholder `0xFFFFFFFF` for both size fields.
fn wav_header(rate: u32, data_len: Option<u32>) -> Vec<u8> {
    let (riff_len, data_len) = match data_len {
        Some(len) => (len.saturating_add(36), len),
        None => (u32::MAX, u32::MAX),
    };
    let mut h = Vec::with_capacity(44);
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&riff_len.to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes()); // PCM
    h.extend_from_slice(&1u16.to_le_bytes()); // mono
    h.extend_from_slice(&rate.to_le_bytes());
    h.extend_from_slice(&rate.saturating_mul(2).to_le_bytes()); // byte rate
    h.extend_from_slice(&2u16.to_le_bytes()); // block align
    h.extend_from_slice(&16u16.to_le_bytes()); // bits
    h.extend_from_slice(b"data");
    h.extend_from_slice(&data_len.to_le_bytes());
    h
}

/// Streaming encoder: push mono `f32` chunks, get encoded bytes back.
///
/// Concatenating the outputs of every [`push`](Self::push) and of
/// [`finish`](Self::finish) gives a complete stream. For WAV the first bytes
/// returned are the header (see the module docs). Output lags input by the
/// resampler's delay (and, for MP3, LAME's frame buffering); `finish` drains
/// everything.
pub struct AudioEncoder {
    format: OutputFormat,
    resampler: StreamingResampler,
    resampled: Vec<f32>,
    mp3: Option<Mp3Stream>,
    ogg: Option<OggOpusStream>,
    flac: Option<FlacBuffer>,
    header_sent: bool,
}

impl fmt::Debug for AudioEncoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AudioEncoder")
            .field("format", &self.format)
            .field("resampler", &self.resampler)
            .field("header_sent", &self.header_sent)
            .finish()
    }
}

impl AudioEncoder {
    /// Creates an encoder taking `in_rate` Hz input and producing `format` at `out_rate` Hz.
    pub fn new(format: OutputFormat, in_rate: u32, out_rate: u32) -> Result<Self, EncodeError> {
        let resampler = StreamingResampler::new(in_rate, out_rate)?;
        let mp3 = match format {
            OutputFormat::Mp3 => Some(Mp3Stream::new(out_rate)?),
            _ => None,
        };
        let ogg = match format {
            OutputFormat::Opus => Some(OggOpusStream::new(out_rate)?),
            _ => None,
        };
        let flac = (format == OutputFormat::Flac).then(|| FlacBuffer::new(out_rate));
        Ok(Self {
            format,
            resampler,
            resampled: Vec::new(),
            mp3,
            ogg,
            flac,
            header_sent: false,
        })
    }

    /// The output format.
    pub fn format(&self) -> OutputFormat {
        self.format
    }

    /// Output sample rate in Hz.
    pub fn output_rate(&self) -> u32 {
        self.resampler.output_rate()
    }

    /// MIME type of the produced stream.
    pub fn mime_type(&self) -> String {
        self.format.mime_type(self.output_rate())
    }

    /// Encodes `samples`, returning the bytes that are ready (possibly none).
    pub fn push(&mut self, samples: &[f32]) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::new();
        self.push_into(samples, &mut out)?;
        Ok(out)
    }

    /// Like [`push`](Self::push) but appends to `out`.
    pub fn push_into(&mut self, samples: &[f32], out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.resampled.clear();
        self.resampler.push(samples, &mut self.resampled)?;
        self.emit(out)
    }

    /// Drains the resampler and the codec and returns the final bytes.
    pub fn finish(mut self) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::new();
        self.resampled.clear();
        self.resampler.flush(&mut self.resampled)?;
        self.emit(&mut out)?;
        if let Some(mp3) = self.mp3.as_mut() {
            mp3.finish(&mut out)?;
        }
        if let Some(ogg) = self.ogg.as_mut() {
            ogg.finish(&mut out)?;
        }
        if let Some(flac) = self.flac.as_mut() {
            flac.finish(&mut out)?;
        }
        Ok(out)
    }

    /// Encodes `self.resampled` into `out`.
    fn emit(&mut self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let samples = &self.resampled;
        match self.format {
            OutputFormat::Wav => {
                if !self.header_sent {
                    out.extend_from_slice(&wav_header(self.resampler.output_rate(), None));
                    self.header_sent = true;
                }
                f32_to_s16le_into(samples, out);
            }
            OutputFormat::Pcm16 => f32_to_s16le_into(samples, out),
            OutputFormat::Mulaw => out.extend(
                samples
                    .iter()
                    .map(|&s| g711::linear_to_mulaw(f32_to_i16(s))),
            ),
            OutputFormat::Alaw => {
                out.extend(samples.iter().map(|&s| g711::linear_to_alaw(f32_to_i16(s))))
            }
            OutputFormat::Mp3 => {
                if let Some(mp3) = self.mp3.as_mut() {
                    mp3.encode(samples, out)?;
                }
            }
            OutputFormat::Opus => {
                if let Some(ogg) = self.ogg.as_mut() {
                    ogg.encode(samples, out)?;
                }
            }
            OutputFormat::Flac => {
                if let Some(flac) = self.flac.as_mut() {
                    flac.push(samples);
                }
            }
        }
        Ok(())
    }
}

/// Encodes a whole mono buffer at `in_rate` Hz to `format` at `out_rate` Hz.
///
/// WAV output carries exact sizes (and fails with [`EncodeError::WavTooLarge`]
/// beyond 4 GiB of samples).
pub fn encode(
    samples: &[f32],
    in_rate: u32,
    format: OutputFormat,
    out_rate: u32,
) -> Result<Vec<u8>, EncodeError> {
    if format == OutputFormat::Wav {
        let resampled = crate::resample::resample(samples, in_rate, out_rate)?;
        let bytes = resampled.len() as u64 * 2;
        let data_len = u32::try_from(bytes)
            .ok()
            .filter(|len| *len <= u32::MAX - 36)
            .ok_or(EncodeError::WavTooLarge { bytes })?;
        let mut out = wav_header(out_rate, Some(data_len));
        f32_to_s16le_into(&resampled, &mut out);
        return Ok(out);
    }
    let mut encoder = AudioEncoder::new(format, in_rate, out_rate)?;
    let mut out = Vec::new();
    encoder.push_into(samples, &mut out)?;
    out.extend(encoder.finish()?);
    Ok(out)
}

#[cfg(test)]
#[path = "encode_tests.rs"]
mod tests;
