//! An incremental WebM (Matroska) demuxer for live streams such as Chrome's
//! `MediaRecorder` output: bytes arrive in arbitrary pieces, the segment and
//! clusters have unknown sizes, and only the Opus packets of the first
//! audio track are wanted.
//!
//! The walker reads EBML element headers in order. The master elements on
//! the way to the audio (`Segment`, `Tracks`, `TrackEntry`, `Audio`,
//! `Cluster`, `BlockGroup`) are entered, the few leaves it needs are read
//! whole (each at most [`MAX_ELEMENT_BYTES`]), and everything else — cues,
//! tags, other tracks' blocks, video — is skipped as it streams past
//! without being buffered. Laced blocks are [`DecodeError::Unsupported`]
//! (browsers and ffmpeg never lace Opus). Files go through symphonia's
//! Matroska reader instead ([`crate::decode_file`]).

use crate::error::DecodeError;
use crate::ogg::Demuxed;

/// Largest leaf element (codec header, audio block) read whole.
pub const MAX_ELEMENT_BYTES: u64 = 1 << 20;

/// Most track entries remembered.
const MAX_TRACKS: usize = 64;

const EBML: u32 = 0x1A45_DFA3;
const SEGMENT: u32 = 0x1853_8067;
const TRACKS: u32 = 0x1654_AE6B;
const TRACK_ENTRY: u32 = 0xAE;
const AUDIO: u32 = 0xE1;
const CLUSTER: u32 = 0x1F43_B675;
const BLOCK_GROUP: u32 = 0xA0;
const TRACK_NUMBER: u32 = 0xD7;
const TRACK_TYPE: u32 = 0x83;
const CODEC_ID: u32 = 0x86;
const CODEC_PRIVATE: u32 = 0x63A2;
const SIMPLE_BLOCK: u32 = 0xA3;
const BLOCK: u32 = 0xA1;

#[derive(Debug, Default, Clone)]
struct Track {
    number: u64,
    kind: u64,
    codec: String,
    private: Vec<u8>,
}

/// The walker's state between pushes.
#[derive(Debug, Default)]
pub(crate) struct WebmDemux {
    /// Bytes of a skipped element still to pass over.
    skip: u64,
    seen_header: bool,
    current: Option<Track>,
    tracks: Vec<Track>,
    /// The audio track's number, once chosen.
    audio: Option<u64>,
}

/// Reads a variable-length integer at the start of `bytes`: `(value, len)`,
/// `None` when more bytes are needed. IDs keep their marker bit.
fn vint(
    bytes: &[u8],
    max_len: usize,
    keep_marker: bool,
) -> Result<Option<(u64, usize)>, DecodeError> {
    let Some(&first) = bytes.first() else {
        return Ok(None);
    };
    let len = first.leading_zeros() as usize + 1;
    if len > max_len {
        return Err(DecodeError::Malformed {
            what: "invalid EBML variable-length integer".into(),
        });
    }
    let Some(raw) = bytes.get(..len) else {
        return Ok(None);
    };
    let mut value = if keep_marker {
        u64::from(first)
    } else {
        u64::from(first) & (0xFF >> len)
    };
    for &b in &raw[1..] {
        value = (value << 8) | u64::from(b);
    }
    Ok(Some((value, len)))
}

/// The value of an unsigned-integer element.
fn uint(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0, |v, &b| (v << 8) | u64::from(b))
}

impl WebmDemux {
    /// Whether `bytes` starts like an EBML document.
    pub(crate) fn sniff(bytes: &[u8]) -> bool {
        bytes.starts_with(&EBML.to_be_bytes())
    }

    fn finish_track(&mut self) {
        if let Some(track) = self.current.take() {
            if self.tracks.len() < MAX_TRACKS {
                self.tracks.push(track);
            }
        }
    }

    /// Chooses the first audio track when the first cluster or block arrives.
    fn choose_track(&mut self, out: &mut Vec<Demuxed>) -> Result<(), DecodeError> {
        if self.audio.is_some() {
            return Ok(());
        }
        self.finish_track();
        let Some(track) = self.tracks.iter().find(|t| t.kind == 2) else {
            return Err(DecodeError::Unsupported {
                what: "WebM stream without an audio track".into(),
            });
        };
        if track.codec != "A_OPUS" {
            return Err(DecodeError::Unsupported {
                what: format!("live WebM audio `{}` (stream Opus)", track.codec),
            });
        }
        let (number, private) = (track.number, track.private.clone());
        self.audio = Some(number);
        out.push(Demuxed::Head(private));
        self.tracks.clear();
        Ok(())
    }

    /// Consumes what it can of `bytes`, appending demuxed packets to `out`;
    /// returns the number of bytes consumed (the rest must be offered again
    /// with more data appended).
    pub(crate) fn parse(
        &mut self,
        bytes: &[u8],
        out: &mut Vec<Demuxed>,
    ) -> Result<usize, DecodeError> {
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
            let rest = &bytes[pos..];
            let Some((id, id_len)) = vint(rest, 4, true)? else {
                return Ok(pos);
            };
            let Some((size, size_len)) = vint(&rest[id_len..], 8, false)? else {
                return Ok(pos);
            };
            let id = id as u32;
            let header = id_len + size_len;
            let unknown = size == (1u64 << (7 * size_len)) - 1;
            if !self.seen_header {
                if id != EBML {
                    return Err(DecodeError::Malformed {
                        what: "WebM stream does not start with an EBML header".into(),
                    });
                }
                self.seen_header = true;
            }
            match id {
                SEGMENT | TRACKS | AUDIO | CLUSTER | BLOCK_GROUP | TRACK_ENTRY => {
                    if id == TRACK_ENTRY {
                        self.finish_track();
                        self.current = Some(Track::default());
                    }
                    if id == CLUSTER {
                        self.choose_track(out)?;
                    }
                    pos += header;
                    continue;
                }
                _ => {}
            }
            if unknown {
                return Err(DecodeError::Malformed {
                    what: format!("WebM element {id:#x} of unknown size"),
                });
            }
            let wanted = match id {
                TRACK_NUMBER | TRACK_TYPE | CODEC_ID | CODEC_PRIVATE => self.current.is_some(),
                SIMPLE_BLOCK | BLOCK => true,
                _ => false,
            };
            if !wanted {
                pos += header;
                self.skip = size;
                continue;
            }
            if id == SIMPLE_BLOCK || id == BLOCK {
                self.choose_track(out)?;
                // The track number leads the block: skip other tracks' blocks unread.
                let Some((track, _)) = vint(&rest[header..], 8, false)? else {
                    return Ok(pos);
                };
                if Some(track) != self.audio {
                    pos += header;
                    self.skip = size;
                    continue;
                }
            }
            if size > MAX_ELEMENT_BYTES {
                return Err(DecodeError::Unsupported {
                    what: format!("a WebM element of {size} bytes (at most {MAX_ELEMENT_BYTES})"),
                });
            }
            let end = header + size as usize;
            let Some(body) = rest.get(header..end) else {
                return Ok(pos);
            };
            pos += end;
            match (id, self.current.as_mut()) {
                (TRACK_NUMBER, Some(t)) => t.number = uint(body),
                (TRACK_TYPE, Some(t)) => t.kind = uint(body),
                (CODEC_ID, Some(t)) => {
                    t.codec = String::from_utf8_lossy(body)
                        .trim_end_matches('\0')
                        .to_string()
                }
                (CODEC_PRIVATE, Some(t)) => t.private = body.to_vec(),
                _ => out.push(block_payload(body)?),
            }
        }
    }
}

/// The frame of a (Simple)Block: after the track number, a 2-byte timecode
/// and a flags byte.
fn block_payload(body: &[u8]) -> Result<Demuxed, DecodeError> {
    let Some((_, len)) = vint(body, 8, false)? else {
        return Err(DecodeError::Malformed {
            what: "empty WebM block".into(),
        });
    };
    let Some(&flags) = body.get(len + 2) else {
        return Err(DecodeError::Malformed {
            what: "WebM block shorter than its header".into(),
        });
    };
    if flags & 0x06 != 0 {
        return Err(DecodeError::Unsupported {
            what: "laced WebM blocks".into(),
        });
    }
    Ok(Demuxed::Audio(body[len + 3..].to_vec()))
}
