//! Symphonia's MP3, FLAC and AAC decoders driven packet by packet for the
//! live [`crate::StreamDecoder`]: the splitters (`mp3_split`, `flac_split`,
//! `mp4_split`) hand over whole frames, this decodes each into interleaved
//! `f32`. AAC is LC only, mono or stereo (symphonia's decoder).
//!
//! A frame the codec rejects is skipped (as in files); a panic inside the
//! codec is caught and makes the stream [`DecodeError::Malformed`]. The
//! decoded signal must keep the rate and channel count the stream started
//! with; frames that change them are skipped. MP3's encoder delay (from a
//! LAME tag) is trimmed from the start of the output.

use std::panic::{catch_unwind, AssertUnwindSafe};

use symphonia::core::codecs::audio::well_known::{CODEC_ID_AAC, CODEC_ID_FLAC, CODEC_ID_MP3};
use symphonia::core::codecs::audio::{AudioCodecParameters, AudioDecoder, AudioDecoderOptions};
use symphonia::core::packet::PacketRef;
use symphonia::core::units::{Duration, Timestamp};

use crate::decode::check_source_rate;
use crate::error::DecodeError;
use crate::pcm::sanitize;

/// One live stream's codec.
pub(crate) struct PacketCodec {
    decoder: Box<dyn AudioDecoder>,
    rate: u32,
    channels: u16,
    /// Frames still to drop from the start (encoder delay).
    trim: usize,
    scratch: Vec<f32>,
}

impl std::fmt::Debug for PacketCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PacketCodec")
            .field("rate", &self.rate)
            .field("channels", &self.channels)
            .finish()
    }
}

fn guarded<T>(f: impl FnOnce() -> Result<T, DecodeError>) -> Result<T, DecodeError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(DecodeError::Malformed {
            what: "decoder panicked on this input".into(),
        })
    })
}

fn make(params: &AudioCodecParameters) -> Result<Box<dyn AudioDecoder>, DecodeError> {
    guarded(|| {
        symphonia::default::get_codecs()
            .make_audio_decoder(params, &AudioDecoderOptions::default())
            .map_err(|e| DecodeError::Malformed {
                what: format!("codec setup: {e}"),
            })
    })
}

impl PacketCodec {
    /// An MP3 decoder for frames at `rate` Hz with `channels` channels,
    /// dropping the first `trim` frames of output.
    pub(crate) fn mp3(rate: u32, channels: u16, trim: usize) -> Result<Self, DecodeError> {
        check_source_rate(rate)?;
        let mut params = AudioCodecParameters::new();
        params.for_codec(CODEC_ID_MP3).with_sample_rate(rate);
        Ok(Self {
            decoder: make(&params)?,
            rate,
            channels,
            trim,
            scratch: Vec::new(),
        })
    }

    /// A FLAC decoder for the stream that `streaminfo` (34 bytes) describes.
    pub(crate) fn flac(streaminfo: &[u8]) -> Result<Self, DecodeError> {
        let Some(&[r0, r1, r2]) = streaminfo
            .get(10..13)
            .and_then(|s| <&[u8; 3]>::try_from(s).ok())
        else {
            return Err(DecodeError::Malformed {
                what: "FLAC STREAMINFO is too short".into(),
            });
        };
        let rate = (u32::from(r0) << 12) | (u32::from(r1) << 4) | u32::from(r2 >> 4);
        let channels = u16::from((r2 >> 1) & 7) + 1;
        check_source_rate(rate)?;
        let mut params = AudioCodecParameters::new();
        params
            .for_codec(CODEC_ID_FLAC)
            .with_extra_data(streaminfo.to_vec().into_boxed_slice());
        Ok(Self {
            decoder: make(&params)?,
            rate,
            channels,
            trim: 0,
            scratch: Vec::new(),
        })
    }

    /// An AAC decoder for the AudioSpecificConfig `config` (from MP4's `esds`).
    pub(crate) fn aac(config: &[u8]) -> Result<Self, DecodeError> {
        let mut params = AudioCodecParameters::new();
        params
            .for_codec(CODEC_ID_AAC)
            .with_extra_data(config.to_vec().into_boxed_slice());
        let decoder = make(&params).map_err(|e| DecodeError::Unsupported {
            what: format!("live AAC of this kind ({e})"),
        })?;
        let amended = decoder.codec_params();
        let rate = amended.sample_rate.unwrap_or_default();
        let channels = amended.channels.as_ref().map_or(0, |c| c.count());
        check_source_rate(rate)?;
        let channels = u16::try_from(channels)
            .ok()
            .filter(|&c| c > 0)
            .ok_or(DecodeError::ZeroChannels)?;
        Ok(Self {
            decoder,
            rate,
            channels,
            trim: 0,
            scratch: Vec::new(),
        })
    }

    /// Rate of the decoded samples, Hz.
    pub(crate) fn rate(&self) -> u32 {
        self.rate
    }

    /// Interleaved channels of the decoded samples.
    pub(crate) fn channels(&self) -> u16 {
        self.channels
    }

    /// Decodes one frame; returns its interleaved samples (empty when the
    /// frame was skipped or trimmed away).
    pub(crate) fn decode(&mut self, frame: &[u8]) -> Result<&[f32], DecodeError> {
        let (rate, channels) = (self.rate, usize::from(self.channels));
        let scratch = &mut self.scratch;
        scratch.clear();
        let decoder = &mut self.decoder;
        guarded(|| {
            let packet = PacketRef::new(0, Timestamp::ZERO, Duration::ZERO, frame);
            // Rejected frames are skipped, as in files.
            if let Ok(buf) = decoder.decode_ref(&packet) {
                let spec = buf.spec();
                if spec.rate() == rate && spec.channels().count() == channels {
                    buf.copy_to_vec_interleaved(scratch);
                }
            }
            Ok(())
        })?;
        let drop = (self.trim * channels).min(self.scratch.len());
        self.trim -= drop / channels.max(1);
        for s in &mut self.scratch {
            *s = sanitize(*s);
        }
        Ok(&self.scratch[drop..])
    }
}
