//! Ogg Opus output (RFC 7845) for [`crate::OutputFormat::Opus`]: mono Opus
//! packets of 20 ms from libopus in Ogg pages written by the `ogg` crate.
//!
//! The stream starts with `OpusHead` (pre-skip = the encoder's lookahead)
//! and `OpusTags` pages; audio pages are flushed every
//! [`PACKETS_PER_PAGE`] packets so a streamed response plays as it
//! arrives. The last packet is held back until the stream is finished
//! so it can carry the end-of-stream flag and a granule position that
//! trims the padding of the final frame.

use ogg::writing::{PacketWriteEndInfo, PacketWriter};

use crate::error::EncodeError;
use crate::opus::{OpusPacketEncoder, OPUS_RATES};

/// Audio packets (20 ms each) per Ogg page.
pub const PACKETS_PER_PAGE: u64 = 10;

/// The logical stream's serial number (one stream per file, so any value works).
const SERIAL: u32 = 0x566F_6361; // "Voca"

fn ogg_error(e: std::io::Error) -> EncodeError {
    EncodeError::Opus {
        reason: format!("Ogg writer: {e}"),
    }
}

/// Streaming Ogg Opus writer of mono audio at one of [`OPUS_RATES`].
pub(crate) struct OggOpusStream {
    writer: PacketWriter<'static, Vec<u8>>,
    encoder: OpusPacketEncoder,
    /// 48 kHz granules per input frame.
    scale: u64,
    pre_skip: u64,
    /// Packets written (not counting the held one).
    packets: u64,
    held: Option<Vec<u8>>,
}

impl OggOpusStream {
    /// A writer for `rate` Hz input; the headers are ready in the first output.
    pub(crate) fn new(rate: u32) -> Result<Self, EncodeError> {
        if !OPUS_RATES.contains(&rate) {
            return Err(EncodeError::UnsupportedOpusRate { rate });
        }
        let mut encoder = OpusPacketEncoder::new(rate)?;
        let scale = u64::from(48_000 / rate);
        let pre_skip = encoder.lookahead()? as u64 * scale;
        let mut head = b"OpusHead\x01\x01".to_vec();
        head.extend_from_slice(&u16::try_from(pre_skip).unwrap_or(u16::MAX).to_le_bytes());
        head.extend_from_slice(&rate.to_le_bytes());
        head.extend_from_slice(&0i16.to_le_bytes()); // output gain
        head.push(0); // channel mapping family 0
        let vendor = b"vocalis";
        let mut tags = b"OpusTags".to_vec();
        tags.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
        tags.extend_from_slice(vendor);
        tags.extend_from_slice(&0u32.to_le_bytes()); // no user comments
        let mut writer = PacketWriter::new(Vec::new());
        writer
            .write_packet(head, SERIAL, PacketWriteEndInfo::EndPage, 0)
            .map_err(ogg_error)?;
        writer
            .write_packet(tags, SERIAL, PacketWriteEndInfo::EndPage, 0)
            .map_err(ogg_error)?;
        Ok(Self {
            writer,
            encoder,
            scale,
            pre_skip,
            packets: 0,
            held: None,
        })
    }

    /// Writes the held packet as an ordinary one (its successor exists).
    fn release_held(&mut self) -> Result<(), EncodeError> {
        if let Some(packet) = self.held.take() {
            self.packets += 1;
            let granule =
                self.pre_skip + self.packets * self.encoder.frame_len() as u64 * self.scale;
            let end = if self.packets.is_multiple_of(PACKETS_PER_PAGE) {
                PacketWriteEndInfo::EndPage
            } else {
                PacketWriteEndInfo::NormalPacket
            };
            self.writer
                .write_packet(packet, SERIAL, end, granule)
                .map_err(ogg_error)?;
        }
        Ok(())
    }

    fn take_output(&mut self, out: &mut Vec<u8>) {
        out.append(self.writer.inner_mut());
    }

    /// Encodes `samples` and appends the finished pages to `out`.
    pub(crate) fn encode(&mut self, samples: &[f32], out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let mut packets = Vec::new();
        self.encoder.push(samples, |p| packets.push(p.to_vec()))?;
        for packet in packets {
            self.release_held()?;
            self.held = Some(packet);
        }
        self.take_output(out);
        Ok(())
    }

    /// Pads and encodes the last frame, ends the stream and appends the rest to `out`.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let mut packets = Vec::new();
        let real = self.encoder.flush(|p| packets.push(p.to_vec()))?;
        for packet in packets {
            self.release_held()?;
            self.held = Some(packet);
        }
        let frame = self.encoder.frame_len() as u64;
        // Padding of the last frame, trimmed by the end granule (RFC 7845 §4.5).
        let padding = if real == 0 { 0 } else { frame - real as u64 };
        let packet = self.held.take().unwrap_or_default();
        if !packet.is_empty() || self.packets > 0 {
            let count = self.packets + u64::from(!packet.is_empty());
            let granule = self.pre_skip + (count * frame - padding) * self.scale;
            self.writer
                .write_packet(packet, SERIAL, PacketWriteEndInfo::EndStream, granule)
                .map_err(ogg_error)?;
        } else {
            // No audio at all: an empty stream still ends properly.
            self.writer
                .write_packet(
                    Vec::new(),
                    SERIAL,
                    PacketWriteEndInfo::EndStream,
                    self.pre_skip,
                )
                .map_err(ogg_error)?;
        }
        self.take_output(out);
        Ok(())
    }
}
