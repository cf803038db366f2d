//! Compressed formats through symphonia, probed by content with an optional
//! MIME-type/extension hint: MP3, FLAC, Ogg (Vorbis, Opus, FLAC), WebM and
//! Matroska (Opus, Vorbis, FLAC), MP4/M4A (AAC). Symphonia demuxes every
//! container and decodes every codec but Opus, whose packets go to libopus
//! ([`crate::opus`]), decoded straight at the target rate when libopus
//! supports it and with the stream's pre-skip trimmed.
//!
//! Decoding rules: the default audio track is decoded; packets the codec
//! rejects are skipped (symphonia's recommended recovery), but if no packet
//! decodes at all the input is [`DecodeError::Malformed`]. A stream cut off
//! mid-packet keeps what was decoded before the cut. A sample-rate change in
//! the middle of a stream is [`DecodeError::Unsupported`]. Chained Ogg
//! streams stop at the end of the first logical stream. Any panic inside the
//! third-party decoder is caught and reported as [`DecodeError::Malformed`].

use std::io::{Cursor, ErrorKind};
use std::panic::{catch_unwind, AssertUnwindSafe};

use symphonia::core::codecs::audio::well_known::CODEC_ID_OPUS;
use symphonia::core::codecs::audio::{AudioDecoder, AudioDecoderOptions};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

use crate::decode::check_source_rate;
use crate::error::DecodeError;
use crate::opus::{parse_head, OpusPacketDecoder};
use crate::pcm::{downmix_to_mono_into, sanitize};
use crate::sink::MonoSink;

/// Builds a probe hint from a MIME type (`"audio/mpeg; x=y"`), an extension
/// (`"mp3"`, `".flac"`) or a file name (`"upload.ogg"`).
fn make_hint(hint: Option<&str>) -> Hint {
    let mut h = Hint::new();
    if let Some(raw) = hint {
        let raw = raw.trim().to_ascii_lowercase();
        if raw.contains('/') {
            let mime = raw.split(';').next().unwrap_or_default().trim();
            h.mime_type(mime);
        } else if let Some(ext) = raw.rsplit('.').next().filter(|e| !e.is_empty()) {
            h.with_extension(ext);
        }
    }
    h
}

fn map_error(err: SymError, context: &'static str) -> DecodeError {
    match err {
        SymError::IoError(e) if e.kind() == ErrorKind::UnexpectedEof => {
            DecodeError::Truncated { what: context }
        }
        SymError::Unsupported(what) => DecodeError::Unsupported {
            what: if what.contains("no suitable format reader") {
                "unrecognised audio format".to_string()
            } else {
                what.to_string()
            },
        },
        other => DecodeError::Malformed {
            what: other.to_string(),
        },
    }
}

/// Decodes a compressed file into `sink`, packet by packet: each packet is
/// admitted against the sink's limits before it is copied out of the
/// decoder, then mixed to mono and resampled.
pub(crate) fn decode(
    bytes: &[u8],
    hint: Option<&str>,
    sink: &mut MonoSink,
) -> Result<(), DecodeError> {
    catch_unwind(AssertUnwindSafe(|| decode_inner(bytes, hint, sink))).unwrap_or_else(|_| {
        Err(DecodeError::Malformed {
            what: "decoder panicked on this input".into(),
        })
    })
}

/// The codec of the decoded track.
enum Codec {
    /// Everything symphonia decodes itself.
    Symphonia(Box<dyn AudioDecoder>),
    /// Opus packets, decoded by libopus.
    Opus(OpusPacketDecoder),
}

/// Probes `bytes` and returns the format reader.
fn open<'a>(bytes: &'a [u8], hint: &Hint) -> Result<Box<dyn FormatReader + 'a>, SymError> {
    let mss = MediaSourceStream::new(Box::new(Cursor::new(bytes)), Default::default());
    symphonia::default::get_probe().probe(
        hint,
        mss,
        FormatOptions::default(),
        MetadataOptions::default(),
    )
}

fn decode_inner(bytes: &[u8], hint: Option<&str>, sink: &mut MonoSink) -> Result<(), DecodeError> {
    let hint = make_hint(hint);
    let mut format = open(bytes, &hint).map_err(|e| map_error(e, "container header"))?;

    let track = format
        .default_track(TrackType::Audio)
        .ok_or_else(|| DecodeError::Unsupported {
            what: "no audio track".into(),
        })?;
    let track_id = track.id;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(|| DecodeError::Unsupported {
            what: "audio track without codec parameters".into(),
        })?
        .clone();
    if let Some(rate) = params.sample_rate {
        check_source_rate(rate)?;
        if let Some(frames) = track.num_frames {
            let channels = params.channels.as_ref().map_or(1, |c| c.count().max(1));
            sink.limits()
                .check(frames, frames.saturating_mul(channels as u64), rate)?;
        }
    }
    if params.channels.as_ref().is_some_and(|c| c.count() == 0) {
        return Err(DecodeError::ZeroChannels);
    }

    let mut decoder = if params.codec == CODEC_ID_OPUS {
        let head = parse_head(params.extra_data.as_deref().unwrap_or_default())?;
        Codec::Opus(OpusPacketDecoder::new(&head, sink.target_rate())?)
    } else {
        Codec::Symphonia(
            symphonia::default::get_codecs()
                .make_audio_decoder(&params, &AudioDecoderOptions::default())
                .map_err(|e| map_error(e, "codec setup"))?,
        )
    };

    let mut mono: Vec<f32> = Vec::new();
    let mut interleaved: Vec<f32> = Vec::new();
    let mut last_error: Option<String> = None;

    loop {
        let packet = match format.next_packet() {
            Ok(Some(packet)) => packet,
            Ok(None) | Err(SymError::ResetRequired) => break,
            Err(SymError::IoError(e)) if e.kind() == ErrorKind::UnexpectedEof => break,
            Err(e) => {
                if sink.frames() == 0 {
                    return Err(map_error(e, "stream"));
                }
                // Keep what decoded before a corrupt tail.
                break;
            }
        };
        if packet.track_id != track_id {
            continue;
        }
        interleaved.clear();
        let channels = match &mut decoder {
            Codec::Opus(opus) => {
                let frames = match opus.frames_in(&packet.data) {
                    Ok(frames) => frames,
                    Err(e) => {
                        last_error = Some(e.to_string());
                        continue;
                    }
                };
                sink.set_source_rate(opus.rate())?;
                sink.admit(frames, opus.channels())?;
                if let Err(e) = opus.decode(&packet.data, &mut interleaved) {
                    last_error = Some(e.to_string());
                    continue;
                }
                opus.channels()
            }
            Codec::Symphonia(decoder) => {
                let buf = match decoder.decode(&packet) {
                    Ok(buf) => buf,
                    Err(SymError::DecodeError(msg)) => {
                        last_error = Some(msg.to_string());
                        continue;
                    }
                    Err(SymError::IoError(e)) => {
                        last_error = Some(e.to_string());
                        continue;
                    }
                    Err(e) => return Err(map_error(e, "packet")),
                };
                if buf.frames() == 0 {
                    continue;
                }
                let spec = buf.spec();
                let buf_channels = spec.channels().count();
                if buf_channels == 0 {
                    return Err(DecodeError::ZeroChannels);
                }
                sink.set_source_rate(spec.rate())?;
                sink.admit(buf.frames(), buf_channels)?;
                buf.copy_to_vec_interleaved(&mut interleaved);
                buf_channels
            }
        };
        if interleaved.is_empty() {
            continue;
        }
        mono.clear();
        downmix_to_mono_into(&interleaved, channels, &mut mono)
            .map_err(|_| DecodeError::ZeroChannels)?;
        for s in &mut mono {
            *s = sanitize(*s);
        }
        sink.push(&mono)?;
    }

    if sink.frames() > 0 {
        return Ok(());
    }
    Err(match last_error {
        Some(what) => DecodeError::Malformed {
            what: format!("no packet could be decoded: {what}"),
        },
        None => DecodeError::Empty,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_are_normalised() {
        // Only checks that odd hints do not panic and unknown content is rejected.
        for hint in [
            Some("audio/mpeg; charset=x"),
            Some(".FLAC"),
            Some("upload.ogg"),
            Some(""),
            Some("."),
            Some("/"),
            None,
        ] {
            let _ = make_hint(hint);
            let mut sink = MonoSink::new(16_000, &crate::DecodeLimits::default());
            assert!(decode(&[0u8; 64], hint, &mut sink).is_err());
        }
    }
}
