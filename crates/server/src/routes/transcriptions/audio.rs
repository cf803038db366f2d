//! Uploaded audio for the REST transcription endpoints: what a declared
//! media type means ([`AudioFormat::from_mime`]), and decoding to 16 kHz
//! mono `f32` off the async runtime ([`decode`]), optionally one track per
//! channel (Deepgram's `multichannel=true`).
//!
//! At most `max_concurrent_decodes` files decode at once (a semaphore in
//! [`AppState`](crate::server::AppState)); a request that finds every slot
//! taken for [`DECODE_SLOT_WAIT`] is refused `503 busy`. Within a decode,
//! `vocalis-audio`'s `DecodeLimits` bound the work and memory.
//!
//! `vocalis-audio` always mixes channels down, so per-channel decoding
//! splits the input first: WAV files are rewritten as one mono WAV per
//! channel (same sample format, so `vocalis-audio` still does all the
//! validation) and raw audio is de-interleaved. Compressed files (MP3,
//! FLAC, Ogg Vorbis/Opus, WebM Opus, MP4/M4A AAC) are mixed, and the caller
//! is told so.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use tokio::sync::Semaphore;
use vocalis_audio::{
    decode_file_with_limits, decode_raw_with_limits, DecodeError, DecodeLimits, RawEncoding,
};

use crate::error::ApiError;

/// Sample rate of every decoded track.
pub(crate) const STT_RATE: u32 = 16_000;

/// Most channels transcribed separately (the limit every route shares).
pub(crate) const MAX_CHANNELS: usize = crate::wire::deepgram::MAX_CHANNELS as usize;

/// How long a decode waits for a free slot before the request is refused
/// as busy.
pub(crate) const DECODE_SLOT_WAIT: Duration = Duration::from_secs(2);

/// The accepted types, for error messages.
pub(crate) const SUPPORTED: &str = "WAV, MP3, FLAC, Ogg (Vorbis, Opus), WebM (Opus) or \
     MP4/M4A (AAC) files, or raw audio/mulaw;rate=8000, \
     audio/alaw;rate=8000 or audio/L16;rate=16000 (16-bit little-endian)";

/// How the uploaded bytes are to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AudioFormat {
    /// A container recognised from its content; the hint (an extension)
    /// only helps the probe.
    Container(Option<&'static str>),
    /// Headerless samples.
    Raw {
        /// Sample encoding.
        encoding: RawEncoding,
        /// Sample rate, Hz.
        rate: u32,
        /// Interleaved channels.
        channels: u16,
    },
}

fn unsupported(mime: &str) -> ApiError {
    ApiError::UnsupportedMediaType(format!("unsupported media type `{mime}`; send {SUPPORTED}"))
}

/// Checks a raw stream's rate and channel count.
pub(crate) fn raw(
    encoding: RawEncoding,
    rate: u32,
    channels: u16,
) -> Result<AudioFormat, ApiError> {
    if !(8_000..=48_000).contains(&rate) {
        return Err(ApiError::InvalidPayload(format!(
            "sample rate {rate} Hz is not supported for raw audio (8000 to 48000 Hz)"
        )));
    }
    if channels == 0 || usize::from(channels) > MAX_CHANNELS {
        return Err(ApiError::InvalidPayload(format!(
            "{channels} channels are not supported (1 to {MAX_CHANNELS})"
        )));
    }
    Ok(AudioFormat::Raw {
        encoding,
        rate,
        channels,
    })
}

impl AudioFormat {
    /// What a media type (`audio/wav`, `audio/mulaw;rate=8000`,
    /// `application/octet-stream`…) means. `None` or an unknown `audio/*`
    /// subtype is probed from the content; other types are refused (415).
    pub(crate) fn from_mime(mime: Option<&str>) -> Result<Self, ApiError> {
        let Some(mime) = mime.map(str::trim).filter(|m| !m.is_empty()) else {
            return Ok(Self::Container(None));
        };
        let mut parts = mime.split(';');
        let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let mut rate = None;
        let mut channels = None;
        for param in parts {
            let Some((key, value)) = param.split_once('=') else {
                continue;
            };
            let value = value.trim().trim_matches('"');
            match key.trim().to_ascii_lowercase().as_str() {
                "rate" | "sample_rate" | "samplerate" => {
                    rate = Some(value.parse::<u32>().map_err(|_| {
                        ApiError::InvalidPayload(format!(
                            "`rate={value}` in `{mime}` is not a number"
                        ))
                    })?)
                }
                "channels" => {
                    channels = Some(value.parse::<u16>().map_err(|_| {
                        ApiError::InvalidPayload(format!(
                            "`channels={value}` in `{mime}` is not a number"
                        ))
                    })?)
                }
                _ => {}
            }
        }
        let channels = channels.unwrap_or(1);
        Ok(match essence.as_str() {
            "audio/wav" | "audio/x-wav" | "audio/wave" | "audio/vnd.wave" | "audio/vnd.wav" => {
                Self::Container(Some("wav"))
            }
            "audio/mpeg" | "audio/mp3" | "audio/mpeg3" | "audio/x-mpeg-3" | "audio/mpga"
            | "audio/x-mp3" => Self::Container(Some("mp3")),
            "audio/flac" | "audio/x-flac" => Self::Container(Some("flac")),
            "audio/ogg" | "application/ogg" | "audio/vorbis" | "audio/x-ogg" | "audio/opus" => {
                Self::Container(Some("ogg"))
            }
            "application/octet-stream" | "audio/*" | "*/*" | "binary/octet-stream" => {
                Self::Container(None)
            }
            // Browser recordings are often labelled as video.
            "video/webm" | "video/mp4" | "video/x-matroska" | "video/quicktime" => {
                Self::Container(None)
            }
            "audio/mulaw" | "audio/x-mulaw" | "audio/basic" | "audio/pcmu" | "audio/ulaw"
            | "audio/x-ulaw" | "audio/g711-mulaw" => {
                raw(RawEncoding::Mulaw, rate.unwrap_or(8_000), channels)?
            }
            "audio/alaw" | "audio/x-alaw" | "audio/pcma" | "audio/x-alaw-basic"
            | "audio/g711-alaw" => raw(RawEncoding::Alaw, rate.unwrap_or(8_000), channels)?,
            "audio/l16" | "audio/pcm" | "audio/x-pcm" | "audio/linear16" | "audio/raw"
            | "audio/s16le" => raw(RawEncoding::Linear16, rate.unwrap_or(16_000), channels)?,
            other if other.starts_with("audio/") => Self::Container(None),
            _ => return Err(unsupported(mime)),
        })
    }

    /// A file name's extension as a probe hint.
    pub(crate) fn hint_from_file_name(name: &str) -> Option<&'static str> {
        let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
        Some(match ext.as_str() {
            "wav" | "wave" => "wav",
            "mp3" | "mpga" | "mpeg" => "mp3",
            "flac" => "flac",
            "ogg" | "oga" | "opus" => "ogg",
            _ => return None,
        })
    }
}

/// Decoded audio: one 16 kHz track per channel transcribed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DecodedUpload {
    /// One track (mixed), or one per source channel.
    pub tracks: Vec<Vec<f32>>,
    /// Source duration, seconds.
    pub duration_s: f64,
    /// Channels of the source.
    pub source_channels: u16,
}

/// Maps a decoding failure to the client's error.
pub(crate) fn decode_error(error: DecodeError) -> ApiError {
    match error {
        DecodeError::Unsupported { what } => ApiError::UnsupportedMediaType(format!(
            "cannot decode the audio ({what}); send {SUPPORTED}"
        )),
        DecodeError::TooLong { max_s, .. } => {
            ApiError::PayloadTooLarge(format!("the audio is longer than the {max_s} s limit"))
        }
        DecodeError::Empty => ApiError::InvalidPayload("the audio contains no samples".into()),
        DecodeError::Resample(e) => ApiError::Internal(format!("resampling failed: {e}")),
        other => ApiError::InvalidPayload(format!("the audio cannot be decoded: {other}")),
    }
}

/// Decodes on the blocking pool once one of `slots` is free (waiting at
/// most [`DECODE_SLOT_WAIT`], then [`ApiError::Busy`]). The slot is held
/// until the blocking decode ends, even if the client goes away. With
/// `per_channel`, WAV and raw audio give one track per channel; everything
/// else gives one mixed track.
pub(crate) async fn decode(
    slots: &Arc<Semaphore>,
    bytes: Bytes,
    format: AudioFormat,
    max_audio_seconds: f64,
    per_channel: bool,
) -> Result<DecodedUpload, ApiError> {
    let slot = match tokio::time::timeout(DECODE_SLOT_WAIT, slots.clone().acquire_owned()).await {
        Ok(Ok(slot)) => slot,
        Ok(Err(closed)) => return Err(ApiError::Internal(format!("decode slots: {closed}"))),
        Err(_) => {
            return Err(ApiError::Busy(
                "every audio decoder is busy; retry in a few seconds".into(),
            ))
        }
    };
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        decode_blocking(&bytes, format, max_audio_seconds, per_channel)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("decode task failed: {e}")))?
}

fn decode_blocking(
    bytes: &[u8],
    format: AudioFormat,
    max_audio_seconds: f64,
    per_channel: bool,
) -> Result<DecodedUpload, ApiError> {
    let limits = DecodeLimits::with_max_duration_s(max_audio_seconds);
    match format {
        AudioFormat::Container(hint) => {
            if per_channel {
                if let Some(channels) = split_wav_channels(bytes)? {
                    let mut tracks = Vec::with_capacity(channels.len());
                    let mut duration_s = 0.0;
                    for wav in &channels {
                        let audio = decode_file_with_limits(wav, Some("wav"), STT_RATE, &limits)
                            .map_err(decode_error)?;
                        duration_s = audio.duration_s;
                        tracks.push(audio.samples);
                    }
                    return Ok(DecodedUpload {
                        source_channels: tracks.len() as u16,
                        tracks,
                        duration_s,
                    });
                }
            }
            let audio =
                decode_file_with_limits(bytes, hint, STT_RATE, &limits).map_err(decode_error)?;
            Ok(DecodedUpload {
                tracks: vec![audio.samples],
                duration_s: audio.duration_s,
                source_channels: audio.source_channels,
            })
        }
        AudioFormat::Raw {
            encoding,
            rate,
            channels,
        } => {
            if per_channel && channels > 1 {
                let mut tracks = Vec::with_capacity(usize::from(channels));
                let mut duration_s = 0.0;
                for channel in deinterleave(bytes, encoding.bytes_per_sample(), channels) {
                    let audio =
                        decode_raw_with_limits(&channel, encoding, rate, 1, STT_RATE, &limits)
                            .map_err(decode_error)?;
                    duration_s = audio.duration_s;
                    tracks.push(audio.samples);
                }
                return Ok(DecodedUpload {
                    tracks,
                    duration_s,
                    source_channels: channels,
                });
            }
            let audio = decode_raw_with_limits(bytes, encoding, rate, channels, STT_RATE, &limits)
                .map_err(decode_error)?;
            Ok(DecodedUpload {
                tracks: vec![audio.samples],
                duration_s: audio.duration_s,
                source_channels: channels,
            })
        }
    }
}

/// Splits interleaved frames of `sample_bytes`-byte samples into one byte
/// buffer per channel (a trailing partial frame is dropped).
fn deinterleave(bytes: &[u8], sample_bytes: usize, channels: u16) -> Vec<Vec<u8>> {
    let channels = usize::from(channels.max(1));
    let frame = sample_bytes * channels;
    let frames = bytes.len() / frame;
    let mut out = vec![Vec::with_capacity(frames * sample_bytes); channels];
    for chunk in bytes.chunks_exact(frame) {
        for (c, track) in out.iter_mut().enumerate() {
            track.extend_from_slice(&chunk[c * sample_bytes..(c + 1) * sample_bytes]);
        }
    }
    out
}

const WAVE_FORMAT_EXTENSIBLE: u16 = 0xFFFE;

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// Rewrites a multi-channel WAV as one mono WAV per channel. `Ok(None)`
/// when the input is not a WAV or has one channel; malformed headers are
/// left to `vocalis-audio` (also `None`), which reports them precisely.
fn split_wav_channels(bytes: &[u8]) -> Result<Option<Vec<Vec<u8>>>, ApiError> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Ok(None);
    }
    let mut at = 12;
    let mut fmt: Option<(u16, u16, u32, u16, u16)> = None;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let Some(len) = u32_at(bytes, at + 4) else {
            return Ok(None);
        };
        let body = at + 8;
        if id == b"fmt " {
            let (Some(mut tag), Some(channels), Some(rate), Some(align), Some(bits)) = (
                u16_at(bytes, body),
                u16_at(bytes, body + 2),
                u32_at(bytes, body + 4),
                u16_at(bytes, body + 12),
                u16_at(bytes, body + 14),
            ) else {
                return Ok(None);
            };
            if tag == WAVE_FORMAT_EXTENSIBLE {
                // The sub-format GUID starts with the real format tag.
                let Some(sub) = u16_at(bytes, body + 24) else {
                    return Ok(None);
                };
                tag = sub;
            }
            fmt = Some((tag, channels, rate, align, bits));
        } else if id == b"data" {
            let Some((tag, channels, rate, align, bits)) = fmt else {
                return Ok(None);
            };
            if channels <= 1 || align == 0 || align % channels != 0 {
                return Ok(None);
            }
            if usize::from(channels) > MAX_CHANNELS {
                return Err(ApiError::InvalidPayload(format!(
                    "{channels} channels are not supported with multichannel=true (at most {MAX_CHANNELS})"
                )));
            }
            let available = bytes.len() - body;
            let data_len = (len as usize).min(available);
            let data = &bytes[body..body + data_len];
            let sample_bytes = usize::from(align / channels);
            let tracks = deinterleave(data, sample_bytes, channels)
                .into_iter()
                .map(|track| mono_wav(tag, rate, align / channels, bits, &track))
                .collect();
            return Ok(Some(tracks));
        }
        let padded = len as usize + (len as usize & 1);
        at = body.saturating_add(padded);
    }
    Ok(None)
}

/// A mono WAV with the given format tag and sample layout.
fn mono_wav(tag: u16, rate: u32, align: u16, bits: u16, data: &[u8]) -> Vec<u8> {
    let extra: u32 = if tag == 1 { 0 } else { 2 };
    let fmt_len = 16 + extra;
    let mut out = Vec::with_capacity(data.len() + 46);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(4 + 8 + fmt_len + 8 + data.len() as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&fmt_len.to_le_bytes());
    out.extend_from_slice(&tag.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * u32::from(align)).to_le_bytes());
    out.extend_from_slice(&align.to_le_bytes());
    out.extend_from_slice(&bits.to_le_bytes());
    if extra > 0 {
        out.extend_from_slice(&0u16.to_le_bytes());
    }
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 16-bit PCM WAV of `channels` interleaved channels.
    fn wav(channels: u16, rate: u32, frames: &[Vec<i16>]) -> Vec<u8> {
        let mut data = Vec::new();
        for frame in frames {
            for s in frame {
                data.extend_from_slice(&s.to_le_bytes());
            }
        }
        let mut out = Vec::new();
        out.extend_from_slice(b"RIFF");
        out.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
        out.extend_from_slice(b"WAVEfmt ");
        out.extend_from_slice(&16u32.to_le_bytes());
        out.extend_from_slice(&1u16.to_le_bytes());
        out.extend_from_slice(&channels.to_le_bytes());
        out.extend_from_slice(&rate.to_le_bytes());
        out.extend_from_slice(&(rate * 2 * u32::from(channels)).to_le_bytes());
        out.extend_from_slice(&(2 * channels).to_le_bytes());
        out.extend_from_slice(&16u16.to_le_bytes());
        out.extend_from_slice(b"data");
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&data);
        out
    }

    #[test]
    fn media_types_map_to_formats() {
        use AudioFormat::*;
        assert_eq!(AudioFormat::from_mime(None).unwrap(), Container(None));
        assert_eq!(
            AudioFormat::from_mime(Some("audio/x-wav")).unwrap(),
            Container(Some("wav"))
        );
        assert_eq!(
            AudioFormat::from_mime(Some("audio/mulaw;rate=8000")).unwrap(),
            Raw {
                encoding: RawEncoding::Mulaw,
                rate: 8000,
                channels: 1
            }
        );
        assert_eq!(
            AudioFormat::from_mime(Some("audio/L16; rate=16000; channels=2")).unwrap(),
            Raw {
                encoding: RawEncoding::Linear16,
                rate: 16000,
                channels: 2
            }
        );
        assert_eq!(
            AudioFormat::from_mime(Some("audio/webm")).unwrap(),
            Container(None)
        );
        for refused in ["image/png", "text/plain", "application/pdf"] {
            assert!(matches!(
                AudioFormat::from_mime(Some(refused)),
                Err(ApiError::UnsupportedMediaType(_))
            ));
        }
        assert!(matches!(
            AudioFormat::from_mime(Some("audio/L16;rate=4000")),
            Err(ApiError::InvalidPayload(_))
        ));
        assert_eq!(AudioFormat::hint_from_file_name("clip.MP3"), Some("mp3"));
        assert_eq!(AudioFormat::hint_from_file_name("clip"), None);
    }

    #[test]
    fn stereo_wav_splits_into_channels() {
        // Left: a loud square wave; right: silence.
        let frames: Vec<Vec<i16>> = (0..16_000)
            .map(|i| vec![if i % 40 < 20 { 16_000 } else { -16_000 }, 0])
            .collect();
        let bytes = wav(2, 16_000, &frames);
        let decoded = decode_blocking(&bytes, AudioFormat::Container(None), 60.0, true).unwrap();
        assert_eq!(decoded.tracks.len(), 2);
        assert_eq!(decoded.source_channels, 2);
        assert!((decoded.duration_s - 1.0).abs() < 1e-6);
        let energy = |t: &[f32]| t.iter().map(|s| s * s).sum::<f32>();
        assert!(energy(&decoded.tracks[0]) > 1000.0);
        assert_eq!(energy(&decoded.tracks[1]), 0.0);
        let mixed = decode_blocking(&bytes, AudioFormat::Container(None), 60.0, false).unwrap();
        assert_eq!(mixed.tracks.len(), 1);
        assert_eq!(mixed.source_channels, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn decodes_wait_for_a_slot_then_are_busy() {
        let wav = wav(1, 16_000, &vec![vec![0i16]; 1_600]);
        let slots = Arc::new(Semaphore::new(1));
        let taken = slots.clone().acquire_owned().await.unwrap();
        let format = AudioFormat::Container(None);
        let refused = decode(&slots, Bytes::from(wav.clone()), format, 60.0, false)
            .await
            .unwrap_err();
        assert!(matches!(refused, ApiError::Busy(_)), "{refused:?}");
        // A slot freed while waiting is taken, and given back afterwards.
        let waiting = decode(&slots, Bytes::from(wav), format, 60.0, false);
        let release = async {
            tokio::time::sleep(DECODE_SLOT_WAIT / 2).await;
            drop(taken);
        };
        let (decoded, ()) = tokio::join!(waiting, release);
        assert_eq!(decoded.unwrap().tracks[0].len(), 1_600);
        assert_eq!(slots.available_permits(), 1);
    }

    #[test]
    fn raw_audio_splits_and_limits_apply() {
        let bytes: Vec<u8> = (0..8_000).flat_map(|_| [0xFFu8, 0x00]).collect();
        let format = raw(RawEncoding::Mulaw, 8_000, 2).unwrap();
        let decoded = decode_blocking(&bytes, format, 60.0, true).unwrap();
        assert_eq!(decoded.tracks.len(), 2);
        assert_eq!(decoded.tracks[0].len(), 16_000);
        let too_long = decode_blocking(&bytes, format, 0.5, true).unwrap_err();
        assert!(matches!(too_long, ApiError::PayloadTooLarge(_)));
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";
        let refused = decode_blocking(png, AudioFormat::Container(None), 60.0, false).unwrap_err();
        assert!(
            matches!(refused, ApiError::UnsupportedMediaType(_)),
            "{refused:?}"
        );
    }
}
