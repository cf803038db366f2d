//! Splitting long audio at pauses, so that its pieces can be decoded in
//! parallel on several workers and put back together.
//!
//! [`plan_chunks`] cuts in the middle of the pauses the VAD found, each
//! piece at most `max_chunk_s` long (a hard cut only where someone speaks
//! for longer than that without a pause); [`plan_balanced`] cuts into a
//! given number of pieces of about equal length, each cut at the pause
//! nearest its equal share; [`merge_chunks`] shifts each piece's timestamps
//! back to the whole recording.

use super::Transcript;
use crate::vad::SpeechRegion;

/// Audio shorter than this is decoded in one piece. From here on, a file
/// on an idle server is cut into as many pieces as workers are idle (each
/// decoded with one thread), which measured faster than one decode on every
/// core and no worse in WER (the cut falls in a pause).
pub const PARALLEL_MIN_S: f64 = 12.0;
/// Longest piece: inside Whisper's 30 s window, so each piece is one decode
/// with its encoder window sized to it.
pub const MAX_CHUNK_S: f64 = 28.0;
/// How far from an equal share [`plan_balanced`] looks for a long pause,
/// as a fraction of the share.
pub const CUT_SLACK: f64 = 0.25;
/// No piece shorter than this is cut off (a cut right at the start would
/// make a useless job).
const MIN_CHUNK_S: f64 = 1.0;

/// The pauses of `regions` strictly inside `0..duration`: `(midpoint, length)`.
fn pauses(regions: &[SpeechRegion], duration: f64) -> Vec<(f64, f64)> {
    regions
        .windows(2)
        .map(|w| ((w[0].end + w[1].start) / 2.0, w[1].start - w[0].end))
        .filter(|(c, _)| c.is_finite() && *c > 0.0 && *c < duration)
        .collect()
}

/// `(start, end)` seconds of about `pieces` pieces of a `duration_s`
/// recording whose speech is `regions` (in order): each cut is the pause
/// closest to the equal share of what is left: the longest pause within
/// [`CUT_SLACK`] of a share of it (a sentence end rather than a breath),
/// else the nearest one (a hard cut only where no pause keeps every piece
/// within `max_chunk_s`); more pieces than asked when `max_chunk_s` needs
/// them. The pieces tile `0..duration_s`.
pub fn plan_balanced(
    regions: &[SpeechRegion],
    duration_s: f64,
    pieces: usize,
    max_chunk_s: f64,
) -> Vec<(f64, f64)> {
    let duration = if duration_s.is_finite() {
        duration_s.max(0.0)
    } else {
        0.0
    };
    if !(max_chunk_s.is_finite() && max_chunk_s > MIN_CHUNK_S) {
        return vec![(0.0, duration)];
    }
    let needed = (duration / max_chunk_s).ceil() as usize;
    let most = (duration / MIN_CHUNK_S).floor().max(1.0) as usize;
    let pieces = pieces.max(needed).clamp(1, most);
    let pauses = pauses(regions, duration);
    let mut chunks = Vec::with_capacity(pieces);
    let mut start = 0.0;
    for left in (2..=pieces).rev() {
        // This piece and `left - 1` more share what is left.
        let target = start + (duration - start) / left as f64;
        let lowest = (start + MIN_CHUNK_S).max(duration - max_chunk_s * (left - 1) as f64);
        let highest = (start + max_chunk_s).min(duration - MIN_CHUNK_S * (left - 1) as f64);
        let slack = (target - start) * CUT_SLACK;
        let feasible = || {
            pauses
                .iter()
                .copied()
                .filter(|&(c, _)| c >= lowest && c <= highest)
        };
        let longest = feasible()
            .filter(|&(c, _)| (c - target).abs() <= slack)
            .max_by(|a, b| {
                // to 10 ms; of pauses as long, the nearest
                let (la, lb) = ((a.1 * 100.0).round(), (b.1 * 100.0).round());
                la.total_cmp(&lb)
                    .then((b.0 - target).abs().total_cmp(&(a.0 - target).abs()))
            });
        let nearest =
            || feasible().min_by(|a, b| (a.0 - target).abs().total_cmp(&(b.0 - target).abs()));
        let cut = longest
            .or_else(nearest)
            .map_or_else(|| target.clamp(lowest.min(highest), highest), |(c, _)| c);
        chunks.push((start, cut));
        start = cut;
    }
    chunks.push((start, duration));
    chunks
}

/// `(start, end)` seconds of each piece of a `duration_s` recording whose
/// speech is `regions` (in order); the pieces tile `0..duration_s`.
pub fn plan_chunks(regions: &[SpeechRegion], duration_s: f64, max_chunk_s: f64) -> Vec<(f64, f64)> {
    let duration = if duration_s.is_finite() {
        duration_s.max(0.0)
    } else {
        0.0
    };
    if !(max_chunk_s.is_finite() && max_chunk_s > MIN_CHUNK_S) || duration <= max_chunk_s {
        return vec![(0.0, duration)];
    }
    let cuts: Vec<f64> = pauses(regions, duration).into_iter().map(|p| p.0).collect();
    let mut chunks = Vec::new();
    let mut start = 0.0;
    while duration - start > max_chunk_s {
        let limit = start + max_chunk_s;
        let cut = cuts
            .iter()
            .copied()
            .rfind(|&c| c >= start + MIN_CHUNK_S && c <= limit)
            .unwrap_or(limit);
        chunks.push((start, cut));
        start = cut;
    }
    chunks.push((start, duration));
    chunks
}

/// One transcript of the whole recording from its pieces' transcripts
/// (each with the start of its piece, in order).
pub fn merge_chunks(parts: Vec<(f64, Transcript)>, duration_s: f64) -> Transcript {
    let mut merged = Transcript::empty(duration_s);
    for (offset, mut part) in parts {
        part.shift(offset);
        merged.segments.append(&mut part.segments);
        merged.words.append(&mut part.words);
        if merged.language.is_none() {
            merged.language = part.language;
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stt::{Segment, Word};

    fn region(start: f64, end: f64) -> SpeechRegion {
        SpeechRegion { start, end }
    }

    #[test]
    fn short_audio_is_one_piece() {
        assert_eq!(plan_chunks(&[], 10.0, 28.0), vec![(0.0, 10.0)]);
        assert_eq!(plan_chunks(&[], f64::NAN, 28.0), vec![(0.0, 0.0)]);
        assert_eq!(plan_chunks(&[], 100.0, 0.0), vec![(0.0, 100.0)]);
    }

    #[test]
    fn cuts_fall_in_pauses_and_tile_the_audio() {
        // Speech in 6 s turns with 1 s pauses, 70 s in all.
        let regions: Vec<SpeechRegion> = (0..10)
            .map(|i| region(f64::from(i) * 7.0, f64::from(i) * 7.0 + 6.0))
            .collect();
        let chunks = plan_chunks(&regions, 70.0, 28.0);
        assert_eq!(chunks.first().unwrap().0, 0.0);
        assert_eq!(chunks.last().unwrap().1, 70.0);
        for pair in chunks.windows(2) {
            assert_eq!(pair[0].1, pair[1].0);
        }
        for &(start, end) in &chunks {
            assert!(end - start <= 28.0 && end > start, "{chunks:?}");
        }
        // every inner cut is inside a pause
        for &(_, end) in &chunks[..chunks.len() - 1] {
            assert!(
                !regions.iter().any(|r| r.start < end && end < r.end),
                "{end}"
            );
        }
        assert_eq!(chunks.len(), 3, "{chunks:?}");
    }

    #[test]
    fn speech_without_pauses_is_cut_hard() {
        let chunks = plan_chunks(&[region(0.0, 100.0)], 100.0, 28.0);
        assert_eq!(
            chunks,
            vec![(0.0, 28.0), (28.0, 56.0), (56.0, 84.0), (84.0, 100.0)]
        );
    }

    #[test]
    fn balanced_pieces_cut_at_the_pauses_nearest_equal_shares() {
        // Speech in 6 s turns with 1 s pauses, 70 s in all: 4 pieces.
        let regions: Vec<SpeechRegion> = (0..10)
            .map(|i| region(f64::from(i) * 7.0, f64::from(i) * 7.0 + 6.0))
            .collect();
        let chunks = plan_balanced(&regions, 70.0, 4, 28.0);
        assert_eq!(chunks.len(), 4, "{chunks:?}");
        assert_eq!(chunks.first().unwrap().0, 0.0);
        assert_eq!(chunks.last().unwrap().1, 70.0);
        for pair in chunks.windows(2) {
            assert_eq!(pair[0].1, pair[1].0);
        }
        for &(start, end) in &chunks {
            // equal shares are 17.5 s; pauses every 7 s
            assert!((10.0..=24.0).contains(&(end - start)), "{chunks:?}");
        }
        for &(_, end) in &chunks[..chunks.len() - 1] {
            assert!(
                !regions.iter().any(|r| r.start < end && end < r.end),
                "{end}"
            );
        }
        // too few pieces asked for the longest piece: more are made
        assert_eq!(plan_balanced(&regions, 70.0, 1, 28.0).len(), 3);
        // one piece, and no piece shorter than a second
        assert_eq!(plan_balanced(&regions, 70.0, 1, 100.0), vec![(0.0, 70.0)]);
        assert_eq!(plan_balanced(&[], 2.5, 8, 28.0).len(), 2);
        assert_eq!(plan_balanced(&[], f64::NAN, 3, 28.0), vec![(0.0, 0.0)]);
    }

    #[test]
    fn balanced_cuts_prefer_a_long_pause_near_the_share() {
        // 30 s; short pauses every 3 s, one long pause at 13 s.
        let mut regions: Vec<SpeechRegion> = (0..10)
            .map(|i| region(f64::from(i) * 3.0, f64::from(i) * 3.0 + 2.8))
            .collect();
        regions[4].end = 12.5;
        regions[5].start = 13.5;
        let chunks = plan_balanced(&regions, 30.0, 2, 28.0);
        assert_eq!(chunks, vec![(0.0, 13.0), (13.0, 30.0)]);
        // a long pause far from the share is not taken
        let chunks = plan_balanced(&regions, 30.0, 3, 28.0);
        assert!((chunks[0].1 - 8.9).abs() < 1e-9, "{chunks:?}");
    }

    #[test]
    fn balanced_pieces_without_pauses_are_cut_hard_within_the_limit() {
        let chunks = plan_balanced(&[region(0.0, 100.0)], 100.0, 2, 28.0);
        assert_eq!(chunks.len(), 4, "{chunks:?}");
        for &(start, end) in &chunks {
            assert!((end - start - 25.0).abs() < 1e-9, "{chunks:?}");
        }
    }

    #[test]
    fn merged_timestamps_are_those_of_the_whole_recording() {
        let part = |text: &str| Transcript {
            segments: vec![Segment {
                start: 1.0,
                end: 2.0,
                text: text.into(),
                avg_logprob: -0.1,
                no_speech_prob: 0.0,
            }],
            words: vec![Word {
                start: 1.0,
                end: 2.0,
                text: text.into(),
                probability: 0.9,
            }],
            language: Some(("en".into(), 1.0)),
            duration_s: 28.0,
        };
        let merged = merge_chunks(vec![(0.0, part("one")), (28.0, part("two"))], 40.0);
        assert_eq!(merged.text(), "one two");
        assert_eq!(merged.words[1].start, 29.0);
        assert_eq!(merged.segments[1].end, 30.0);
        assert_eq!(merged.duration_s, 40.0);
        assert_eq!(merged.language, Some(("en".into(), 1.0)));
    }
}
