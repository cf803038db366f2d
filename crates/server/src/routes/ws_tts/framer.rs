//! Cutting encoded audio into WebSocket frames.
//!
//! Headerless formats (linear16, μ-law, A-law) go out in whole multiples of
//! [`FRAME_MS`] of audio, at most [`FRAMES_PER_MESSAGE`] of them per message;
//! the remainder waits for more audio, and [`Framer::finish`] (on a flush)
//! pads it with digital silence to one whole frame. MP3 and WAV bytes pass
//! through in chunks of at most [`MAX_CONTAINER_CHUNK`] bytes.

use vocalis_audio::OutputFormat;

/// Frame duration of headerless formats, ms.
pub(crate) const FRAME_MS: u32 = 20;
/// Frames per message at most (200 ms).
pub(crate) const FRAMES_PER_MESSAGE: usize = 10;
/// Largest MP3 or WAV chunk per message, bytes.
pub(crate) const MAX_CONTAINER_CHUNK: usize = 32 * 1024;

/// Splits a stream of encoded bytes into frames.
#[derive(Debug)]
pub(crate) struct Framer {
    /// Bytes per frame, `None` for MP3/WAV.
    frame_bytes: Option<usize>,
    /// The byte that encodes silence in this format.
    silence: u8,
    rest: Vec<u8>,
}

impl Framer {
    /// A framer for `format` at `rate` Hz.
    pub(crate) fn new(format: OutputFormat, rate: u32) -> Self {
        let samples = (rate * FRAME_MS / 1000) as usize;
        let (frame_bytes, silence) = match format {
            OutputFormat::Pcm16 => (Some(samples * 2), 0x00),
            OutputFormat::Mulaw => (Some(samples), 0xFF),
            OutputFormat::Alaw => (Some(samples), 0xD5),
            OutputFormat::Mp3 | OutputFormat::Wav | OutputFormat::Opus | OutputFormat::Flac => {
                (None, 0)
            }
        };
        Self {
            frame_bytes,
            silence,
            rest: Vec::new(),
        }
    }

    /// Frame duration in ms for headerless formats, `None` otherwise.
    pub(crate) fn frame_ms(&self) -> Option<u32> {
        self.frame_bytes.map(|_| FRAME_MS)
    }

    /// Adds encoded bytes; returns the whole frames now available.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        match self.frame_bytes {
            None => bytes
                .chunks(MAX_CONTAINER_CHUNK)
                .map(<[u8]>::to_vec)
                .collect(),
            Some(frame) => {
                self.rest.extend_from_slice(bytes);
                let whole = self.rest.len() / frame * frame;
                let out = self.rest[..whole]
                    .chunks(frame * FRAMES_PER_MESSAGE)
                    .map(<[u8]>::to_vec)
                    .collect();
                self.rest.drain(..whole);
                out
            }
        }
    }

    /// Pads the remainder to a whole frame and returns it (if any).
    pub(crate) fn finish(&mut self) -> Option<Vec<u8>> {
        let frame = self.frame_bytes?;
        if self.rest.is_empty() {
            return None;
        }
        let mut last = std::mem::take(&mut self.rest);
        last.resize(frame, self.silence);
        Some(last)
    }

    /// Drops the remainder (after a clear).
    pub(crate) fn reset(&mut self) {
        self.rest.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mulaw_8k_frames_are_multiples_of_160_bytes() {
        let mut framer = Framer::new(OutputFormat::Mulaw, 8_000);
        assert_eq!(framer.frame_ms(), Some(20));
        assert!(framer.push(&[1; 100]).is_empty());
        let frames = framer.push(&[2; 2000]);
        let total: usize = frames.iter().map(Vec::len).sum();
        assert_eq!(total, 2080);
        assert!(frames
            .iter()
            .all(|f| f.len().is_multiple_of(160) && f.len() <= 1600));
        let last = framer.finish().unwrap();
        assert_eq!(last.len(), 160);
        assert_eq!(&last[..20], &[2; 20]);
        assert!(last[20..].iter().all(|&b| b == 0xFF));
        assert!(framer.finish().is_none());
    }

    #[test]
    fn linear16_frames_and_reset() {
        let mut framer = Framer::new(OutputFormat::Pcm16, 22_050);
        let frames = framer.push(&[0; 882 * 3 + 5]);
        assert_eq!(frames, vec![vec![0; 882 * 3]]);
        framer.reset();
        assert!(framer.finish().is_none());
    }

    #[test]
    fn containers_pass_through_in_bounded_chunks() {
        let mut framer = Framer::new(OutputFormat::Mp3, 24_000);
        assert_eq!(framer.frame_ms(), None);
        let frames = framer.push(&vec![7; MAX_CONTAINER_CHUNK + 3]);
        assert_eq!(
            frames.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![MAX_CONTAINER_CHUNK, 3]
        );
        assert!(framer.finish().is_none());
    }
}
