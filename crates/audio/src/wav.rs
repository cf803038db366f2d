//! WAV (RIFF/WAVE) reading: a small chunk scanner that validates the header
//! against the bytes actually present, then `hound` for PCM/float samples and
//! the G.711 tables for μ-law/A-law (format codes 7 and 6).
//!
//! # Header rules
//!
//! * `fmt ` must precede `data`; chunks after `data` are ignored. The RIFF
//!   size field and the redundant byte-rate field are not trusted.
//! * A `data` length larger than the bytes present is a
//!   [`DecodeError::LyingHeader`] — unless it is one of the placeholders that
//!   streaming writers emit when they cannot seek back to patch the header
//!   ([`UNKNOWN_LENGTH_PLACEHOLDERS`]: `0`, `0xFFFFFFFF`, `0x7FFFFFFF`, and
//!   sox's `0x7FFFF000`). With a placeholder, everything after the `data`
//!   header is audio.
//! * A `data` chunk whose length is not a whole number of frames loses its
//!   trailing partial frame.
//! * Any other chunk before `data` whose length runs past the end of the
//!   input is also a [`DecodeError::LyingHeader`]; input that ends inside the
//!   RIFF header, a chunk header or the `fmt ` chunk (before any audio) is
//!   [`DecodeError::Truncated`].
//! * Supported encodings: integer PCM with 8, 16, 24 or 32-bit containers,
//!   32-bit IEEE float, μ-law and A-law (also inside `WAVE_FORMAT_EXTENSIBLE`).

use std::io::{Cursor, Read};

use crate::decode::{check_source_rate, decode_interleaved_into, RawEncoding};
use crate::error::DecodeError;
use crate::pcm::sanitize;
use crate::sink::{MonoSink, CHUNK_FRAMES};

/// `data` chunk lengths that mean "unknown length, read to the end".
pub const UNKNOWN_LENGTH_PLACEHOLDERS: [u32; 4] = [0, 0xFFFF_FFFF, 0x7FFF_FFFF, 0x7FFF_F000];

const TAG_PCM: u16 = 0x0001;
const TAG_IEEE_FLOAT: u16 = 0x0003;
const TAG_ALAW: u16 = 0x0006;
const TAG_MULAW: u16 = 0x0007;
const TAG_EXTENSIBLE: u16 = 0xFFFE;

/// The parts of the `fmt ` chunk this crate uses.
#[derive(Debug, Clone, Copy)]
struct Format {
    /// Format tag, with `WAVE_FORMAT_EXTENSIBLE` resolved to its sub-format.
    tag: u16,
    channels: u16,
    rate: u32,
    block_align: u16,
    bits: u16,
}

/// Where the audio is and how it is encoded.
#[derive(Debug, Clone, Copy)]
struct Layout {
    format: Format,
    /// Offset of the first audio byte.
    data_start: usize,
    /// Usable audio bytes (whole frames only).
    data_len: usize,
}

/// True if `bytes` starts like a RIFF/WAVE file (or a truncated prefix of one).
pub(crate) fn looks_like_wav(bytes: &[u8]) -> bool {
    let riff = [b"RIFF".as_slice(), b"RIFX", b"RF64"];
    bytes.len() >= 4
        && riff.contains(&&bytes[..4])
        && (bytes.len() < 12 || &bytes[8..12] == b"WAVE")
}

fn u16_at(bytes: &[u8], pos: usize) -> u16 {
    u16::from_le_bytes([bytes[pos], bytes[pos + 1]])
}

fn u32_at(bytes: &[u8], pos: usize) -> u32 {
    u32::from_le_bytes([bytes[pos], bytes[pos + 1], bytes[pos + 2], bytes[pos + 3]])
}

fn parse_format(bytes: &[u8], body: usize, size: usize) -> Result<Format, DecodeError> {
    if size < 16 {
        return Err(DecodeError::Malformed {
            what: format!("fmt chunk is {size} bytes, expected at least 16"),
        });
    }
    if body + 16 > bytes.len() {
        return Err(DecodeError::Truncated { what: "fmt chunk" });
    }
    let mut tag = u16_at(bytes, body);
    if tag == TAG_EXTENSIBLE {
        // WAVEFORMATEXTENSIBLE: the sub-format GUID starts at offset 24 and
        // its first two bytes are the effective format tag.
        if size < 40 || body + 40 > bytes.len() {
            return Err(DecodeError::Truncated {
                what: "WAVE_FORMAT_EXTENSIBLE fmt chunk",
            });
        }
        tag = u16_at(bytes, body + 24);
    }
    Ok(Format {
        tag,
        channels: u16_at(bytes, body + 2),
        rate: u32_at(bytes, body + 4),
        block_align: u16_at(bytes, body + 12),
        bits: u16_at(bytes, body + 14),
    })
}

fn validate(format: &Format) -> Result<(), DecodeError> {
    if format.channels == 0 {
        return Err(DecodeError::ZeroChannels);
    }
    check_source_rate(format.rate)?;
    let unsupported = |what: String| Err(DecodeError::Unsupported { what });
    match format.tag {
        TAG_PCM => {
            if !matches!(format.bits, 8 | 16 | 24 | 32) {
                return unsupported(format!("{}-bit integer PCM WAV", format.bits));
            }
        }
        TAG_IEEE_FLOAT => {
            if format.bits != 32 {
                return unsupported(format!("{}-bit float WAV", format.bits));
            }
        }
        TAG_ALAW | TAG_MULAW => {
            if format.bits != 8 {
                return unsupported(format!("{}-bit G.711 WAV", format.bits));
            }
        }
        other => return unsupported(format!("WAV format tag {other:#06x}")),
    }
    let min_align = u32::from(format.channels) * u32::from(format.bits / 8);
    if u32::from(format.block_align) != min_align {
        return Err(DecodeError::Malformed {
            what: format!(
                "block align {} does not match {} channels of {} bits",
                format.block_align, format.channels, format.bits
            ),
        });
    }
    Ok(())
}

fn parse_layout(bytes: &[u8]) -> Result<Layout, DecodeError> {
    if bytes.len() < 12 {
        return Err(DecodeError::Truncated {
            what: "RIFF header",
        });
    }
    match &bytes[..4] {
        b"RIFF" => {}
        b"RIFX" => {
            return Err(DecodeError::Unsupported {
                what: "big-endian RIFX WAV".into(),
            })
        }
        _ => {
            return Err(DecodeError::Unsupported {
                what: "RF64 WAV".into(),
            })
        }
    }
    let mut pos = 12usize;
    let mut format: Option<Format> = None;
    loop {
        if pos + 8 > bytes.len() {
            return Err(DecodeError::Truncated {
                what: if format.is_none() {
                    "WAV header before the fmt chunk"
                } else {
                    "WAV header before the data chunk"
                },
            });
        }
        let id = &bytes[pos..pos + 4];
        let declared = u32_at(bytes, pos + 4);
        let body = pos + 8;
        let available = bytes.len() - body;
        if id == b"data" {
            let format = format.ok_or_else(|| DecodeError::Malformed {
                what: "data chunk before fmt chunk".into(),
            })?;
            validate(&format)?;
            let len = if declared as usize <= available && declared != 0 {
                declared as usize
            } else if UNKNOWN_LENGTH_PLACEHOLDERS.contains(&declared) {
                available
            } else {
                return Err(DecodeError::LyingHeader {
                    what: "WAV data chunk",
                    declared: u64::from(declared),
                    available: available as u64,
                });
            };
            let align = usize::from(format.block_align);
            return Ok(Layout {
                format,
                data_start: body,
                data_len: len - len % align,
            });
        }
        let size = declared as usize;
        if id == b"fmt " && size > available {
            return Err(DecodeError::Truncated { what: "fmt chunk" });
        }
        if size > available {
            return Err(DecodeError::LyingHeader {
                what: "WAV chunk before the data chunk",
                declared: u64::from(declared),
                available: available as u64,
            });
        }
        if id == b"fmt " {
            format = Some(parse_format(bytes, body, size)?);
        }
        // Chunks are padded to an even length.
        pos = body + size + (size & 1);
    }
}

fn map_hound(err: hound::Error) -> DecodeError {
    match err {
        hound::Error::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            DecodeError::Truncated { what: "WAV data" }
        }
        hound::Error::IoError(e) => DecodeError::Malformed {
            what: e.to_string(),
        },
        hound::Error::FormatError(msg) => DecodeError::Malformed { what: msg.into() },
        hound::Error::UnfinishedSample => DecodeError::Truncated {
            what: "last WAV sample",
        },
        hound::Error::Unsupported => DecodeError::Unsupported {
            what: "WAV encoding".into(),
        },
        other => DecodeError::Malformed {
            what: other.to_string(),
        },
    }
}

/// Decodes PCM/float with hound. Hound reads a canonical 44-byte header
/// built from the validated [`Format`] (so quirks of the original `fmt `
/// chunk — odd sizes, wrong byte rate, placeholder lengths — cannot trip it),
/// chained to the original, uncopied audio bytes.
fn decode_with_hound(
    bytes: &[u8],
    layout: &Layout,
    sink: &mut MonoSink,
) -> Result<(), DecodeError> {
    let f = &layout.format;
    let data_len = u32::try_from(layout.data_len).map_err(|_| DecodeError::Unsupported {
        what: "WAV data chunk longer than 4 GiB".into(),
    })?;
    let tag = if f.tag == TAG_IEEE_FLOAT {
        TAG_IEEE_FLOAT
    } else {
        TAG_PCM
    };
    let mut header = Vec::with_capacity(44);
    header.extend_from_slice(b"RIFF");
    header.extend_from_slice(&data_len.saturating_add(36).to_le_bytes());
    header.extend_from_slice(b"WAVEfmt ");
    header.extend_from_slice(&16u32.to_le_bytes());
    header.extend_from_slice(&tag.to_le_bytes());
    header.extend_from_slice(&f.channels.to_le_bytes());
    header.extend_from_slice(&f.rate.to_le_bytes());
    let byte_rate = u32::from(f.block_align).saturating_mul(f.rate);
    header.extend_from_slice(&byte_rate.to_le_bytes());
    header.extend_from_slice(&f.block_align.to_le_bytes());
    header.extend_from_slice(&f.bits.to_le_bytes());
    header.extend_from_slice(b"data");
    header.extend_from_slice(&data_len.to_le_bytes());
    let data = &bytes[layout.data_start..layout.data_start + layout.data_len];
    let mut reader = hound::WavReader::new(Cursor::new(header).chain(data)).map_err(map_hound)?;

    let spec = reader.spec();
    let channels = usize::from(layout.format.channels);
    let frames = layout.data_len / usize::from(layout.format.block_align);
    let mut mono = Vec::with_capacity(CHUNK_FRAMES.min(frames));
    let inv_channels = 1.0 / channels as f32;
    let mut left = frames;
    while left > 0 {
        let chunk = left.min(CHUNK_FRAMES);
        left -= chunk;
        mono.clear();
        match spec.sample_format {
            hound::SampleFormat::Float => {
                let mut samples = reader.samples::<f32>();
                for _ in 0..chunk {
                    let mut sum = 0.0f32;
                    for _ in 0..channels {
                        let s = samples.next().unwrap_or(Ok(0.0)).map_err(map_hound)?;
                        sum += sanitize(s);
                    }
                    mono.push(sanitize(sum * inv_channels));
                }
            }
            hound::SampleFormat::Int => {
                let scale = 1.0 / (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f64;
                let mut samples = reader.samples::<i32>();
                for _ in 0..chunk {
                    let mut sum = 0i64;
                    for _ in 0..channels {
                        sum += i64::from(samples.next().unwrap_or(Ok(0)).map_err(map_hound)?);
                    }
                    mono.push((sum as f64 * scale / channels as f64) as f32);
                }
            }
        }
        sink.push(&mono)?;
    }
    Ok(())
}

/// Decodes a RIFF/WAVE file into `sink`: the limits are checked from the
/// header before any sample is read, then the audio is converted and
/// resampled [`CHUNK_FRAMES`] frames at a time.
pub(crate) fn decode(bytes: &[u8], sink: &mut MonoSink) -> Result<(), DecodeError> {
    let layout = parse_layout(bytes)?;
    let format = layout.format;
    if layout.data_len == 0 {
        return Err(if bytes.len() > layout.data_start {
            DecodeError::Truncated {
                what: "first audio frame",
            }
        } else {
            DecodeError::Empty
        });
    }
    let frames = layout.data_len / usize::from(format.block_align);
    sink.set_source_rate(format.rate)?;
    sink.admit(frames, usize::from(format.channels))?;
    sink.reserve_for(frames);
    let data = &bytes[layout.data_start..layout.data_start + layout.data_len];
    match format.tag {
        TAG_MULAW => decode_interleaved_into(data, RawEncoding::Mulaw, format.channels, sink),
        TAG_ALAW => decode_interleaved_into(data, RawEncoding::Alaw, format.channels, sink),
        _ => decode_with_hound(bytes, &layout, sink),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode_file;

    /// Builds a WAV by hand: `fmt` fields, optional extra chunks, data length field, payload.
    fn wav(
        tag: u16,
        channels: u16,
        rate: u32,
        bits: u16,
        data_len: u32,
        payload: &[u8],
    ) -> Vec<u8> {
        let align = channels * (bits / 8);
        let mut v = Vec::new();
        v.extend_from_slice(b"RIFF");
        v.extend_from_slice(&(36 + payload.len() as u32).to_le_bytes());
        v.extend_from_slice(b"WAVE");
        v.extend_from_slice(b"fmt ");
        v.extend_from_slice(&16u32.to_le_bytes());
        v.extend_from_slice(&tag.to_le_bytes());
        v.extend_from_slice(&channels.to_le_bytes());
        v.extend_from_slice(&rate.to_le_bytes());
        v.extend_from_slice(&(rate * u32::from(align)).to_le_bytes());
        v.extend_from_slice(&align.to_le_bytes());
        v.extend_from_slice(&bits.to_le_bytes());
        v.extend_from_slice(b"data");
        v.extend_from_slice(&data_len.to_le_bytes());
        v.extend_from_slice(payload);
        v
    }

    fn s16(samples: &[i16]) -> Vec<u8> {
        samples.iter().flat_map(|s| s.to_le_bytes()).collect()
    }

    #[test]
    fn pcm16_mono_and_stereo() {
        let payload = s16(&[16384, -16384, 0, 32767]);
        let out = decode_file(&wav(1, 1, 16_000, 16, 8, &payload), None, 16_000).unwrap();
        assert_eq!(out.samples, vec![0.5, -0.5, 0.0, 32767.0 / 32768.0]);
        let out = decode_file(&wav(1, 2, 16_000, 16, 8, &payload), None, 16_000).unwrap();
        assert_eq!(out.samples, vec![0.0, 32767.0 / 65536.0]);
        assert_eq!(out.source_channels, 2);
    }

    #[test]
    fn pcm8_24_32_and_float() {
        let out = decode_file(&wav(1, 1, 8_000, 8, 3, &[128, 192, 0]), None, 8_000).unwrap();
        assert_eq!(out.samples, vec![0.0, 0.5, -1.0]);
        let p24 = [0x00, 0x00, 0x40, 0x00, 0x00, 0xC0];
        let out = decode_file(&wav(1, 1, 8_000, 24, 6, &p24), None, 8_000).unwrap();
        assert_eq!(out.samples, vec![0.5, -0.5]);
        let p32: Vec<u8> = [i32::MIN, 1 << 30]
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .collect();
        let out = decode_file(&wav(1, 1, 8_000, 32, 8, &p32), None, 8_000).unwrap();
        assert_eq!(out.samples, vec![-1.0, 0.5]);
        let pf: Vec<u8> = [0.25f32, -0.75, f32::NAN, f32::INFINITY]
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .collect();
        let out = decode_file(&wav(3, 1, 8_000, 32, 16, &pf), None, 8_000).unwrap();
        assert_eq!(out.samples, vec![0.25, -0.75, 0.0, 0.0]);
    }

    #[test]
    fn g711_format_codes() {
        let out = decode_file(&wav(7, 1, 8_000, 8, 2, &[0x80, 0x00]), None, 8_000).unwrap();
        assert_eq!(out.samples, vec![32124.0 / 32768.0, -32124.0 / 32768.0]);
        let out = decode_file(&wav(6, 1, 8_000, 8, 2, &[0xAA, 0xD5]), None, 8_000).unwrap();
        assert_eq!(out.samples, vec![32256.0 / 32768.0, 8.0 / 32768.0]);
    }

    #[test]
    fn extensible_format_resolves_subformat() {
        let mut v = Vec::new();
        v.extend_from_slice(b"RIFF\0\0\0\0WAVEfmt ");
        v.extend_from_slice(&40u32.to_le_bytes());
        v.extend_from_slice(&TAG_EXTENSIBLE.to_le_bytes());
        v.extend_from_slice(&1u16.to_le_bytes());
        v.extend_from_slice(&8_000u32.to_le_bytes());
        v.extend_from_slice(&16_000u32.to_le_bytes());
        v.extend_from_slice(&2u16.to_le_bytes());
        v.extend_from_slice(&16u16.to_le_bytes());
        v.extend_from_slice(&22u16.to_le_bytes()); // cbSize
        v.extend_from_slice(&16u16.to_le_bytes()); // valid bits
        v.extend_from_slice(&4u32.to_le_bytes()); // channel mask
        v.extend_from_slice(&[
            1, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xAA, 0, 0x38, 0x9B, 0x71,
        ]);
        v.extend_from_slice(b"data");
        v.extend_from_slice(&4u32.to_le_bytes());
        v.extend_from_slice(&s16(&[8192, -8192]));
        let out = decode_file(&v, None, 8_000).unwrap();
        assert_eq!(out.samples, vec![0.25, -0.25]);
    }

    #[test]
    fn streaming_placeholders_read_to_end() {
        let payload = s16(&[100, 200, 300]);
        for placeholder in UNKNOWN_LENGTH_PLACEHOLDERS {
            let out =
                decode_file(&wav(1, 1, 8_000, 16, placeholder, &payload), None, 8_000).unwrap();
            assert_eq!(out.samples.len(), 3, "placeholder {placeholder:#x}");
        }
        // A trailing odd byte in an unknown-length stream is dropped.
        let mut odd = payload.clone();
        odd.push(9);
        let out = decode_file(&wav(1, 1, 8_000, 16, 0xFFFF_FFFF, &odd), None, 8_000).unwrap();
        assert_eq!(out.samples.len(), 3);
    }

    #[test]
    fn lying_data_length_is_rejected() {
        let payload = s16(&[1, 2, 3]);
        assert_eq!(
            decode_file(&wav(1, 1, 8_000, 16, 1_000, &payload), None, 8_000),
            Err(DecodeError::LyingHeader {
                what: "WAV data chunk",
                declared: 1_000,
                available: 6
            })
        );
        assert!(matches!(
            decode_file(&wav(1, 1, 8_000, 16, 0xFFFF_FFFE, &payload), None, 8_000),
            Err(DecodeError::LyingHeader { .. })
        ));
    }

    #[test]
    fn lying_chunk_before_data_is_rejected() {
        let mut v = b"RIFF\0\0\0\0WAVELIST".to_vec();
        v.extend_from_slice(&500u32.to_le_bytes());
        v.extend_from_slice(&[0; 20]);
        assert!(matches!(
            decode_file(&v, None, 8_000),
            Err(DecodeError::LyingHeader { declared: 500, .. })
        ));
    }

    #[test]
    fn data_length_not_whole_frames_drops_partial_frame() {
        let payload = s16(&[1, 2, 3, 4]);
        let out = decode_file(&wav(1, 2, 8_000, 16, 6, &payload), None, 8_000).unwrap();
        assert_eq!(out.samples.len(), 1);
    }

    #[test]
    fn header_errors() {
        let good = wav(1, 1, 8_000, 16, 4, &s16(&[1, 2]));
        assert_eq!(
            decode_file(&good[..4], None, 8_000),
            Err(DecodeError::Truncated {
                what: "RIFF header"
            })
        );
        assert!(matches!(
            decode_file(&good[..20], None, 8_000),
            Err(DecodeError::Truncated { .. })
        ));
        assert!(matches!(
            decode_file(&good[..40], None, 8_000),
            Err(DecodeError::Truncated { .. })
        ));
        // Header complete but the declared audio is missing: the header lies.
        assert!(matches!(
            decode_file(&good[..45], None, 8_000),
            Err(DecodeError::LyingHeader {
                declared: 4,
                available: 1,
                ..
            })
        ));
        // Unknown-length header with no audio bytes at all.
        let streaming = wav(1, 1, 8_000, 16, 0xFFFF_FFFF, &[]);
        assert_eq!(
            decode_file(&streaming, None, 8_000),
            Err(DecodeError::Empty)
        );
        // Unknown-length header with one byte of a two-byte frame.
        let one_byte = wav(1, 1, 8_000, 16, 0, &[7]);
        assert_eq!(
            decode_file(&one_byte, None, 8_000),
            Err(DecodeError::Truncated {
                what: "first audio frame"
            })
        );
        assert_eq!(
            decode_file(&wav(1, 0, 8_000, 16, 4, &[0; 4]), None, 8_000),
            Err(DecodeError::ZeroChannels)
        );
        assert_eq!(
            decode_file(&wav(1, 1, 0, 16, 4, &[0; 4]), None, 8_000),
            Err(DecodeError::ZeroSampleRate)
        );
        assert!(matches!(
            decode_file(&wav(2, 1, 8_000, 16, 4, &[0; 4]), None, 8_000),
            Err(DecodeError::Unsupported { .. })
        ));
        assert!(matches!(
            decode_file(&wav(1, 1, 8_000, 12, 4, &[0; 4]), None, 8_000),
            Err(DecodeError::Unsupported { .. })
        ));
        assert!(matches!(
            decode_file(&wav(3, 1, 8_000, 64, 8, &[0; 8]), None, 8_000),
            Err(DecodeError::Unsupported { .. })
        ));
        let mut bad_align = wav(1, 2, 8_000, 16, 4, &[0; 4]);
        bad_align[32] = 3;
        assert!(matches!(
            decode_file(&bad_align, None, 8_000),
            Err(DecodeError::Malformed { .. })
        ));
        let mut rifx = good.clone();
        rifx[3] = b'X';
        assert!(matches!(
            decode_file(&rifx, None, 8_000),
            Err(DecodeError::Unsupported { .. })
        ));
        let mut short_fmt = good.clone();
        short_fmt[16] = 12;
        assert!(matches!(
            decode_file(&short_fmt, None, 8_000),
            Err(DecodeError::Malformed { .. })
        ));
        let data_first = b"RIFF\0\0\0\0WAVEdata\x02\0\0\0\0\0".to_vec();
        assert!(matches!(
            decode_file(&data_first, None, 8_000),
            Err(DecodeError::Malformed { .. })
        ));
    }

    #[test]
    fn wrong_byte_rate_is_tolerated() {
        let mut v = wav(1, 1, 8_000, 16, 4, &s16(&[1, 2]));
        v[28..32].copy_from_slice(&12345u32.to_le_bytes());
        assert_eq!(decode_file(&v, None, 8_000).unwrap().samples.len(), 2);
    }

    #[test]
    fn too_long_detected_from_header() {
        let v = wav(1, 1, 8_000, 16, 0xFFFF_FFFF, &vec![0; 16_002]);
        let limits = crate::DecodeLimits::with_max_duration_s(1.0);
        assert!(matches!(
            crate::decode::decode_file_with_limits(&v, None, 8_000, &limits),
            Err(DecodeError::TooLong { .. })
        ));
    }

    #[test]
    fn odd_sized_chunk_is_padded() {
        let mut v = b"RIFF\0\0\0\0WAVEjunk\x03\0\0\0abc\0".to_vec();
        v.extend_from_slice(&wav(1, 1, 8_000, 16, 2, &s16(&[5]))[12..]);
        assert_eq!(decode_file(&v, None, 8_000).unwrap().samples.len(), 1);
    }
}
