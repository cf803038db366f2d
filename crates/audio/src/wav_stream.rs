//! The header of a WAV file that arrives in pieces (a live stream that
//! starts with a RIFF header, as browsers and SDKs send "containerized"
//! audio): find the format and where the samples start, without waiting for
//! the whole file. Streaming writers put placeholder sizes in the header, so
//! sizes are not checked.

use crate::error::DecodeError;

/// The sample format announced by a streamed WAV header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamSampleFormat {
    /// 16-bit signed little-endian PCM.
    Pcm16,
    /// G.711 μ-law.
    Mulaw,
    /// G.711 A-law.
    Alaw,
}

/// What a streamed WAV header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamHeader {
    /// Sample format.
    pub format: StreamSampleFormat,
    /// Sample rate, Hz.
    pub sample_rate: u32,
    /// Interleaved channels.
    pub channels: u16,
    /// Byte offset of the first sample in the stream.
    pub data_offset: usize,
}

/// Longest header this parser waits for before giving up.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// Parses the header at the start of `bytes`. `Ok(None)`: not enough bytes
/// yet (call again with more). Errors: not a RIFF/WAVE stream, an encoding
/// other than 16-bit PCM or G.711, zero channels or rate, or no `data` chunk
/// within [`MAX_HEADER_BYTES`].
pub fn parse_stream_header(bytes: &[u8]) -> Result<Option<StreamHeader>, DecodeError> {
    if bytes.len() < 12 {
        if !b"RIFF".starts_with(&bytes[..bytes.len().min(4)]) {
            return Err(DecodeError::Unsupported {
                what: "a stream that is not WAV (RIFF)".into(),
            });
        }
        return Ok(None);
    }
    if &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(DecodeError::Unsupported {
            what: "a stream that is not WAV (RIFF/WAVE)".into(),
        });
    }
    let mut at = 12;
    let mut format: Option<(StreamSampleFormat, u32, u16)> = None;
    loop {
        let (Some(id), Some(size)) = (bytes.get(at..at + 4), u32_at(bytes, at + 4)) else {
            return if bytes.len() > MAX_HEADER_BYTES {
                Err(DecodeError::Unsupported {
                    what: "a WAV header longer than 64 KiB".into(),
                })
            } else {
                Ok(None)
            };
        };
        let body = at + 8;
        if id == b"data" {
            let Some((format, sample_rate, channels)) = format else {
                return Err(DecodeError::Unsupported {
                    what: "a WAV stream without a fmt chunk before its data".into(),
                });
            };
            return Ok(Some(StreamHeader {
                format,
                sample_rate,
                channels,
                data_offset: body,
            }));
        }
        if id == b"fmt " {
            let (Some(mut tag), Some(channels), Some(rate), Some(bits)) = (
                u16_at(bytes, body),
                u16_at(bytes, body + 2),
                u32_at(bytes, body + 4),
                u16_at(bytes, body + 14),
            ) else {
                return Ok(None);
            };
            if tag == 0xFFFE {
                // WAVE_FORMAT_EXTENSIBLE: the real tag leads the sub-format GUID.
                match u16_at(bytes, body + 24) {
                    Some(sub) => tag = sub,
                    None => return Ok(None),
                }
            }
            if channels == 0 {
                return Err(DecodeError::ZeroChannels);
            }
            if rate == 0 {
                return Err(DecodeError::ZeroSampleRate);
            }
            let sample_format = match (tag, bits) {
                (1, 16) => StreamSampleFormat::Pcm16,
                (7, 8) => StreamSampleFormat::Mulaw,
                (6, 8) => StreamSampleFormat::Alaw,
                _ => {
                    return Err(DecodeError::Unsupported {
                        what: format!("live WAV with format tag {tag} and {bits} bits; stream 16-bit PCM, μ-law or A-law"),
                    })
                }
            };
            format = Some((sample_format, rate, channels));
        }
        // Chunks are padded to an even size.
        at = body
            .saturating_add(size as usize)
            .saturating_add(size as usize & 1);
        if at > MAX_HEADER_BYTES {
            return Err(DecodeError::Unsupported {
                what: "a WAV header longer than 64 KiB".into(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(tag: u16, bits: u16, data_size: u32) -> Vec<u8> {
        let mut h = Vec::new();
        h.extend_from_slice(b"RIFF");
        h.extend_from_slice(&u32::MAX.to_le_bytes());
        h.extend_from_slice(b"WAVEfmt ");
        h.extend_from_slice(&16u32.to_le_bytes());
        h.extend_from_slice(&tag.to_le_bytes());
        h.extend_from_slice(&1u16.to_le_bytes());
        h.extend_from_slice(&8000u32.to_le_bytes());
        h.extend_from_slice(&16000u32.to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&bits.to_le_bytes());
        h.extend_from_slice(b"LIST");
        h.extend_from_slice(&3u32.to_le_bytes());
        h.extend_from_slice(b"abc\0");
        h.extend_from_slice(b"data");
        h.extend_from_slice(&data_size.to_le_bytes());
        h
    }

    #[test]
    fn finds_the_data_offset_across_extra_chunks() {
        let h = header(1, 16, u32::MAX);
        let parsed = parse_stream_header(&h).unwrap().unwrap();
        assert_eq!(parsed.format, StreamSampleFormat::Pcm16);
        assert_eq!(parsed.sample_rate, 8000);
        assert_eq!(parsed.data_offset, h.len());
    }

    #[test]
    fn partial_headers_ask_for_more_and_never_panic() {
        let h = header(7, 8, 0);
        for end in 0..h.len() {
            assert_eq!(
                parse_stream_header(&h[..end]).unwrap(),
                None,
                "prefix {end}"
            );
        }
        assert_eq!(
            parse_stream_header(&h).unwrap().unwrap().format,
            StreamSampleFormat::Mulaw
        );
    }

    #[test]
    fn rejects_other_containers_and_encodings() {
        assert!(parse_stream_header(b"OggS\0\0\0\0\0\0\0\0").is_err());
        assert!(parse_stream_header(b"\x1aE\xdf\xa3").is_err());
        assert!(parse_stream_header(&header(3, 32, 0)).is_err());
    }
}
