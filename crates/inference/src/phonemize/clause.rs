//! Clause terminators, reconstructed the way piper-phonemize uses them.
//!
//! Piper calls a patched `espeak_TextToPhonemesWithTerminator` that reports the
//! punctuation espeak consumed at the end of each clause, then re-appends it to
//! the phonemes (`.`, `?`, `!` end a sentence; `,`, `:`, `;` are followed by a
//! space). Stock espeak-ng 1.51 only reports how far it read, so we classify
//! the clause's own text instead, mirroring espeak's `ReadClause` rules:
//! runs of `?`/`!` are typed by their first character, `...`/`…` is a
//! pause without punctuation, an em dash counts as `;`, a terminator followed
//! by a blank line is a paragraph break (sentence end, no punctuation), and a
//! clause without letters or digits never has a terminator.

/// How a clause ended, as far as Piper cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Terminator {
    /// `.` — appended, ends the sentence.
    Period,
    /// `?` — appended, ends the sentence.
    Question,
    /// `!` — appended, ends the sentence.
    Exclamation,
    /// `,` — appended with a space.
    Comma,
    /// `:` — appended with a space.
    Colon,
    /// `;` — appended with a space.
    Semicolon,
    /// Blank line: ends the sentence, nothing appended.
    Paragraph,
    /// No punctuation (ellipsis, forced break, end of text).
    None,
}

impl Terminator {
    /// Phonemes Piper appends for this terminator.
    pub(crate) fn appended(self) -> &'static [char] {
        match self {
            Self::Period => &['.'],
            Self::Question => &['?'],
            Self::Exclamation => &['!'],
            Self::Comma => &[',', ' '],
            Self::Colon => &[':', ' '],
            Self::Semicolon => &[';', ' '],
            Self::Paragraph | Self::None => &[],
        }
    }

    /// Whether a new sentence starts after this clause.
    pub(crate) fn ends_sentence(self) -> bool {
        matches!(
            self,
            Self::Period | Self::Question | Self::Exclamation | Self::Paragraph
        )
    }
}

/// Classifies the text of one clause (including trailing whitespace).
pub(crate) fn classify(clause: &str) -> Terminator {
    let body = clause.trim_end();
    let newlines = clause[body.len()..].matches('\n').count();
    let paragraph = newlines >= 2;
    if !body.chars().any(char::is_alphanumeric) {
        return Terminator::None;
    }
    let Some(last) = body.chars().next_back() else {
        return Terminator::None;
    };
    let sentence = |t: Terminator| if paragraph { Terminator::Paragraph } else { t };
    match last {
        '.' => {
            let dots = body.chars().rev().take_while(|&c| c == '.').count();
            if dots >= 3 {
                Terminator::None
            } else {
                sentence(Terminator::Period)
            }
        }
        '…' => Terminator::None,
        '?' | '!' => {
            let first = body
                .chars()
                .rev()
                .take_while(|&c| c == '?' || c == '!')
                .last()
                .unwrap_or(last);
            sentence(if first == '?' {
                Terminator::Question
            } else {
                Terminator::Exclamation
            })
        }
        ',' => Terminator::Comma,
        ':' => Terminator::Colon,
        ';' | '—' => Terminator::Semicolon,
        _ if paragraph => Terminator::Paragraph,
        _ => Terminator::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_table() {
        let cases: &[(&str, Terminator)] = &[
            ("Hello world. ", Terminator::Period),
            ("Hello world.", Terminator::Period),
            ("How are you? ", Terminator::Question),
            ("What?! ", Terminator::Question),
            ("No!? ", Terminator::Exclamation),
            ("I am fine, ", Terminator::Comma),
            ("Smith: ", Terminator::Colon),
            ("ok; ", Terminator::Semicolon),
            ("wait — ", Terminator::Semicolon),
            ("Wait... ", Terminator::None),
            ("Wait… ", Terminator::None),
            ("Two.. ", Terminator::Period),
            ("End.\n\n", Terminator::Paragraph),
            ("line\n\n", Terminator::Paragraph),
            ("line\n", Terminator::None),
            ("plain end", Terminator::None),
            ("?! ", Terminator::None),
            ("(really) \"quoted.", Terminator::Period),
        ];
        for (text, want) in cases {
            assert_eq!(classify(text), *want, "{text:?}");
        }
    }
}
