//! Incremental sentence detection over text that arrives in pieces.
//!
//! [`TextBuffer::push`] appends text and returns the sentences that are now
//! complete; [`TextBuffer::take_rest`] returns what is left on a flush. A
//! sentence is complete when [`next_sentence`] ends it *before* the end of the
//! buffer: its end punctuation is followed by whitespace (and then not by a
//! lowercase letter, espeak's rule), a blank line follows, or it reached
//! [`DEFAULT_MAX_CHARS`] and was cut at a clause. A terminator at the very end
//! of the buffer waits for the next piece, so token-by-token text such as
//! `"3"`, `"."`, `"14"` is not split at the decimal point.
//!
//! The engine expands abbreviations before its own sentence split; here the
//! text is raw, so a period after a title ("Dr.", "Mrs.") is never taken as a
//! sentence end.

use vocalis_inference::tts::split::{next_sentence, DEFAULT_MAX_CHARS};

/// Titles whose period never ends a sentence (the normalizer's titles).
const TITLES: [&str; 17] = [
    "Dr", "Mr", "Mrs", "Ms", "Prof", "Rev", "Hon", "Gen", "Gov", "Sen", "Rep", "Capt", "Lt", "Col",
    "Sgt", "Mt", "Ft",
];

/// Text received but not yet handed to synthesis.
#[derive(Debug, Default)]
pub(crate) struct TextBuffer {
    text: String,
}

fn ends_with_title(sentence: &str) -> bool {
    let Some(body) = sentence.strip_suffix('.') else {
        return false;
    };
    let word = body
        .rsplit(|c: char| c.is_whitespace() || c == '(' || c == '"')
        .next()
        .unwrap_or("");
    TITLES.contains(&word)
}

impl TextBuffer {
    /// Characters buffered (for the pending-text limit).
    pub(crate) fn chars(&self) -> usize {
        self.text.chars().count()
    }

    /// Appends `piece` and returns the sentences completed by it, trimmed.
    pub(crate) fn push(&mut self, piece: &str) -> Vec<String> {
        self.text.push_str(piece);
        let mut out = Vec::new();
        let mut pos = 0;
        while let Some(end) = self.complete_sentence_end(pos) {
            let sentence = self.text[pos..end].trim();
            if !sentence.is_empty() {
                out.push(sentence.to_owned());
            }
            pos = end;
        }
        self.text.drain(..pos);
        out
    }

    /// End of the complete sentence starting at `pos`, if there is one.
    fn complete_sentence_end(&self, pos: usize) -> Option<usize> {
        let len = self.text.len();
        let mut range = next_sentence(&self.text, pos, DEFAULT_MAX_CHARS)?;
        // Glue "Dr." to what follows, up to twice the length bound.
        while ends_with_title(&self.text[range.clone()])
            && range.end < len
            && range.len() < 2 * DEFAULT_MAX_CHARS
        {
            let next = next_sentence(&self.text, range.end, DEFAULT_MAX_CHARS)?;
            range.end = next.end;
        }
        (range.end < len).then_some(range.end)
    }

    /// Everything buffered, trimmed (`None` when only whitespace), emptying
    /// the buffer: the rest of the text on a flush.
    pub(crate) fn take_rest(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.text);
        let rest = rest.trim();
        (!rest.is_empty()).then(|| rest.to_owned())
    }

    /// Drops everything buffered.
    pub(crate) fn clear(&mut self) {
        self.text.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(pieces: &[&str]) -> (Vec<String>, Option<String>) {
        let mut buffer = TextBuffer::default();
        let mut out = Vec::new();
        for piece in pieces {
            out.extend(buffer.push(piece));
        }
        (out, buffer.take_rest())
    }

    #[test]
    fn a_sentence_completes_when_whitespace_follows_its_end() {
        let (done, rest) = feed(&["Hello there. How are", " you?"]);
        assert_eq!(done, vec!["Hello there."]);
        assert_eq!(rest.as_deref(), Some("How are you?"));
        let (done, rest) = feed(&["Hello there. "]);
        assert_eq!(done, vec!["Hello there."]);
        assert_eq!(rest, None);
        let (done, rest) = feed(&["Hello there."]);
        assert!(done.is_empty());
        assert_eq!(rest.as_deref(), Some("Hello there."));
    }

    #[test]
    fn token_streams_do_not_split_numbers_or_titles() {
        let (done, rest) = feed(&["Pi is 3", ".", "14", " today. ", "Next"]);
        assert_eq!(done, vec!["Pi is 3.14 today."]);
        assert_eq!(rest.as_deref(), Some("Next"));
        let (done, rest) = feed(&["Dr. Smith will see you now. Mrs. Jones, too. "]);
        assert_eq!(
            done,
            vec!["Dr. Smith will see you now.", "Mrs. Jones, too."]
        );
        assert_eq!(rest, None);
        let (done, _) = feed(&["We went to Dr."]);
        assert!(done.is_empty());
    }

    #[test]
    fn long_text_is_cut_and_nothing_is_lost() {
        let long = "word, ".repeat(200);
        let (done, rest) = feed(&[&long, "end"]);
        assert!(!done.is_empty());
        assert!(done.iter().all(|s| s.chars().count() <= DEFAULT_MAX_CHARS));
        let all: String = done
            .iter()
            .map(String::as_str)
            .chain(rest.as_deref())
            .collect();
        assert_eq!(all.replace(' ', ""), format!("{long}end").replace(' ', ""));
    }

    #[test]
    fn paragraphs_and_whitespace() {
        let (done, rest) = feed(&["Title\n\nBody"]);
        assert_eq!(done, vec!["Title"]);
        assert_eq!(rest.as_deref(), Some("Body"));
        let (done, rest) = feed(&["   ", "\n"]);
        assert!(done.is_empty() && rest.is_none());
    }
}
