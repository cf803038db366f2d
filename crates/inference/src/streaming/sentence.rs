//! Sentence case and closing punctuation for live finals.
//!
//! Whisper decodes each live utterance on its own, and a beam search in
//! particular sometimes returns a sentence without its capital or its full
//! stop ("please make sure they call me before they arrive"), where the
//! whole-file decode of the same audio, or a greedy one, writes "Please …
//! arrive." Clients that ask for punctuated text (Deepgram's `punctuate`)
//! rely on both. [`tidy_final`] restores them where the stream's shape says
//! a sentence starts or ends, and changes nothing else: words, timings and
//! every character in between stay as decoded.

use crate::stt::Transcript;

/// Whether text that follows `previous` (the stream's last final, empty
/// for the first) starts a sentence: nothing before it, or a sentence end.
pub(super) fn starts_sentence(previous: &str) -> bool {
    previous
        .trim_end()
        .chars()
        .last()
        .is_none_or(|c| matches!(c, '.' | '!' | '?' | '…' | '。' | '！' | '？'))
}

/// Upper-cases the first letter of `transcript` when `starts` (a sentence
/// starts here) and closes it with a full stop when `ends` (the speaker
/// paused or the stream ended) and it ends in a letter or digit of a cased
/// script. The first segment and first word, and the last segment and last
/// word, are changed alike so text and words agree.
pub(super) fn tidy_final(transcript: &mut Transcript, starts: bool, ends: bool) {
    if starts {
        if let Some(segment) = transcript.segments.iter_mut().find(|s| has_letter(&s.text)) {
            capitalise(&mut segment.text);
        }
        if let Some(word) = transcript.words.iter_mut().find(|w| has_letter(&w.text)) {
            capitalise(&mut word.text);
        }
    }
    if ends {
        let Some(last) = transcript
            .segments
            .iter_mut()
            .rev()
            .find(|s| !s.text.trim().is_empty())
        else {
            return;
        };
        if !ends_open(&last.text) {
            return;
        }
        close(&mut last.text);
        if let Some(word) = transcript
            .words
            .iter_mut()
            .rev()
            .find(|w| !w.text.trim().is_empty())
            .filter(|w| ends_open(&w.text))
        {
            close(&mut word.text);
        }
    }
}

fn has_letter(text: &str) -> bool {
    text.chars().any(char::is_alphabetic)
}

/// Upper-cases the first letter of `text` if it is a lower-case one.
fn capitalise(text: &mut String) {
    let Some((at, c)) = text.char_indices().find(|(_, c)| c.is_alphabetic()) else {
        return;
    };
    if !c.is_lowercase() {
        return;
    }
    let upper: String = c.to_uppercase().collect();
    text.replace_range(at..at + c.len_utf8(), &upper);
}

/// Ends in a digit or a letter that has case (Latin, Greek, Cyrillic…):
/// scripts without case (CJK, Thai) use their own stops, left alone.
fn ends_open(text: &str) -> bool {
    text.trim_end()
        .chars()
        .last()
        .is_some_and(|c| c.is_ascii_digit() || c.is_lowercase() || c.is_uppercase())
}

fn close(text: &mut String) {
    let kept = text.trim_end().len();
    text.truncate(kept);
    text.push('.');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stt::{Segment, Word};

    fn transcript(segments: &[&str]) -> Transcript {
        let mut t = Transcript::empty(3.0);
        for (i, text) in segments.iter().enumerate() {
            t.segments.push(Segment {
                start: i as f64,
                end: i as f64 + 1.0,
                text: (*text).to_owned(),
                avg_logprob: -0.2,
                no_speech_prob: 0.0,
            });
            for w in text.split_whitespace() {
                t.words.push(Word {
                    start: i as f64,
                    end: i as f64 + 1.0,
                    text: w.to_owned(),
                    probability: 0.9,
                });
            }
        }
        t
    }

    fn words(t: &Transcript) -> String {
        t.words
            .iter()
            .map(|w| w.text.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn a_whole_sentence_gets_its_capital_and_full_stop() {
        let mut t = transcript(&["please make sure", "they call me before they arrive"]);
        tidy_final(&mut t, true, true);
        assert_eq!(
            t.text(),
            "Please make sure they call me before they arrive."
        );
        assert_eq!(words(&t), t.text());
    }

    #[test]
    fn punctuated_text_is_left_as_decoded() {
        let mut t = transcript(&["Is it 5 p.m.?", "iPhone, yes!"]);
        let before = t.clone();
        tidy_final(&mut t, true, true);
        assert_eq!(t, before);
    }

    #[test]
    fn a_cut_mid_sentence_stays_open_and_its_continuation_lower_case() {
        let mut t = transcript(&["and then we waited"]);
        tidy_final(&mut t, starts_sentence("I called them"), false);
        assert_eq!(t.text(), "and then we waited");
        assert!(starts_sentence("It broke. "));
        assert!(starts_sentence(""));
        assert!(!starts_sentence("so,"));
    }

    #[test]
    fn leading_quotes_and_numbers_are_skipped_to_the_first_letter() {
        let mut t = transcript(&["\"okay\" 42"]);
        tidy_final(&mut t, true, true);
        assert_eq!(t.text(), "\"Okay\" 42.");
        assert_eq!(words(&t), "\"Okay\" 42.");
    }

    #[test]
    fn uncased_scripts_and_empty_text_are_untouched() {
        let mut t = transcript(&["你好"]);
        tidy_final(&mut t, true, true);
        assert_eq!(t.text(), "你好");
        let mut empty = Transcript::empty(1.0);
        tidy_final(&mut empty, true, true);
        assert!(empty.is_empty());
    }

    #[test]
    fn a_trailing_comma_is_not_turned_into_a_stop() {
        let mut t = transcript(&["well,"]);
        tidy_final(&mut t, true, true);
        assert_eq!(t.text(), "Well,");
    }
}
