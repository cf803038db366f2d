//! Bounds what reaches espeak-ng: word length and stacked apostrophes.
//!
//! libespeak-ng (1.51 and 1.52) overflows a fixed-size buffer and aborts the
//! whole process (`*** buffer overflow detected ***`) on a word made of many
//! clitics, e.g. `s'` repeated 70+ times. [`bound_words`] rewrites such words
//! before they reach espeak: a word (run of non-whitespace) gets a space
//! inserted after every [`MAX_WORD_CHARS`] characters, and each apostrophe
//! after the [`MAX_APOSTROPHES_PER_WORD`]th in a word becomes a space (so
//! `s's's's's's` is read as `s's's's s's…`). Ordinary English (`it's`,
//! `James's`, `rock'n'roll`, `y'all'd've`) is returned unchanged and borrowed.
//! This is defence in depth: the isolated phonemizer still survives inputs
//! that slip through.

use std::borrow::Cow;

/// Longest word passed to espeak-ng, in characters (English's longest
/// dictionary word has 45; piper-phonemize's reference spells a 50-letter
/// run, which must stay one word to match it).
pub const MAX_WORD_CHARS: usize = 64;

/// Apostrophes allowed in one word (`y'all'd've` has 3).
pub const MAX_APOSTROPHES_PER_WORD: usize = 3;

fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '\u{2019}' | '\u{2018}' | '\u{02BC}' | '`')
}

/// Returns `text` with every word bounded (see the module docs); borrowed
/// when nothing needed changing.
pub fn bound_words(text: &str) -> Cow<'_, str> {
    let mut out: Option<String> = None;
    let mut chars = 0usize;
    let mut apostrophes = 0usize;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            chars = 0;
            apostrophes = 0;
            if let Some(out) = &mut out {
                out.push(c);
            }
            continue;
        }
        let mut replaced = None;
        if chars >= MAX_WORD_CHARS {
            replaced = Some(format!(" {c}"));
            chars = 0;
            apostrophes = 0;
        }
        if is_apostrophe(c) {
            apostrophes += 1;
            if apostrophes > MAX_APOSTROPHES_PER_WORD {
                chars = 0;
                apostrophes = 0;
                if let Some(out) = &mut out {
                    out.push(' ');
                } else {
                    let mut s = String::with_capacity(text.len() + 16);
                    s.push_str(&text[..i]);
                    s.push(' ');
                    out = Some(s);
                }
                continue;
            }
        }
        chars += 1;
        match (replaced, &mut out) {
            (None, Some(out)) => out.push(c),
            (None, None) => {}
            (Some(piece), Some(out)) => out.push_str(&piece),
            (Some(piece), None) => {
                let mut s = String::with_capacity(text.len() + 16);
                s.push_str(&text[..i]);
                s.push_str(&piece);
                out = Some(s);
            }
        }
    }
    match out {
        Some(out) => Cow::Owned(out),
        None => Cow::Borrowed(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn longest_word(text: &str) -> usize {
        text.split_whitespace()
            .map(|w| w.chars().count())
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn phonemize_sanitizer_leaves_english_alone() {
        for text in [
            "It's James's rock'n'roll, isn't it? Y'all'd've known.",
            "pneumonoultramicroscopicsilicovolcanoconiosis is long.",
            "Don’t stop — ‘quoted’ words, 3.14 and émigré café.",
            "",
        ] {
            assert!(matches!(bound_words(text), Cow::Borrowed(_)), "{text:?}");
        }
    }

    #[test]
    fn phonemize_sanitizer_splits_stacked_clitics() {
        let hostile = format!("Hello {} world.", "s'".repeat(100));
        let bounded = bound_words(&hostile);
        assert!(bounded.starts_with("Hello s's's's s's's's "), "{bounded}");
        assert!(bounded.ends_with(" world."));
        for word in bounded.split_whitespace() {
            assert!(word.chars().filter(|&c| is_apostrophe(c)).count() <= 3);
        }
        assert_eq!(
            bounded.replace(' ', "").len(),
            hostile.replace(' ', "").len() - 25
        );
    }

    #[test]
    fn phonemize_sanitizer_bounds_word_length() {
        let long = "é".repeat(20_000);
        let bounded = bound_words(&long);
        assert_eq!(longest_word(&bounded), MAX_WORD_CHARS);
        assert_eq!(bounded.replace(' ', ""), long);
        let n = MAX_WORD_CHARS;
        let mixed = format!("a {} b\n{}", "x".repeat(2 * n + 4), "y".repeat(n));
        let bounded = bound_words(&mixed);
        assert_eq!(
            bounded,
            format!(
                "a {} {} {} b\n{}",
                "x".repeat(n),
                "x".repeat(n),
                "xxxx",
                "y".repeat(n)
            )
        );
    }
}
