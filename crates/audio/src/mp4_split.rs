//! An incremental fragmented-MP4 demuxer for live streams such as Safari's
//! `MediaRecorder` (`audio/mp4`, AAC in timeslices): `ftyp`, a `moov`
//! whose `mvex` announces fragments, then `moof` + `mdat` pairs, arriving
//! in arbitrary pieces. Only the AAC access units of the first sound
//! track are wanted; each leaves as one packet for symphonia's AAC decoder
//! ([`crate::stream_codec`]) after the track's AudioSpecificConfig (from
//! `esds`).
//!
//! `moov` and `moof` are read whole (each at most [`MAX_BOX_BYTES`]); the
//! sample sizes and data offsets of the track's `trun`s (with the `tfhd`
//! and `trex` defaults) locate the access units in the following `mdat`,
//! which streams past: only the wanted samples are held, each at most
//! [`MAX_SAMPLE_BYTES`]. Other boxes are skipped unread. An MP4 that is
//! not fragmented (its samples indexed only in the `moov`), or whose sound
//! track is not AAC, is [`DecodeError::Unsupported`]; files go through
//! symphonia's reader instead ([`crate::decode_file`]).

use crate::error::DecodeError;

/// Largest `moov` or `moof` read whole.
pub const MAX_BOX_BYTES: u64 = 1 << 20;

/// Largest access unit.
pub const MAX_SAMPLE_BYTES: u32 = 1 << 16;

/// Most samples one fragment may list.
const MAX_SAMPLES_PER_FRAGMENT: usize = 1 << 16;

/// What the demuxer found.
#[derive(Debug)]
pub(crate) enum Split {
    /// The AAC AudioSpecificConfig.
    Config(Vec<u8>),
    /// One access unit.
    Sample(Vec<u8>),
}

/// The chosen track and its fragment defaults (`trex`).
#[derive(Debug, Default, Clone, Copy)]
struct Track {
    id: u32,
    default_size: Option<u32>,
}

/// The demuxer's state between pushes.
#[derive(Debug, Default)]
pub(crate) struct Mp4Split {
    /// Stream offset of the next byte offered.
    offset: u64,
    /// Bytes of a skipped box still to pass over.
    skip: u64,
    track: Option<Track>,
    /// The wanted samples of the current fragment: `(stream offset, size)`, ascending.
    pending: std::collections::VecDeque<(u64, u32)>,
    /// Stream offset where the current `mdat` ends (`u64::MAX`: the stream's end).
    mdat_end: Option<u64>,
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn malformed(what: &str) -> DecodeError {
    DecodeError::Malformed {
        what: format!("MP4 stream: {what}"),
    }
}

/// A box header at the start of `b`: `(size, kind, header length)`; size
/// 0 means "to the end". `None` when more bytes are needed.
fn box_header(b: &[u8]) -> Result<Option<(u64, [u8; 4], usize)>, DecodeError> {
    let (Some(size), Some(kind)) = (be32(b, 0), b.get(4..8)) else {
        return Ok(None);
    };
    let kind: [u8; 4] = kind.try_into().unwrap_or_default();
    let (size, len) = match size {
        1 => match be64(b, 8) {
            Some(large) => (large, 16),
            None => return Ok(None),
        },
        other => (u64::from(other), 8),
    };
    if size != 0 && size < len as u64 {
        return Err(malformed("box smaller than its header"));
    }
    Ok(Some((size, kind, len)))
}

/// The child boxes of a box body held whole: `(kind, body)`.
fn children(mut b: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    std::iter::from_fn(move || {
        let (size, kind, len) = box_header(b).ok()??;
        let size = if size == 0 { b.len() } else { size as usize };
        let body = b.get(len..size)?;
        b = &b[size..];
        Some((kind, body))
    })
}

fn child<'a>(b: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    children(b).find(|(k, _)| k == kind).map(|(_, body)| body)
}

/// An MPEG-4 descriptor at the start of `b`: `(tag, body, rest)`.
fn descriptor(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, mut rest) = b.split_first()?;
    let mut len = 0usize;
    for _ in 0..4 {
        let (&byte, tail) = rest.split_first()?;
        rest = tail;
        len = (len << 7) | usize::from(byte & 0x7F);
        if byte & 0x80 == 0 {
            break;
        }
    }
    let body = rest.get(..len)?;
    Some((tag, body, &rest[len..]))
}

/// The AudioSpecificConfig in an `esds` body.
fn esds_config(esds: &[u8]) -> Option<Vec<u8>> {
    let (tag, es, _) = descriptor(esds.get(4..)?)?;
    if tag != 3 {
        return None;
    }
    let flags = *es.get(2)?;
    let mut at = 3;
    if flags & 0x80 != 0 {
        at += 2;
    }
    if flags & 0x40 != 0 {
        at += 1 + usize::from(*es.get(at)?);
    }
    if flags & 0x20 != 0 {
        at += 2;
    }
    let (tag, config, _) = descriptor(es.get(at..)?)?;
    if tag != 4 || *config.first()? != 0x40 {
        return None;
    }
    let (tag, specific, _) = descriptor(config.get(13..)?)?;
    (tag == 5).then(|| specific.to_vec())
}

/// The sample entry of a sound track: `(format, AAC config if any)`.
fn sound_entry(stsd: &[u8]) -> Option<([u8; 4], Option<Vec<u8>>)> {
    let (kind, entry) = children(stsd.get(8..)?).next()?;
    // SampleEntry (8) + version/revision/vendor (8) + channels, size,
    // compression, packet size (8) + rate (4); QuickTime versions add more.
    let extra = match u16::from_be_bytes(entry.get(8..10)?.try_into().ok()?) {
        1 => 16,
        2 => 36,
        _ => 0,
    };
    let boxes = entry.get(28 + extra..)?;
    let config = child(boxes, b"esds").and_then(esds_config);
    Some((kind, config))
}

impl Mp4Split {
    /// Whether `bytes` starts like an MP4 (`ftyp` box; `None`: more bytes needed).
    pub(crate) fn sniff(bytes: &[u8]) -> Option<bool> {
        let kind = bytes.get(4..8)?;
        Some(kind == b"ftyp")
    }

    /// Consumes what it can of `bytes`, appending to `out`; returns the
    /// number of bytes consumed (the rest must be offered again with more
    /// data appended).
    pub(crate) fn parse(
        &mut self,
        bytes: &[u8],
        out: &mut Vec<Split>,
    ) -> Result<usize, DecodeError> {
        let consumed = self.parse_inner(bytes, out)?;
        self.offset += consumed as u64;
        Ok(consumed)
    }

    fn parse_inner(&mut self, bytes: &[u8], out: &mut Vec<Split>) -> Result<usize, DecodeError> {
        let mut pos = 0;
        loop {
            if self.skip > 0 {
                let n = self.skip.min((bytes.len() - pos) as u64);
                pos += n as usize;
                self.skip -= n;
                if self.skip > 0 {
                    return Ok(pos);
                }
            }
            let at = self.offset + pos as u64;
            let rest = &bytes[pos..];
            if let Some(end) = self.mdat_end {
                if at >= end {
                    self.mdat_end = None;
                    self.pending.clear();
                    continue;
                }
                // Samples already passed (overlapping or out of order) are dropped.
                while self.pending.front().is_some_and(|&(start, _)| start < at) {
                    self.pending.pop_front();
                }
                let Some(&(start, size)) = self.pending.front() else {
                    self.skip = end - at;
                    if rest.is_empty() {
                        return Ok(pos);
                    }
                    continue;
                };
                if start > at {
                    self.skip = (start - at).min(end - at);
                    continue;
                }
                if start + u64::from(size) > end {
                    return Err(malformed("sample beyond its mdat"));
                }
                let Some(sample) = rest.get(..size as usize) else {
                    return Ok(pos);
                };
                out.push(Split::Sample(sample.to_vec()));
                self.pending.pop_front();
                pos += size as usize;
                continue;
            }
            let Some((size, kind, header)) = box_header(rest)? else {
                return Ok(pos);
            };
            if at == 0 && &kind != b"ftyp" {
                return Err(malformed("does not start with ftyp"));
            }
            match &kind {
                b"moov" | b"moof" => {
                    if size == 0 || size > MAX_BOX_BYTES {
                        return Err(DecodeError::Unsupported {
                            what: format!(
                                "a live MP4 `{}` box of {size} bytes (at most {MAX_BOX_BYTES})",
                                String::from_utf8_lossy(&kind)
                            ),
                        });
                    }
                    let Some(body) = rest.get(header..size as usize) else {
                        return Ok(pos);
                    };
                    if &kind == b"moov" {
                        self.moov(body, out)?;
                    } else {
                        self.moof(body, at)?;
                    }
                    pos += size as usize;
                }
                b"mdat" => {
                    if self.track.is_none() {
                        return Err(DecodeError::Unsupported {
                            what: "a live MP4 that is not fragmented (stream fragmented MP4)"
                                .into(),
                        });
                    }
                    self.mdat_end = Some(if size == 0 {
                        u64::MAX
                    } else {
                        at.saturating_add(size)
                    });
                    pos += header;
                }
                _ => {
                    pos += header;
                    self.skip = if size == 0 {
                        u64::MAX
                    } else {
                        size - header as u64
                    };
                }
            }
        }
    }

    /// Chooses the first sound track and emits its AAC config.
    fn moov(&mut self, moov: &[u8], out: &mut Vec<Split>) -> Result<(), DecodeError> {
        if self.track.is_some() {
            return Ok(());
        }
        let mut found = None;
        for (_, trak) in children(moov).filter(|(k, _)| k == b"trak") {
            let Some(mdia) = child(trak, b"mdia") else {
                continue;
            };
            if child(mdia, b"hdlr").and_then(|h| h.get(8..12)) != Some(b"soun") {
                continue;
            }
            let id = child(trak, b"tkhd").and_then(|tkhd| match tkhd.first()? {
                1 => be32(tkhd, 20),
                _ => be32(tkhd, 12),
            });
            let entry = child(mdia, b"minf")
                .and_then(|minf| child(minf, b"stbl"))
                .and_then(|stbl| child(stbl, b"stsd"))
                .and_then(sound_entry);
            found = Some((id, entry));
            break;
        }
        let Some((id, entry)) = found else {
            return Err(DecodeError::Unsupported {
                what: "MP4 stream without a sound track".into(),
            });
        };
        let (Some(id), Some((format, config))) = (id, entry) else {
            return Err(malformed("sound track without its header or sample entry"));
        };
        let Some(config) = config else {
            return Err(DecodeError::Unsupported {
                what: format!(
                    "live MP4 audio `{}` (stream AAC)",
                    String::from_utf8_lossy(&format)
                ),
            });
        };
        let Some(mvex) = child(moov, b"mvex") else {
            return Err(DecodeError::Unsupported {
                what: "a live MP4 that is not fragmented (stream fragmented MP4)".into(),
            });
        };
        let default_size = children(mvex)
            .filter(|(k, _)| k == b"trex")
            .find(|(_, trex)| be32(trex, 4) == Some(id))
            .and_then(|(_, trex)| be32(trex, 16))
            .filter(|&size| size > 0);
        self.track = Some(Track { id, default_size });
        out.push(Split::Config(config));
        Ok(())
    }

    /// Lists the track's samples in this fragment (`moof` at stream offset `at`).
    fn moof(&mut self, moof: &[u8], at: u64) -> Result<(), DecodeError> {
        let Some(track) = self.track else {
            return Err(malformed("moof before moov"));
        };
        self.pending.clear();
        for (_, traf) in children(moof).filter(|(k, _)| k == b"traf") {
            let Some(tfhd) = child(traf, b"tfhd") else {
                continue;
            };
            let flags = be32(tfhd, 0).unwrap_or_default() & 0x00FF_FFFF;
            if be32(tfhd, 4) != Some(track.id) {
                continue;
            }
            let mut field = 8;
            let mut base = at;
            if flags & 0x01 != 0 {
                base = be64(tfhd, field).ok_or_else(|| malformed("short tfhd"))?;
                field += 8;
            }
            for bit in [0x02, 0x08] {
                if flags & bit != 0 {
                    field += 4;
                }
            }
            let default_size = if flags & 0x10 != 0 {
                be32(tfhd, field)
            } else {
                track.default_size
            };
            let mut next = base;
            for (_, trun) in children(traf).filter(|(k, _)| k == b"trun") {
                next = self.trun(trun, base, next, default_size)?;
            }
        }
        self.pending.make_contiguous().sort_unstable();
        Ok(())
    }

    /// Adds a `trun`'s samples; returns where its data ends.
    fn trun(
        &mut self,
        trun: &[u8],
        base: u64,
        next: u64,
        default_size: Option<u32>,
    ) -> Result<u64, DecodeError> {
        let short = || malformed("short trun");
        let flags = be32(trun, 0).ok_or_else(short)? & 0x00FF_FFFF;
        let count = be32(trun, 4).ok_or_else(short)? as usize;
        if self.pending.len() + count > MAX_SAMPLES_PER_FRAGMENT {
            return Err(DecodeError::Unsupported {
                what: format!("an MP4 fragment of over {MAX_SAMPLES_PER_FRAGMENT} samples"),
            });
        }
        let mut field = 8;
        let mut start = next;
        if flags & 0x01 != 0 {
            let offset = be32(trun, field).ok_or_else(short)? as i32;
            start = base
                .checked_add_signed(i64::from(offset))
                .ok_or_else(short)?;
            field += 4;
        }
        if flags & 0x04 != 0 {
            field += 4;
        }
        let per_sample: usize = [0x100, 0x200, 0x400, 0x800]
            .iter()
            .filter(|&&bit| flags & bit != 0)
            .count()
            * 4;
        for i in 0..count {
            let mut entry = field + i * per_sample;
            if flags & 0x100 != 0 {
                entry += 4;
            }
            let size = if flags & 0x200 != 0 {
                be32(trun, entry).ok_or_else(short)?
            } else {
                default_size.ok_or_else(|| malformed("sample without a size"))?
            };
            if per_sample > 0 && trun.len() < field + (i + 1) * per_sample {
                return Err(short());
            }
            if size > MAX_SAMPLE_BYTES {
                return Err(DecodeError::Unsupported {
                    what: format!("an MP4 sample of {size} bytes (at most {MAX_SAMPLE_BYTES})"),
                });
            }
            self.pending.push_back((start, size));
            start = start.saturating_add(u64::from(size));
        }
        Ok(start)
    }
}
