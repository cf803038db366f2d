//! Cheap, lazy sentence splitting for streaming synthesis.
//!
//! [`next_sentence`] finds one sentence at a time, so a 100 000-character text
//! is never split up front. A sentence ends after `.`, `!`, `?` or `…` (plus
//! closing quotes/brackets) when whitespace and then a non-lowercase
//! character, or the end of text, follows (espeak's rule, so "etc. and" does
//! not split), and at blank lines. A sentence longer than `max_chars` is cut
//! at its last `,`/`;`/`:`, else at its last whitespace, else hard, so the
//! model never gets a giant input. Run this on normalised text: abbreviations
//! such as "Dr." must already be expanded.

use std::ops::Range;

/// Default upper bound on sentence length, in characters.
pub const DEFAULT_MAX_CHARS: usize = 400;

fn is_terminal(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '…')
}

fn is_closer(c: char) -> bool {
    matches!(c, '"' | '\'' | ')' | ']' | '}' | '”' | '’' | '»')
}

/// Byte range of the next sentence at or after byte `pos` of `text`, with
/// leading whitespace skipped; `None` once only whitespace remains.
pub fn next_sentence(text: &str, pos: usize, max_chars: usize) -> Option<Range<usize>> {
    let max_chars = max_chars.max(1);
    let rest = text.get(pos..)?;
    let start = pos + (rest.len() - rest.trim_start().len());
    if start >= text.len() {
        return None;
    }
    let body = &text[start..];
    let mut chars = body.char_indices().peekable();
    let mut count = 0usize;
    let mut clause_break: Option<usize> = None;
    let mut space_break: Option<usize> = None;
    while let Some((i, c)) = chars.next() {
        count += 1;
        if is_terminal(c) {
            let mut end = i + c.len_utf8();
            while let Some(&(j, d)) = chars.peek() {
                if is_terminal(d) || is_closer(d) {
                    end = j + d.len_utf8();
                    chars.next();
                    count += 1;
                } else {
                    break;
                }
            }
            let after = &body[end..];
            let trimmed = after.trim_start();
            let followed_by_space = trimmed.len() < after.len();
            match trimmed.chars().next() {
                None => return Some(start..start + end),
                Some(n) if followed_by_space && !n.is_lowercase() => {
                    return Some(start..start + end)
                }
                _ => {}
            }
        } else if c == '\n' {
            // Blank line (possibly with spaces on it) ends a paragraph.
            let after = &body[i + 1..];
            let line = after.split('\n').next().unwrap_or("");
            if after.contains('\n') && line.trim().is_empty() {
                return Some(start..start + i);
            }
        }
        if c.is_whitespace() {
            space_break = Some(i);
        } else if matches!(c, ',' | ';' | ':')
            && chars.peek().is_some_and(|&(_, d)| d.is_whitespace())
        {
            clause_break = Some(i + c.len_utf8());
        }
        if count >= max_chars {
            let cut = match (clause_break, space_break) {
                (Some(b), _) if b * 4 >= i => b,
                (_, Some(s)) if s > 0 => s,
                (Some(b), _) => b,
                _ => i + c.len_utf8(),
            };
            return Some(start..start + cut);
        }
    }
    Some(start..text.len())
}

/// Iterator over sentence slices (see [`next_sentence`]).
#[derive(Debug, Clone)]
pub struct Sentences<'a> {
    text: &'a str,
    pos: usize,
    max_chars: usize,
}

/// Lazily splits `text` into sentences of at most `max_chars` characters.
pub fn sentences(text: &str, max_chars: usize) -> Sentences<'_> {
    Sentences {
        text,
        pos: 0,
        max_chars,
    }
}

impl<'a> Iterator for Sentences<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let range = next_sentence(self.text, self.pos, self.max_chars)?;
        self.pos = range.end;
        Some(self.text[range].trim_end())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> Vec<&str> {
        sentences(text, DEFAULT_MAX_CHARS).collect()
    }

    #[test]
    fn splits_on_terminators() {
        assert_eq!(
            split("Hello world. How are you? Fine!  Great…"),
            vec!["Hello world.", "How are you?", "Fine!", "Great…"]
        );
        assert_eq!(
            split("He said \"stop.\" Then left."),
            vec!["He said \"stop.\"", "Then left."]
        );
        assert_eq!(split("Wait?! Really."), vec!["Wait?!", "Really."]);
    }

    #[test]
    fn keeps_non_boundaries_together() {
        assert_eq!(split("Pi is 3.14 today."), vec!["Pi is 3.14 today."]);
        assert_eq!(
            split("apples etc. and pears."),
            vec!["apples etc. and pears."]
        );
        assert_eq!(split("no end"), vec!["no end"]);
        assert!(split("   \n  ").is_empty());
    }

    #[test]
    fn splits_paragraphs() {
        assert_eq!(
            split("Title line\n\nBody text here"),
            vec!["Title line", "Body text here"]
        );
        assert_eq!(split("one\ntwo"), vec!["one\ntwo"]);
    }

    #[test]
    fn bounds_long_sentences() {
        let long = "word, ".repeat(500);
        let parts: Vec<&str> = sentences(&long, 100).collect();
        assert!(parts.len() >= 25);
        assert!(parts
            .iter()
            .all(|p| p.chars().count() <= 100 && !p.is_empty()));
        assert_eq!(parts.concat().replace(' ', ""), long.replace(' ', ""));

        let no_breaks = "x".repeat(1000);
        let parts: Vec<&str> = sentences(&no_breaks, 300).collect();
        assert_eq!(parts.len(), 4);
        assert_eq!(parts.concat(), no_breaks);

        let spaces = "lorem ipsum ".repeat(100);
        let parts: Vec<&str> = sentences(&spaces, 50).collect();
        assert!(parts.iter().all(|p| p.chars().count() <= 50));
        assert!(parts
            .iter()
            .all(|p| !p.starts_with("orem") && !p.ends_with("lore")));
    }

    #[test]
    fn multibyte_safe() {
        let text = "é".repeat(250);
        let parts: Vec<&str> = sentences(&text, 100).collect();
        assert_eq!(parts.concat(), text);
    }
}
