//! Grapheme-to-phoneme conversion with espeak-ng, matching piper-phonemize.
//!
//! [`phonemize`] returns sentences of IPA phoneme characters exactly as Piper
//! feeds them to its voices: espeak's IPA output per clause, Unicode-NFD
//! decomposed, `(lang)` switch flags removed, and the clause's punctuation
//! re-appended (see the private `clause` module). A new sentence starts
//! after `.`, `?`, `!` and blank lines.

mod clause;
mod espeak;

use unicode_normalization::UnicodeNormalization;

/// Errors from the espeak-ng phonemizer.
#[derive(Debug, thiserror::Error)]
pub enum PhonemizeError {
    /// `espeak_Initialize` failed (usually missing espeak-ng-data).
    #[error("espeak-ng failed to initialise (code {0}); is espeak-ng-data installed?")]
    Init(i32),
    /// `espeak_SetVoiceByName` rejected the voice.
    #[error("espeak-ng has no voice named {0:?}")]
    UnknownVoice(String),
    /// espeak-ng stopped advancing through the text.
    #[error("espeak-ng did not advance through the input text")]
    Stalled,
}

/// Phonemizes `text` with the espeak voice `voice` (e.g. `en-us`).
///
/// Returns one `Vec<char>` of phonemes per sentence. Thread-safe: calls are
/// serialised on a process-wide lock because espeak-ng is global.
pub fn phonemize(text: &str, voice: &str) -> Result<Vec<Vec<char>>, PhonemizeError> {
    let clauses = espeak::with_engine(|engine| {
        engine.set_voice(voice)?;
        engine.clauses(text)
    })?;

    let mut sentences: Vec<Vec<char>> = Vec::new();
    let mut current: Option<Vec<char>> = None;
    for clause in clauses {
        let sentence = current.get_or_insert_with(Vec::new);
        push_without_language_flags(sentence, clause.phonemes.nfd());
        let terminator = clause::classify(&text[clause.range]);
        sentence.extend_from_slice(terminator.appended());
        if terminator.ends_sentence() {
            sentences.extend(current.take());
        }
    }
    sentences.extend(current);
    Ok(sentences)
}

/// Appends phonemes, dropping `(en)`-style language switch markers.
fn push_without_language_flags(out: &mut Vec<char>, phonemes: impl Iterator<Item = char>) {
    let mut in_flag = false;
    for c in phonemes {
        if in_flag {
            in_flag = c != ')';
        } else if c == '(' {
            in_flag = true;
        } else {
            out.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(sentence: &[char]) -> String {
        sentence.iter().collect()
    }

    #[test]
    fn hello_world_matches_piper() {
        let out = phonemize("Hello world.", "en-us").unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(s(&out[0]), "həlˈoʊ wˈɜːld.");
    }

    #[test]
    fn sentences_and_clause_punctuation() {
        let out = phonemize("Hi there, friend. How are you? Great!", "en-us").unwrap();
        let out: Vec<String> = out.iter().map(|x| s(x)).collect();
        assert_eq!(out.len(), 3, "{out:?}");
        assert!(out[0].contains(", "), "{out:?}");
        assert!(out[0].ends_with('.'));
        assert!(out[1].ends_with('?'));
        assert!(out[2].ends_with('!'));
    }

    #[test]
    fn no_state_leaks_between_calls() {
        let a = phonemize("One. Two", "en-us").unwrap();
        let b = phonemize("One. Two", "en-us").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 2);
    }

    #[test]
    fn unknown_voice_is_an_error() {
        assert!(matches!(
            phonemize("x", "no-such-voice-zz"),
            Err(PhonemizeError::UnknownVoice(_))
        ));
        // and a valid voice still works afterwards
        assert!(!phonemize("ok", "en-us").unwrap().is_empty());
    }

    #[test]
    fn language_flags_removed() {
        let mut out = Vec::new();
        push_without_language_flags(&mut out, "a(fr)b(en)c".chars());
        assert_eq!(out, vec!['a', 'b', 'c']);
    }

    #[test]
    fn empty_text() {
        let out = phonemize("", "en-us").unwrap();
        assert!(out.iter().all(|x| x.is_empty()));
    }
}
