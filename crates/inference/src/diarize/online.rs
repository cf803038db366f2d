//! Online speaker labelling for live sessions: each finished utterance is
//! embedded once and joins the nearest known speaker (cosine distance within
//! the threshold) or becomes a new one, so ids stay stable for the session.
//!
//! Speaker-count hints: `max_speakers` (or an exact count, given as
//! `min_speakers == max_speakers`) caps the speakers; once at the cap, a new
//! voice is labelled with the nearest existing speaker without moving that
//! speaker's centroid. `min_speakers` cannot be enforced online (a speaker
//! cannot be invented before a second voice is heard) and is not used.

use super::encoder::{cosine, Embedding, PARTIAL_FRAMES};
use super::mel::{HOP, N_MELS};
use super::{DiarizeError, DiarizeOptions, Diarizer};

/// Utterances shorter than this (seconds) carry too little voice to embed.
pub const MIN_UTTERANCE_S: f64 = 0.4;

/// The speakers of one session.
#[derive(Debug, Clone)]
pub struct OnlineSpeakers {
    /// Running sum of each speaker's utterance embeddings, and their count.
    speakers: Vec<(Vec<f32>, usize)>,
    threshold: f32,
    max_speakers: usize,
}

impl OnlineSpeakers {
    /// No speakers yet; `options` gives the threshold and the maximum count
    /// (`min_speakers` is not enforceable online and is ignored).
    pub fn new(options: &DiarizeOptions) -> Self {
        Self {
            speakers: Vec::new(),
            threshold: options.threshold,
            max_speakers: options.max_speakers.max(1),
        }
    }

    /// Speakers seen so far.
    pub fn count(&self) -> usize {
        self.speakers.len()
    }

    /// The most speakers this session labels.
    pub fn max_speakers(&self) -> usize {
        self.max_speakers
    }

    /// The speaker of an utterance's embedding and a 0–1 confidence; the
    /// embedding joins that speaker's centroid, unless it is a voice beyond
    /// the speaker cap that was only labelled with its nearest speaker.
    pub fn assign(&mut self, embedding: &[f32]) -> (usize, f32) {
        let sims: Vec<f32> = self
            .speakers
            .iter()
            .map(|(s, _)| cosine(s, embedding))
            .collect();
        let best = (0..sims.len()).max_by(|&a, &b| sims[a].total_cmp(&sims[b]));
        let (chosen, learn) = match best {
            Some(b) if 1.0 - sims[b] <= self.threshold => (b, true),
            // At the cap: the nearest speaker, its centroid kept clean.
            Some(b) if self.speakers.len() >= self.max_speakers => (b, false),
            _ => {
                self.speakers.push((vec![0.0; embedding.len()], 0));
                (self.speakers.len() - 1, true)
            }
        };
        if learn {
            let (sum, n) = &mut self.speakers[chosen];
            sum.iter_mut().zip(embedding).for_each(|(s, e)| *s += e);
            *n += 1;
        }
        let own = sims.get(chosen).copied().unwrap_or(1.0);
        let other = sims
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != chosen)
            .map(|(_, s)| *s)
            .fold(f32::NEG_INFINITY, f32::max);
        let confidence = if other.is_finite() {
            0.5 + (own - other)
        } else {
            own
        };
        (chosen, confidence.clamp(0.0, 1.0))
    }
}

impl Diarizer {
    /// One embedding for a whole utterance (16 kHz mono): the normalised mean
    /// of its 1.6 s windows (one window when shorter); `None` below
    /// [`MIN_UTTERANCE_S`].
    pub fn embed_utterance(&self, audio: &[f32]) -> Result<Option<Embedding>, DiarizeError> {
        if (audio.len() as f64) < MIN_UTTERANCE_S * 16_000.0 {
            return Ok(None);
        }
        let mel = self.encoder().mel().compute(audio);
        let frames = mel.len() / N_MELS;
        let windows: Vec<(usize, usize)> = if frames <= PARTIAL_FRAMES {
            vec![(0, frames)]
        } else {
            let hop = (0.4 * 16_000.0) as usize / HOP;
            let mut w: Vec<(usize, usize)> = (0..frames - PARTIAL_FRAMES)
                .step_by(hop)
                .map(|s| (s, PARTIAL_FRAMES))
                .collect();
            w.push((frames - PARTIAL_FRAMES, PARTIAL_FRAMES));
            w
        };
        let embeds = self.encoder().embed_mel_windows(&mel, &windows)?;
        let mut mean = vec![0f32; embeds.first().map_or(0, Vec::len)];
        for e in &embeds {
            mean.iter_mut().zip(e).for_each(|(m, v)| *m += v);
        }
        let norm = mean.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            mean.iter_mut().for_each(|x| *x /= norm);
        }
        Ok(Some(mean))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_capped() {
        let options = DiarizeOptions {
            max_speakers: 2,
            ..DiarizeOptions::default()
        };
        let mut s = OnlineSpeakers::new(&options);
        let a = [1.0, 0.0, 0.0];
        let b = [0.0, 1.0, 0.0];
        let c = [0.0, 0.0, 1.0];
        assert_eq!(s.assign(&a).0, 0);
        assert_eq!(s.assign(&b).0, 1);
        assert_eq!(s.assign(&[0.95, 0.1, 0.0]).0, 0);
        assert_eq!(s.assign(&b).0, 1);
        // A third voice beyond max_speakers joins the nearest, and does not
        // drag that speaker's centroid towards itself.
        assert!(s.assign(&c).0 < 2);
        assert!(s.assign(&[0.0, 0.2, 1.0]).0 < 2);
        assert_eq!(s.count(), 2);
        assert_eq!(s.assign(&a).0, 0);
        assert_eq!(s.assign(&b).0, 1);
        // An exact count of one: every voice is speaker 0.
        let one = DiarizeOptions {
            min_speakers: 1,
            max_speakers: 1,
            ..DiarizeOptions::default()
        };
        let mut s = OnlineSpeakers::new(&one);
        assert_eq!(s.max_speakers(), 1);
        for e in [a, b, c] {
            assert_eq!(s.assign(&e).0, 0);
        }
        assert_eq!(s.count(), 1);
    }
}
