//! Words to speakers: each word takes the speaker whose spans overlap it most
//! (the nearest span when none does), then a lone word inside another
//! speaker's run, with no pause on either side, takes that run's speaker.

use super::Diarization;

/// A word's speaker and confidence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WordSpeaker {
    /// Speaker id.
    pub speaker: usize,
    /// 0–1.
    pub confidence: f32,
}

/// A pause at least this long (seconds) makes a one-word turn believable.
const TURN_PAUSE_S: f64 = 0.3;

/// Assigns `(start, end)` word times to speakers. Empty when the diarization
/// found no speech at all.
pub fn assign_words(d: &Diarization, words: &[(f64, f64)]) -> Vec<WordSpeaker> {
    if d.spans.is_empty() {
        return Vec::new();
    }
    let mut out: Vec<WordSpeaker> = words
        .iter()
        .map(|&(start, end)| {
            let mut overlap = vec![0f64; d.speakers.max(1)];
            let mut conf = vec![0f32; d.speakers.max(1)];
            for s in &d.spans {
                let o = end.min(s.end) - start.max(s.start);
                if o > 0.0 {
                    overlap[s.speaker] += o;
                    conf[s.speaker] = conf[s.speaker].max(s.confidence);
                }
            }
            let best = (0..overlap.len()).max_by(|&a, &b| overlap[a].total_cmp(&overlap[b]));
            match best {
                Some(b) if overlap[b] > 0.0 => WordSpeaker {
                    speaker: b,
                    confidence: conf[b],
                },
                _ => {
                    // No overlap: the nearest span, at lower confidence.
                    let mid = (start + end) / 2.0;
                    let near = d
                        .spans
                        .iter()
                        .min_by(|a, b| {
                            let da =
                                (mid - (a.start + a.end) / 2.0).abs() - (a.end - a.start) / 2.0;
                            let db =
                                (mid - (b.start + b.end) / 2.0).abs() - (b.end - b.start) / 2.0;
                            da.total_cmp(&db)
                        })
                        .copied();
                    near.map_or(
                        WordSpeaker {
                            speaker: 0,
                            confidence: 0.0,
                        },
                        |s| WordSpeaker {
                            speaker: s.speaker,
                            confidence: s.confidence * 0.5,
                        },
                    )
                }
            }
        })
        .collect();
    // Smooth single-word flips that sit inside one breath of another speaker.
    for i in 1..words.len().saturating_sub(1) {
        let (prev, next) = (out[i - 1].speaker, out[i + 1].speaker);
        if prev == next
            && out[i].speaker != prev
            && words[i].0 - words[i - 1].1 < TURN_PAUSE_S
            && words[i + 1].0 - words[i].1 < TURN_PAUSE_S
        {
            out[i].speaker = prev;
            out[i].confidence = out[i - 1].confidence.min(out[i + 1].confidence) * 0.5;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::SpeakerSpan;
    use super::*;

    fn span(start: f64, end: f64, speaker: usize) -> SpeakerSpan {
        SpeakerSpan {
            start,
            end,
            speaker,
            confidence: 0.9,
        }
    }

    #[test]
    fn overlap_nearest_and_smoothing() {
        let d = Diarization {
            speakers: 2,
            spans: vec![
                span(0.0, 2.0, 0),
                span(2.0, 2.3, 1),
                span(2.3, 4.0, 0),
                span(5.0, 7.0, 1),
            ],
        };
        let words = [
            (1.5, 1.85),
            (1.9, 2.25), // mostly speaker 1's 0.3 s blip, but inside one breath
            (2.3, 2.8),
            (4.2, 4.4), // in no span: nearest
            (5.5, 6.0),
        ];
        let got: Vec<usize> = assign_words(&d, &words).iter().map(|w| w.speaker).collect();
        assert_eq!(got, vec![0, 0, 0, 0, 1]);
    }
}
