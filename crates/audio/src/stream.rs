//! [`StreamDecoder`]: audio that arrives in pieces (a live WebSocket), fed
//! chunk by chunk and decoded as far as each chunk allows — headerless
//! G.711/linear16 described by the caller, or a container recognised from
//! its first bytes: WAV (16-bit PCM, μ-law, A-law), Ogg Opus or WebM Opus.
//!
//! Output is interleaved `f32` at the stream's own rate and channel count
//! ([`StreamInfo`]); the caller mixes and resamples. Opus is decoded at the
//! rate passed to [`StreamDecoder::sniffing`] when libopus supports it
//! (8, 12, 16, 24 or 48 kHz), otherwise at 48 kHz.
//!
//! Memory is bounded on any input: the decoder keeps at most one
//! unfinished header, Ogg page or WebM element (see [`MAX_BUFFERED_BYTES`]),
//! and one push may decode at most [`MAX_SECONDS_PER_PUSH`] seconds of
//! Opus (a two-byte packet decodes to 120 ms, so a small message could
//! otherwise expand to hours of audio): more is [`DecodeError::TooLong`].
//! Errors are final: after one, every push fails the same way.

use crate::decode::{check_source_rate, decode_interleaved_into_vec, RawEncoding};
use crate::error::DecodeError;
use crate::ogg::{Demuxed, OggDemux};
use crate::opus::{parse_head, OpusPacketDecoder};
use crate::wav_stream::{self, StreamSampleFormat};
use crate::webm::WebmDemux;

/// Most bytes held between pushes (an unfinished page, element or header).
pub const MAX_BUFFERED_BYTES: usize = 2 << 20;

/// Most seconds of Opus audio one push may decode.
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
        };
        self.buffered.drain(..consumed);
        self.decode_packets(out)?;
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
        if head.len() < 4 {
            let could_be = [&b"RIFF"[..], b"OggS", b"\x1a\x45\xdf\xa3"]
                .iter()
                .any(|magic| magic.starts_with(head));
            return if could_be {
                Ok(())
            } else {
                Err(not_a_stream())
            };
        }
        if OggDemux::sniff(head) {
            self.state = State::Ogg(OggDemux::default());
        } else if WebmDemux::sniff(head) {
            self.state = State::WebM(WebmDemux::default());
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

    /// Decodes the demuxed packets, within [`MAX_SECONDS_PER_PUSH`].
    fn decode_packets(&mut self, out: &mut Vec<f32>) -> Result<(), DecodeError> {
        let mut frames = 0usize;
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
                    frames += n;
                    let seconds = frames as f64 / f64::from(opus.rate());
                    if seconds > MAX_SECONDS_PER_PUSH {
                        return Err(DecodeError::TooLong {
                            duration_s: seconds,
                            max_s: MAX_SECONDS_PER_PUSH,
                        });
                    }
                    let _ = opus.decode(&packet, out);
                }
            }
        }
        Ok(())
    }
}

fn not_a_stream() -> DecodeError {
    DecodeError::Unsupported {
        what: "a stream that is not WAV, Ogg Opus or WebM Opus".into(),
    }
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
