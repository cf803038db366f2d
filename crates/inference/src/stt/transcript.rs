//! Recognition results: [`Transcript`], [`Segment`] and [`Word`].

/// A stretch of recognised text with Whisper's own segment timing.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// Start, seconds from the start of the input audio.
    pub start: f64,
    /// End, seconds.
    pub end: f64,
    /// Text, trimmed.
    pub text: String,
    /// Mean log-probability of the segment's text tokens.
    pub avg_logprob: f32,
    /// Whisper's probability that the window holds no speech.
    pub no_speech_prob: f32,
}

/// A word (BPE tokens merged at leading-space boundaries).
#[derive(Debug, Clone, PartialEq)]
pub struct Word {
    /// Start, seconds from the start of the input audio.
    pub start: f64,
    /// End, seconds.
    pub end: f64,
    /// Text without the leading space; trailing punctuation stays attached.
    pub text: String,
    /// Mean probability of the word's tokens.
    pub probability: f32,
}

/// Result of transcribing one piece of audio.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Transcript {
    /// Segments in time order.
    pub segments: Vec<Segment>,
    /// Words in time order (empty if word timestamps were not requested).
    pub words: Vec<Word>,
    /// Language code and its probability (1.0 when fixed by the caller or
    /// the model is English-only); `None` when nothing was decoded.
    pub language: Option<(String, f32)>,
    /// Duration of the input audio, seconds.
    pub duration_s: f64,
}

impl Transcript {
    /// An empty transcript for `duration_s` seconds of audio.
    pub fn empty(duration_s: f64) -> Self {
        Self {
            duration_s,
            ..Self::default()
        }
    }

    /// All segment texts joined with single spaces.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for s in &self.segments {
            if s.text.is_empty() {
                continue;
            }
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&s.text);
        }
        out
    }

    /// Whether nothing was recognised.
    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// Mean word probability (or `exp(avg_logprob)` of the segments when
    /// there are no words); 0 when empty.
    pub fn confidence(&self) -> f32 {
        if !self.words.is_empty() {
            return self.words.iter().map(|w| w.probability).sum::<f32>() / self.words.len() as f32;
        }
        if self.segments.is_empty() {
            return 0.0;
        }
        let mean =
            self.segments.iter().map(|s| s.avg_logprob).sum::<f32>() / self.segments.len() as f32;
        mean.exp()
    }

    /// Shifts every timestamp by `offset` seconds (used when the audio was a
    /// window of a longer stream).
    pub fn shift(&mut self, offset: f64) {
        for s in &mut self.segments {
            s.start += offset;
            s.end += offset;
        }
        for w in &mut self.words {
            w.start += offset;
            w.end += offset;
        }
    }
}
