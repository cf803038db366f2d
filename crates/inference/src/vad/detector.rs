//! Speech/silence decisions from per-frame probabilities, with hysteresis.
//!
//! Pure logic (no model): feed it one probability per 32 ms frame. Speech
//! starts once probabilities stay at or above `threshold` (never dipping below
//! `neg_threshold`) for `min_speech_ms`; it ends once they stay below
//! `neg_threshold` for `min_silence_ms`. Values in between keep the current
//! state. Start/end times are padded by `speech_pad_ms` so word edges are not
//! clipped.

use super::{VadError, FRAME_SECONDS};

/// Hysteresis settings.
#[derive(Debug, Clone, PartialEq)]
pub struct VadConfig {
    /// Probability at or above which a frame counts as speech (default 0.5).
    pub threshold: f32,
    /// Probability below which a frame counts as silence (default 0.35).
    pub neg_threshold: f32,
    /// Speech must last this long before it is reported (default 250 ms).
    pub min_speech_ms: u32,
    /// Silence must last this long before speech is reported as ended
    /// (default 300 ms; the streaming recogniser sets its `utterance_end_ms`).
    pub min_silence_ms: u32,
    /// Padding added before a start and after an end (default 30 ms).
    pub speech_pad_ms: u32,
}

impl Default for VadConfig {
    fn default() -> Self {
        Self {
            threshold: 0.5,
            neg_threshold: 0.35,
            min_speech_ms: 250,
            min_silence_ms: 300,
            speech_pad_ms: 30,
        }
    }
}

impl VadConfig {
    /// Checks that the values make sense together.
    pub fn validate(&self) -> Result<(), VadError> {
        let bad = |m: String| Err(VadError::InvalidConfig(m));
        if !(0.0..=1.0).contains(&self.threshold) || !(0.0..=1.0).contains(&self.neg_threshold) {
            return bad("thresholds must be within 0..=1".into());
        }
        if self.neg_threshold > self.threshold {
            return bad(format!(
                "neg_threshold {} is above threshold {}",
                self.neg_threshold, self.threshold
            ));
        }
        if self.min_silence_ms > 60_000 || self.min_speech_ms > 60_000 || self.speech_pad_ms > 1_000
        {
            return bad("durations out of range".into());
        }
        Ok(())
    }
}

/// A speech boundary, in seconds from the start of the stream.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum VadEvent {
    /// Speech began at `at` (already padded, clamped at 0).
    SpeechStart {
        /// Seconds.
        at: f64,
    },
    /// Speech ended at `at` (already padded).
    SpeechEnd {
        /// Seconds.
        at: f64,
    },
}

/// One analysed 32 ms frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VadFrame {
    /// Start of the frame, seconds from the start of the stream.
    pub start: f64,
    /// Silero speech probability.
    pub probability: f32,
    /// Whether the detector is in speech after this frame.
    pub speech: bool,
    /// The boundary this frame triggered, if any.
    pub event: Option<VadEvent>,
}

/// Hysteresis state machine over frame probabilities.
#[derive(Debug, Clone)]
pub struct Detector {
    config: VadConfig,
    min_speech_frames: u64,
    min_silence_frames: u64,
    frames: u64,
    in_speech: bool,
    candidate: Option<u64>,
    silence_start: Option<u64>,
}

impl Detector {
    /// A detector at stream position 0.
    pub fn new(config: VadConfig) -> Self {
        let frames = |ms: u32| (f64::from(ms) / 1000.0 / FRAME_SECONDS).ceil().max(1.0) as u64;
        Self {
            min_speech_frames: frames(config.min_speech_ms),
            min_silence_frames: frames(config.min_silence_ms),
            config,
            frames: 0,
            in_speech: false,
            candidate: None,
            silence_start: None,
        }
    }

    /// The settings in use.
    pub fn config(&self) -> &VadConfig {
        &self.config
    }

    /// Whether speech is currently ongoing.
    pub fn in_speech(&self) -> bool {
        self.in_speech
    }

    /// Frames consumed so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    fn pad(&self) -> f64 {
        f64::from(self.config.speech_pad_ms) / 1000.0
    }

    /// Consumes the next frame's probability; returns a boundary if one was
    /// crossed.
    pub fn push(&mut self, probability: f32) -> Option<VadEvent> {
        let idx = self.frames;
        self.frames += 1;
        if !self.in_speech {
            if probability >= self.config.threshold {
                let start = *self.candidate.get_or_insert(idx);
                if idx + 1 - start >= self.min_speech_frames {
                    self.in_speech = true;
                    self.candidate = None;
                    self.silence_start = None;
                    let at = (start as f64 * FRAME_SECONDS - self.pad()).max(0.0);
                    return Some(VadEvent::SpeechStart { at });
                }
            } else if probability < self.config.neg_threshold {
                self.candidate = None;
            } else if let Some(start) = self.candidate {
                // Between the thresholds: an ongoing candidate keeps growing.
                if idx + 1 - start >= self.min_speech_frames {
                    self.in_speech = true;
                    self.candidate = None;
                    let at = (start as f64 * FRAME_SECONDS - self.pad()).max(0.0);
                    return Some(VadEvent::SpeechStart { at });
                }
            }
        } else if probability >= self.config.threshold {
            self.silence_start = None;
        } else if probability < self.config.neg_threshold {
            let start = *self.silence_start.get_or_insert(idx);
            if idx + 1 - start >= self.min_silence_frames {
                self.in_speech = false;
                self.silence_start = None;
                return Some(VadEvent::SpeechEnd {
                    at: start as f64 * FRAME_SECONDS + self.pad(),
                });
            }
        }
        None
    }

    /// Ends the stream at `end` seconds: closes open speech.
    pub fn finish(&mut self, end: f64) -> Option<VadEvent> {
        self.candidate = None;
        if !self.in_speech {
            return None;
        }
        self.in_speech = false;
        let at = match self.silence_start.take() {
            Some(s) => (s as f64 * FRAME_SECONDS + self.pad()).min(end),
            None => end,
        };
        Some(VadEvent::SpeechEnd { at })
    }

    /// Forces the detector back to silence at the current position (used
    /// when an utterance is finalised by the caller mid-speech).
    pub fn reset_to_silence(&mut self) {
        self.in_speech = false;
        self.candidate = None;
        self.silence_start = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(probs: &[f32], config: VadConfig) -> Vec<VadEvent> {
        let mut d = Detector::new(config);
        let mut out: Vec<VadEvent> = probs.iter().filter_map(|&p| d.push(p)).collect();
        out.extend(d.finish(probs.len() as f64 * FRAME_SECONDS));
        out
    }

    fn no_pad() -> VadConfig {
        VadConfig {
            speech_pad_ms: 0,
            ..VadConfig::default()
        }
    }

    #[test]
    fn short_blips_are_ignored() {
        // 5 frames (160 ms) of speech < 250 ms.
        let mut p = vec![0.0; 20];
        p[5..10].fill(0.9);
        assert!(run(&p, no_pad()).is_empty());
    }

    #[test]
    fn speech_start_and_end_with_hysteresis() {
        let mut p = vec![0.0; 60];
        p[10..40].fill(0.9);
        // Dips between the thresholds do not end speech.
        p[20..25].fill(0.4);
        let ev = run(&p, no_pad());
        assert_eq!(ev.len(), 2, "{ev:?}");
        match (ev[0], ev[1]) {
            (VadEvent::SpeechStart { at: s }, VadEvent::SpeechEnd { at: e }) => {
                assert!((s - 10.0 * FRAME_SECONDS).abs() < 1e-9);
                assert!((e - 40.0 * FRAME_SECONDS).abs() < 1e-9);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn short_silence_does_not_split() {
        let mut p = vec![0.0; 80];
        p[10..30].fill(0.9);
        p[33..60].fill(0.9); // 3 frames (96 ms) gap < 300 ms
        assert_eq!(run(&p, no_pad()).len(), 2);
    }

    #[test]
    fn open_speech_is_closed_at_finish() {
        let mut p = vec![0.0; 30];
        p[10..].fill(0.9);
        let ev = run(&p, no_pad());
        assert_eq!(
            ev.last(),
            Some(&VadEvent::SpeechEnd {
                at: 30.0 * FRAME_SECONDS
            })
        );
    }

    #[test]
    fn rejects_inverted_thresholds() {
        let c = VadConfig {
            threshold: 0.3,
            neg_threshold: 0.5,
            ..VadConfig::default()
        };
        assert!(c.validate().is_err());
    }
}
