//! [`StreamDecoder`]: audio that arrives in pieces (a live WebSocket), fed
//! chunk by chunk and decoded as far as each chunk allows — headerless
//! G.711/linear16 described by the caller, or a container recognised from
//! its first bytes: WAV (16-bit PCM, μ-law, A-law), Ogg Opus, WebM Opus,
//! MP3 (split into frames by `mp3_split`), FLAC (`flac_split`) or
//! fragmented MP4 with AAC (`mp4_split`, Safari's `MediaRecorder`), the
//! last three decoded frame by frame by symphonia (`stream_codec`).
//!
//! Output is interleaved `f32` at the stream's own rate and channel count
//! ([`StreamInfo`]); the caller mixes and resamples. Opus is decoded at the
//! rate passed to [`StreamDecoder::sniffing`] when libopus supports it
//! (8, 12, 16, 24 or 48 kHz), otherwise at 48 kHz.
//!
//! Memory is bounded on any input: the decoder keeps at most one
//! unfinished header, Ogg page or WebM element (see [`MAX_BUFFERED_BYTES`]),
//! and one push may decode at most [`MAX_SECONDS_PER_PUSH`] seconds of
//! Opus, MP3 or FLAC (a two-byte Opus packet decodes to 120 ms and a
//! dozen-byte FLAC frame to 65 535 samples, so a small message could
//! otherwise expand to hours of audio): more is [`DecodeError::TooLong`].
//! A FLAC frame is released when the next frame's header arrives; call
//! [`StreamDecoder::finish`] at the end of the stream for the last one.
//! Errors are final: after one, every push fails the same way.

use crate::decode::{check_source_rate, decode_interleaved_into_vec, RawEncoding};
use crate::error::DecodeError;
use crate::flac_split::{self, FlacSplit};
use crate::mp3_split::{self, Mp3Split};
use crate::mp4_split::{self, Mp4Split};
use crate::ogg::{Demuxed, OggDemux};
use crate::opus::{parse_head, OpusPacketDecoder};
use crate::stream_codec::PacketCodec;
use crate::wav_stream::{self, StreamSampleFormat};
use crate::webm::WebmDemux;

/// Most bytes held between pushes (an unfinished page, element or header).
pub const MAX_BUFFERED_BYTES: usize = 2 << 20;

/// Most seconds of Opus, MP3 or FLAC audio one push may decode.
pub const MAX_SECONDS_PER_PUSH: f64 = 60.0;

/// The container of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// Headerless samples described by the caller.
    Raw,
    /// RIFF/WAVE with a streaming header.
    Wav,
    /// Ogg with Opus.
    Ogg,
    /// WebM (Matroska) with Opus.
    WebM,
    /// MP3 (MPEG-1/2/2.5 audio layer III), optionally after an ID3v2 tag.
    Mp3,
    /// Native FLAC.
    Flac,
    /// Fragmented MP4 with AAC.
    Mp4,
}

/// What a stream turned out to hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamInfo {
    /// The container.
    pub container: Container,
    /// Rate of the decoded samples, Hz.
    pub sample_rate: u32,
    /// Interleaved channels of the decoded samples.
    pub channels: u16,
}

enum State {
    Sniff,
    Pcm(RawEncoding),
    Ogg(OggDemux),
    WebM(WebmDemux),
    Mp3(Mp3Split),
    Flac(FlacSplit),
    Mp4(Mp4Split),
    Failed(DecodeError),
}

/// Incremental decoder of one live stream.
pub struct StreamDecoder {
    state: State,
    buffered: Vec<u8>,
    opus_rate: u32,
    opus: Option<OpusPacketDecoder>,
    info: Option<StreamInfo>,
    packets: Vec<Demuxed>,
    /// The MP3 or FLAC decoder, once the stream's format is known.
    codec: Option<PacketCodec>,
    mp3_frames: Vec<mp3_split::Split>,
    flac_frames: Vec<flac_split::Split>,
    mp4_frames: Vec<mp4_split::Split>,
    /// MP3 encoder delay seen before the first frame.
    mp3_delay: usize,
}

impl std::fmt::Debug for StreamDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamDecoder")
            .field("info", &self.info)
            .field("buffered", &self.buffered.len())
            .finish()
    }
}

impl StreamDecoder {
    /// A decoder that recognises the container from the first bytes;
    /// Opus is decoded at `opus_rate` when libopus supports that rate.
    pub fn sniffing(opus_rate: u32) -> Self {
        Self {
            state: State::Sniff,
            buffered: Vec::new(),
            opus_rate,
            opus: None,
            info: None,
            packets: Vec::new(),
            codec: None,
            mp3_frames: Vec::new(),
            flac_frames: Vec::new(),
            mp4_frames: Vec::new(),
            mp3_delay: 0,
        }
    }

    /// A decoder of headerless `encoding` at `sample_rate` Hz with `channels` channels.
    pub fn raw(
        encoding: RawEncoding,
        sample_rate: u32,
        channels: u16,
    ) -> Result<Self, DecodeError> {
        if channels == 0 {
            return Err(DecodeError::ZeroChannels);
        }
        check_source_rate(sample_rate)?;
        let mut decoder = Self::sniffing(sample_rate);
        decoder.state = State::Pcm(encoding);
        decoder.info = Some(StreamInfo {
            container: Container::Raw,
            sample_rate,
            channels,
        });
        Ok(decoder)
    }

    /// The stream's format, once its header has been read.
    pub fn info(&self) -> Option<StreamInfo> {
        self.info
    }

    /// Bytes received but not yet decoded (a partial frame, page or header).
    pub fn buffered(&self) -> usize {
        self.buffered.len()
    }

    /// Decodes what `bytes` completes and appends the interleaved samples to `out`.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<f32>) -> Result<(), DecodeError> {
        if let State::Failed(error) = &self.state {
            return Err(error.clone());
        }
        let result = self.push_inner(bytes, out);
        if let Err(error) = &result {
            self.state = State::Failed(error.clone());
            self.buffered = Vec::new();
        }
        result
    }

    fn push_inner(&mut self, bytes: &[u8], out: &mut Vec<f32>) -> Result<(), DecodeError> {
        self.buffered.extend_from_slice(bytes);
        if matches!(self.state, State::Sniff) {
            self.sniff()?;
        }
        let consumed = match &mut self.state {
            State::Sniff | State::Failed(_) => 0,
            State::Pcm(encoding) => {
                let Some(info) = self.info else { return Ok(()) };
                decode_interleaved_into_vec(&self.buffered, *encoding, info.channels, out)
            }
            State::Ogg(demux) => demux.parse(&self.buffered, &mut self.packets)?,
            State::WebM(demux) => demux.parse(&self.buffered, &mut self.packets)?,
            State::Mp3(split) => split.parse(&self.buffered, &mut self.mp3_frames)?,
            State::Flac(split) => split.parse(&self.buffered, &mut self.flac_frames)?,
            State::Mp4(split) => split.parse(&self.buffered, &mut self.mp4_frames)?,
        };
        self.buffered.drain(..consumed);
        let mut frames = 0;
        self.decode_packets(&mut frames, out)?;
        self.decode_frames(&mut frames, out)?;
        if self.buffered.len() > MAX_BUFFERED_BYTES {
            return Err(DecodeError::Unsupported {
                what: format!("a stream unit larger than {MAX_BUFFERED_BYTES} bytes"),
            });
        }
        Ok(())
    }

    /// Recognises the container once enough bytes are there.
    fn sniff(&mut self) -> Result<(), DecodeError> {
        let head = &self.buffered;
        let (flac, mp3) = (FlacSplit::sniff(head), Mp3Split::sniff(head));
        if head.len() < 4 {
            let could_be = [&b"RIFF"[..], b"OggS", b"\x1a\x45\xdf\xa3"]
                .iter()
                .any(|magic| magic.starts_with(head))
                || flac.is_none()
                || mp3.is_none()
                || head.first() == Some(&0); // an MP4 box size
            return if could_be {
                Ok(())
            } else {
                Err(not_a_stream())
            };
        }
        if Mp4Split::sniff(head) == Some(true) {
            self.state = State::Mp4(Mp4Split::default());
        } else if OggDemux::sniff(head) {
            self.state = State::Ogg(OggDemux::default());
        } else if WebmDemux::sniff(head) {
            self.state = State::WebM(WebmDemux::default());
        } else if flac == Some(true) {
            self.state = State::Flac(FlacSplit::default());
        } else if mp3.is_none() {
            // An ID3v2 tag's header is not complete yet.
            return Ok(());
        } else if mp3 == Some(true) {
            self.state = State::Mp3(Mp3Split::default());
        } else if head.len() < 8 && !head.starts_with(b"RIFF") {
            // MP4's `ftyp` is the second word.
            return Ok(());
        } else {
            let Some(header) = wav_stream::parse_stream_header(head).map_err(|e| match e {
                DecodeError::Unsupported { what } if what.contains("not WAV") => not_a_stream(),
                other => other,
            })?
            else {
                return Ok(());
            };
            check_source_rate(header.sample_rate)?;
            let encoding = match header.format {
                StreamSampleFormat::Pcm16 => RawEncoding::Linear16,
                StreamSampleFormat::Mulaw => RawEncoding::Mulaw,
                StreamSampleFormat::Alaw => RawEncoding::Alaw,
            };
            self.buffered
                .drain(..header.data_offset.min(self.buffered.len()));
            self.state = State::Pcm(encoding);
            self.info = Some(StreamInfo {
                container: Container::Wav,
                sample_rate: header.sample_rate,
                channels: header.channels,
            });
        }
        Ok(())
    }

    /// Decodes the split MP3, FLAC and AAC frames, within [`MAX_SECONDS_PER_PUSH`].
    fn decode_frames(&mut self, frames: &mut usize, out: &mut Vec<f32>) -> Result<(), DecodeError> {
        for split in std::mem::take(&mut self.mp3_frames) {
            match split {
                mp3_split::Split::Delay(delay) => self.mp3_delay = delay,
                mp3_split::Split::Frame(frame, header) => {
                    if self.codec.is_none() {
                        let codec =
                            PacketCodec::mp3(header.sample_rate, header.channels, self.mp3_delay)?;
                        self.set_codec(codec, Container::Mp3);
                    }
                    self.decode_frame(&frame, frames, out)?;
                }
            }
        }
        for split in std::mem::take(&mut self.flac_frames) {
            match split {
                flac_split::Split::StreamInfo(info) => {
                    self.set_codec(PacketCodec::flac(&info)?, Container::Flac);
                }
                flac_split::Split::Frame(frame) => self.decode_frame(&frame, frames, out)?,
            }
        }
        for split in std::mem::take(&mut self.mp4_frames) {
            match split {
                mp4_split::Split::Config(config) => {
                    self.set_codec(PacketCodec::aac(&config)?, Container::Mp4);
                }
                mp4_split::Split::Sample(frame) => self.decode_frame(&frame, frames, out)?,
            }
        }
        Ok(())
    }

    fn set_codec(&mut self, codec: PacketCodec, container: Container) {
        self.info = Some(StreamInfo {
            container,
            sample_rate: codec.rate(),
            channels: codec.channels(),
        });
        self.codec = Some(codec);
    }

    fn decode_frame(
        &mut self,
        frame: &[u8],
        frames: &mut usize,
        out: &mut Vec<f32>,
    ) -> Result<(), DecodeError> {
        let Some(codec) = self.codec.as_mut() else {
            return Ok(());
        };
        let (rate, channels) = (codec.rate(), usize::from(codec.channels()).max(1));
        let samples = codec.decode(frame)?;
        *frames += samples.len() / channels;
        within_push_limit(*frames, rate)?;
        out.extend_from_slice(samples);
        Ok(())
    }

    /// The end of the stream: decodes what only the end completes (the
    /// last FLAC frame, which no next header closes) and appends it to
    /// `out`. Later pushes fail.
    pub fn finish(&mut self, out: &mut Vec<f32>) -> Result<(), DecodeError> {
        if let State::Failed(error) = &self.state {
            return Err(error.clone());
        }
        let last = match &mut self.state {
            State::Flac(split) => split.finish(&self.buffered),
            _ => None,
        };
        self.buffered = Vec::new();
        let result = match last {
            Some(frame) => self.decode_frame(&frame, &mut 0, out),
            None => Ok(()),
        };
        self.state = State::Failed(match &result {
            Err(error) => error.clone(),
            Ok(()) => DecodeError::Unsupported {
                what: "audio after the end of the stream".into(),
            },
        });
        result
    }

    /// Decodes the demuxed packets, within [`MAX_SECONDS_PER_PUSH`].
    fn decode_packets(
        &mut self,
        frames: &mut usize,
        out: &mut Vec<f32>,
    ) -> Result<(), DecodeError> {
        for packet in self.packets.drain(..) {
            match packet {
                Demuxed::Head(head) => {
                    if self.opus.is_some() {
                        continue;
                    }
                    let head = parse_head(&head)?;
                    let decoder = OpusPacketDecoder::new(&head, self.opus_rate)?;
                    self.info = Some(StreamInfo {
                        container: match self.state {
                            State::WebM(_) => Container::WebM,
                            _ => Container::Ogg,
                        },
                        sample_rate: decoder.rate(),
                        channels: decoder.channels() as u16,
                    });
                    self.opus = Some(decoder);
                }
                Demuxed::Audio(packet) => {
                    let Some(opus) = self.opus.as_mut() else {
                        return Err(DecodeError::Malformed {
                            what: "Opus audio before its OpusHead header".into(),
                        });
                    };
                    // Undecodable packets are skipped, as in files.
                    let Ok(n) = opus.frames_in(&packet) else {
                        continue;
                    };
                    *frames += n;
                    within_push_limit(*frames, opus.rate())?;
                    let _ = opus.decode(&packet, out);
                }
            }
        }
        Ok(())
    }
}

/// [`DecodeError::TooLong`] when one push has decoded more than [`MAX_SECONDS_PER_PUSH`].
fn within_push_limit(frames: usize, rate: u32) -> Result<(), DecodeError> {
    let seconds = frames as f64 / f64::from(rate.max(1));
    if seconds > MAX_SECONDS_PER_PUSH {
        return Err(DecodeError::TooLong {
            duration_s: seconds,
            max_s: MAX_SECONDS_PER_PUSH,
        });
    }
    Ok(())
}

fn not_a_stream() -> DecodeError {
    DecodeError::Unsupported {
        what: "a stream that is not WAV, Ogg Opus, WebM Opus, MP3, FLAC or fragmented MP4 (AAC)"
            .into(),
    }
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "stream_frames_tests.rs"]
mod frames_tests;
