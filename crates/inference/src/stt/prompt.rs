//! Bounding a user's prompt before whisper.cpp's tokenizer sees it.
//!
//! Prompts come straight from callers (`prompt`, Deepgram `keywords` and
//! `keyterm`, 60db `context`), so they are hostile input for C++ code:
//!
//! * `whisper_tokenize` returns *minus* the token count when the output
//!   buffer is too small, which whisper-rs 0.16 treats as a length (only
//!   `-1` is an error) and then reads out of bounds;
//! * its word splitter is a `std::regex` over the whole text (copying the
//!   rest of the text after each match), and its longest-match search copies
//!   every substring of each word: cost grows with the square of the text and
//!   of the longest word.
//!
//! Whisper only ever conditions on the last [`MAX_PROMPT_TOKENS`] tokens of a
//! prompt, so [`bounded_prompt_text`] keeps the *end* of the prompt, at most
//! [`MAX_PROMPT_BYTES`] bytes of it (every token covers at least one byte, so
//! the tokenizer can never need more than [`TOKENIZE_BUFFER`] slots), and
//! breaks runs of more than [`MAX_WORD_BYTES`] non-space bytes into pieces (no
//! Whisper token is that long, so real words tokenize exactly as before).

/// Longest prompt kept, in tokens (whisper.cpp keeps `n_text_ctx / 2`).
pub(crate) const MAX_PROMPT_TOKENS: usize = 223;

/// Bytes of prompt text handed to the tokenizer: comfortably more than 223
/// tokens of any real text, and below [`TOKENIZE_BUFFER`].
pub(crate) const MAX_PROMPT_BYTES: usize = 1_000;

/// Output slots given to `whisper_tokenize`. A token covers at least one
/// byte, so `MAX_PROMPT_BYTES` plus the leading space always fits.
pub(crate) const TOKENIZE_BUFFER: usize = 1_024;

/// Longest run of non-whitespace bytes passed on; longer runs are split with
/// a space. Whisper's longest vocabulary entries are well under this.
pub(crate) const MAX_WORD_BYTES: usize = 48;

/// The text to tokenize for `prompt`: its last [`MAX_PROMPT_BYTES`] bytes
/// (cut at a word boundary when there is one), NULs as spaces, no word longer
/// than [`MAX_WORD_BYTES`], with the leading space that makes the prompt read
/// like preceding speech. `None` for a blank prompt.
pub(crate) fn bounded_prompt_text(prompt: &str) -> Option<String> {
    let prompt = prompt.trim();
    if prompt.is_empty() {
        return None;
    }
    let tail = tail_at_word_boundary(prompt, MAX_PROMPT_BYTES - 1 - MAX_PROMPT_BYTES / 20);
    let mut out = String::with_capacity(MAX_PROMPT_BYTES);
    out.push(' ');
    let mut word_bytes = 0usize;
    for c in tail.chars() {
        let c = if c == '\0' { ' ' } else { c };
        if c.is_whitespace() {
            word_bytes = 0;
        } else {
            if word_bytes + c.len_utf8() > MAX_WORD_BYTES {
                out.push(' ');
                word_bytes = 0;
            }
            word_bytes += c.len_utf8();
        }
        if out.len() + c.len_utf8() > MAX_PROMPT_BYTES {
            break;
        }
        out.push(c);
    }
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
    (out.len() > 1).then_some(out)
}

/// Bytes of earlier text carried as the next decode's prompt: a live
/// session's previous finals, a streamed file's previous piece (about two
/// sentences).
pub const CONTEXT_BYTES: usize = 240;

/// The end of `text` to carry as context: at most [`CONTEXT_BYTES`],
/// trimmed, starting at a word when the text has spaces.
pub fn context_tail(text: &str) -> &str {
    tail_at_word_boundary(text.trim(), CONTEXT_BYTES).trim()
}

/// The last at most `max` bytes of `text`, starting after a whitespace when
/// one falls in the first half of the window (so no word is cut in two).
fn tail_at_word_boundary(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    let window = &text[start..];
    match window.find(char::is_whitespace) {
        Some(space) if space <= window.len() / 2 => window[space..].trim_start(),
        _ => window,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_is_the_end_of_the_text_in_whole_words() {
        assert_eq!(context_tail("  Hello there.  "), "Hello there.");
        let long = "wörd ".repeat(100);
        let tail = context_tail(&long);
        assert!(tail.len() <= CONTEXT_BYTES && tail.len() > CONTEXT_BYTES - 12);
        assert!(tail.starts_with("wörd") && tail.ends_with("wörd"), "{tail}");
        // Text without spaces (Chinese, Japanese) keeps a bounded tail.
        let unspaced = "語".repeat(200);
        let tail = context_tail(&unspaced);
        assert!(tail.len() <= CONTEXT_BYTES && tail.len() > CONTEXT_BYTES - 3);
        assert!(unspaced.ends_with(tail));
    }

    #[test]
    fn short_prompts_are_kept_with_a_leading_space() {
        assert_eq!(
            bounded_prompt_text("  Vocalis, Piper.  ").as_deref(),
            Some(" Vocalis, Piper.")
        );
        assert_eq!(bounded_prompt_text(" \t\n"), None);
        assert_eq!(bounded_prompt_text(""), None);
    }

    #[test]
    fn long_prompts_keep_their_end_at_a_word_boundary() {
        let words: Vec<String> = (0..1_500).map(|i| format!("word{i}")).collect();
        let text = bounded_prompt_text(&words.join(" ")).unwrap();
        assert!(text.len() <= MAX_PROMPT_BYTES, "{}", text.len());
        assert!(text.len() > MAX_PROMPT_BYTES / 2);
        assert!(text.ends_with(" word1499"), "{text}");
        // starts with a whole word
        let first = text.split_whitespace().next().unwrap();
        assert!(words.iter().any(|w| w == first), "{first}");
    }

    #[test]
    fn huge_words_are_split_and_bounded() {
        let text = bounded_prompt_text(&"a".repeat(1_000_000)).unwrap();
        assert!(text.len() <= MAX_PROMPT_BYTES);
        assert!(text
            .split_whitespace()
            .all(|w| w.len() <= MAX_WORD_BYTES && !w.is_empty()));
        let multibyte = bounded_prompt_text(&"é😀".repeat(10_000)).unwrap();
        let spaced = bounded_prompt_text(&format!("a {}", "😀".repeat(10_000))).unwrap();
        assert!(spaced.len() <= MAX_PROMPT_BYTES);
        assert!(multibyte.len() <= MAX_PROMPT_BYTES);
        assert!(multibyte
            .split_whitespace()
            .all(|w| w.len() <= MAX_WORD_BYTES));
    }

    #[test]
    fn nul_bytes_become_spaces() {
        assert_eq!(bounded_prompt_text("a\0b").as_deref(), Some(" a b"));
        assert_eq!(bounded_prompt_text("\0\0"), None);
    }

    #[test]
    fn ordinary_words_are_untouched() {
        let p = "Acme's support line, order number 4417, Dr. Okonkwo-Williams";
        assert_eq!(bounded_prompt_text(p).unwrap(), format!(" {p}"));
    }
}
