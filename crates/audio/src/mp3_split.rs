//! An incremental MP3 frame splitter for live streams: bytes arrive in
//! arbitrary pieces and leave as whole MPEG audio layer III frames, each
//! one packet for symphonia's MP3 decoder ([`crate::stream_codec`]).
//!
//! The splitter reads the 4-byte frame header to learn the frame's length.
//! An ID3v2 tag (at the start or between frames) is skipped as it streams
//! past, without being buffered. Before the stream is in sync a header only
//! counts when the next frame's header follows where the first one says and
//! agrees with it (MPEG version, sample rate, channel mode), so bytes that
//! merely look like a sync word are passed over; the first such pair fixes
//! the stream's format, and later headers must agree with it. At most
//! [`MAX_JUNK_BYTES`] bytes may pass between frames. A first frame carrying
//! a Xing/Info tag is not audio: it is dropped, and the encoder delay of its
//! LAME extension is trimmed from the start of the decoded audio as
//! symphonia's file reader does. Free-format bitrates and layers I and II
//! are not recognised.

use crate::error::DecodeError;

/// Most bytes skipped in a row without finding a frame.
pub const MAX_JUNK_BYTES: usize = 64 * 1024;

/// A parsed layer III frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FrameHeader {
    /// 0: MPEG 2.5, 2: MPEG 2, 3: MPEG 1.
    version: u8,
    /// Hz.
    pub(crate) sample_rate: u32,
    /// 1 or 2.
    pub(crate) channels: u16,
    /// Bytes of the whole frame, header included.
    pub(crate) len: usize,
    /// Samples per channel the frame decodes to.
    pub(crate) samples: usize,
    crc: bool,
}

impl FrameHeader {
    /// Whether `other` belongs to the same stream.
    fn agrees(&self, other: &FrameHeader) -> bool {
        (self.version, self.sample_rate, self.channels)
            == (other.version, other.sample_rate, other.channels)
    }

    /// Bytes of side information after the header (and its CRC).
    fn side_info_len(&self) -> usize {
        match (self.version == 3, self.channels) {
            (true, 1) => 17,
            (true, _) => 32,
            (false, 1) => 9,
            (false, _) => 17,
        }
    }
}

const BITRATES_V1: [u32; 15] = [
    0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
];
const BITRATES_V2: [u32; 15] = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];

/// Parses a layer III frame header from the first 4 bytes of `b`.
pub(crate) fn parse_header(b: &[u8]) -> Option<FrameHeader> {
    let &[b0, b1, b2, b3, ..] = b else {
        return None;
    };
    if b0 != 0xFF || b1 & 0xE0 != 0xE0 {
        return None;
    }
    let version = (b1 >> 3) & 3;
    let layer = (b1 >> 1) & 3;
    if version == 1 || layer != 1 {
        return None;
    }
    let bitrate_index = usize::from(b2 >> 4);
    let rate_index = usize::from((b2 >> 2) & 3);
    if bitrate_index == 0 || bitrate_index == 15 || rate_index == 3 || b3 & 3 == 2 {
        return None;
    }
    let (kbps, rates) = match version {
        3 => (BITRATES_V1[bitrate_index], [44_100, 48_000, 32_000]),
        2 => (BITRATES_V2[bitrate_index], [22_050, 24_000, 16_000]),
        _ => (BITRATES_V2[bitrate_index], [11_025, 12_000, 8_000]),
    };
    let sample_rate = rates[rate_index];
    let padding = usize::from((b2 >> 1) & 1);
    let per_frame = if version == 3 { 144 } else { 72 };
    let len = (per_frame * kbps * 1_000 / sample_rate) as usize + padding;
    Some(FrameHeader {
        version,
        sample_rate,
        channels: if b3 >> 6 == 3 { 1 } else { 2 },
        len,
        samples: if version == 3 { 1_152 } else { 576 },
        crc: b1 & 1 == 0,
    })
}

/// The size of the ID3v2 tag at the start of `b` (header and footer
/// included), `Some(None)` when more bytes are needed, `None` when `b`
/// does not start with a valid ID3v2 header.
pub(crate) fn id3_len(b: &[u8]) -> Option<Option<usize>> {
    let magic = b"ID3";
    if !magic.starts_with(&b[..b.len().min(3)]) {
        return None;
    }
    let Some(header) = b.get(..10) else {
        return Some(None);
    };
    let (major, revision, flags, size) = (header[3], header[4], header[5], &header[6..10]);
    if !(2..=4).contains(&major) || revision == 0xFF || flags & 0x0F != 0 {
        return None;
    }
    if size.iter().any(|&s| s & 0x80 != 0) {
        return None;
    }
    let body = size.iter().fold(0usize, |v, &s| (v << 7) | usize::from(s));
    let footer = if flags & 0x10 != 0 { 10 } else { 0 };
    Some(Some(10 + body + footer))
}

/// What the splitter found.
#[derive(Debug)]
pub(crate) enum Split {
    /// A whole frame (header included) and its header.
    Frame(Vec<u8>, FrameHeader),
    /// The encoder delay, in samples per channel, to trim from the start.
    Delay(usize),
}

/// The splitter's state between pushes.
#[derive(Debug, Default)]
pub(crate) struct Mp3Split {
    /// Bytes of an ID3v2 tag still to pass over.
    skip: usize,
    /// The stream's first frame header, once in sync.
    format: Option<FrameHeader>,
    in_sync: bool,
    junk: usize,
    frames: u64,
}

impl Mp3Split {
    /// Whether `bytes` starts like an MP3 stream: an ID3v2 tag or a frame
    /// header (`Some(false)` when it cannot, `None` when more bytes are needed).
    pub(crate) fn sniff(bytes: &[u8]) -> Option<bool> {
        if let Some(tag) = id3_len(bytes) {
            return tag.map(|_| true);
        }
        if bytes.len() < 4 {
            let could = bytes.first().is_none_or(|&b| b == 0xFF)
                && bytes.get(1).is_none_or(|&b| b & 0xE0 == 0xE0);
            return if could { None } else { Some(false) };
        }
        Some(parse_header(bytes).is_some())
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
            match id3_len(rest) {
                Some(None) => return Ok(pos),
                Some(Some(len)) => {
                    self.skip = len;
                    self.in_sync = false;
                    continue;
                }
                None => {}
            }
            if rest.len() < 4 {
                return Ok(pos);
            }
            let header = parse_header(rest).filter(|h| self.format.is_none_or(|f| f.agrees(h)));
            let Some(header) = header else {
                pos += 1;
                self.lost(1)?;
                continue;
            };
            if !self.in_sync {
                // The next header must follow and agree.
                let Some(next) = rest.get(header.len..header.len + 4) else {
                    return Ok(pos);
                };
                if !parse_header(next).is_some_and(|n| header.agrees(&n)) {
                    pos += 1;
                    self.lost(1)?;
                    continue;
                }
                self.in_sync = true;
                self.format.get_or_insert(header);
            }
            let Some(frame) = rest.get(..header.len) else {
                return Ok(pos);
            };
            pos += header.len;
            self.junk = 0;
            self.frames += 1;
            if self.frames == 1 {
                if let Some(delay) = info_tag_delay(frame, &header) {
                    out.push(Split::Delay(delay));
                    continue;
                }
            }
            out.push(Split::Frame(frame.to_vec(), header));
        }
    }

    fn lost(&mut self, n: usize) -> Result<(), DecodeError> {
        self.in_sync = false;
        self.junk += n;
        if self.junk > MAX_JUNK_BYTES {
            return Err(DecodeError::Malformed {
                what: format!("no MP3 frame in {MAX_JUNK_BYTES} bytes of the stream"),
            });
        }
        Ok(())
    }
}

/// When `frame` holds a Xing/Info tag instead of audio: the encoder delay
/// its LAME extension states (0 without one).
fn info_tag_delay(frame: &[u8], header: &FrameHeader) -> Option<usize> {
    let start = if header.crc { 6 } else { 4 };
    let offset = 4 + header.side_info_len();
    let tag = frame.get(offset..)?;
    if !(tag.starts_with(b"Xing") || tag.starts_with(b"Info")) {
        return None;
    }
    if frame.get(start..offset)?.iter().any(|&b| b != 0) {
        return None;
    }
    let flags = u32::from_be_bytes(tag.get(4..8)?.try_into().ok()?);
    let mut at = 8;
    for (bit, len) in [(1, 4), (2, 4), (4, 100), (8, 4)] {
        if flags & bit != 0 {
            at += len;
        }
    }
    let Some(lame) = tag.get(at..at + 24) else {
        return Some(0);
    };
    if !(lame.starts_with(b"LAME") || lame.starts_with(b"Lavf") || lame.starts_with(b"Lavc")) {
        return Some(0);
    }
    let trim = (usize::from(lame[21]) << 16) | (usize::from(lame[22]) << 8) | usize::from(lame[23]);
    Some(529 + (trim >> 12))
}
