//! Where to cut the first sentence of a stream so its first audio comes
//! sooner.
//!
//! The time to first audio of a sentence is one model run over the whole
//! sentence (about 45 ms per second of speech at one thread, plus a fixed
//! ~10 ms). Speaking a short first phrase on its own, then the rest of the
//! sentence, makes the first audio arrive after a run over the phrase only,
//! while the rest is synthesised faster than the phrase plays.
//!
//! [`first_phrase_end`] picks the cut on raw text (before normalisation):
//! a clause mark (`,` `;` `:` followed by whitespace, so never inside
//! "1,000") after at least [`MIN_HEAD_WORDS`] and at most [`MAX_HEAD_WORDS`]
//! words, leaving at least [`MIN_TAIL_WORDS`] words. Only clause marks: the
//! whole sentence pauses there too, so the two halves join with the same
//! length and pause (measured: "Good morning," + the rest is 2.71 s against
//! 2.66 s whole). A cut between two words of one phrase ("Thank you | for
//! calling …") is heard: a 0.28 s pause instead of 0.12 s, and 30% longer
//! speech from phrase-final lengthening, so sentences without an early
//! clause mark are spoken whole.
//! Sentences shorter than [`MIN_SPLIT_CHARS`] are not cut (their whole run is
//! already short, and each cut costs one more model run). espeak-ng
//! phonemizes clause by clause, so a cut at a clause mark gives both halves
//! exactly the phonemes they have in the whole sentence.

/// Sentences shorter than this (characters) are spoken whole.
pub const MIN_SPLIT_CHARS: usize = 32;
/// Fewest words before the cut.
pub const MIN_HEAD_WORDS: usize = 2;
/// Most words before the cut.
pub const MAX_HEAD_WORDS: usize = 8;
/// Fewest words after the cut.
pub const MIN_TAIL_WORDS: usize = 3;

/// Byte offset in `sentence` where its first phrase ends (the head is
/// `sentence[..end]`, the rest `sentence[end..]`, both to be trimmed), or
/// `None` when the sentence should be spoken whole.
pub fn first_phrase_end(sentence: &str) -> Option<usize> {
    if sentence.chars().count() < MIN_SPLIT_CHARS {
        return None;
    }
    // (byte start, byte end) of each whitespace-separated word.
    let mut words = Vec::new();
    let mut start = None;
    for (i, c) in sentence.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                words.push((s, i));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        words.push((s, sentence.len()));
    }
    let total = words.len();
    let fits = |head: usize| head >= MIN_HEAD_WORDS && total >= head + MIN_TAIL_WORDS;
    // A clause mark ending one of the first words.
    for (n, &(s, e)) in words.iter().enumerate().take(MAX_HEAD_WORDS) {
        let word = &sentence[s..e];
        if word.ends_with([',', ';', ':']) && word.chars().any(char::is_alphanumeric) {
            if fits(n + 1) {
                return Some(e);
            }
            if n + 1 >= MIN_HEAD_WORDS {
                return None; // the clause is the whole sentence but a word or two
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(sentence: &str) -> Option<(&str, &str)> {
        first_phrase_end(sentence).map(|e| (sentence[..e].trim(), sentence[e..].trim()))
    }

    #[test]
    fn cuts_at_an_early_clause_mark() {
        assert_eq!(
            cut("Good morning, and welcome to the weekly update."),
            Some(("Good morning,", "and welcome to the weekly update."))
        );
        assert_eq!(
            cut("Well then; we shall see what the morning brings us."),
            Some(("Well then;", "we shall see what the morning brings us."))
        );
    }

    #[test]
    fn no_cut_between_the_words_of_a_phrase() {
        assert_eq!(cut("Thank you for calling the support line."), None);
        assert_eq!(
            cut("Your order left our warehouse this morning and should arrive on Thursday."),
            None
        );
    }

    #[test]
    fn leaves_short_or_unsplittable_sentences_whole() {
        assert_eq!(cut("Hello there, how are you?"), None);
        assert_eq!(
            cut("Supercalifragilisticexpialidocious words everywhere today."),
            None
        );
        // Digits: "1,000" is not a clause mark.
        assert_eq!(
            cut("We shipped 1,000 units yesterday and 2,000 today."),
            None
        );
        assert_eq!(
            cut("In 2024, we shipped 1,000 units and 2,000 more."),
            Some(("In 2024,", "we shipped 1,000 units and 2,000 more."))
        );
        assert_eq!(
            cut("Yes, okay, fine, sure, whatever you say now."),
            Some(("Yes, okay,", "fine, sure, whatever you say now."))
        );
        assert_eq!(cut(""), None);
    }

    #[test]
    fn never_cuts_inside_a_character() {
        let text = "Ça va, très bien merci, à demain matin.";
        if let Some(end) = first_phrase_end(text) {
            assert!(text.is_char_boundary(end));
        }
        let text = "ééééé ééééé, ééééé ééééé ééééé ééééé.";
        let end = first_phrase_end(text).unwrap();
        assert!(text.is_char_boundary(end));
    }
}
