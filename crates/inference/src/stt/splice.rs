//! Concatenating speech regions for [`super::VadMode::SpeechOnly`] and
//! mapping timestamps of the spliced audio back to the original.

use crate::vad::SpeechRegion;

use super::audio_ctx::SAMPLE_RATE;

/// Silence inserted between regions, seconds.
const GAP_S: f64 = 0.1;

#[derive(Debug, Clone, Copy)]
struct Piece {
    /// Start in the spliced audio, seconds.
    at: f64,
    /// Start in the original audio, seconds.
    orig: f64,
    /// Length, seconds.
    len: f64,
}

/// Speech-only audio plus the map back to original time.
#[derive(Debug, Clone)]
pub(crate) struct Spliced {
    pub audio: Vec<f32>,
    pieces: Vec<Piece>,
}

impl Spliced {
    /// Concatenates `regions` of `audio` with short silences between them.
    pub fn new(audio: &[f32], regions: &[SpeechRegion]) -> Self {
        let gap = (GAP_S * SAMPLE_RATE as f64) as usize;
        let mut out = Vec::new();
        let mut pieces = Vec::new();
        for r in regions {
            let a = ((r.start * SAMPLE_RATE as f64) as usize).min(audio.len());
            let b = ((r.end * SAMPLE_RATE as f64).ceil() as usize).min(audio.len());
            if b <= a {
                continue;
            }
            if !out.is_empty() {
                out.resize(out.len() + gap, 0.0);
            }
            pieces.push(Piece {
                at: out.len() as f64 / SAMPLE_RATE as f64,
                orig: a as f64 / SAMPLE_RATE as f64,
                len: (b - a) as f64 / SAMPLE_RATE as f64,
            });
            out.extend_from_slice(&audio[a..b]);
        }
        Self { audio: out, pieces }
    }

    /// Maps a time in the spliced audio to the original audio.
    pub fn map(&self, t: f64) -> f64 {
        let idx = self.pieces.partition_point(|p| p.at <= t);
        match idx.checked_sub(1).map(|i| self.pieces[i]) {
            Some(p) => p.orig + (t - p.at).min(p.len),
            None => self.pieces.first().map_or(t, |p| p.orig),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_back() {
        let audio = vec![0.0; 16_000 * 10];
        let regions = [
            SpeechRegion {
                start: 1.0,
                end: 2.0,
            },
            SpeechRegion {
                start: 5.0,
                end: 6.0,
            },
        ];
        let s = Spliced::new(&audio, &regions);
        assert_eq!(s.audio.len(), 16_000 * 2 + 1600);
        assert!((s.map(0.5) - 1.5).abs() < 1e-6);
        assert!((s.map(1.05) - 2.0).abs() < 1e-6); // in the gap: end of piece
        assert!((s.map(1.6) - 5.5).abs() < 1e-6);
    }
}
