//! Opus through libopus (the `opus` crate): the `OpusHead` identification
//! header that Ogg and WebM both carry (RFC 7845 §5.1), a packet decoder
//! that honours its pre-skip and output gain, and the packet encoder used
//! for Ogg Opus output ([`crate::ogg_opus`]).
//!
//! Only channel mapping family 0 (mono or stereo) and family 1 streams of
//! one or two channels coded as a single Opus stream are decoded; anything
//! needing libopus's multistream API is [`DecodeError::Unsupported`].
//! libopus never reads past the packet it is given and returns an error for
//! a malformed one, which the callers skip like any other undecodable packet.

use crate::error::{DecodeError, EncodeError};

/// Rates libopus decodes to (and encodes from) natively.
pub const OPUS_RATES: [u32; 5] = [8_000, 12_000, 16_000, 24_000, 48_000];

/// Longest Opus packet duration: 120 ms at 48 kHz, in frames.
const MAX_PACKET_FRAMES_48K: usize = 5_760;

/// What an `OpusHead` packet says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OpusHead {
    /// Output channels (1 or 2 once accepted).
    pub channels: u8,
    /// Frames at 48 kHz to drop from the start of the decoded audio.
    pub pre_skip: u16,
    /// Output gain, Q7.8 dB.
    pub gain: i16,
}

/// Parses an `OpusHead` packet (also WebM's `CodecPrivate` for `A_OPUS`).
pub(crate) fn parse_head(bytes: &[u8]) -> Result<OpusHead, DecodeError> {
    if bytes.len() < 19 || &bytes[..8] != b"OpusHead" {
        return Err(DecodeError::Malformed {
            what: "Opus stream without a valid OpusHead header".into(),
        });
    }
    if bytes[8] >> 4 != 0 {
        return Err(DecodeError::Unsupported {
            what: format!("OpusHead version {}", bytes[8]),
        });
    }
    let channels = bytes[9];
    let pre_skip = u16::from_le_bytes([bytes[10], bytes[11]]);
    let gain = i16::from_le_bytes([bytes[16], bytes[17]]);
    let family = bytes[18];
    if channels == 0 {
        return Err(DecodeError::ZeroChannels);
    }
    let single_stream = match family {
        0 => channels <= 2,
        // Family 1 adds a table: stream count, coupled count, mapping.
        1 => {
            channels <= 2
                && bytes.get(19) == Some(&1)
                && bytes.get(20) == Some(&(channels - 1))
                && bytes.len() >= 21 + usize::from(channels)
        }
        _ => false,
    };
    if !single_stream {
        return Err(DecodeError::Unsupported {
            what: format!(
                "Opus with {channels} channels in mapping family {family} (mono or stereo only)"
            ),
        });
    }
    Ok(OpusHead {
        channels,
        pre_skip,
        gain,
    })
}

/// The libopus decode rate for audio wanted at `preferred` Hz: that rate
/// when libopus supports it, otherwise 48 kHz.
pub(crate) fn decode_rate(preferred: u32) -> u32 {
    if OPUS_RATES.contains(&preferred) {
        preferred
    } else {
        48_000
    }
}

/// Decodes one Opus stream's packets to interleaved `f32`.
pub(crate) struct OpusPacketDecoder {
    decoder: opus::Decoder,
    channels: usize,
    rate: u32,
    /// Frames still to drop (the pre-skip, at `rate`).
    skip: usize,
    buf: Vec<f32>,
}

impl OpusPacketDecoder {
    /// A decoder for the stream `head` describes, producing `rate` Hz (one of [`OPUS_RATES`]).
    pub(crate) fn new(head: &OpusHead, rate: u32) -> Result<Self, DecodeError> {
        let rate = decode_rate(rate);
        let layout = if head.channels == 1 {
            opus::Channels::Mono
        } else {
            opus::Channels::Stereo
        };
        let mut decoder = opus::Decoder::new(rate, layout).map_err(|e| DecodeError::Malformed {
            what: format!("libopus decoder setup: {e}"),
        })?;
        if head.gain != 0 {
            decoder
                .set_gain(i32::from(head.gain))
                .map_err(|e| DecodeError::Malformed {
                    what: format!("Opus output gain: {e}"),
                })?;
        }
        let channels = usize::from(head.channels);
        let frames_per_packet = MAX_PACKET_FRAMES_48K * rate as usize / 48_000;
        Ok(Self {
            decoder,
            channels,
            rate,
            skip: usize::from(head.pre_skip) * rate as usize / 48_000,
            buf: vec![0.0; frames_per_packet * channels],
        })
    }

    /// Output rate in Hz.
    pub(crate) fn rate(&self) -> u32 {
        self.rate
    }

    /// Output channels.
    pub(crate) fn channels(&self) -> usize {
        self.channels
    }

    /// Frames `packet` will decode to (before pre-skip), from its TOC.
    pub(crate) fn frames_in(&self, packet: &[u8]) -> Result<usize, DecodeError> {
        self.decoder
            .get_nb_samples(packet)
            .map_err(|e| DecodeError::Malformed {
                what: format!("Opus packet: {e}"),
            })
    }

    /// Decodes `packet` and appends its interleaved samples (after the
    /// pre-skip) to `out`. An empty packet yields nothing.
    pub(crate) fn decode(&mut self, packet: &[u8], out: &mut Vec<f32>) -> Result<(), DecodeError> {
        if packet.is_empty() {
            return Ok(());
        }
        let frames = self
            .decoder
            .decode_float(packet, &mut self.buf, false)
            .map_err(|e| DecodeError::Malformed {
                what: format!("Opus packet: {e}"),
            })?;
        let frames = frames.min(self.buf.len() / self.channels);
        let dropped = self.skip.min(frames);
        self.skip -= dropped;
        out.extend(
            self.buf[dropped * self.channels..frames * self.channels]
                .iter()
                .map(|&s| crate::pcm::sanitize(s)),
        );
        Ok(())
    }
}

/// Encodes mono `f32` at one of [`OPUS_RATES`] into 20 ms Opus packets.
pub(crate) struct OpusPacketEncoder {
    encoder: opus::Encoder,
    frame: usize,
    pending: Vec<f32>,
    packet: Vec<u8>,
}

impl OpusPacketEncoder {
    /// Bytes reserved for one encoded packet (libopus's recommended maximum).
    const MAX_PACKET_BYTES: usize = 4_000;

    /// A VoIP-tuned mono encoder at `rate` Hz (one of [`OPUS_RATES`]).
    pub(crate) fn new(rate: u32) -> Result<Self, EncodeError> {
        let encoder = opus::Encoder::new(rate, opus::Channels::Mono, opus::Application::Voip)
            .map_err(|e| EncodeError::Opus {
                reason: e.to_string(),
            })?;
        Ok(Self {
            encoder,
            frame: rate as usize / 50,
            pending: Vec::new(),
            packet: vec![0; Self::MAX_PACKET_BYTES],
        })
    }

    /// Encoder delay in frames at the encoder's rate (the Ogg pre-skip, scaled).
    pub(crate) fn lookahead(&mut self) -> Result<usize, EncodeError> {
        self.encoder
            .get_lookahead()
            .map(|l| usize::try_from(l).unwrap_or(0))
            .map_err(|e| EncodeError::Opus {
                reason: e.to_string(),
            })
    }

    /// Frames per packet.
    pub(crate) fn frame_len(&self) -> usize {
        self.frame
    }

    /// Buffers `samples`; calls `emit` with each whole 20 ms packet.
    pub(crate) fn push(
        &mut self,
        samples: &[f32],
        mut emit: impl FnMut(&[u8]),
    ) -> Result<(), EncodeError> {
        self.pending
            .extend(samples.iter().map(|s| s.clamp(-1.0, 1.0)));
        let mut start = 0;
        while self.pending.len() - start >= self.frame {
            let frame = &self.pending[start..start + self.frame];
            let len = self
                .encoder
                .encode_float(frame, &mut self.packet)
                .map_err(|e| EncodeError::Opus {
                    reason: e.to_string(),
                })?;
            emit(&self.packet[..len]);
            start += self.frame;
        }
        self.pending.drain(..start);
        Ok(())
    }

    /// Pads the last partial packet with silence and encodes it; returns
    /// the frames of real audio it held (0 when nothing was pending).
    pub(crate) fn flush(&mut self, emit: impl FnMut(&[u8])) -> Result<usize, EncodeError> {
        let real = self.pending.len();
        if real == 0 {
            return Ok(0);
        }
        let padded = vec![0.0; self.frame - real];
        self.push(&padded, emit)?;
        Ok(real)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(channels: u8, family: u8) -> Vec<u8> {
        let mut h = b"OpusHead\x01".to_vec();
        h.push(channels);
        h.extend_from_slice(&312u16.to_le_bytes());
        h.extend_from_slice(&48_000u32.to_le_bytes());
        h.extend_from_slice(&0i16.to_le_bytes());
        h.push(family);
        h
    }

    #[test]
    fn heads_are_checked() {
        assert_eq!(parse_head(&head(1, 0)).unwrap().pre_skip, 312);
        assert_eq!(parse_head(&head(2, 0)).unwrap().channels, 2);
        assert!(matches!(
            parse_head(&head(6, 1)),
            Err(DecodeError::Unsupported { .. })
        ));
        assert_eq!(parse_head(&head(0, 0)), Err(DecodeError::ZeroChannels));
        assert!(parse_head(b"OpusHead").is_err());
        assert!(parse_head(&head(1, 0)[..18]).is_err());
    }

    #[test]
    fn encode_then_decode_round_trips_a_tone() {
        let rate = 16_000;
        let tone: Vec<f32> = (0..rate)
            .map(|i| {
                (0.5 * (2.0 * std::f64::consts::PI * 440.0 * f64::from(i) / 16_000.0).sin()) as f32
            })
            .collect();
        let mut encoder = OpusPacketEncoder::new(rate).unwrap();
        let mut packets = Vec::new();
        encoder.push(&tone, |p| packets.push(p.to_vec())).unwrap();
        encoder.flush(|p| packets.push(p.to_vec())).unwrap();
        assert_eq!(packets.len(), 50);
        let head = parse_head(&head(1, 0)).unwrap();
        let mut decoder = OpusPacketDecoder::new(&head, rate).unwrap();
        let mut out = Vec::new();
        for p in &packets {
            decoder.decode(p, &mut out).unwrap();
        }
        assert_eq!(out.len(), 16_000 - 312 / 3);
        let rms = (out.iter().map(|s| s * s).sum::<f32>() / out.len() as f32).sqrt();
        assert!(rms > 0.2, "rms {rms}");
        assert!(decoder.decode(&[0xFF, 0xFF, 0xFF], &mut out).is_err());
    }
}
