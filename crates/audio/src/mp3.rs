//! MP3 encoding of mono audio through LAME (`mp3lame-encoder`).
//!
//! Constant bit rate, mono, no Xing/LAME tag (so the stream can be sent as it
//! is produced). The bit rate depends on the sample rate: 32 kbit/s up to
//! 12 kHz (MPEG-2.5), 64 kbit/s up to 24 kHz (MPEG-2), 128 kbit/s above
//! (MPEG-1). Decoders see LAME's usual encoder delay (~1100 samples of
//! leading silence) and padding to a whole frame at the end.

use mp3lame_encoder::{Bitrate, Builder, Encoder, FlushGap, Mode, MonoPcm, Quality};

use crate::error::EncodeError;
use crate::pcm::f32_to_i16;

/// Sample rates MP3 can carry.
pub const MP3_RATES: [u32; 9] = [
    8_000, 11_025, 12_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000,
];

/// Samples passed to LAME per call (bounds the temporary buffers).
const BLOCK: usize = 4_608;

fn lame_error(what: &str, err: impl std::fmt::Display) -> EncodeError {
    EncodeError::Mp3 {
        reason: format!("{what}: {err}"),
    }
}

/// A running LAME encoder for one mono stream.
pub(crate) struct Mp3Stream {
    encoder: Encoder,
    pcm: Vec<i16>,
}

impl Mp3Stream {
    pub(crate) fn new(rate: u32) -> Result<Self, EncodeError> {
        if !MP3_RATES.contains(&rate) {
            return Err(EncodeError::UnsupportedMp3Rate { rate });
        }
        let bitrate = if rate <= 12_000 {
            Bitrate::Kbps32
        } else if rate <= 24_000 {
            Bitrate::Kbps64
        } else {
            Bitrate::Kbps128
        };
        let mut builder = Builder::new().ok_or_else(|| EncodeError::Mp3 {
            reason: "LAME could not allocate an encoder".into(),
        })?;
        builder
            .set_num_channels(1)
            .map_err(|e| lame_error("channels", e))?;
        builder
            .set_sample_rate(rate)
            .map_err(|e| lame_error("sample rate", e))?;
        builder
            .set_output_sample_rate(std::num::NonZeroU32::new(rate))
            .map_err(|e| lame_error("output sample rate", e))?;
        builder
            .set_brate(bitrate)
            .map_err(|e| lame_error("bit rate", e))?;
        builder
            .set_mode(Mode::Mono)
            .map_err(|e| lame_error("mode", e))?;
        builder
            .set_quality(Quality::Good)
            .map_err(|e| lame_error("quality", e))?;
        builder
            .set_to_write_vbr_tag(false)
            .map_err(|e| lame_error("tag", e))?;
        let encoder = builder.build().map_err(|e| lame_error("init", e))?;
        Ok(Self {
            encoder,
            pcm: Vec::with_capacity(BLOCK),
        })
    }

    /// Encodes `samples`, appending whatever MP3 frames are complete to `out`.
    pub(crate) fn encode(&mut self, samples: &[f32], out: &mut Vec<u8>) -> Result<(), EncodeError> {
        for block in samples.chunks(BLOCK) {
            self.pcm.clear();
            self.pcm.extend(block.iter().map(|&s| f32_to_i16(s)));
            out.reserve(mp3lame_encoder::max_required_buffer_size(block.len()));
            self.encoder
                .encode_to_vec(MonoPcm(&self.pcm), out)
                .map_err(|e| lame_error("encode", e))?;
        }
        Ok(())
    }

    /// Flushes the last (zero-padded) frames into `out`.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        out.reserve(7_200);
        self.encoder
            .flush_to_vec::<FlushGap>(out)
            .map_err(|e| lame_error("flush", e))?;
        Ok(())
    }
}
