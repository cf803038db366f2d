//! Merging Whisper's BPE tokens into words.
//!
//! A token whose bytes start with a space begins a new word; any other text
//! token (word pieces, punctuation) continues the current one. Special tokens
//! (`<|endoftext|>`, `[_BEG_]`, timestamps, language tags — every id at or
//! above the end-of-text token) are dropped. Bytes are joined before UTF-8
//! decoding because a multi-byte character can be split across tokens.

use super::Word;

/// One decoded token, as read from whisper.cpp.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawToken {
    /// Raw token bytes (may be a partial UTF-8 sequence).
    pub bytes: Vec<u8>,
    /// Token probability.
    pub p: f32,
    /// Start, seconds.
    pub start: f64,
    /// End, seconds.
    pub end: f64,
    /// Special (non-text) token.
    pub special: bool,
}

struct Pending {
    bytes: Vec<u8>,
    start: f64,
    end: f64,
    p_sum: f32,
    n: usize,
}

impl Pending {
    fn finish(self) -> Option<Word> {
        let text = String::from_utf8_lossy(&self.bytes).trim().to_string();
        if text.is_empty() {
            return None;
        }
        Some(Word {
            start: self.start,
            end: self.end.max(self.start),
            text,
            probability: self.p_sum / self.n.max(1) as f32,
        })
    }
}

/// Merges tokens into words (see module docs).
pub(crate) fn merge_words(tokens: &[RawToken]) -> Vec<Word> {
    let mut words = Vec::new();
    let mut current: Option<Pending> = None;
    for t in tokens.iter().filter(|t| !t.special && !t.bytes.is_empty()) {
        let starts_word = t.bytes[0] == b' ';
        match current.as_mut() {
            Some(w) if !starts_word => {
                w.bytes.extend_from_slice(&t.bytes);
                w.end = t.end;
                w.p_sum += t.p;
                w.n += 1;
            }
            _ => {
                if let Some(done) = current.take() {
                    words.extend(done.finish());
                }
                current = Some(Pending {
                    bytes: t.bytes.clone(),
                    start: t.start,
                    end: t.end,
                    p_sum: t.p,
                    n: 1,
                });
            }
        }
    }
    if let Some(done) = current {
        words.extend(done.finish());
    }
    words
}

/// Makes word times monotonic and non-overlapping within `[0, duration]`.
pub(crate) fn make_monotonic(words: &mut [Word], duration: f64) {
    let mut floor = 0.0f64;
    for w in words {
        w.start = w.start.clamp(floor, duration);
        w.end = w.end.clamp(w.start, duration);
        floor = w.end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tok(s: &[u8], t: f64) -> RawToken {
        RawToken {
            bytes: s.to_vec(),
            p: 0.5,
            start: t,
            end: t + 0.1,
            special: false,
        }
    }

    #[test]
    fn merges_pieces_and_punctuation() {
        let mut beg = tok(b"[_BEG_]", 0.0);
        beg.special = true;
        let tokens = vec![
            beg,
            tok(b" Hel", 0.0),
            tok(b"lo", 0.1),
            tok(b",", 0.2),
            tok(b" world", 0.3),
            tok(b".", 0.4),
        ];
        let words = merge_words(&tokens);
        let texts: Vec<_> = words.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(texts, ["Hello,", "world."]);
        assert!((words[0].start - 0.0).abs() < 1e-9);
        assert!((words[0].end - 0.3).abs() < 1e-9);
    }

    #[test]
    fn joins_split_utf8() {
        // "é" = C3 A9 split over two tokens.
        let tokens = vec![tok(b" caf\xC3", 0.0), tok(b"\xA9", 0.1)];
        assert_eq!(merge_words(&tokens)[0].text, "café");
    }

    #[test]
    fn first_word_without_space() {
        let tokens = vec![tok(b"Yes", 0.0), tok(b" sir", 0.1)];
        let texts: Vec<_> = merge_words(&tokens).into_iter().map(|w| w.text).collect();
        assert_eq!(texts, ["Yes", "sir"]);
    }

    #[test]
    fn monotonic_clamps() {
        let mut words = merge_words(&[tok(b" a", 1.0), tok(b" b", 0.5), tok(b" c", 9.0)]);
        make_monotonic(&mut words, 2.0);
        assert!(words.windows(2).all(|w| w[0].end <= w[1].start));
        assert!(words.iter().all(|w| w.end <= 2.0));
    }
}
