//! An incremental Ogg demuxer for live streams (Firefox's `MediaRecorder`,
//! `opusenc`, ffmpeg `-f ogg`): pages arrive in arbitrary pieces and only
//! the packets of the first Opus logical stream are wanted.
//!
//! Each page (at most 65 307 bytes) is read whole, its packets reassembled
//! across pages up to [`MAX_PACKET_BYTES`] (a longer packet — cover art in
//! `OpusTags` — is dropped, not buffered). The first packet is `OpusHead`,
//! the second `OpusTags` (ignored), the rest audio. Other logical streams
//! are ignored; a stream whose first page is not Opus is
//! [`DecodeError::Unsupported`]. Page CRCs are not verified (the transport
//! already is); pages after the Opus stream's end are ignored. Files go
//! through symphonia's Ogg reader instead ([`crate::decode_file`]).

use crate::error::DecodeError;

/// Longest packet reassembled; longer ones are dropped.
pub const MAX_PACKET_BYTES: usize = 64 * 1024;

/// A unit the container demuxers hand to the Opus decoder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Demuxed {
    /// The `OpusHead` identification header.
    Head(Vec<u8>),
    /// One Opus packet.
    Audio(Vec<u8>),
}

/// The demuxer's state between pushes.
#[derive(Debug, Default)]
pub(crate) struct OggDemux {
    serial: Option<u32>,
    /// Packets of the chosen stream completed so far.
    packets: u64,
    partial: Vec<u8>,
    /// The packet in progress outgrew [`MAX_PACKET_BYTES`].
    dropping: bool,
    ended: bool,
}

/// Names the codec a first packet announces, for the error message.
fn codec_name(packet: &[u8]) -> &'static str {
    if packet.starts_with(b"\x01vorbis") {
        "Vorbis"
    } else if packet.starts_with(b"\x7fFLAC") {
        "FLAC"
    } else if packet.starts_with(b"Speex") {
        "Speex"
    } else {
        "an unknown codec"
    }
}

impl OggDemux {
    /// Whether `bytes` starts like an Ogg stream.
    pub(crate) fn sniff(bytes: &[u8]) -> bool {
        bytes.starts_with(b"OggS")
    }

    /// Consumes whole pages of `bytes`, appending the chosen stream's
    /// packets to `out`; returns the bytes consumed.
    pub(crate) fn parse(
        &mut self,
        bytes: &[u8],
        out: &mut Vec<Demuxed>,
    ) -> Result<usize, DecodeError> {
        let mut pos = 0;
        loop {
            let rest = &bytes[pos..];
            if rest.len() < 27 {
                if !b"OggS".starts_with(&rest[..rest.len().min(4)]) {
                    return Err(lost_sync());
                }
                return Ok(pos);
            }
            if &rest[..4] != b"OggS" || rest[4] != 0 {
                return Err(lost_sync());
            }
            let flags = rest[5];
            let serial = u32::from_le_bytes([rest[14], rest[15], rest[16], rest[17]]);
            let segments = usize::from(rest[26]);
            let Some(table) = rest.get(27..27 + segments) else {
                return Ok(pos);
            };
            let body_len: usize = table.iter().map(|&s| usize::from(s)).sum();
            let Some(body) = rest.get(27 + segments..27 + segments + body_len) else {
                return Ok(pos);
            };
            pos += 27 + segments + body_len;
            self.page(flags, serial, table, body, out)?;
        }
    }

    fn page(
        &mut self,
        flags: u8,
        serial: u32,
        table: &[u8],
        body: &[u8],
        out: &mut Vec<Demuxed>,
    ) -> Result<(), DecodeError> {
        let bos = flags & 0x02 != 0;
        match self.serial {
            None if bos && body.starts_with(b"OpusHead") => self.serial = Some(serial),
            None if bos => {
                return Err(DecodeError::Unsupported {
                    what: format!("live Ogg with {} (stream Opus)", codec_name(body)),
                })
            }
            None => {
                return Err(DecodeError::Malformed {
                    what: "Ogg stream does not start with a beginning-of-stream page".into(),
                })
            }
            Some(chosen) if chosen != serial || self.ended => return Ok(()),
            Some(_) => {}
        }
        if flags & 0x01 == 0 && (!self.partial.is_empty() || self.dropping) {
            // The packet in progress was never finished (a lost page).
            self.partial.clear();
            self.dropping = false;
        }
        let mut at = 0;
        for &len in table {
            let segment = &body[at..at + usize::from(len)];
            at += usize::from(len);
            if !self.dropping {
                if self.partial.len() + segment.len() > MAX_PACKET_BYTES {
                    self.dropping = true;
                    self.partial = Vec::new();
                } else {
                    self.partial.extend_from_slice(segment);
                }
            }
            if len < 255 {
                let packet = std::mem::take(&mut self.partial);
                if !self.dropping {
                    match self.packets {
                        0 => out.push(Demuxed::Head(packet)),
                        1 => {} // OpusTags
                        _ => out.push(Demuxed::Audio(packet)),
                    }
                }
                self.dropping = false;
                self.packets += 1;
            }
        }
        if flags & 0x04 != 0 {
            self.ended = true;
        }
        Ok(())
    }
}

fn lost_sync() -> DecodeError {
    DecodeError::Malformed {
        what: "lost Ogg page sync (expected `OggS`)".into(),
    }
}
