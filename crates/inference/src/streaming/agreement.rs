//! LocalAgreement-2: committing words that two consecutive hypotheses agree on.
//!
//! Each partial re-decodes the whole utterance so far. A word is *committed*
//! once two consecutive hypotheses contain it at the same place after the
//! already committed words (compared lower-cased without punctuation);
//! committed words never change. Whatever follows is *tentative* and may be
//! revised by the next hypothesis. (After Macháček et al., "Turning Whisper
//! into Real-Time Transcription System", 2023.)

use crate::stt::wer::normalize_words;
use crate::stt::Word;

fn key(w: &Word) -> String {
    normalize_words(&w.text).concat()
}

/// Agreement state of one utterance.
#[derive(Debug, Clone, Default)]
pub struct LocalAgreement {
    committed: Vec<Word>,
    previous: Vec<Word>,
}

impl LocalAgreement {
    /// Words committed so far (never shrinks, never changes).
    pub fn committed(&self) -> &[Word] {
        &self.committed
    }

    /// Feeds the next hypothesis (all words of the utterance so far) and
    /// returns the tentative words following the committed ones.
    pub fn update(&mut self, hypothesis: &[Word]) -> Vec<Word> {
        let tail = self.after_committed(hypothesis);
        let agreed = self
            .previous
            .iter()
            .zip(&tail)
            .take_while(|(a, b)| key(a) == key(b))
            .count();
        self.committed.extend_from_slice(&tail[..agreed]);
        self.previous = tail[agreed..].to_vec();
        self.previous.clone()
    }

    /// The part of `hypothesis` after the committed words: by word match
    /// when the hypothesis starts with them, else by time.
    fn after_committed(&self, hypothesis: &[Word]) -> Vec<Word> {
        let Some(last) = self.committed.last() else {
            return hypothesis.to_vec();
        };
        let n = self.committed.len();
        let same_prefix = hypothesis.len() >= n
            && self
                .committed
                .iter()
                .zip(hypothesis)
                .all(|(a, b)| key(a) == key(b));
        if same_prefix {
            return hypothesis[n..].to_vec();
        }
        hypothesis
            .iter()
            .filter(|w| (w.start + w.end) / 2.0 > last.end)
            .cloned()
            .collect()
    }
}

/// Words joined with single spaces.
pub fn join_words(words: &[Word]) -> String {
    let mut out = String::new();
    for w in words {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&w.text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<Word> {
        text.split_whitespace()
            .enumerate()
            .map(|(i, t)| Word {
                start: i as f64,
                end: i as f64 + 0.9,
                text: t.into(),
                probability: 1.0,
            })
            .collect()
    }

    #[test]
    fn commits_agreed_prefix_only() {
        let mut la = LocalAgreement::default();
        let t = la.update(&words("the quick"));
        assert!(la.committed().is_empty());
        assert_eq!(join_words(&t), "the quick");
        let t = la.update(&words("the quick brown"));
        assert_eq!(join_words(la.committed()), "the quick");
        assert_eq!(join_words(&t), "brown");
        // A revision of the committed part does not change it.
        let t = la.update(&words("a quick brown fox"));
        assert_eq!(join_words(la.committed()), "the quick brown");
        assert_eq!(join_words(&t), "fox");
    }

    #[test]
    fn punctuation_and_case_do_not_block_agreement() {
        let mut la = LocalAgreement::default();
        la.update(&words("Hello world"));
        la.update(&words("hello, world."));
        assert_eq!(la.committed().len(), 2);
    }
}
