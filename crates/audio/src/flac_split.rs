//! An incremental FLAC frame splitter for live streams (RFC 9639): bytes
//! arrive in arbitrary pieces and leave as the stream's STREAMINFO and
//! whole frames, each one packet for symphonia's FLAC decoder
//! ([`crate::stream_codec`]).
//!
//! After the `fLaC` marker the metadata blocks are walked: STREAMINFO is
//! kept, every other block (pictures, tags, padding) is skipped as it
//! streams past without being buffered. FLAC frames do not state their
//! length, so a frame ends where the next one begins: at a sync code whose
//! header passes its CRC-8 and agrees with the stream (channels, blocking
//! strategy, rate code), and where the bytes before it pass the frame's
//! CRC-16 — the check libFLAC makes. The CRC-16 is carried along as the
//! search advances, so no byte is scanned twice. A frame is therefore
//! released when the next one's header has arrived; the last frame of a
//! stream is released by [`FlacSplit::finish`] when its CRC-16 holds.
//! At most [`MAX_JUNK_BYTES`] bytes may precede the first frame.

use crc::{Crc, CRC_16_UMTS, CRC_8_SMBUS};

use crate::error::DecodeError;

/// Most bytes skipped before the first frame header.
pub const MAX_JUNK_BYTES: usize = 64 * 1024;

/// Longest frame when STREAMINFO does not say (RFC 9639 allows more).
pub const MAX_FRAME_BYTES: usize = 1 << 20;

/// Shortest frame: a 6-byte header, one subframe byte, the CRC-16.
const MIN_FRAME_BYTES: usize = 9;

/// Bytes of STREAMINFO's body.
const STREAMINFO_LEN: usize = 34;

/// FLAC's header CRC-8 (polynomial 0x07, initial 0: CRC-8/SMBUS).
static CRC8: Crc<u8> = Crc::<u8>::new(&CRC_8_SMBUS);
/// FLAC's frame CRC-16 (polynomial 0x8005, initial 0: CRC-16/UMTS).
static CRC16: Crc<u16> = Crc::<u16>::new(&CRC_16_UMTS);

fn crc8(bytes: &[u8]) -> u8 {
    CRC8.checksum(bytes)
}

/// The running CRC-16 `c` advanced over one byte (no final XOR, so a
/// frame followed by its own CRC-16 leaves 0).
fn crc16_step(c: u16, b: u8) -> u16 {
    let mut digest = CRC16.digest_with_initial(c);
    digest.update(&[b]);
    digest.finalize()
}

/// What identifies a stream's frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FrameKey {
    variable: bool,
    rate_code: u8,
    channels: u8,
}

/// A frame header's length in bytes, `Ok(None)` when more bytes are
/// needed, `Err(())` when `b` does not start with a valid header.
fn frame_header(b: &[u8]) -> Result<Option<(usize, FrameKey)>, ()> {
    if b.first().is_some_and(|&x| x != 0xFF) || b.get(1).is_some_and(|&x| x & 0xFE != 0xF8) {
        return Err(());
    }
    let (Some(&b1), Some(&b2), Some(&b3), Some(&first)) = (b.get(1), b.get(2), b.get(3), b.get(4))
    else {
        return Ok(None);
    };
    let (size_code, rate_code) = (b2 >> 4, b2 & 0x0F);
    let (assignment, bits_code) = (b3 >> 4, (b3 >> 1) & 7);
    if size_code == 0 || rate_code == 15 || assignment > 10 || bits_code == 3 || b3 & 1 != 0 {
        return Err(());
    }
    // The frame or sample number, UTF-8 style.
    let coded = match first.leading_ones() {
        0 => 1,
        n @ 2..=7 => n as usize,
        _ => return Err(()),
    };
    let mut len = 4 + coded;
    let Some(number) = b.get(5..len) else {
        return Ok(None);
    };
    if number.iter().any(|&x| x & 0xC0 != 0x80) {
        return Err(());
    }
    len += match size_code {
        6 => 1,
        7 => 2,
        _ => 0,
    };
    len += match rate_code {
        12 => 1,
        13 | 14 => 2,
        _ => 0,
    };
    let Some(header) = b.get(..len + 1) else {
        return Ok(None);
    };
    if crc8(&header[..len]) != header[len] {
        return Err(());
    }
    let key = FrameKey {
        variable: b1 & 1 == 1,
        rate_code,
        channels: if assignment < 8 { assignment + 1 } else { 2 },
    };
    Ok(Some((len + 1, key)))
}

/// What the splitter found.
#[derive(Debug)]
pub(crate) enum Split {
    /// STREAMINFO's 34-byte body.
    StreamInfo(Vec<u8>),
    /// A whole frame.
    Frame(Vec<u8>),
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Stage {
    #[default]
    Marker,
    Metadata,
    Frames,
}

/// The splitter's state between pushes.
#[derive(Debug, Default)]
pub(crate) struct FlacSplit {
    stage: Stage,
    /// Bytes of a skipped metadata block still to pass over.
    skip: usize,
    channels: u8,
    key: Option<FrameKey>,
    /// Whether the buffer starts with a checked frame header.
    at_frame: bool,
    /// How far the search for the next frame has got, from the frame's start.
    scanned: usize,
    /// CRC-16 of the frame's bytes before `scanned`.
    crc: u16,
    /// The first header seen after a failed CRC-16.
    fallback: Option<usize>,
    /// Longest frame before a damaged one is dropped.
    max_frame: usize,
    junk: usize,
}

impl FlacSplit {
    /// Whether `bytes` starts like a FLAC stream (`None`: more bytes needed).
    pub(crate) fn sniff(bytes: &[u8]) -> Option<bool> {
        let magic = b"fLaC";
        if bytes.len() < 4 {
            return if magic.starts_with(bytes) {
                None
            } else {
                Some(false)
            };
        }
        Some(bytes.starts_with(magic))
    }

    /// Consumes what it can of `bytes`, appending to `out`; returns the
    /// number of bytes consumed (the rest must be offered again with more
    /// data appended).
    pub(crate) fn parse(
        &mut self,
        bytes: &[u8],
        out: &mut Vec<Split>,
    ) -> Result<usize, DecodeError> {
        let mut pos = 0;
        loop {
            if self.skip > 0 {
                let n = self.skip.min(bytes.len() - pos);
                pos += n;
                self.skip -= n;
                if self.skip > 0 {
                    return Ok(pos);
                }
            }
            let rest = &bytes[pos..];
            match self.stage {
                Stage::Marker => {
                    let Some(marker) = rest.get(..4) else {
                        return Ok(pos);
                    };
                    if marker != b"fLaC" {
                        return Err(malformed("FLAC stream without its fLaC marker"));
                    }
                    pos += 4;
                    self.stage = Stage::Metadata;
                }
                Stage::Metadata => {
                    let Some(&[kind, a, b, c]) =
                        rest.get(..4).and_then(|s| <&[u8; 4]>::try_from(s).ok())
                    else {
                        return Ok(pos);
                    };
                    let len = (usize::from(a) << 16) | (usize::from(b) << 8) | usize::from(c);
                    let last = kind & 0x80 != 0;
                    if kind & 0x7F == 0 {
                        if len != STREAMINFO_LEN || self.channels != 0 {
                            return Err(malformed("FLAC STREAMINFO of the wrong size or repeated"));
                        }
                        let Some(info) = rest.get(4..4 + len) else {
                            return Ok(pos);
                        };
                        self.channels = ((info[12] >> 1) & 7) + 1;
                        let max = (usize::from(info[7]) << 16)
                            | (usize::from(info[8]) << 8)
                            | usize::from(info[9]);
                        self.max_frame = if max == 0 { MAX_FRAME_BYTES } else { max };
                        out.push(Split::StreamInfo(info.to_vec()));
                        pos += 4 + len;
                    } else {
                        if self.channels == 0 {
                            return Err(malformed("FLAC metadata does not start with STREAMINFO"));
                        }
                        pos += 4;
                        self.skip = len;
                    }
                    if last {
                        self.stage = Stage::Frames;
                    }
                }
                Stage::Frames => {
                    let (consumed, done) = self.frames(rest, out)?;
                    pos += consumed;
                    if done {
                        return Ok(pos);
                    }
                }
            }
        }
    }

    /// Splits frames off `rest`: `(consumed, wait)`.
    fn frames(&mut self, rest: &[u8], out: &mut Vec<Split>) -> Result<(usize, bool), DecodeError> {
        let mut pos = 0;
        loop {
            let here = &rest[pos..];
            if !self.at_frame {
                match frame_header(here) {
                    Ok(None) => return Ok((pos, true)),
                    Ok(Some((_, key))) if self.agrees(key) => {
                        self.key.get_or_insert(key);
                        self.start_frame();
                    }
                    _ => {
                        pos += 1;
                        self.junk += 1;
                        if self.junk > MAX_JUNK_BYTES {
                            return Err(malformed("no FLAC frame header where one was due"));
                        }
                        continue;
                    }
                }
            }
            // Search for the next frame's header; `crc` covers `here[..i]`.
            let mut i = self.scanned;
            let mut found = None;
            while i < here.len() {
                if i >= MIN_FRAME_BYTES && here[i] == 0xFF {
                    match frame_header(&here[i..]) {
                        Ok(None) => break,
                        Ok(Some((_, key))) if self.agrees(key) => {
                            if self.crc == 0 {
                                found = Some(i);
                                break;
                            }
                            self.fallback.get_or_insert(i);
                        }
                        _ => {}
                    }
                }
                self.crc = crc16_step(self.crc, here[i]);
                i += 1;
            }
            self.scanned = i;
            let end = match (found, self.fallback) {
                (Some(end), _) => {
                    out.push(Split::Frame(here[..end].to_vec()));
                    end
                }
                // A damaged frame: drop it, resume at the next header.
                (None, Some(next)) if i > self.max_frame => next,
                _ => return Ok((pos, true)),
            };
            pos += end;
            self.junk = 0;
            self.start_frame();
        }
    }

    fn start_frame(&mut self) {
        self.at_frame = true;
        self.scanned = 0;
        self.crc = 0;
        self.fallback = None;
    }

    fn agrees(&self, key: FrameKey) -> bool {
        key.channels == self.channels && self.key.is_none_or(|k| k == key)
    }

    /// At the end of the stream: the last frame, when `rest` (what the
    /// splitter has not consumed) is one whose CRC-16 holds.
    pub(crate) fn finish(&mut self, rest: &[u8]) -> Option<Vec<u8>> {
        if self.stage != Stage::Frames || !self.at_frame || rest.len() < MIN_FRAME_BYTES {
            return None;
        }
        let crc = rest.iter().fold(0, |c, &b| crc16_step(c, b));
        (crc == 0).then(|| rest.to_vec())
    }
}

fn malformed(what: &str) -> DecodeError {
    DecodeError::Malformed { what: what.into() }
}
