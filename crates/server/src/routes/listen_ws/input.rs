//! The wire audio of one `/v1/listen` session: raw samples described by the
//! query (`encoding`, `sample_rate`, `channels`), or a container recognised
//! from the first bytes by `vocalis-audio`'s [`StreamDecoder`] — WAV, Ogg
//! Opus (Firefox, `encoding=opus|ogg-opus`), WebM Opus (Chrome's
//! `MediaRecorder`), MP3, FLAC (`encoding=flac`) or fragmented MP4 with AAC
//! (Safari's `MediaRecorder`) — whose decoded samples
//! continue as 16-bit PCM at the stream's own rate; split per channel when
//! `multichannel=true`, hashed for `Metadata`. At `CloseStream`,
//! [`ChannelAudio::finish`] releases what only the end completes (FLAC's
//! last frame). A header declaring more than
//! [`MAX_CHANNELS`] channels is undecodable (close 1008 `DATA-0000`), so a
//! client cannot make the session build thousands of recognizers.

use sha2::{Digest, Sha256};
use vocalis_audio::StreamDecoder;
use vocalis_inference::streaming::StreamingConfig;
use vocalis_inference::vad::Vad;

use crate::error::ApiError;
use crate::session::audio_input::{AudioInput, InputEncoding, ENGINE_RATE};
use crate::session::stt_stream::{SttStream, SttStreamError};
use crate::wire::deepgram::{ListenParams, MAX_CHANNELS};

/// Audio that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// Not decodable as the announced or detected format.
    #[error("{0}")]
    Undecodable(String),
}

/// The sample format of a session, once known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamFormat {
    /// Encoding.
    pub encoding: InputEncoding,
    /// Hz.
    pub rate: u32,
    /// Interleaved channels on the wire.
    pub channels: u16,
    /// Whether each channel is transcribed on its own.
    pub split: bool,
}

impl StreamFormat {
    fn bytes_per_sample(&self) -> usize {
        match self.encoding {
            InputEncoding::Linear16 => 2,
            InputEncoding::Mulaw | InputEncoding::Alaw => 1,
        }
    }

    /// One recognizer per transcribed channel.
    pub fn streams(
        &self,
        vad: &Vad,
        config: &StreamingConfig,
    ) -> Result<Vec<SttStream>, SttStreamError> {
        let (count, channels_per_stream) = if self.split {
            (usize::from(self.channels), 1)
        } else {
            (1, self.channels)
        };
        (0..count)
            .map(|_| {
                let input = AudioInput::new(self.encoding, self.rate, channels_per_stream)?;
                SttStream::new(input, vad, config.clone())
            })
            .collect()
    }
}

/// Parses the raw-audio parameters; a 400 for what cannot be streamed.
pub fn raw_format(params: &ListenParams) -> Result<Option<StreamFormat>, ApiError> {
    let Some(encoding) = params.encoding.as_deref() else {
        return Ok(None);
    };
    let encoding = match encoding.to_ascii_lowercase().as_str() {
        "linear16" | "pcm" | "pcm_s16le" => InputEncoding::Linear16,
        "mulaw" | "ulaw" => InputEncoding::Mulaw,
        "alaw" => InputEncoding::Alaw,
        // Containerized: the stream's header says the rest.
        "opus" | "ogg-opus" | "ogg_opus" | "webm-opus" | "flac" => return Ok(None),
        other => {
            return Err(ApiError::InvalidPayload(format!(
                "encoding `{other}` is not supported for live audio; use linear16, mulaw, alaw, \
                 opus (Ogg or WebM) or flac, or stream WAV, Ogg Opus, WebM Opus, MP3, FLAC or \
                 fragmented MP4 (AAC) without `encoding`"
            )))
        }
    };
    let rate = params.sample_rate.ok_or_else(|| {
        ApiError::InvalidPayload("`sample_rate` is required when `encoding` is given".into())
    })?;
    let channels = params.channels.unwrap_or(1);
    let format = StreamFormat {
        encoding,
        rate,
        channels,
        split: params.multichannel && channels > 1,
    };
    AudioInput::new(encoding, rate, if format.split { 1 } else { channels })
        .map_err(|e| ApiError::InvalidPayload(e.to_string()))?;
    Ok(Some(format))
}

/// One session's audio bookkeeping.
#[derive(Debug)]
pub struct ChannelAudio {
    multichannel: bool,
    format: Option<StreamFormat>,
    /// Decodes a containerized stream (no raw `encoding`).
    container: Option<StreamDecoder>,
    carry: Vec<u8>,
    hasher: Sha256,
    sample_frames: u64,
}

impl ChannelAudio {
    /// Bookkeeping for `params` (already validated by [`raw_format`]).
    pub fn new(params: &ListenParams) -> Self {
        let format = raw_format(params).ok().flatten();
        Self {
            multichannel: params.multichannel,
            format,
            container: format
                .is_none()
                .then(|| StreamDecoder::sniffing(ENGINE_RATE)),
            carry: Vec::new(),
            hasher: Sha256::new(),
            sample_frames: 0,
        }
    }

    /// The format, once known.
    pub fn format(&self) -> Option<StreamFormat> {
        self.format
    }

    /// Seconds of audio received (per channel).
    pub fn seconds_received(&self) -> f64 {
        self.format
            .map_or(0.0, |f| self.sample_frames as f64 / f64::from(f.rate))
    }

    /// Hex sha256 of every byte received.
    pub fn sha256(&self) -> String {
        self.hasher
            .clone()
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Takes a frame of wire bytes; returns the sample bytes for each
    /// recognizer (one entry, interleaved, unless channels are split).
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<Vec<u8>>, InputError> {
        self.hasher.update(bytes);
        let decoded = match self.container.as_mut() {
            None => return self.deliver(bytes.to_vec()),
            Some(decoder) => {
                let mut decoded = Vec::new();
                decoder.push(bytes, &mut decoded).map_err(|error| {
                    InputError::Undecodable(format!(
                        "{error}; pass `encoding` and `sample_rate` for raw audio"
                    ))
                })?;
                decoded
            }
        };
        self.deliver_decoded(&decoded)
    }

    /// The end of the stream: what the container decoder still held (the
    /// last FLAC frame), as [`ChannelAudio::push`] returns it.
    pub fn finish(&mut self) -> Result<Vec<Vec<u8>>, InputError> {
        let Some(decoder) = self.container.as_mut() else {
            return Ok(Vec::new());
        };
        let mut decoded = Vec::new();
        decoder
            .finish(&mut decoded)
            .map_err(|error| InputError::Undecodable(error.to_string()))?;
        self.deliver_decoded(&decoded)
    }

    /// Decoded samples as 16-bit PCM, the format taken from the first ones.
    fn deliver_decoded(&mut self, decoded: &[f32]) -> Result<Vec<Vec<u8>>, InputError> {
        let samples = match self.container.as_ref() {
            None => return Ok(Vec::new()),
            Some(decoder) => {
                let Some(info) = decoder.info() else {
                    return Ok(Vec::new());
                };
                if self.format.is_none() {
                    if info.channels > MAX_CHANNELS {
                        return Err(InputError::Undecodable(format!(
                            "the stream declares {} channels; at most {MAX_CHANNELS} are supported",
                            info.channels
                        )));
                    }
                    let format = StreamFormat {
                        encoding: InputEncoding::Linear16,
                        rate: info.sample_rate,
                        channels: info.channels,
                        split: self.multichannel && info.channels > 1,
                    };
                    AudioInput::new(
                        format.encoding,
                        format.rate,
                        if format.split { 1 } else { format.channels },
                    )
                    .map_err(|e| InputError::Undecodable(e.to_string()))?;
                    self.format = Some(format);
                }
                let mut pcm = Vec::with_capacity(decoded.len() * 2);
                vocalis_audio::pcm::f32_to_s16le_into(decoded, &mut pcm);
                pcm
            }
        };
        self.deliver(samples)
    }

    /// Whole sample frames for each recognizer.
    fn deliver(&mut self, samples: Vec<u8>) -> Result<Vec<Vec<u8>>, InputError> {
        let Some(format) = self.format else {
            return Ok(Vec::new());
        };
        let width = format.bytes_per_sample();
        let frame = width * usize::from(format.channels);
        self.carry.extend_from_slice(&samples);
        let whole = self.carry.len() / frame * frame;
        let ready: Vec<u8> = self.carry.drain(..whole).collect();
        self.sample_frames += (ready.len() / frame) as u64;
        if !format.split {
            return Ok(vec![ready]);
        }
        let channels = usize::from(format.channels);
        let mut split = vec![Vec::with_capacity(ready.len() / channels); channels];
        for chunk in ready.chunks_exact(frame) {
            for (channel, sample) in chunk.chunks_exact(width).enumerate() {
                split[channel].extend_from_slice(sample);
            }
        }
        Ok(split)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(query: &str) -> ListenParams {
        ListenParams::from_query(Some(query)).unwrap()
    }

    #[test]
    fn raw_stereo_splits_per_channel_with_multichannel() {
        let mut audio = ChannelAudio::new(&params(
            "encoding=linear16&sample_rate=8000&channels=2&multichannel=true",
        ));
        let split = audio.push(&[1, 0, 2, 0, 3, 0, 4, 0, 5]).unwrap();
        assert_eq!(split, vec![vec![1, 0, 3, 0], vec![2, 0, 4, 0]]);
        assert_eq!(
            audio.push(&[0, 6, 0, 7]).unwrap(),
            vec![vec![5, 0], vec![6, 0]]
        );
        assert!((audio.seconds_received() - 3.0 / 8000.0).abs() < 1e-12);
    }

    #[test]
    fn wav_header_is_read_from_the_first_bytes() {
        let wav = vocalis_audio::encode(&[0.0; 800], 8000, vocalis_audio::OutputFormat::Wav, 8000)
            .unwrap();
        let mut audio = ChannelAudio::new(&params("punctuate=true"));
        assert!(audio.push(&wav[..20]).unwrap().is_empty());
        let rest = audio.push(&wav[20..]).unwrap();
        assert_eq!(rest[0].len(), 1600);
        assert_eq!(audio.format().unwrap().rate, 8000);
    }

    #[test]
    fn wav_headers_over_the_channel_limit_are_undecodable() {
        let header = |channels: u16| {
            let mut h = b"RIFF\xff\xff\xff\xffWAVEfmt \x10\0\0\0\x01\0".to_vec();
            h.extend_from_slice(&channels.to_le_bytes());
            h.extend_from_slice(&8_000u32.to_le_bytes());
            h.extend_from_slice(&(16_000 * u32::from(channels)).to_le_bytes());
            h.extend_from_slice(&2u16.wrapping_mul(channels).to_le_bytes());
            h.extend_from_slice(&16u16.to_le_bytes());
            h.extend_from_slice(b"data\xff\xff\xff\xff");
            h
        };
        let mut audio = ChannelAudio::new(&params("multichannel=true"));
        let error = audio.push(&header(u16::MAX)).unwrap_err();
        assert!(error.to_string().contains("65535 channels"), "{error}");
        assert!(audio.format().is_none());
        let mut audio = ChannelAudio::new(&params("multichannel=true"));
        audio.push(&header(MAX_CHANNELS)).unwrap();
        assert_eq!(audio.format().unwrap().channels, MAX_CHANNELS);
    }

    #[test]
    fn flac_stream_ends_with_its_last_frame_at_finish() {
        let flac = vocalis_audio::encode(
            &[0.25; 12_000],
            16_000,
            vocalis_audio::OutputFormat::Flac,
            16_000,
        )
        .unwrap();
        let mut audio = ChannelAudio::new(&params("encoding=flac"));
        let mut bytes = 0;
        for piece in flac.chunks(100) {
            bytes += audio.push(piece).unwrap().concat().len();
        }
        assert_eq!(audio.format().unwrap().rate, 16_000);
        assert!(bytes < 24_000, "{bytes}");
        bytes += audio.finish().unwrap().concat().len();
        assert_eq!(bytes, 24_000);
        assert!((audio.seconds_received() - 0.75).abs() < 1e-9);
        // Raw sessions have nothing held back.
        assert!(
            ChannelAudio::new(&params("encoding=mulaw&sample_rate=8000"))
                .finish()
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn other_containers_are_undecodable() {
        let mut audio = ChannelAudio::new(&params(""));
        let error = audio.push(b"MThd\0\0\0\x06 a MIDI file").unwrap_err();
        assert!(error.to_string().contains("MP3, FLAC"), "{error}");
        // An Ogg page of another codec is refused by name.
        let mut page = b"OggS\0\x02".to_vec();
        page.extend_from_slice(&[0; 20]);
        page.extend_from_slice(&[1, 30]);
        page.extend_from_slice(b"\x01vorbis");
        page.extend_from_slice(&[0; 23]);
        let mut audio = ChannelAudio::new(&params(""));
        let error = audio.push(&page).unwrap_err();
        assert!(error.to_string().contains("Vorbis"), "{error}");
    }

    #[test]
    fn bad_raw_parameters_are_400s() {
        assert!(raw_format(&params("encoding=mulaw")).is_err());
        assert!(raw_format(&params("encoding=mulaw&sample_rate=7000")).is_err());
        assert!(raw_format(&params("encoding=mulaw&sample_rate=11025")).is_ok());
        assert!(raw_format(&params("encoding=opus")).unwrap().is_none());
        assert!(raw_format(&params("encoding=flac")).unwrap().is_none());
        assert!(raw_format(&params("encoding=mp4&sample_rate=16000")).is_err());
    }
}
