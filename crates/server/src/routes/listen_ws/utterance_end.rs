//! Deepgram's `UtteranceEnd`: sent once `utterance_end_ms` of *audio* has
//! passed after the last word, with no new word since (Deepgram: "a gap of
//! the configured length after the last finalized word", found from the
//! interim and final results).
//!
//! Audio time, not wall-clock time: a client that sends a minute in one
//! burst gets the same messages as one that streams in real time. The gap
//! counts only once the words are known: no decode is pending and the
//! latest VAD speech lies at least [`SETTLE_S`] back (a partial for it has
//! then been asked for), so a decode that lags behind the audio never
//! produces an early `UtteranceEnd`. Checked at every client frame (the
//! live word clock of the recogniser) and when a transcript covering all
//! speech so far arrives. One `UtteranceEnd` per last word.
//!
//! The gap is timed from the word's end as the recogniser clamps it to the
//! VAD's last speech (Whisper stretches a last word into the pause), within
//! [`TOLERANCE_S`]; `last_word_end` reports the end the client saw in the
//! `Results` (a final's last word replaces its partials').

use crate::session::live::WordTiming;
use crate::wire::deepgram::UtteranceEnd;

/// Audio after the latest speech before its words are taken as known: the
/// recogniser asks for a partial at most every 500 ms of new audio.
const SETTLE_S: f64 = 0.75;

/// The VAD's resolution (32 ms frames, padded): a gap this much short of
/// `utterance_end_ms` counts.
const TOLERANCE_S: f64 = 0.05;

/// Per-channel gap detection.
#[derive(Debug)]
pub struct UtteranceEnds {
    gap_s: Option<f64>,
    channels: Vec<Clock>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Clock {
    position: f64,
    last_speech_end: Option<f64>,
    /// Where the gap starts: the last word's end, clamped to the speech.
    last_word_end: Option<f64>,
    /// The same word's end as sent in `Results`.
    reported: Option<f64>,
    announced: Option<f64>,
}

fn round_ms(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}

impl UtteranceEnds {
    /// Gap detection for `utterance_end_ms` (`None`: off).
    pub fn new(utterance_end_ms: Option<u32>) -> Self {
        Self {
            gap_s: utterance_end_ms.map(|ms| f64::from(ms) / 1000.0),
            channels: Vec::new(),
        }
    }

    /// Whether `utterance_end_ms` was asked for.
    pub fn enabled(&self) -> bool {
        self.gap_s.is_some()
    }

    fn clock(&mut self, channel: usize) -> &mut Clock {
        if self.channels.len() <= channel {
            self.channels.resize(channel + 1, Clock::default());
        }
        &mut self.channels[channel]
    }

    /// The recogniser's word clock of `channel` at audio `position`
    /// (checked at every client frame).
    pub fn observe(
        &mut self,
        channel: usize,
        total: usize,
        position: f64,
        timing: WordTiming,
    ) -> Option<UtteranceEnd> {
        let gap = self.gap_s?;
        let clock = self.clock(channel);
        clock.position = clock.position.max(position);
        clock.last_speech_end = max(clock.last_speech_end, timing.last_speech_end);
        if timing.pending {
            return None;
        }
        let settled = clock
            .last_speech_end
            .is_none_or(|speech| clock.position - speech >= SETTLE_S);
        if !settled {
            return None;
        }
        Self::due(clock, gap, channel, total)
    }

    /// A transcript of `channel` covering audio up to `covered`: a partial
    /// (`words` is `None`) or a final with the word ends it sent; its last
    /// word ends at `last_word_end` (clamped to the speech). When it covers
    /// all speech so far, its words are current.
    pub fn transcript(
        &mut self,
        channel: usize,
        total: usize,
        covered: f64,
        last_word_end: Option<f64>,
        final_words: Option<Option<f64>>,
    ) -> Option<UtteranceEnd> {
        let gap = self.gap_s?;
        let clock = self.clock(channel);
        match (final_words, last_word_end) {
            // A final supersedes the partials of its utterance.
            (Some(Some(sent)), Some(end)) => {
                clock.last_word_end = Some(end);
                clock.reported = Some(sent);
            }
            (Some(_), _) | (None, None) => {}
            (None, Some(end)) => {
                clock.last_word_end = max(clock.last_word_end, Some(end));
                clock.reported = max(clock.reported, Some(end));
            }
        }
        if clock.last_speech_end.is_some_and(|speech| covered < speech) {
            return None;
        }
        Self::due(clock, gap, channel, total)
    }

    fn due(clock: &mut Clock, gap: f64, channel: usize, total: usize) -> Option<UtteranceEnd> {
        let word = clock.last_word_end?;
        if clock.announced.is_some_and(|a| (a - word).abs() < 1e-6)
            || clock.position - word < gap - TOLERANCE_S
        {
            return None;
        }
        clock.announced = Some(word);
        Some(UtteranceEnd {
            kind: Default::default(),
            channel: vec![channel as u32, total as u32],
            last_word_end: round_ms(clock.reported.unwrap_or(word)),
        })
    }
}

fn max(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing(speech: f64, pending: bool) -> WordTiming {
        WordTiming {
            last_word_end: None,
            last_speech_end: Some(speech),
            pending,
        }
    }

    #[test]
    fn fires_once_after_the_gap_in_audio_time_and_only_when_words_are_known() {
        let mut ends = UtteranceEnds::new(Some(1000));
        // Speech until 2.1 s; a partial's last word ends at 2.0 s.
        assert!(ends.observe(0, 1, 2.2, timing(2.1, false)).is_none());
        assert!(ends.transcript(0, 1, 2.2, Some(2.0), None).is_none());
        assert!(ends.observe(0, 1, 2.5, timing(2.1, false)).is_none());
        // A decode is pending: its words may come later.
        assert!(ends.observe(0, 1, 2.6, timing(2.1, true)).is_none());
        // The final: the clamped end times the gap, the sent one is reported.
        assert!(ends
            .transcript(0, 1, 2.4, Some(1.9), Some(Some(2.3)))
            .is_none());
        let end = ends.observe(0, 1, 2.95, timing(2.1, false)).unwrap();
        assert_eq!(end.last_word_end, 2.3);
        assert_eq!(end.channel, vec![0, 1]);
        assert!(ends.observe(0, 1, 5.0, timing(2.1, false)).is_none());
        // New speech whose words are not decoded yet: nothing.
        assert!(ends.observe(0, 1, 6.0, timing(5.6, false)).is_none());
        // Its partial arrives, covering the speech; later the gap passes.
        assert!(ends.transcript(0, 1, 5.7, Some(5.5), None).is_none());
        assert!(ends.observe(0, 1, 6.4, timing(5.6, false)).is_none());
        let end = ends.observe(0, 1, 6.5, timing(5.6, false)).unwrap();
        assert_eq!(end.last_word_end, 5.5);
    }

    #[test]
    fn a_late_final_covering_all_speech_fires_at_once() {
        let mut ends = UtteranceEnds::new(Some(1000));
        // The client sent speech and three seconds of silence in a burst.
        assert!(ends.observe(0, 2, 5.0, timing(2.0, true)).is_none());
        let end = ends
            .transcript(0, 2, 2.3, Some(1.9), Some(Some(1.95)))
            .unwrap();
        assert_eq!((end.last_word_end, end.channel), (1.95, vec![0, 2]));
        // A transcript that stops before the latest speech proves nothing.
        let mut ends = UtteranceEnds::new(Some(1000));
        assert!(ends.observe(1, 2, 5.0, timing(4.0, true)).is_none());
        assert!(ends.transcript(1, 2, 2.3, Some(1.9), None).is_none());
        let mut off = UtteranceEnds::new(None);
        assert!(off.observe(0, 1, 9.0, timing(1.0, false)).is_none());
        assert!(off.transcript(0, 1, 9.0, Some(1.0), None).is_none());
    }
}
