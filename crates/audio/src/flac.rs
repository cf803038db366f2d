//! FLAC output for [`crate::OutputFormat::Flac`] through the pure-Rust
//! `flacenc` encoder: 16-bit mono, fixed 4096-frame blocks.
//!
//! FLAC's STREAMINFO header states the total length and MD5 of the audio,
//! so the stream is produced in one piece when the audio ends: the writer
//! keeps the quantised samples (2 bytes each, bounded by the caller's
//! output length) and encodes them in [`FlacBuffer::finish`].

use flacenc::bitsink::ByteSink;
use flacenc::component::BitRepr;
use flacenc::error::Verify;

use crate::error::EncodeError;
use crate::pcm::f32_to_i16;

/// Frames per FLAC block.
const BLOCK_SIZE: usize = 4_096;

/// Collects mono audio and encodes it as one FLAC stream at the end.
pub(crate) struct FlacBuffer {
    rate: u32,
    samples: Vec<i32>,
}

fn flac_error(what: impl std::fmt::Display) -> EncodeError {
    EncodeError::Flac {
        reason: what.to_string(),
    }
}

impl FlacBuffer {
    /// A buffer for `rate` Hz audio.
    pub(crate) fn new(rate: u32) -> Self {
        Self {
            rate,
            samples: Vec::new(),
        }
    }

    /// Quantises and keeps `samples`.
    pub(crate) fn push(&mut self, samples: &[f32]) {
        self.samples
            .extend(samples.iter().map(|&s| i32::from(f32_to_i16(s))));
    }

    /// Encodes everything pushed and appends the FLAC stream to `out`.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let mut config = flacenc::config::Encoder::default();
        config.block_size = BLOCK_SIZE;
        let config = config.into_verified().map_err(|(_, e)| flac_error(e))?;
        let source =
            flacenc::source::MemSource::from_samples(&self.samples, 1, 16, self.rate as usize);
        let stream = flacenc::encode_with_fixed_block_size(&config, source, BLOCK_SIZE)
            .map_err(flac_error)?;
        let mut sink = ByteSink::new();
        stream.write(&mut sink).map_err(flac_error)?;
        let start = out.len();
        out.extend_from_slice(sink.as_slice());
        // STREAMINFO's minimum block size excludes the last block (RFC 9639
        // §8.2); flacenc counts it, which makes readers such as symphonia
        // treat the fixed-size stream as variable-size. Use the maximum.
        if let Some(streaminfo) = out.get_mut(start + 8..start + 12) {
            let max = [streaminfo[2], streaminfo[3]];
            streaminfo[..2].copy_from_slice(&max);
        }
        self.samples = Vec::new();
        Ok(())
    }
}
